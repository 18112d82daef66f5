"""How alike are two runs: spike agreement, delay rounding, rates, per-sample comparison."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["SampleComparison", "delay_statistics", "hidden_rates", "spike_agreement"]


def _greedy_matches(a: np.ndarray, b: np.ndarray, tol: float) -> int:
    """Largest one-to-one matching of two sorted time lists within ``tol``."""
    i = j = m = 0
    while i < len(a) and j < len(b):
        d = a[i] - b[j]
        if abs(d) <= tol:
            m += 1
            i += 1
            j += 1
        elif d < 0:
            i += 1
        else:
            j += 1
    return m


def spike_agreement(
    a: np.ndarray, dt_a: float, b: np.ndarray, dt_b: float, tolerance: float
) -> float:
    """Tolerance-based agreement of two spike rasters of the same neurons.

    Spikes of the same neuron are paired one-to-one when their times differ by at most
    ``tolerance``; the agreement is ``2 * pairs / (n_a + n_b)`` (1 when both are empty):
    1 for identical trains, 0 when no spike has a partner.

    Parameters
    ----------
    a, b : array of bool, shape (n_steps_a, n_neurons) and (n_steps_b, n_neurons)
        Rasters; spike times are ``step * dt``.
    dt_a, dt_b : float
        Their time steps, ms.
    tolerance : float
        Largest time difference of a pair, ms.

    Returns
    -------
    float
    """
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    n_a, n_b = int(a.sum()), int(b.sum())
    if n_a + n_b == 0:
        return 1.0
    if dt_a == dt_b and a.shape == b.shape:
        same = (a == b).all(0)
        if same.all():
            return 1.0
        pairs = int(a[:, same].sum())
        cols = np.flatnonzero(~same)
    else:
        pairs, cols = 0, np.arange(a.shape[1])
    tol = tolerance + 1e-9 * max(dt_a, dt_b)
    for c in cols:
        ta = np.flatnonzero(a[:, c]) * dt_a
        tb = np.flatnonzero(b[:, c]) * dt_b
        if len(ta) and len(tb):
            pairs += _greedy_matches(ta, tb, tol)
    return 2.0 * pairs / (n_a + n_b)


def delay_statistics(
    delay_ms: np.ndarray,
    dt: float,
    kmax: int,
    present: np.ndarray,
    twin_steps: np.ndarray | None = None,
    brian2_steps: np.ndarray | None = None,
) -> dict[str, Any]:
    """How the delays of one projection were rounded to the time grid.

    Parameters
    ----------
    delay_ms : array, shape (n_pre, n_post)
        Exact delays in ms (float64).
    dt : float
        Time step, ms.
    kmax : int
        Clamp in steps.
    present : array of bool, shape (n_pre, n_post)
        Synapses that exist (non-zero weight); the statistics are over these.
    twin_steps, brian2_steps : array of int, shape (n_pre, n_post), optional
        Delays in steps as the twin and as Brian2 used them.

    Returns
    -------
    dict
        ``n_synapses``; ``delay_min_ms``, ``delay_max_ms``, ``delay_mean_ms``;
        ``steps_max``; ``rounding_abs_mean_steps``, ``rounding_abs_max_steps``
        (``|d/dt - round(d/dt)|`` of unclamped delays); ``n_half_step_ties`` (within
        1e-9 of a ``k + 1/2`` step, where floating-point error decides the rounding);
        ``n_clamped`` (beyond ``kmax``); ``n_twin_brian2_differ`` (None when unknown).
    """
    s = np.asarray(delay_ms, dtype=np.float64)[present] / dt
    n = int(s.size)
    out: dict[str, Any] = {"n_synapses": n}
    if n == 0:
        return {**out, "n_twin_brian2_differ": 0 if brian2_steps is not None else None}
    k = np.floor(s + 0.5)
    clamped = k > kmax
    frac = s - np.floor(s)
    err = np.abs(s - k)[~clamped]
    out.update(
        delay_min_ms=float(s.min() * dt),
        delay_max_ms=float(s.max() * dt),
        delay_mean_ms=float(s.mean() * dt),
        steps_max=int(np.minimum(k, kmax).max()),
        rounding_abs_mean_steps=float(err.mean()) if err.size else 0.0,
        rounding_abs_max_steps=float(err.max()) if err.size else 0.0,
        n_half_step_ties=int((np.abs(frac - 0.5) <= 1e-9 * np.maximum(1.0, s)).sum()),
        n_clamped=int(clamped.sum()),
    )
    if twin_steps is not None and brian2_steps is not None:
        diff = np.asarray(twin_steps)[present] != np.asarray(brian2_steps)[present]
        out["n_twin_brian2_differ"] = int(diff.sum())
    else:
        out["n_twin_brian2_differ"] = None
    return out


def hidden_rates(counts: np.ndarray, n_samples: int, duration_s: float) -> dict[str, float]:
    """Firing rates from per-neuron spike counts summed over samples.

    Parameters
    ----------
    counts : numpy.ndarray, shape (n_hidden,)
        Spikes of each hidden neuron, summed over the samples.
    n_samples : int
        Number of samples.
    duration_s : float
        Duration of one sample, s.

    Returns
    -------
    dict
        ``mean_hz`` (mean over neurons) and ``max_hz`` (the busiest neuron), spikes/s.
    """
    per_neuron = np.asarray(counts, dtype=np.float64) / max(1, n_samples) / duration_s
    return {"mean_hz": float(per_neuron.mean()), "max_hz": float(per_neuron.max(initial=0))}


class SampleComparison:
    """The twin and Brian2 compared sample by sample, block after block.

    Parameters
    ----------
    n_hidden : int
        Hidden neurons.
    dt : float
        Time step of both runs, ms.
    train_dt : float
        Time step of the twin's run at the training step (``coarse`` in :meth:`add`), ms.
    tolerance : float
        Tolerance of the spike agreement, ms.
    """

    #: Per-sample results, in the order :meth:`per_sample` returns them.
    FIELDS = (
        "prediction_twin",
        "prediction_brian2",
        "identical",
        "n_spikes_twin",
        "n_spikes_brian2",
        "n_spike_mismatch",
        "first_divergence",
        "spike_agreement",
        "max_abs_dv_output",
        "logits_twin",
        "logits_brian2",
        "prediction_twin_train_dt",
        "spike_agreement_train_dt",
    )

    def __init__(self, n_hidden: int, dt: float, train_dt: float, tolerance: float):
        self.dt, self.train_dt, self.tolerance = dt, train_dt, tolerance
        self.rows: dict[str, list] = {k: [] for k in self.FIELDS}
        #: Spikes of each hidden neuron, summed over samples, per run.
        self.neuron_counts = {k: np.zeros(n_hidden) for k in ("twin", "brian2", "twin_train_dt")}

    def add(self, twin, spikes_b: np.ndarray, voltage_b: np.ndarray, logits_b, coarse=None):
        """Compare one block of samples.

        Parameters
        ----------
        twin : TwinResult
            The twin at ``dt``.
        spikes_b, voltage_b : numpy.ndarray
            Brian2's hidden raster ``[n, steps, n_hidden]`` and output voltage
            ``[n, steps, n_out]``.
        logits_b : numpy.ndarray, shape (n, n_out)
            Brian2's readout.
        coarse : TwinResult, optional
            The twin at the training step, when ``dt`` is finer.
        """
        rows, dt = self.rows, self.dt
        mismatch = twin.hidden_spikes != spikes_b
        for k in range(len(spikes_b)):
            diff = mismatch[k].any(1)
            rows["identical"].append(not diff.any())
            rows["n_spike_mismatch"].append(int(mismatch[k].sum()))
            rows["first_divergence"].append(float(np.argmax(diff) * dt) if diff.any() else np.nan)
            rows["spike_agreement"].append(
                spike_agreement(twin.hidden_spikes[k], dt, spikes_b[k], dt, self.tolerance)
            )
            if coarse is not None:
                rows["spike_agreement_train_dt"].append(
                    spike_agreement(
                        coarse.hidden_spikes[k], self.train_dt, spikes_b[k], dt, self.tolerance
                    )
                )
        self.neuron_counts["twin"] += twin.hidden_spikes.sum((0, 1))
        self.neuron_counts["brian2"] += spikes_b.sum((0, 1))
        rows["n_spikes_twin"].extend(twin.hidden_spikes.sum((1, 2)).tolist())
        rows["n_spikes_brian2"].extend(spikes_b.sum((1, 2)).tolist())
        rows["max_abs_dv_output"].extend(
            np.abs(twin.output_voltage - voltage_b).max((1, 2)).tolist()
        )
        rows["logits_twin"].append(twin.logits)
        rows["logits_brian2"].append(logits_b)
        rows["prediction_twin"].extend(twin.logits.argmax(1).tolist())
        rows["prediction_brian2"].extend(logits_b.argmax(1).tolist())
        if coarse is not None:
            self.neuron_counts["twin_train_dt"] += coarse.hidden_spikes.sum((0, 1))
            rows["prediction_twin_train_dt"].extend(coarse.logits.argmax(1).tolist())

    def per_sample(self, index: np.ndarray, labels: np.ndarray | None) -> dict[str, np.ndarray]:
        """Every per-sample result as an array (``label`` -1 when unknown)."""
        n = len(index)
        per: dict[str, np.ndarray] = {"index": np.asarray(index, dtype=np.int64)}
        per["label"] = np.full(n, -1, np.int64) if labels is None else np.asarray(labels, np.int64)
        for k, v in self.rows.items():
            if v:
                per[k] = np.concatenate(v) if k.startswith("logits") else np.asarray(v)
        per["identical"] = per["identical"].astype(bool)
        return per
