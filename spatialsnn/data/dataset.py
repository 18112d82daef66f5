"""A whole spike dataset binned once and kept compact: dense uint8 counts or events."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from spatialsnn.data.counts import SpikeCounts

__all__ = ["SpikeDataset"]


@dataclass
class SpikeDataset:
    """Binned spike trains of a classification task.

    Attributes
    ----------
    x : Tensor of uint8 or SpikeCounts, shape (n_samples, time, n_channels)
        Spike counts per time bin of width ``dt`` (several spikes of one channel in
        one bin are kept as a count, saturating at 255). Large recorded data sets (SHD,
        SSC) are kept as :class:`~spatialsnn.data.SpikeCounts`, the events of each
        sample, whose indexing gives the dense uint8 tensor of the selected samples;
        the small synthetic tasks as a dense tensor.
    y : Tensor of int64, shape (n_samples,)
        Class labels in ``[0, n_classes)``.
    dt : float
        Bin width, ms.
    n_classes : int
        Number of classes.
    name : str
        Task or file the data came from.
    info : dict
        Provenance (JSON-serialisable): how to regenerate or re-read the data.
    """

    x: Tensor | SpikeCounts
    y: Tensor
    dt: float
    n_classes: int
    name: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.x.ndim != 3:
            raise ValueError(f"x must be [samples, time, channels], got {tuple(self.x.shape)}")
        if self.y.shape != (self.x.shape[0],):
            raise ValueError(f"y must be [{self.x.shape[0]}], got {tuple(self.y.shape)}")
        if not isinstance(self.x, SpikeCounts) and self.x.dtype != torch.uint8:
            if (self.x < 0).any() or (self.x > 255).any():
                raise ValueError("spike counts must lie in [0, 255]")
            self.x = self.x.to(torch.uint8)
        self.y = self.y.to(torch.int64)

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, index) -> tuple[Tensor, Tensor]:
        """``(counts as float32 [..., time, channels], labels)`` of the indexed samples."""
        return self.x[index].to(torch.float32), self.y[index]

    @property
    def n_steps(self) -> int:
        """Number of time bins per sample."""
        return self.x.shape[1]

    @property
    def n_channels(self) -> int:
        """Number of input channels."""
        return self.x.shape[2]

    def subset(self, indices: Tensor | slice) -> SpikeDataset:
        """A dataset holding only the given samples (events stay events)."""
        x = self.x.select(indices) if isinstance(self.x, SpikeCounts) else self.x[indices]
        return SpikeDataset(x, self.y[indices], self.dt, self.n_classes, self.name,
                            dict(self.info))  # fmt: skip

    def total_spikes(self) -> int:
        """Number of input spikes in the whole data set (counts summed)."""
        if isinstance(self.x, SpikeCounts):
            return int(self.x.sum())
        # summed in chunks of samples: an int64 copy of a large data set would not fit
        return sum(int(part.sum(dtype=torch.int64)) for part in self.x.split(64))

    def batches(
        self,
        batch_size: int,
        *,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        drop_last: bool = False,
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """Iterate over mini-batches ``(x float32 [b, time, channels], y int64 [b])``.

        Parameters
        ----------
        batch_size : int
            Samples per batch.
        shuffle : bool
            Draw a random permutation first (from ``generator``).
        generator : torch.Generator, optional
            Source of the permutation; pass a seeded one for reproducible epochs.
        drop_last : bool
            Skip a final incomplete batch.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        stop = n - n % batch_size if drop_last else n
        for start in range(0, stop, batch_size):
            idx = order[start : start + batch_size]
            yield self[idx]
