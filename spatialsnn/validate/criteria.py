"""When a validation passes: :class:`Criteria` and the checks made against them.

At the simulated ``dt`` (the twin runs at the same ``dt``):

* float64: at least ``min_identical`` (default 99 %) of the samples have identical
  hidden spike trains, and the accuracies differ by at most ``max_accuracy_diff``
  (default 0.5 percentage points);
* float32: the accuracies differ by at most ``max_accuracy_diff``; identical spikes are
  reported but not required (float32 runs of a recurrent network diverge after a single
  rounding-induced spike flip; docs/model.md).

Without labels, the percentage of samples whose predictions differ stands in for the
accuracy difference. With a ``dt`` finer than the training ``dt``, *transfer*: Brian2's
accuracy at the fine ``dt`` is at most ``max_transfer_drop`` (default 2) percentage points
below the twin's at the training ``dt`` (without labels: at most that percentage of samples
change their prediction).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Criteria", "evaluate"]


@dataclass
class Criteria:
    """When a validation passes.

    Attributes
    ----------
    min_identical : float or None
        Smallest fraction of samples with identical hidden spike trains; None: 0.99 in
        float64, not required in float32.
    max_accuracy_diff : float
        Largest ``|accuracy(twin) - accuracy(Brian2)|`` in percentage points (without
        labels: the percentage of samples whose predictions differ).
    max_transfer_drop : float
        With a ``dt`` finer than the training ``dt``: largest drop of Brian2's accuracy
        at that ``dt`` below the twin's accuracy at the training ``dt``, percentage
        points (without labels: the percentage of samples whose prediction changes).
    """

    min_identical: float | None = None
    max_accuracy_diff: float = 0.5
    max_transfer_drop: float = 2.0

    def resolved(self, precision: str) -> dict[str, float | None]:
        """The thresholds that apply at a precision."""
        ident = self.min_identical
        if ident is None:
            ident = 0.99 if precision == "float64" else None
        return {
            "min_identical": ident,
            "max_accuracy_diff": float(self.max_accuracy_diff),
            "max_transfer_drop": float(self.max_transfer_drop),
        }


def evaluate(
    thresholds: dict[str, float | None],
    per: dict[str, np.ndarray],
    labels: np.ndarray | None,
    accuracy: dict[str, Any],
) -> tuple[list[str], list[str]]:
    """Check a validation's results against its thresholds.

    Parameters
    ----------
    thresholds : dict
        :meth:`Criteria.resolved`.
    per : dict of numpy.ndarray
        Per-sample results (``identical``, ``prediction_twin``, ``prediction_brian2``, and
        with a finer ``dt`` ``prediction_twin_train_dt``).
    labels : numpy.ndarray or None
        True classes, if known.
    accuracy : dict
        The accuracy summary (``difference_pp``; with a finer ``dt`` ``train_dt_ms``,
        ``brian2``, ``twin_train_dt``, ``change_pp``).

    Returns
    -------
    checks, failures : list of str
        One sentence per criterion that held, and per criterion that did not.
    """
    checks: list[str] = []
    failures: list[str] = []

    def record(ok: bool, message: str) -> None:
        (checks if ok else failures).append(message)

    n = len(per["identical"])
    if thresholds["min_identical"] is not None:
        ident = int(per["identical"].sum())
        record(
            ident / n >= thresholds["min_identical"] - 1e-12,
            f"identical spike trains in {ident}/{n} samples "
            f"(required >= {100 * thresholds['min_identical']:g} %)",
        )
    limit = thresholds["max_accuracy_diff"]
    if labels is not None:
        diff = accuracy["difference_pp"]
        msg = f"accuracy differs by {diff:.2f} pp (allowed <= {limit:g} pp)"
    else:
        diff = 100 * float((per["prediction_twin"] != per["prediction_brian2"]).mean())
        msg = f"predictions differ in {diff:.2f} % of samples (no labels; allowed <= {limit:g} %)"
    record(diff <= limit + 1e-9, msg)
    if "prediction_twin_train_dt" in per:
        record(*_transfer_check(per, labels, accuracy, thresholds["max_transfer_drop"]))
    return checks, failures


def _transfer_check(per, labels, acc: dict[str, Any], limit: float) -> tuple[bool, str]:
    """The transfer criterion: Brian2 at the fine dt vs the twin at the training dt."""
    coarse = f"the twin at the training dt {acc['train_dt_ms']:g} ms"
    if labels is not None:
        drop = -acc["change_pp"]
        msg = (
            f"transfer: Brian2 at the fine dt reaches {100 * acc['brian2']:.2f} %, "
            f"{coarse} {100 * acc['twin_train_dt']:.2f} %: a drop of {drop:.2f} pp "
            f"(allowed <= {limit:g} pp)"
        )
    else:
        drop = 100 * float((per["prediction_brian2"] != per["prediction_twin_train_dt"]).mean())
        msg = (
            f"transfer: {drop:.2f} % of samples change their prediction from {coarse} "
            f"(no labels; allowed <= {limit:g} %)"
        )
    return drop <= limit + 1e-9, msg
