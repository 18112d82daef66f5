"""Record the activity of a network on a dataset as an xarray Dataset."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import xarray as xr

__all__ = ["as_tensors", "record"]


def as_tensors(data: Any, max_samples: int | None = None) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Inputs, labels and number of classes of ``data``.

    Parameters
    ----------
    data : SpikeDataset or (x, y)
        ``x`` of shape (sample, time, channel) spike counts, ``y`` of shape (sample,).
    max_samples : int, optional
        Keep only the first ``max_samples`` samples.

    Returns
    -------
    x : Tensor of uint8 or float, shape (sample, time, channel)
    y : Tensor of int64, shape (sample,)
    n_classes : int
    """
    if hasattr(data, "x") and hasattr(data, "y"):
        x, y, n_classes = data.x, data.y, int(data.n_classes)
    else:
        x, y = data
        x, y = torch.as_tensor(x), torch.as_tensor(y).to(torch.int64)
        n_classes = int(y.max()) + 1 if len(y) else 0
    if x.ndim != 3 or y.shape != (x.shape[0],):
        raise ValueError(
            f"data must be x [sample, time, channel] and y [sample], got "
            f"{tuple(x.shape)} and {tuple(y.shape)}"
        )
    if max_samples is not None:
        x, y = x[:max_samples], y[:max_samples]
    return x, y, n_classes


def record(
    model,
    data: Any,
    *,
    batch_size: int = 128,
    max_samples: int | None = None,
    time_bin: float | None = None,
    rsta_window: float | None = 5.0,
) -> xr.Dataset:
    """Run the network (eval mode, no gradients) and record its hidden activity.

    Parameters
    ----------
    model : SpatialSNN
        The network; its train/eval mode is restored afterwards.
    data : SpikeDataset or (x, y)
        Inputs ``x`` (sample, time, channel) and labels ``y`` (sample,).
    batch_size : int
        Samples per forward pass.
    max_samples : int, optional
        Use only the first ``max_samples`` samples.
    time_bin : float, optional
        Also store spike counts per time bin of this width, ms (``binned_count``).
    rsta_window : float, optional
        Window of the reverse spike-triggered average, ms (paper: 5 ms): for every
        input spike on channel ``c``, the hidden spikes of each neuron in the next
        ``rsta_window`` ms. None: skip.

    Returns
    -------
    xarray.Dataset
        ``count`` (sample, neuron) spikes per trial; ``rate`` (sample, neuron) Hz;
        ``label`` and ``prediction`` (sample); optionally ``binned_count`` (sample,
        time, neuron) and ``rsta`` (channel, neuron), hidden spikes per input spike
        per ms. Coordinate ``class``; attributes ``dt`` (ms), ``duration`` (ms),
        ``accuracy``.
    """
    x_all, y_all, n_classes = as_tensors(data, max_samples)
    dt = float(model.hparams["dt"])
    step = None if time_bin is None else max(1, int(round(time_bin / dt)))
    win = None if rsta_window is None else max(1, int(round(rsta_window / dt)))
    rec = _Recording(x_all.shape[1], x_all.shape[2], model.w_rec.shape[0], step, win)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, x_all.shape[0], batch_size):
                x = x_all[start : start + batch_size].to(model.w_in.dtype)
                rec.add(x, model(x))
    finally:
        model.train(was_training)
    return rec.dataset(y_all.numpy(), n_classes, dt)


class _Recording:
    """What :func:`record` collects batch by batch, and the Dataset made of it.

    ``n_t`` steps, ``n_in`` input channels, ``n_hidden`` neurons; ``step``: steps per
    time bin of ``binned_count`` (None: none); ``win``: steps of the reverse
    spike-triggered average (None: none).
    """

    def __init__(self, n_t: int, n_in: int, n_hidden: int, step: int | None, win: int | None):
        self.n_t, self.n_in, self.n_hidden, self.step, self.win = n_t, n_in, n_hidden, step, win
        self.counts: list[np.ndarray] = []
        self.preds: list[np.ndarray] = []
        self.binned: list[np.ndarray] = []
        self.rsta = np.zeros((n_in, n_hidden))
        self.in_spikes = np.zeros(n_in)

    def add(self, x: torch.Tensor, out: Any) -> None:
        """One batch: inputs ``x`` [batch, time, channel] and the model's output."""
        s = out.hidden_spikes.to(torch.float64)
        n_t, n_hidden, step, win = self.n_t, self.n_hidden, self.step, self.win
        self.counts.append(s.sum(1).numpy())
        self.preds.append(out.logits.argmax(1).numpy())
        if step is not None:
            n_bins = -(-n_t // step)
            sp = torch.nn.functional.pad(s, (0, 0, 0, n_bins * step - n_t))
            self.binned.append(sp.reshape(s.shape[0], n_bins, step, n_hidden).sum(2).numpy())
        if win is not None:
            # hidden spikes in (t, t + win] for every t: a reversed cumulative sum
            c = torch.cumsum(torch.nn.functional.pad(s, (0, 0, 1, win)), dim=1)
            future = c[:, 1 + win : 1 + win + n_t] - c[:, 1 : 1 + n_t]
            xd = x.to(torch.float64)
            self.rsta += torch.einsum("btc,btn->cn", xd, future).numpy()
            self.in_spikes += xd.sum((0, 1)).numpy()

    def dataset(self, label: np.ndarray, n_classes: int, dt: float) -> xr.Dataset:
        """The recording as the Dataset :func:`record` documents."""
        n_hidden, step, win = self.n_hidden, self.step, self.win
        count = np.concatenate(self.counts) if self.counts else np.zeros((0, n_hidden))
        pred = np.concatenate(self.preds) if self.preds else np.zeros(0, dtype=np.int64)
        duration = self.n_t * dt
        ds = xr.Dataset(
            {
                "count": (
                    ("sample", "neuron"),
                    count,
                    {"units": "spikes", "long_name": "spikes per trial"},
                ),
                "rate": (
                    ("sample", "neuron"),
                    count / duration * 1000.0,
                    {"units": "Hz", "long_name": "mean firing rate"},
                ),
                "label": ("sample", label, {"units": "1", "long_name": "true class"}),
                "prediction": ("sample", pred, {"units": "1", "long_name": "predicted class"}),
            },
            coords={
                "sample": np.arange(len(label)),
                "neuron": np.arange(n_hidden),
                "class": np.arange(n_classes),
            },
            attrs={
                "dt": dt,
                "duration": duration,
                "duration_units": "ms",
                "accuracy": float((pred == label).mean()) if len(label) else float("nan"),
            },
        )
        if step is not None:
            ds["binned_count"] = xr.DataArray(
                np.concatenate(self.binned),
                dims=("sample", "time", "neuron"),
                coords={"time": np.arange(self.binned[0].shape[1]) * step * dt},
                attrs={
                    "units": "spikes",
                    "long_name": f"spikes per {step * dt:g} ms bin",
                    "bin_width_ms": step * dt,
                },
            )
            ds["time"].attrs["units"] = "ms"
        if win is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                value = self.rsta / self.in_spikes[:, None] / (win * dt)
            ds["rsta"] = xr.DataArray(
                np.nan_to_num(value),
                dims=("channel", "neuron"),
                coords={"channel": np.arange(self.n_in)},
                attrs={
                    "units": "1/ms",
                    "window_ms": win * dt,
                    "long_name": "hidden spikes per input spike per ms in the next window",
                },
            )
        return ds
