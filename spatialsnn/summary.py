"""Human- and machine-readable summaries of model files (``spatialsnn info``)."""

from __future__ import annotations

import os
import textwrap
from typing import Any

import numpy as np

from spatialsnn.io import history_of, open_model_dataset, training_config_of, validate_dataset

__all__ = ["describe_file", "format_description"]


def _stats(values: np.ndarray) -> dict[str, float]:
    v = np.asarray(values, dtype=np.float64).ravel()
    return {
        "min": float(v.min()),
        "median": float(np.median(v)),
        "mean": float(v.mean()),
        "max": float(v.max()),
    }


def _rates(history: dict[str, list[float]], ds) -> dict[str, Any] | None:
    """Hidden firing rates (spikes/s) on the test split at the best epoch, if recorded.

    Files written before rates were recorded in spikes/s hold ``hidden_rate`` in spikes
    per neuron per trial; it is converted with the trial length recorded in the
    training configuration (no busiest-neuron rate then).
    """
    tc = training_config_of(ds)
    best = int(tc.get("best_epoch", 0) or 0) - 1
    if "hidden_rate_hz" in history:
        values = history["hidden_rate_hz"]
        best = best if 0 <= best < len(values) else len(values) - 1
        busiest = history.get("hidden_rate_max_hz")
        return {
            "epoch": best + 1,
            "mean_hz": values[best],
            "max_hz": None if busiest is None else busiest[best],
        }
    data = tc.get("data") or {}
    if "hidden_rate" in history and data.get("n_steps") and data.get("dt"):
        values = history["hidden_rate"]
        best = best if 0 <= best < len(values) else len(values) - 1
        trial_s = float(data["n_steps"]) * float(data["dt"]) * 1e-3
        return {"epoch": best + 1, "mean_hz": values[best] / trial_s, "max_hz": None}
    return None


_DATA_NAMES = {
    "shd": "Spiking Heidelberg Digits (SHD)",
    "ssc": "Spiking Speech Commands (SSC)",
}


def _task(tc: dict[str, Any]) -> str | None:
    """What the model was trained on, in words; None when the file does not say."""
    data = tc.get("data") if isinstance(tc.get("data"), dict) else {}
    source = data.get("source")
    parts = []
    if data.get("n_steps") and data.get("dt"):
        parts.append(f"{data['n_steps']} steps of {float(data['dt']):g} ms")
    if data.get("n_channels"):
        parts.append(f"{data['n_channels']} input channels")
    if data.get("n_classes"):
        parts.append(f"{data['n_classes']} classes")
    shape = ", ".join(parts)
    if source == "synthetic":
        sizes = ""
        if data.get("n_train") and data.get("n_test"):
            sizes = f", {data['n_train']} training and {data['n_test']} test samples"
        return (
            f"synthetic '{data.get('task')}' task (spatialsnn.data.make_task, seed "
            f"{data.get('seed')}{sizes}" + (f"; {shape}" if shape else "") + ")"
        )
    if source in _DATA_NAMES:
        where = data.get("path") or tc.get("data_path") or "the download cache"
        return f"{_DATA_NAMES[source]} from {where}" + (f" ({shape})" if shape else "")
    if tc.get("task"):
        return f"task '{tc['task']}' (data source not recorded)"
    return None


def _training(history: dict[str, list[float]], ds) -> dict[str, Any]:
    """Task, best epoch, its accuracies and the training time; None where not recorded."""
    tc = training_config_of(ds)
    best = int(tc.get("best_epoch", 0) or 0)

    def at_best(name: str) -> float | None:
        values = history.get(name) or []
        value = values[best - 1] if 1 <= best <= len(values) else None
        return None if value is None or np.isnan(value) else float(value)

    seconds = [v for v in history.get("epoch_seconds", []) if not np.isnan(v)]
    return {
        "task": _task(tc),
        "data": tc.get("data"),
        "best_epoch": best or None,
        "val_fraction": tc.get("val_fraction"),
        "val_accuracy": at_best("val_accuracy"),
        "test_accuracy": at_best("test_accuracy"),
        "train_seconds": float(sum(seconds)) if seconds else None,
    }


def describe_file(path: str | os.PathLike) -> dict[str, Any]:
    """Summarise a model file as a JSON-serialisable dict.

    Parameters
    ----------
    path : str or path-like
        A spatialsnn model file.

    Returns
    -------
    dict
        Format, sizes, physical parameters (with units), delay statistics (ms and
        rounded steps), ``training`` (task and data source, best epoch, validation and
        test accuracy there, total training time in s; None for what the file does not
        record) and the training history.
    """
    from spatialsnn.io import from_dataset

    ds = open_model_dataset(path)  # warns if the stored delay steps are stale
    cfg = validate_dataset(ds, path)
    model = from_dataset(ds, path)
    delays_ms = model.delays().detach().numpy()
    # always from the positions (or free delays), velocity and dt, as simulated: the
    # stored delay_steps_hidden_hidden are derived, for inspection, and may be stale
    raw_steps = np.floor(delays_ms / cfg["dt"] + 0.5)
    steps = np.clip(raw_steps, 0, model.max_delay_steps)
    history = history_of(ds)
    return {
        "file": str(path),
        "format": f"{ds.attrs['format']} v{int(ds.attrs['format_version'])}",
        "spatialsnn_version": ds.attrs.get("spatialsnn_version"),
        "created": ds.attrs.get("created"),
        "sizes": {k: cfg[k] for k in ("n_in", "n_hidden", "n_out", "dims")},
        "delays": cfg["delays"],
        "input_positions": bool(cfg.get("input_positions")),
        "parameters": {
            "dt": {"value": cfg["dt"], "units": "ms"},
            "velocity": {"value": cfg["velocity"], "units": "um/ms"},
            "max_delay": {"value": cfg["max_delay"], "units": "ms"},
            "tau_mem": {"value": cfg["tau_mem"], "units": "ms"},
            "tau_syn": {"value": cfg["tau_syn"], "units": "ms"},
            "threshold": {"value": cfg["threshold"], "units": "1"},
            "refractory": {"value": cfg["refractory"], "units": "ms"},
        },
        "hidden_rate": _rates(history, ds),
        "training": _training(history, ds),
        "recurrent_delay_ms": _stats(delays_ms),
        "recurrent_delay_steps": {
            **_stats(steps),
            "n_clamped": int((raw_steps > model.max_delay_steps).sum()),
        },
        "position_extent_um": {
            name: [
                float(ds["position_hidden"].sel(space=name).min()),
                float(ds["position_hidden"].sel(space=name).max()),
            ]
            for name in ds["space"].values.tolist()
        },  # fmt: skip
        "weights": {
            name: _stats(ds[name].values)
            for name in ("weight_input_hidden", "weight_hidden_hidden", "weight_hidden_output")
        },
        "epochs": len(next(iter(history.values()))) if history else 0,
        "history": history,
    }


def format_description(desc: dict[str, Any]) -> str:
    """Render :func:`describe_file`'s dict as an aligned text block."""
    p = desc["parameters"]
    s = desc["sizes"]
    d = desc["recurrent_delay_ms"]
    k = desc["recurrent_delay_steps"]
    lines = [
        f"{desc['file']}",
        f"  format            {desc['format']} (written by spatialsnn {desc['spatialsnn_version']},"
        f" {desc['created']})",
        textwrap.fill(
            _or_not_recorded((desc.get("training") or {}).get("task")),
            width=100,
            initial_indent="  trained on        ",
            subsequent_indent=" " * 20,
        ),
        f"  network           {s['n_in']} inputs -> {s['n_hidden']} hidden (recurrent) -> "
        f"{s['n_out']} outputs, {s['dims']}-D positions",
        f"  recurrent delays  {desc['delays']}"
        + ("; inputs have positions too" if desc["input_positions"] else ""),
        f"  dt                {p['dt']['value']:g} ms",
        f"  velocity          {p['velocity']['value']:g} um/ms "
        f"({p['velocity']['value'] / 1000:g} m/s)",
        f"  tau_mem, tau_syn  {p['tau_mem']['value']:g} ms, {p['tau_syn']['value']:g} ms",
        f"  max delay         {p['max_delay']['value']:g} ms",
        "  refractory        "
        + (f"{p['refractory']['value']:g} ms" if p["refractory"]["value"] else "none"),
        f"  delay (ms)        min {d['min']:.3g}  median {d['median']:.3g}  max {d['max']:.3g}",
        f"  delay (steps)     min {k['min']:.0f}  median {k['median']:.0f}  max {k['max']:.0f}"
        f"  clamped {k['n_clamped']}",
    ]
    lines += _result_lines(desc.get("training") or {})
    rate = desc.get("hidden_rate")
    if rate is not None:
        busiest = "" if rate["max_hz"] is None else f", busiest neuron {rate['max_hz']:.1f}"
        lines.append(
            f"  hidden rate       {rate['mean_hz']:.1f} spikes/s mean{busiest} "
            f"(test split, epoch {rate['epoch']})"
        )
    history = desc["history"]
    if history:
        names = list(history)
        lines.append(f"  history           {desc['epochs']} epochs")
        lines.append("    epoch  " + "  ".join(f"{n:>14}" for n in names))
        n = desc["epochs"]
        shown = list(range(n)) if n <= 10 else [*range(5), None, *range(n - 4, n)]
        for e in shown:
            if e is None:
                lines.append("    ...")
                continue
            lines.append(f"    {e + 1:5d}  " + "  ".join(f"{history[k][e]:14.4g}" for k in names))
    else:
        lines.append("  history           none recorded")
    return "\n".join(lines)


def _or_not_recorded(value: Any) -> str:
    return "not recorded" if value is None else str(value)


def _result_lines(training: dict[str, Any]) -> list[str]:
    """Best epoch, its validation and test accuracy, and the training time."""
    best = training.get("best_epoch")
    val, test = training.get("val_accuracy"), training.get("test_accuracy")
    fraction = training.get("val_fraction")
    held_out = (
        f" ({100 * fraction:g} % of the training samples, held out)"
        if isinstance(fraction, (int, float)) and fraction > 0
        else ""
    )
    seconds = training.get("train_seconds")
    return [
        "  best epoch        "
        + (
            "not recorded"
            if best is None
            else f"{best} (highest validation accuracy; its weights are the ones in this file)"
        ),
        "  accuracy          "
        + (
            "not recorded"
            if val is None and test is None
            else f"validation {_percent(val)}{held_out}, test {_percent(test)} (best epoch)"
        ),
        "  training time     "
        + ("not recorded" if seconds is None else f"{seconds:.1f} s (sum of the epochs)"),
    ]


def _percent(value: float | None) -> str:
    return "not recorded" if value is None else f"{100 * value:.1f} %"
