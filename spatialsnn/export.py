"""Export a model as a Brian2 script written for that model, plus its files.

:func:`write_brian2_script` writes three files side by side:

``NET.py``
    A Brian2 script generated for the model at hand: its equations, threshold, reset,
    refractory period (when it has one), the groups, the synapses and the delays as
    Brian2 expressions of the position variables, all as literal Brian2 code, and only
    the branches this model uses. It needs brian2, numpy and xarray (h5netcdf), not
    spatialsnn or torch.
``NET.nc``
    The model file (format of docs/format.md), from which the script reads every
    parameter with xarray.
``NET.npz``
    Example input: ``counts`` ``[sample, step, channel]`` (spike counts per step of the
    model's ``dt``), ``labels`` ``[sample]`` when known, and ``dt`` (ms). A valid
    ``spatialsnn validate --data`` file.

The script builds the same network as :func:`spatialsnn.brian2.build_network`; tests run
it without spatialsnn and compare its spikes with the twin's and with
``spatialsnn validate``. One difference, exact in float64 up to summation order: with no
input positions the input synapses carry the spike count (``I_post += w * count_pre``)
instead of the library's count copies, which delayed input synapses need.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["brian2_script_source", "write_brian2_script"]


@dataclass(frozen=True)
class _Model:
    """What the generated code depends on."""

    n_in: int
    n_hidden: int
    n_out: int
    space: tuple[str, ...]
    delays: str  # spatial | free | none
    input_positions: bool
    refractory: bool
    same_tau: bool
    readout: str
    clip: bool  # some delay exceeds max_delay
    weight: str  # w, or w_syn when a coordinate is called w

    @classmethod
    def of(cls, params: dict[str, Any]) -> _Model:
        from spatialsnn.brian2.params import exact_delays
        from spatialsnn.dynamics import equal_time_constants

        space = tuple(str(c) for c in np.atleast_1d(params["space"]))
        clip = False  # does a delay computed from positions exceed max_delay?
        for name, d in exact_delays(params).items():
            from_positions = name == "input_hidden" or params["delays"] == "spatial"
            present = np.asarray(params[f"weight_{name}"]) != 0
            if d is not None and from_positions and present.any():
                clip |= bool(d[present].max() > float(params["max_delay"]))
        return cls(
            n_in=int(params["n_in"]),
            n_hidden=int(params["n_hidden"]),
            n_out=int(params["n_out"]),
            space=space,
            delays=str(params["delays"]),
            input_positions="position_input" in params,
            refractory=float(params.get("refractory", 0.0)) > 0,
            same_tau=equal_time_constants(float(params["tau_mem"]), float(params["tau_syn"])),
            readout=str(params["readout"]),
            clip=clip,
            weight="w_syn" if "w" in space else "w",
        )


def _header(m: _Model, *, name: str, source: str, script: str) -> str:
    from spatialsnn import __version__

    created = datetime.now(timezone.utc).date().isoformat()
    delays = {
        "spatial": "Brian2 computes each recurrent delay from the positions: distance / velocity.",
        "free": "The recurrent delays are free (learned per synapse), read from the file.",
        "none": "The recurrent synapses have no delay.",
    }[m.delays]
    if m.input_positions:
        delays += "\nThe inputs have positions too: input delays are distance / velocity."
    return f'''#!/usr/bin/env python
"""The spatialsnn model {name} as a Brian2 simulation.

{m.n_in} inputs -> {m.n_hidden} recurrent LIF neurons with {len(m.space)}-D positions \
-> {m.n_out} leaky integrators.
{delays}
Exported by spatialsnn {__version__} from {source} on {created}.
Needs brian2, numpy and xarray (h5netcdf), not spatialsnn. A --dt must divide the
model's time step (the default).

    python {script} [--samples N] [--dt MS] [--device cpp_standalone] [--out OUT.npz]
"""
'''


def _quote(text: str) -> str:
    """A Python string literal in double quotes."""
    return json.dumps(text)


def _setup(*, model_file: str, data_file: str, project: str) -> str:
    return f"""
import argparse
from pathlib import Path

import numpy as np
import xarray as xr
from brian2 import Network, NeuronGroup, SpikeMonitor, StateMonitor, Synapses
from brian2 import TimedArray, defaultclock, ms, prefs, set_device, umetre

here = Path(__file__).resolve().parent
parser = argparse.ArgumentParser(description="Simulate the network in Brian2.")
parser.add_argument("--model", default=here / {_quote(model_file)}, help="model file")
parser.add_argument("--inputs", default=here / {_quote(data_file)}, help="input counts")
parser.add_argument("--samples", type=int, help="simulate the first N samples")
parser.add_argument("--dt", type=float, help="time step, ms (default: the model's)")
parser.add_argument(
    "--device", choices=["runtime", "cpp_standalone"], default="runtime"
)
parser.add_argument("--out", help="save spikes, voltages and scores here (.npz)")
args = parser.parse_args()
if args.device == "cpp_standalone":
    set_device("cpp_standalone", directory=str(here / {_quote(project)}))
else:
    prefs.codegen.target = "numpy"
"""


def _parameters(m: _Model) -> str:
    clip = 'max_delay = float(model["max_delay"]) * ms  # longer delays are clamped'
    lines = [
        "# Parameters, from the model file; each variable states its units (docs/format.md).",
        'model = xr.open_dataset(args.model, engine="h5netcdf")',
        'tau_mem = float(model["tau_mem"]) * ms',
        *([] if m.same_tau else ['tau_syn = float(model["tau_syn"]) * ms']),
        'theta = float(model["threshold"])  # voltages are dimensionless',
        *(['t_ref = float(model["refractory"]) * ms'] if m.refractory else []),
        'velocity = float(model["velocity"]) * umetre / ms',
        *([clip] if m.clip else []),
        'position = model["position_hidden"].values  # [hidden, space], um',
        *(['position_input = model["position_input"].values'] if m.input_positions else []),
        'w_in = model["weight_input_hidden"].values  # weights are [pre, post]',
        'w_rec = model["weight_hidden_hidden"].values',
        'w_out = model["weight_hidden_output"].values',
        "n_in, n_hidden = w_in.shape",
        "n_out = w_out.shape[1]",
    ]
    return "\n" + "\n".join(lines) + "\n"


def _inputs(m: _Model) -> str:
    text = """
# Input: spike counts per step, a TimedArray column per (sample, channel); with a
# finer step each count arrives in the first sub-step of its bin.
with np.load(args.inputs) as f:
    counts = f["counts"][: args.samples]  # [sample, step, channel]
    labels = f["labels"][: args.samples] if "labels" in f.files else None
dt_ms = args.dt or float(model["dt"])
substeps = round(float(model["dt"]) / dt_ms)
n_samples, n_steps = len(counts), counts.shape[1] * substeps
table = np.zeros((n_steps, n_samples * n_in))
table[::substeps] = counts.transpose(1, 0, 2).reshape(counts.shape[1], -1)
input_counts = TimedArray(table, dt=dt_ms * ms)
defaultclock.dt = dt_ms * ms

# One copy of the network per sample, side by side in one run (copies do not
# interact): neuron k of sample s has index s * n + k in its group.
"""
    if not m.input_positions:
        return text + (
            "# A bin may hold several spikes of a channel; each spike carries the count.\n"
            "inputs = NeuronGroup(\n"
            '    n_samples * n_in, "count = input_counts(t, i) : 1", threshold="count > 0",'
            ' reset=""\n)\n'
        )
    coords = "".join(f"\n    {c} : metre (constant)" for c in m.space)
    setters = "".join(
        f"inputs.{c} = np.tile(position_input[:, {k}], n_samples * max_count) * umetre\n"
        for k, c in enumerate(m.space)
    )
    return text + (
        "# A bin may hold several spikes of a channel: copy m (rank) of a channel fires\n"
        "# when its count exceeds m, so a count c sends c spikes over the delayed synapses.\n"
        "max_count = max(1, int(counts.max()))\n"
        "inputs = NeuronGroup(\n"
        "    n_samples * max_count * n_in,\n"
        '    """channel : integer (constant)\n'
        f'    rank : integer (constant){coords}""",\n'
        '    threshold="input_counts(t, channel) > rank",\n'
        '    reset="",\n'
        ")\n"
        "k = np.arange(len(inputs))  # k = (sample * max_count + rank) * n_in + channel\n"
        "inputs.channel = k // (max_count * n_in) * n_in + k % n_in\n"
        "inputs.rank = k // n_in % max_count\n"
        f"{setters}"
    )


def _groups(m: _Model) -> str:
    tau_i = "tau_mem" if m.same_tau else "tau_syn"
    flag = m.refractory and not m.same_tau  # see spatialsnn.brian2.network
    unless = " (unless refractory)" if flag else ""
    coords = "".join(f"\n    {c} : metre (constant)" for c in m.space)
    ref = "\n    refractory=t_ref," if m.refractory else ""
    setters = "".join(
        f"hidden.{c} = np.tile(position[:, {k}], n_samples) * umetre\n"
        for k, c in enumerate(m.space)
    )
    hold = ""
    if m.refractory and not flag:
        hold = (
            "# v stays at the reset value while refractory. (unless refractory) would do it,\n"
            "# but Brian2's exact solution with equal time constants divides 0 by 0.\n"
            'hidden.run_regularly("v = v * int(not_refractory)", when="before_thresholds")\n'
        )
    return (
        "hidden = NeuronGroup(\n"
        "    n_samples * n_hidden,\n"
        f'    """dv/dt = (I - v) / tau_mem : 1{unless}\n'
        f'    dI/dt = -I / {tau_i} : 1{coords}""",\n'
        '    threshold="v >= theta",\n'
        f'    reset="v = 0",{ref}\n'
        '    method="exact",\n'
        ")\n"
        f"{hold}{setters}"
        "output = NeuronGroup(\n"
        "    n_samples * n_out,\n"
        '    """dv/dt = (I - v) / tau_mem : 1\n'
        f'    dI/dt = -I / {tau_i} : 1""",\n'
        '    method="exact",\n'
        ")\n"
    )


def _synapses(m: _Model) -> str:
    w = m.weight
    if m.input_positions:
        inputs = "input_hidden = synapses(inputs, hidden, np.tile(w_in, (max_count, 1)))"
    else:
        inputs = f'input_hidden = synapses(inputs, hidden, w_in, "I_post += {w} * count_pre")'
    return (
        "\n\n"
        f'def synapses(pre, post, weights, on_pre="I_post += {w}"):\n'
        '    """A synapse for every non-zero weight [pre, post], in every network copy."""\n'
        "    n_pre, n_post = weights.shape\n"
        "    i, j = np.nonzero(weights)\n"
        "    s = np.arange(n_samples)[:, None]  # the copy\n"
        f'    S = Synapses(pre, post, "{w} : 1 (constant)", on_pre=on_pre)\n'
        "    S.connect(i=(s * n_pre + i).ravel(), j=(s * n_post + j).ravel())\n"
        f"    S.{w} = np.tile(weights[i, j], n_samples)\n"
        "    return S\n"
        "\n\n"
        f"{inputs}\n"
        "hidden_hidden = synapses(hidden, hidden, w_rec)\n"
        "hidden_output = synapses(hidden, output, w_out)\n"
    ) + _delays(m)


def _delays(m: _Model) -> str:
    squares = " + ".join(f"({c}_pre - {c}_post)**2" for c in m.space)
    expr = f"sqrt({squares}) / velocity"
    if m.clip:
        expr = f"clip({expr}, 0*ms, max_delay)"
    text = ""
    if m.delays == "spatial" or m.input_positions:
        text += (
            "# Delays: set after connect(), computed by Brian2 from the positions; its\n"
            "# spike queue rounds each to whole steps, int(delay / dt + 0.5).\n"
        )
    if m.delays == "spatial":
        text += f'hidden_hidden.delay = "{expr}"\n'
    elif m.delays == "free":
        text += (
            "# Free recurrent delays [pre, post], ms, clamped to [0, max_delay] as in the twin.\n"
            "pre, post = np.nonzero(w_rec)\n"
            'free = model["delay_hidden_hidden"].values.clip(0, float(model["max_delay"]))\n'
            "hidden_hidden.delay = np.tile(free[pre, post], n_samples) * ms\n"
        )
    if m.input_positions:
        text += f'input_hidden.delay = "{expr}"\n'
    return text


_READOUTS = {
    "exp_mean": (
        "mean over the steps t = 0 .. T-1 of v(t) exp(-t/T)",
        "(v * np.exp(-np.arange(n_steps) / n_steps)).sum(-1) / n_steps",
    ),
    "sum": ("v summed over the steps", "v.sum(-1)"),
    "max": ("the largest v", "v.max(-1)"),
    "last": ("v in the last step", "v[:, :, -1]"),
}


def _run_and_report(m: _Model) -> str:
    what, formula = _READOUTS[m.readout]
    return f"""
spikes = SpikeMonitor(hidden)
voltage = StateMonitor(output, "v", record=True, when="after_groups")  # after updates
net = Network(
    inputs, hidden, output, input_hidden, hidden_hidden, hidden_output, spikes, voltage
)
net.run(n_steps * dt_ms * ms)

# Readout ({m.readout}): {what}.
v = voltage.v[:].reshape(n_samples, n_out, n_steps)  # [sample, output, step]
scores = {formula}
prediction = scores.argmax(1)
sample, neuron = np.divmod(np.asarray(spikes.i[:]), n_hidden)
for s in range(n_samples):
    label = "" if labels is None else f", label {{labels[s]}}"
    print(f"sample {{s}}: {{np.sum(sample == s)}} spikes, class {{prediction[s]}}{{label}}")
if labels is not None:
    print(f"accuracy: {{100 * np.mean(prediction == labels):.2f}} %")
if args.out:  # spikes [sample, step, neuron], voltages [sample, step, output]
    raster = np.zeros((n_samples, n_steps, n_hidden), dtype=bool)
    raster[sample, np.round(spikes.t[:] / (dt_ms * ms)).astype(int), neuron] = True
    voltages = v.transpose(0, 2, 1)
    np.savez(args.out, hidden_spikes=raster, output_voltage=voltages, logits=scores)
"""


def brian2_script_source(
    params: dict[str, Any],
    *,
    script: str,
    model_file: str,
    data_file: str,
    source: str,
) -> str:
    """The text of a Brian2 script generated for one model.

    Parameters
    ----------
    params : dict
        :func:`spatialsnn.brian2.network_params` of the model.
    script : str
        File name of the script (shown in its docstring).
    model_file, data_file : str
        Paths of the model file and of the example input, relative to the script's
        folder (the script's defaults).
    source : str
        Where the model came from (shown in the docstring).

    Returns
    -------
    str
        Python source.
    """
    m = _Model.of(params)
    stem = Path(script).stem
    return "".join(
        [
            _header(m, name=Path(source).name, source=source, script=script),
            _setup(model_file=model_file, data_file=data_file, project=f"{stem}_brian2"),
            _parameters(m),
            _inputs(m),
            _groups(m),
            _synapses(m),
            _run_and_report(m),
        ]
    )


def _savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _replace(path: Path, write) -> None:
    """``write(tmp)`` to a temporary file beside ``path``, then rename it into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_brian2_script(
    model_or_path: Any,
    script: str | os.PathLike,
    *,
    data_file: str | os.PathLike | None = None,
    model_file: str | os.PathLike | None = None,
    counts: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    source: str | None = None,
) -> tuple[Path, Path, Path]:
    """Write a Brian2 script generated for a model, the model file and example input.

    Parameters
    ----------
    model_or_path : SpatialSNN or path-like
        The model or its file.
    script : path-like
        The script to write (``.py``).
    data_file : path-like, optional
        The example input (default: the script's name with ``.npz``).
    model_file : path-like, optional
        Where the script finds the model (default: the script's name with ``.nc``); the
        model file is copied there (a model object is saved there), unless it is the
        model's own file.
    counts : array of int, shape (n_samples, n_steps, n_in), optional
        Example input (default: one sample of zeros, 100 steps).
    labels : array of int, shape (n_samples,), optional
        Their classes.
    source : str, optional
        Shown in the script's docstring (default: the model path).

    Returns
    -------
    script, model_file, data_file : pathlib.Path
    """
    from spatialsnn.brian2.params import network_params
    from spatialsnn.io import save

    params = network_params(model_or_path)
    script = Path(script)
    data_file = Path(data_file) if data_file is not None else script.with_suffix(".npz")
    model_file = Path(model_file) if model_file is not None else script.with_suffix(".nc")
    if counts is None:
        counts = np.zeros((1, 100, params["n_in"]), dtype=np.uint8)
    counts = np.asarray(counts)
    if counts.ndim != 3 or counts.shape[2] != params["n_in"]:
        raise ValueError(f"counts must be [sample, step, {params['n_in']}], got {counts.shape}")
    is_path = isinstance(model_or_path, (str, os.PathLike))
    if source is None:
        source = str(model_or_path) if is_path else "a model"
    for path in (script, data_file, model_file):
        path.parent.mkdir(parents=True, exist_ok=True)
    inputs = {"counts": counts, "dt": np.float64(params["dt"])}
    if labels is not None:
        inputs["labels"] = np.asarray(labels, dtype=np.int64)
    rel = {p: Path(os.path.relpath(p, script.parent)).as_posix() for p in (model_file, data_file)}
    text = brian2_script_source(
        params, script=script.name, model_file=rel[model_file], data_file=rel[data_file],
        source=source,
    )  # fmt: skip
    # Each file is written beside its destination and renamed into place, so a failure
    # leaves no half-written file (np.savez to an open file keeps the name as given).
    if not is_path:
        save(model_or_path, model_file)
    elif not model_file.exists() or not model_file.samefile(model_or_path):
        _replace(model_file, lambda tmp: shutil.copyfile(model_or_path, tmp))
    _replace(data_file, lambda tmp: _savez(tmp, inputs))
    _replace(script, lambda tmp: tmp.write_text(text))
    script.chmod(0o755)
    return script, model_file, data_file
