"""The paper's augmentations of SHD, on batches of binned spike counts.

The paper (its released code, following the deventprop SHD recipe) regenerates the
augmented training set every epoch:

* **Blend**: 7644 extra samples are added to the 8156 originals. Each takes a random
  sample (drawn from the growing list, so it may be an earlier blend) and a random
  original partner of the same class (possibly the sample itself). Each of
  the two is moved half way toward the other's mean channel (``int`` of half the
  difference, i.e. truncated toward zero) and mean spike time; events that leave the
  channel range or the trial are dropped; each event is kept with probability 0.5
  and the two are merged.
* **Shift**: every sample's channels (originals and blends) are moved by one integer
  drawn from ``numpy.random.randint(-40, 40)``, i.e. uniformly from ``[-40, 39]``;
  events that leave ``[0, 700)`` are dropped.

Here both work on binned count tensors ``[batch, time, channels]`` (uint8 or float),
seeded by a ``torch.Generator``:

* :func:`channel_shift` is exact: shifting channels commutes with binning.
* :func:`blend_pairs` moves a sample by a whole number of time bins, ``round`` of half
  the difference of the mean spike times in bins (the paper moves continuous times
  by whole microseconds); channel moves and the event thinning (a binomial draw per
  bin, which is the same as keeping each spike independently) are exact.
* :class:`Augment` blends inside each batch: with probability ``blend`` a sample is
  replaced by the blend of itself and a random same-class sample of the batch, then
  every sample is shifted. The paper's epoch holds 7644 blends among 15,800 samples,
  hence the default ``blend = 7644 / 15800``; it keeps the epoch at the size of the
  training set instead of growing it (use :func:`same_class_partners` and
  :func:`blend_pairs` to add whole extra samples as the paper does). The paper draws a
  blend's partner from the whole training set, this class from the batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from spatialsnn.data._events import Batch, Events, cat_events, check_counts, coalesce

__all__ = [
    "PAPER_BLEND_FRACTION",
    "Augment",
    "blend",
    "blend_pairs",
    "channel_shift",
    "same_class_partners",
]

#: Fraction of blended samples in one epoch of the paper (7644 of 15,800).
PAPER_BLEND_FRACTION = 7644 / 15800


def _gen_device(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


def _rand(n: int, generator: torch.Generator | None, device: torch.device) -> Tensor:
    return torch.rand(n, generator=generator, device=_gen_device(generator)).to(device)


def _draw_shifts(
    n_rows: int, max_shift: int, inclusive: bool, generator: torch.Generator | None
) -> Tensor | None:
    """One channel shift per row from ``[-max_shift, max_shift)`` (``]`` if inclusive)."""
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0, got {max_shift}")
    high = max_shift + 1 if inclusive else max_shift
    if high <= -max_shift:  # max_shift = 0, exclusive: nothing to draw
        return None
    return torch.randint(
        -max_shift, high, (n_rows,), generator=generator, device=_gen_device(generator)
    )


def _assemble(
    x: Batch,
    shifts: Tensor | None,
    chosen: Tensor | None = None,
    blended: Events | None = None,
) -> Tensor:
    """The augmented batch, written once.

    Every row of ``x`` is moved by its channel shift (counts leaving ``[0, channels)``
    dropped), except rows ``chosen``, which are replaced by the ``blended`` events (row ``k``
    of those is ``chosen[k]``), moved by the same shifts.

    Dense slice copies per row instead of a pass over the batch's events, and one output
    allocation (a fresh tensor costs page faults that can exceed the copy itself).
    """
    n, n_t, n_c = x.shape
    src = x.source
    if not isinstance(src, Tensor):
        return _assemble_events(x, shifts, chosen, blended)
    if shifts is None and chosen is None:
        return src.clone() if x.index is None else src.index_select(0, x.index.to(src.device))
    out = src.new_zeros((n, n_t, n_c))
    skip = set(chosen.tolist()) if chosen is not None else set()
    moves = shifts.tolist() if shifts is not None else [0] * n
    for b, s in enumerate(moves):
        if b in skip:
            continue
        row = x.row(b)
        if 0 <= s < n_c:
            out[b, :, s:] = row[:, : n_c - s]
        elif -n_c < s < 0:
            out[b, :, : n_c + s] = row[:, -s:]
    if blended is not None:
        row = chosen.to(src.device)[blended.row]
        c = blended.c
        if shifts is not None:
            c = c + shifts.to(src.device)[row]
        ev = Events(row, blended.t, c, blended.v).select((c >= 0) & (c < n_c))
        flat = (ev.row * n_t + ev.t) * n_c + ev.c
        v = ev.v.clamp_max(255) if src.dtype == torch.uint8 else ev.v
        out.view(-1)[flat] = v.to(src.dtype)
    return out


def channel_shift(
    x: Tensor,
    max_shift: int = 40,
    *,
    generator: torch.Generator | None = None,
    shifts: Tensor | None = None,
    inclusive: bool = False,
) -> Tensor:
    """Move each sample's spikes to other channels by a random whole number.

    Spike counts of channel ``c`` go to channel ``c + s``; those leaving
    ``[0, n_channels)`` are dropped.

    Parameters
    ----------
    x : Tensor, shape (batch, time, channels)
        Spike counts (non-negative whole numbers, any dtype).
    max_shift : int
        Shifts are drawn uniformly from ``[-max_shift, max_shift)`` (the paper's
        ``randint(-40, 40)``), or ``[-max_shift, max_shift]`` if ``inclusive``.
    generator : torch.Generator, optional
        Source of the shifts (default: torch's global generator).
    shifts : Tensor of int, shape (batch,), optional
        Use these shifts, channels, instead of drawing them.
    inclusive : bool
        Include ``+max_shift`` in the range.

    Returns
    -------
    Tensor, shape (batch, time, channels)
        A new tensor of the dtype and device of ``x``.
    """
    check_counts(x)
    if shifts is None:
        shifts = _draw_shifts(x.shape[0], max_shift, inclusive, generator)
    else:
        shifts = torch.as_tensor(shifts).to("cpu", torch.int64)
        if shifts.shape != (x.shape[0],):
            raise ValueError(f"shifts must have shape ({x.shape[0]},), got {tuple(shifts.shape)}")
    return _assemble(Batch(x, None), shifts)


def same_class_partners(
    y: Tensor,
    *,
    generator: torch.Generator | None = None,
    pool: Tensor | None = None,
) -> Tensor:
    """For each label, the index of a uniformly random sample of the same class.

    Parameters
    ----------
    y : Tensor of int, shape (n,)
        Labels to find partners for.
    generator : torch.Generator, optional
        Source of the choice.
    pool : Tensor of int, shape (m,), optional
        Labels of the candidates (default: ``y`` itself, so a sample may be its own
        partner, as in the paper).

    Returns
    -------
    Tensor of int64, shape (n,)
        Indices into ``pool`` with ``pool[result] == y`` (on the CPU).

    Raises
    ------
    ValueError
        If a class of ``y`` has no sample in ``pool``.
    """
    y = torch.as_tensor(y).to("cpu", torch.int64)
    pool = y if pool is None else torch.as_tensor(pool).to("cpu", torch.int64)
    if len(y) == 0:
        return torch.zeros(0, dtype=torch.int64)
    if int(y.min()) < 0 or (len(pool) and int(pool.min()) < 0):
        raise ValueError("labels must be non-negative")
    n_classes = max(int(y.max()), int(pool.max()) if len(pool) else -1) + 1
    order = torch.argsort(pool, stable=True)
    size = torch.bincount(pool, minlength=n_classes)
    start = torch.cumsum(size, 0) - size
    missing = (size[y] == 0).nonzero()
    if len(missing):
        raise ValueError(f"class {int(y[missing[0, 0]])} has no sample to blend with")
    r = (_rand(len(y), generator, torch.device("cpu")) * size[y]).long()
    r = torch.minimum(r, size[y] - 1)  # guards against rand() * n rounding up to n
    return order[start[y] + r]


def _assemble_events(
    x: Batch,
    shifts: Tensor | None,
    chosen: Tensor | None,
    blended: Events | None,
) -> Tensor:
    """:func:`_assemble` for a batch of stored events: one scatter of the kept events."""
    n, n_t, n_c = x.shape
    rows = torch.arange(n)
    ev = x.events(rows)
    if chosen is not None:
        replaced = torch.zeros(n, dtype=torch.bool)
        replaced[chosen] = True
        ev = ev.select(~replaced[ev.row])
        if blended is not None:
            ev = cat_events([ev, blended._replace(row=chosen[blended.row])])
    c = ev.c if shifts is None else ev.c + shifts.cpu()[ev.row]
    ev = ev._replace(c=c).select((c >= 0) & (c < n_c))
    out = torch.zeros(n * n_t * n_c, dtype=torch.uint8)
    out[(ev.row * n_t + ev.t) * n_c + ev.c] = ev.v.clamp_max(255).to(torch.uint8)
    return out.view(n, n_t, n_c)


def _segments(ev: Events, n_rows: int, rows: Tensor) -> tuple[Tensor, Tensor]:
    """Indices of the events of ``rows[k]`` (row-sorted events), and their ``k``."""
    size = torch.bincount(ev.row, minlength=n_rows)
    start = torch.cumsum(size, 0) - size
    lengths = size[rows]
    k = torch.repeat_interleave(torch.arange(len(rows), device=rows.device), lengths)
    offset = torch.cumsum(lengths, 0) - lengths
    idx = start[rows][k] + torch.arange(len(k), device=rows.device) - offset[k]
    return idx, k


def _blend_events(
    ev: Events,
    n_rows: int,
    n_t: int,
    n_c: int,
    first: Tensor,
    second: Tensor,
    keep: float,
    generator: torch.Generator | None,
) -> Events:
    """Blends of rows ``first[k]`` and ``second[k]``, as events of rows ``k`` (coalesced)."""
    if not 0.0 <= keep <= 1.0:
        raise ValueError(f"keep must be in [0, 1], got {keep}")
    total = torch.zeros(n_rows, dtype=torch.float64, device=ev.row.device)
    total.index_add_(0, ev.row, ev.v.double())
    mean_t = torch.zeros_like(total).index_add_(0, ev.row, (ev.v * ev.t).double())
    mean_c = torch.zeros_like(total).index_add_(0, ev.row, (ev.v * ev.c).double())
    mean_t, mean_c = mean_t / total.clamp_min(1), mean_c / total.clamp_min(1)
    both = (total[first] > 0) & (total[second] > 0)  # an empty partner moves nothing
    parts = []
    for me, other in ((first, second), (second, first)):
        d_t = torch.where(both, torch.round((mean_t[other] - mean_t[me]) / 2), 0.0).long()
        d_c = torch.where(both, torch.trunc((mean_c[other] - mean_c[me]) / 2), 0.0).long()
        idx, k = _segments(ev, n_rows, me)
        t, c = ev.t[idx] + d_t[k], ev.c[idx] + d_c[k]
        inside = (t >= 0) & (t < n_t) & (c >= 0) & (c < n_c)
        k, t, c, v = k[inside], t[inside], c[inside], ev.v[idx][inside]
        dev = _gen_device(generator)
        v_f = v.to(dev, torch.float32)
        kept = torch.binomial(v_f, torch.full_like(v_f, keep), generator=generator)
        kept = kept.to(v.device, torch.int64)
        parts.append(Events(k, t, c, kept).select(kept > 0))
    return coalesce(cat_events(parts), n_t, n_c)


def blend_pairs(
    a: Tensor,
    b: Tensor,
    *,
    keep: float = 0.5,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Blend each sample of ``a`` with the corresponding sample of ``b`` (the paper's recipe).

    Each of the two is moved half way toward the other's spike-weighted mean channel
    (truncated toward zero, as the paper's ``int``) and mean time bin (rounded to
    whole bins); spikes leaving the window are dropped; each remaining spike is kept
    with probability ``keep``; the two are added. A sample without spikes does not
    move its partner.

    Parameters
    ----------
    a, b : Tensor, shape (n, time, channels)
        Spike counts (non-negative whole numbers, any dtype).
    keep : float
        Probability of keeping each spike, in ``[0, 1]``.
    generator : torch.Generator, optional
        Source of the thinning.

    Returns
    -------
    Tensor, shape (n, time, channels)
        Blended counts, dtype and device of ``a`` (uint8 saturates at 255).
    """
    if a.shape != b.shape:
        raise ValueError(
            f"a and b must have the same shape, got {tuple(a.shape)}, {tuple(b.shape)}"
        )
    n, n_t, n_c = a.shape
    ea, eb = Events.of(a), Events.of(b.to(a.device))
    ev = cat_events([ea, Events(eb.row + n, eb.t, eb.c, eb.v)])
    rows = torch.arange(n, device=a.device)
    out = _blend_events(ev, 2 * n, n_t, n_c, rows, rows + n, keep, generator)
    return out.dense(a.shape, a)


def _blend_batch(
    x: Batch,
    y: Tensor,
    prob: float,
    keep: float,
    generator: torch.Generator | None,
) -> tuple[Tensor | None, Events | None]:
    """Which rows of ``x`` become blends with a same-class row of the batch, and the blends.

    Returns ``(chosen, blended)``: ``blended.row`` indexes ``chosen``; ``(None, None)`` if no
    row was chosen. Only the events of the rows taking part (the chosen ones and their
    partners) are processed. The random draws are those of the event-based version.
    """
    n, n_t, n_c = x.shape
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},), got {tuple(y.shape)}")
    if not 0.0 <= prob <= 1.0:
        raise ValueError(f"prob must be in [0, 1], got {prob}")
    device = x.source.device
    chosen_mask = _rand(n, generator, torch.device("cpu")) < prob
    partner = same_class_partners(y, generator=generator)
    chosen = chosen_mask.nonzero().squeeze(1)
    if len(chosen) == 0:
        return None, None
    rows = torch.unique(torch.cat([chosen, partner[chosen]]))  # sorted: events keep order
    local = torch.full((n,), -1, dtype=torch.int64)
    local[rows] = torch.arange(len(rows))
    ev = x.events(rows)
    local = local.to(device)
    first, second = local[chosen.to(device)], local[partner[chosen].to(device)]
    return chosen, _blend_events(ev, len(rows), n_t, n_c, first, second, keep, generator)


def blend(
    x: Tensor,
    y: Tensor,
    *,
    prob: float = PAPER_BLEND_FRACTION,
    keep: float = 0.5,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Replace random samples of a batch by blends with a same-class sample of the batch.

    Parameters
    ----------
    x : Tensor, shape (batch, time, channels)
        Spike counts.
    y : Tensor of int, shape (batch,)
        Labels (unchanged: a blend keeps its class).
    prob : float
        Probability that a sample is replaced by a blend.
    keep : float
        Probability of keeping each spike of the two parents (:func:`blend_pairs`).
    generator : torch.Generator, optional
        Source of all random choices.

    Returns
    -------
    Tensor, shape (batch, time, channels)
        A new tensor; samples not chosen are copied unchanged.
    """
    check_counts(x)
    chosen, blended = _blend_batch(Batch(x, None), y, prob, keep, generator)
    return _assemble(Batch(x, None), None, chosen, blended)


class Augment:
    """The paper's augmentation of a training batch: same-class blend, then channel shift.

    Parameters
    ----------
    shift : int
        Largest channel shift; 0 disables shifting (paper: 40).
    shift_inclusive : bool
        Draw shifts from ``[-shift, shift]`` instead of the paper's ``[-shift, shift)``.
    blend : float
        Probability that a sample is replaced by a same-class blend; 0 disables
        blending (default: the paper's share of blends in an epoch, 7644 / 15800).
    blend_keep : float
        Probability of keeping each spike of the two parents of a blend (paper: 0.5).

    Examples
    --------
    >>> aug = Augment.from_config({"shift": 40, "blend": 0.5})
    >>> x_aug = aug(x, y, generator=torch.Generator().manual_seed(0))  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        shift: int = 40,
        shift_inclusive: bool = False,
        blend: float = PAPER_BLEND_FRACTION,
        blend_keep: float = 0.5,
    ) -> None:
        if int(shift) != shift or shift < 0:
            raise ValueError(f"shift must be a non-negative integer, got {shift}")
        if not 0.0 <= blend <= 1.0 or not 0.0 <= blend_keep <= 1.0:
            raise ValueError("blend and blend_keep must lie in [0, 1]")
        self.shift = int(shift)
        self.shift_inclusive = bool(shift_inclusive)
        self.blend = float(blend)
        self.blend_keep = float(blend_keep)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> Augment:
        """Build from a (JSON) dict of the constructor's keyword arguments.

        Missing keys take the defaults (the paper's settings); unknown keys are refused
        with one message naming them.
        """
        config = dict(config or {})
        known = {"shift", "shift_inclusive", "blend", "blend_keep"}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(
                f"unknown augmentation options: {', '.join(unknown)} (known: {sorted(known)})"
            )
        return cls(**config)

    def to_config(self) -> dict[str, Any]:
        """JSON-serialisable configuration; ``Augment.from_config`` rebuilds this object."""
        return {
            "shift": self.shift,
            "shift_inclusive": self.shift_inclusive,
            "blend": self.blend,
            "blend_keep": self.blend_keep,
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_config().items())
        return f"Augment({args})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Augment) and self.to_config() == other.to_config()

    def __call__(self, x: Tensor, y: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """Augment one batch.

        Parameters
        ----------
        x : Tensor, shape (batch, time, channels)
            Spike counts (uint8 or float).
        y : Tensor of int, shape (batch,)
            Labels; blends keep the label of the sample they replace.
        generator : torch.Generator, optional
            Source of all random choices; the same generator state gives the same result.

        Returns
        -------
        Tensor, shape (batch, time, channels)
            A new tensor of the dtype and device of ``x``.
        """
        check_counts(x)
        return self._augment(Batch(x, None), y, generator)

    def batch(
        self,
        source: Tensor,
        index: Tensor,
        y: Tensor,
        *,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Augment the batch ``source[index]`` without copying it first.

        The same as ``self(source[index], y, generator=generator)`` (same draws, same
        result), reading the rows from ``source`` as they are needed: a training loop
        saves one copy of the batch (180 MB for SHD at batch 256).

        Parameters
        ----------
        source : Tensor or SpikeCounts, shape (samples, time, channels)
            Spike counts of a whole data set (uint8, or the events of
            :class:`~spatialsnn.data.SpikeCounts`; other dtypes are indexed first).
        index : Tensor of int, shape (batch,)
            Samples of the batch.
        y : Tensor of int, shape (batch,)
            Their labels.
        generator : torch.Generator, optional
            Source of all random choices.
        """
        if isinstance(source, Tensor) and (source.dtype != torch.uint8 or source.ndim != 3):
            return self(source[index], y, generator=generator)
        return self._augment(Batch(source, torch.as_tensor(index).cpu()), y, generator)

    def _augment(self, x: Batch, y: Tensor, generator: torch.Generator | None) -> Tensor:
        chosen = blended = shifts = None
        if self.blend > 0:
            chosen, blended = _blend_batch(x, y, self.blend, self.blend_keep, generator)
        if self.shift > 0:
            shifts = _draw_shifts(x.shape[0], self.shift, self.shift_inclusive, generator)
        return _assemble(x, shifts, chosen, blended)
