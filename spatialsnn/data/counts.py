"""Spike counts of a whole data set kept as events: memory proportional to the spikes.

SHD's training split binned at 1 ms is 8156 x 1000 x 700 bins, of which about 1 % hold a
spike: 5.3 GiB as a dense ``uint8`` tensor, 0.4 GiB as events (at 0.1 ms, 53 GiB against
about the same 0.4 GiB). :class:`SpikeCounts` stores the non-zero bins of each sample
(time bin, channel, count), sample after sample, and gives dense ``uint8`` tensors back
when indexed, so code written for a dense ``[sample, time, channel]`` tensor reads it
unchanged: ``counts[idx]`` is what ``dense[idx]`` would be.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from spatialsnn.data._events import Events, nonzero_flat

__all__ = ["SpikeCounts"]

#: Samples converted at once by :meth:`SpikeCounts.from_dense` (bounds its scratch memory).
_CHUNK = 64


class SpikeCounts:
    """Spike counts ``[sample, time, channel]`` stored as the events of each sample.

    Parameters
    ----------
    offsets : Tensor of int64, shape (n_samples + 1,)
        The events of sample ``i`` are those from ``offsets[i]`` up to (not including)
        ``offsets[i + 1]``; ``offsets[0]`` is 0.
    t : Tensor of int, shape (n_events,)
        Time bin of each event, in ``[0, n_steps)``.
    c : Tensor of int, shape (n_events,)
        Channel of each event, in ``[0, n_channels)``.
    v : Tensor of uint8, shape (n_events,)
        Count of each event, in ``[1, 255]``.
    shape : tuple of int
        ``(n_samples, n_steps, n_channels)``.

    Notes
    -----
    Within a sample, events are sorted by time bin, then channel, and unique. Build one
    with :meth:`from_dense` or :meth:`from_spikes` rather than by hand.

    Examples
    --------
    >>> counts = SpikeCounts.from_dense(torch.tensor([[[0, 2], [1, 0]]], dtype=torch.uint8))
    >>> counts.shape, counts.nnz
    (torch.Size([1, 2, 2]), 2)
    >>> counts[0]
    tensor([[0, 2],
            [1, 0]], dtype=torch.uint8)
    """

    dtype = torch.uint8
    device = torch.device("cpu")
    ndim = 3

    def __init__(self, offsets: Tensor, t: Tensor, c: Tensor, v: Tensor, shape: tuple[int, ...]):
        n, n_t, n_c = (int(s) for s in shape)
        if offsets.shape != (n + 1,) or len(t) != len(c) or len(t) != len(v):
            raise ValueError(
                f"offsets must have {n + 1} entries and t, c, v one per event; got "
                f"{tuple(offsets.shape)}, {len(t)}, {len(c)}, {len(v)}"
            )
        if int(offsets[0]) != 0 or int(offsets[-1]) != len(t):
            raise ValueError("offsets must start at 0 and end at the number of events")
        self.offsets = offsets.to(torch.int64)
        self.t = t.to(torch.int32) if n_t <= 2**31 - 1 else t.to(torch.int64)
        self.c = c.to(torch.int16) if n_c <= 2**15 - 1 else c.to(torch.int32)
        self.v = v.to(torch.uint8)
        self.shape = torch.Size((n, n_t, n_c))

    # -- building -------------------------------------------------------------------------

    @classmethod
    def from_dense(cls, x: Tensor) -> SpikeCounts:
        """The events of a dense count tensor ``[sample, time, channel]`` (values 0–255)."""
        if x.ndim != 3:
            raise ValueError(f"x must be [samples, time, channels], got {tuple(x.shape)}")
        if x.dtype != torch.uint8:
            if bool((x < 0).any()) or bool((x > 255).any()):
                raise ValueError("spike counts must lie in [0, 255]")
        n, n_t, n_c = x.shape
        sizes, ts, cs, vs = [torch.zeros(1, dtype=torch.int64)], [], [], []
        for start in range(0, n, _CHUNK):
            part = x[start : start + _CHUNK].to("cpu", torch.uint8).contiguous()
            flat_x = part.view(-1)
            flat = nonzero_flat(flat_x)
            row, rest = flat.div(n_t * n_c, rounding_mode="floor"), flat.remainder(n_t * n_c)
            sizes.append(torch.bincount(row, minlength=part.shape[0]))
            ts.append(rest.div(n_c, rounding_mode="floor"))
            cs.append(rest.remainder(n_c))
            vs.append(flat_x.index_select(0, flat))
        return cls(torch.cumsum(torch.cat(sizes), 0), *_cat3(ts, cs, vs), (n, n_t, n_c))

    @classmethod
    def from_spikes(
        cls,
        times: np.ndarray,
        units: np.ndarray,
        lengths: np.ndarray,
        *,
        dt: float,
        n_steps: int,
        n_channels: int,
    ) -> tuple[SpikeCounts, int]:
        """Bin spike trains straight into events (no dense tensor on the way).

        Parameters as :func:`spatialsnn.data.shd.bin_spikes` (times in ms, the spikes of
        all samples concatenated, ``lengths`` spikes per sample; channels must already lie
        in ``[0, n_channels)``). Returns the counts (saturating at 255) and the number of
        spikes outside ``[0, n_steps * dt)``, which are dropped.
        """
        lengths = np.asarray(lengths, dtype=np.int64)
        n = len(lengths)
        step = np.floor(np.asarray(times, dtype=np.float64) / dt)
        keep = (step >= 0) & (step < n_steps)  # NaN times fail both tests and are dropped
        n_dropped = int(len(step) - np.count_nonzero(keep))
        sample = np.repeat(np.arange(n, dtype=np.int64), lengths)[keep]
        units = np.asarray(units).astype(np.int64, copy=False)[keep]
        flat = (sample * n_steps + step[keep].astype(np.int64)) * n_channels + units
        cells, counts = np.unique(flat, return_counts=True)  # sorted: sample, then (t, c)
        cells = torch.from_numpy(cells)
        row, rest = cells // (n_steps * n_channels), cells % (n_steps * n_channels)
        offsets = torch.zeros(n + 1, dtype=torch.int64)
        offsets[1:] = torch.cumsum(torch.bincount(row, minlength=n), 0)
        v = torch.from_numpy(np.minimum(counts, 255).astype(np.uint8))
        return cls(offsets, rest // n_channels, rest % n_channels, v, (n, n_steps, n_channels)), (
            n_dropped
        )

    @classmethod
    def concat(cls, parts: list[SpikeCounts]) -> SpikeCounts:
        """The samples of ``parts`` one after the other (same time and channel sizes)."""
        if not parts:
            raise ValueError("nothing to concatenate")
        n_t, n_c = parts[0].shape[1:]
        if any(p.shape[1:] != (n_t, n_c) for p in parts):
            raise ValueError("parts must have the same number of steps and channels")
        sizes = [torch.zeros(1, dtype=torch.int64)] + [p.offsets.diff() for p in parts]
        t, c, v = _cat3([p.t for p in parts], [p.c for p in parts], [p.v for p in parts])
        n = sum(len(p) for p in parts)
        return cls(torch.cumsum(torch.cat(sizes), 0), t, c, v, (n, n_t, n_c))

    # -- what a dense tensor would say -----------------------------------------------------

    def __len__(self) -> int:
        return self.shape[0]

    def numel(self) -> int:
        """Bins of the dense tensor (samples x steps x channels)."""
        return self.shape.numel()

    @property
    def nnz(self) -> int:
        """Non-zero bins (events) stored."""
        return len(self.v)

    @property
    def nbytes(self) -> int:
        """Bytes held by the events and offsets."""
        return sum(a.numel() * a.element_size() for a in (self.offsets, self.t, self.c, self.v))

    def sum(self, dtype: torch.dtype = torch.int64) -> Tensor:
        """Total spike count (a 0-d tensor), as ``dense.sum(dtype=...)``."""
        return self.v.sum(dtype=dtype)

    def max(self) -> Tensor:
        """Largest count of one bin (0 when there are no events), as ``dense.max()``."""
        return self.v.max() if self.nnz else torch.zeros((), dtype=torch.uint8)

    def __repr__(self) -> str:
        n, n_t, n_c = self.shape
        density = self.nnz / max(self.numel(), 1)
        return (
            f"SpikeCounts({n} samples x {n_t} steps x {n_c} channels, {self.nnz} events, "
            f"{density:.2%} of the bins, {self.nbytes / 2**20:.1f} MiB)"
        )

    # -- reading ---------------------------------------------------------------------------

    def rows(self, index: Any) -> Tensor:
        """The sample numbers ``index`` selects (int64, 1-D), with torch's indexing rules."""
        if isinstance(index, np.ndarray):
            index = torch.from_numpy(index)
        return torch.arange(len(self))[index].reshape(-1)

    def _gather(self, rows: Tensor) -> tuple[Tensor, Tensor]:
        """Positions of the events of ``rows`` (in order) and the position ``k`` of their row."""
        start, stop = self.offsets[rows], self.offsets[rows + 1]
        lengths = stop - start
        k = torch.repeat_interleave(torch.arange(len(rows)), lengths)
        first = torch.cumsum(lengths, 0) - lengths
        return start[k] + torch.arange(len(k)) - first[k], k

    def events(self, rows: Tensor) -> Events:
        """The events of samples ``rows`` as int64 :class:`Events`, rows numbered by position."""
        idx, k = self._gather(torch.as_tensor(rows, dtype=torch.int64).reshape(-1))
        return Events(
            k,
            self.t.index_select(0, idx).to(torch.int64),
            self.c.index_select(0, idx).to(torch.int64),
            self.v.index_select(0, idx).to(torch.int64),
        )

    def select(self, index: Any) -> SpikeCounts:
        """The samples ``index`` selects, still as events (``dense[index]`` for many rows)."""
        rows = self.rows(index)
        idx, k = self._gather(rows)
        offsets = torch.zeros(len(rows) + 1, dtype=torch.int64)
        offsets[1:] = torch.cumsum(self.offsets[rows + 1] - self.offsets[rows], 0)
        return SpikeCounts(
            offsets, self.t[idx], self.c[idx], self.v[idx], (len(rows), *self.shape[1:])
        )

    def dense(self, rows: Tensor) -> Tensor:
        """Counts of samples ``rows`` as a dense uint8 tensor ``[len(rows), time, channel]``."""
        rows = torch.as_tensor(rows, dtype=torch.int64).reshape(-1)
        _, n_t, n_c = self.shape
        idx, k = self._gather(rows)
        out = torch.zeros(len(rows) * n_t * n_c, dtype=torch.uint8)
        flat = (k * n_t + self.t[idx].to(torch.int64)) * n_c + self.c[idx].to(torch.int64)
        out[flat] = self.v[idx]
        return out.view(len(rows), n_t, n_c)

    def __getitem__(self, index: Any) -> Tensor:
        """Dense uint8 counts, exactly as indexing the dense tensor would give them."""
        if isinstance(index, tuple):
            if not index:
                return self.to_dense()
            first = self[index[0]]
            rest = index[1:] if _is_int(index[0]) else (slice(None), *index[1:])
            return first[rest]
        if index is Ellipsis:
            return self.to_dense()
        if _is_int(index):
            return self.dense(self.rows(index))[0]
        return self.dense(self.rows(index))

    def to_dense(self) -> Tensor:
        """All samples as one dense uint8 tensor (``shape``: mind its size)."""
        return self.dense(torch.arange(len(self)))

    def numpy(self) -> np.ndarray:
        """All samples as a dense uint8 array (``shape``: mind its size)."""
        return self.to_dense().numpy()


def _is_int(index: Any) -> bool:
    if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
        return True
    return (
        isinstance(index, Tensor)
        and index.ndim == 0
        and not index.is_floating_point()
        and (index.dtype != torch.bool)
    )


def _cat3(ts: list[Tensor], cs: list[Tensor], vs: list[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
    def cat(parts: list[Tensor], dtype: torch.dtype) -> Tensor:
        return torch.cat(parts) if parts else torch.zeros(0, dtype=dtype)

    return cat(ts, torch.int64), cat(cs, torch.int64), cat(vs, torch.uint8)
