"""The samples a validation runs on: :class:`ValidationData`, random and finer-grid counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ValidationData", "ValidationInputError", "random_counts", "upsample_counts"]


class ValidationInputError(ValueError):
    """Bad input to a validation (model, data, options); the message says what and where."""


@dataclass
class ValidationData:
    """Spike counts to validate on.

    Attributes
    ----------
    x : numpy.ndarray of int, shape (n_samples, n_steps, n_channels)
        Spike counts per bin of width ``dt``.
    y : numpy.ndarray of int64, shape (n_samples,), or None
        Labels, if known.
    dt : float or None
        Bin width in ms, if the source states it.
    description : str
        Where the data came from, for humans.
    source : dict
        The same, for machines (JSON-serialisable).
    index : numpy.ndarray of int64, shape (n_samples,)
        Index of each sample in its source.
    """

    x: np.ndarray
    y: np.ndarray | None
    dt: float | None
    description: str
    source: dict[str, Any]
    index: np.ndarray

    def head(self, n: int | None) -> ValidationData:
        """The first ``n`` samples (all when None)."""
        if n is None or n >= len(self.x):
            return self
        return ValidationData(
            self.x[:n],
            None if self.y is None else self.y[:n],
            self.dt,
            self.description,
            dict(self.source),
            self.index[:n],
        )


def random_counts(
    n_samples: int, n_steps: int, n_channels: int, *, rate_hz: float, dt: float, seed: int
) -> np.ndarray:
    """Poisson spike counts per bin (several spikes of one channel in a bin possible).

    Parameters
    ----------
    n_samples, n_steps, n_channels : int
        Shape of the result.
    rate_hz : float
        Rate per channel, Hz.
    dt : float
        Bin width, ms.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    numpy.ndarray of uint8, shape (n_samples, n_steps, n_channels)
    """
    rng = np.random.default_rng(seed)
    lam = rate_hz * dt * 1e-3
    return rng.poisson(lam, size=(n_samples, n_steps, n_channels)).clip(0, 255).astype(np.uint8)


def upsample_counts(counts: np.ndarray, ratio: int) -> np.ndarray:
    """Counts on a grid ``ratio`` times finer: the count of a bin at its first sub-step.

    Parameters
    ----------
    counts : array, shape (n_samples, n_steps, n_channels)
    ratio : int
        Sub-steps per bin (1: unchanged).

    Returns
    -------
    numpy.ndarray, shape (n_samples, n_steps * ratio, n_channels)
    """
    if ratio == 1:
        return counts
    n, n_steps, c = counts.shape
    out = np.zeros((n, n_steps * ratio, c), dtype=counts.dtype)
    out[:, ::ratio] = counts
    return out
