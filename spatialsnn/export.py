"""Export a model as a standalone Brian2 script plus a data file.

:func:`write_brian2_script` writes two files: a readable Python script that builds and
runs the network with numpy and brian2 only (no spatialsnn, no torch), and an ``.npz``
file with the network's parameters and example input. The functions that build the
network in the script are copied verbatim from :mod:`spatialsnn.brian2`, so the script
builds exactly the network that ``spatialsnn validate`` checks.
"""

from __future__ import annotations

import inspect
import os
import textwrap
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["PORTABLE_FUNCTIONS", "brian2_script_source", "write_brian2_script"]

#: Functions of :mod:`spatialsnn.brian2` copied into the script, in this order.
PORTABLE_FUNCTIONS = (
    "delay_expression",
    "build_network",
    "set_input_spikes",
    "hidden_spike_raster",
    "output_voltage_trace",
    "readout",
)

_HEADER = '''\
#!/usr/bin/env python
"""Brian2 network exported by spatialsnn {version} from {source}.

Written {created}. Needs numpy and brian2 only (spatialsnn is not needed):

    python {script} [--data {data}] [--device runtime|cpp_standalone]
        [--samples N] [--dt MS] [--out results.npz]

{description}

Parameters and example input are in {data} (numpy .npz): positions in um, weights
[pre, post] (dimensionless), dt, tau_mem, tau_syn, max_delay in ms, velocity in um/ms;
``counts`` [sample, time step, input channel] are spike counts per step and ``labels``
the classes of the samples.

How the model maps onto Brian2 (see build_network below):

* ``hidden``: LIF neurons, ``dv/dt = (I - v)/tau_mem``, ``dI/dt = -I/tau_syn``,
  ``method='exact'``, threshold ``v >= theta``, reset ``v = 0``{refractory_text}; positions
  are the constant state variables {coords} (metre).
* ``output``: the same equations without threshold (leaky integrators); the class
  scores are the readout ``{readout}`` of their ``v``, recorded after each step's state
  update (``when='after_groups'``).
* ``input``: a SpikeGeneratorGroup. A SpikeGeneratorGroup cannot fire a neuron twice in
  one step, but a step may hold several spikes of one channel, so each channel has
  ``max_count`` "count copies": copy m fires in a step iff the channel's count there is
  larger than m. The copies share the channel's synapses, so a count c adds c*w.
* Synapses ``input_hidden``, ``hidden_hidden``, ``hidden_output``: ``on_pre='I_post += w'``,
  connected from the weight matrices (i = pre, j = post; zero weights dropped).{weight_note}
  {delays_text}
  Brian2 rounds delays to whole steps, int(delay/dt + 0.5).
* Every sample gets its own copy of the network (copies do not interact), so one run
  simulates all samples.
"""

import argparse
import os

import brian2 as b2
import numpy as np

# The functions below are copied verbatim from spatialsnn.brian2.
'''

_MAIN = '''

def main(argv=None):
    """Run the exported network on the samples of the data file."""
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(here, {data!r}),
                        help="parameters and input (.npz)")
    parser.add_argument("--device", choices=["runtime", "cpp_standalone"], default="runtime")
    parser.add_argument("--samples", type=int, help="use the first N samples")
    parser.add_argument("--dt", type=float, help="time step in ms (default: the model's); "
                        "must divide the model's dt; input arrives at the first sub-step")
    parser.add_argument("--out", help="save spikes, output voltage and scores here (.npz)")
    args = parser.parse_args(argv)

    with np.load(args.data, allow_pickle=False) as f:
        params = {{k: f[k] for k in f.files}}
    counts = params.pop("counts")[: args.samples]  # [sample, step, channel]
    labels = params.pop("labels", None)
    labels = None if labels is None else labels[: args.samples]
    dt = float(params["dt"]) if args.dt is None else args.dt  # ms
    ratio = int(round(float(params["dt"]) / dt))
    if ratio > 1:  # a finer grid: each bin's count arrives at its first sub-step
        fine = np.zeros((counts.shape[0], counts.shape[1] * ratio, counts.shape[2]), counts.dtype)
        fine[:, ::ratio] = counts
        counts = fine
    n_samples, n_steps = counts.shape[:2]

    if args.device == "cpp_standalone":
        b2.set_device("cpp_standalone", directory=os.path.join(here, "brian2_project"))
    else:
        b2.prefs.codegen.target = "numpy"

    net = build_network(params, n_steps=n_steps, max_count=max(1, int(counts.max())),
                        n_copies=n_samples, dt=dt)
    set_input_spikes(net, counts)
    net["network"].run(n_steps * dt * b2.ms, namespace={{}})  # all names are in the groups

    spikes = hidden_spike_raster(net, n_steps)  # [sample, step, hidden neuron]
    voltage = output_voltage_trace(net)  # [sample, step, output neuron]
    scores = readout(voltage, str(params["readout"]))
    prediction = scores.argmax(1)
    for k in range(n_samples):
        true = "" if labels is None else f", label {{labels[k]}}"
        print(f"sample {{k}}: {{int(spikes[k].sum())}} hidden spikes, "
              f"predicted class {{prediction[k]}}{{true}}")
    if labels is not None:
        print(f"accuracy: {{100 * np.mean(prediction == labels):.2f}} %")
    if args.out:
        np.savez(args.out, hidden_spikes=spikes, output_voltage=voltage, logits=scores,
                 prediction=prediction)


if __name__ == "__main__":
    main()
'''


def _delays_text(kind: str, has_input: bool, expr: str) -> str:
    """The docstring paragraph on delays."""
    computed = f"computed by Brian2 from the positions after connect():\n  ``delay = '{expr}'``."
    if kind == "spatial":
        what = "The recurrent and input delays are" if has_input else "The recurrent delays are"
        return f"{what} {computed}"
    rec = (
        "The recurrent delays are free parameters, set from the array\n  "
        "``delay_hidden_hidden`` (ms)."
        if kind == "free"
        else "The recurrent synapses have no delay."
    )
    return rec + (f" The input delays are {computed}" if has_input else "")


def brian2_script_source(params: dict[str, Any], *, script: str, data: str, source: str) -> str:
    """The text of an exported Brian2 script.

    Parameters
    ----------
    params : dict
        :func:`spatialsnn.brian2.network_params` of the model.
    script, data : str
        File names of the script and its data file (shown in its docstring; the data
        file is looked up next to the script).
    source : str
        Where the model came from (shown in the docstring).

    Returns
    -------
    str
        Python source.
    """
    from spatialsnn import __version__
    from spatialsnn import brian2 as sb2

    space = [str(c) for c in np.atleast_1d(params["space"])]
    has_input = "position_input" in params
    description = (
        f"{params['n_in']} inputs -> {params['n_hidden']} recurrent LIF neurons "
        f"({params['delays']} delays, {len(space)}-D positions) -> {params['n_out']} outputs, "
        f"dt {params['dt']:g} ms, velocity {params['velocity']:g} um/ms"
    )
    header = _HEADER.format(
        version=__version__,
        source=source,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        script=script,
        data=data,
        description=textwrap.fill(f"Network: {description}.", width=88),
        coords=", ".join(space),
        readout=params["readout"],
        weight_note=" The weight variable is\n  ``w_syn`` (``w`` is a coordinate)."
        if "w" in space
        else "",
        delays_text=_delays_text(str(params["delays"]), has_input, sb2.delay_expression(space)),
        refractory_text=_refractory_text(float(params.get("refractory", 0.0))),
    )
    body = "\n\n".join(inspect.getsource(getattr(sb2, name)) for name in PORTABLE_FUNCTIONS)
    return header + "\n\n" + textwrap.dedent(body) + _MAIN.format(data=data)


def _refractory_text(refractory: float) -> str:
    if not refractory > 0:
        return ", no refractory period"
    return (
        f",\n  refractory period {refractory:g} ms (``refractory=``, ``(unless refractory)`` "
        "on ``v``)"
    )


def write_brian2_script(
    model_or_path: Any,
    script: str | os.PathLike,
    *,
    data_file: str | os.PathLike | None = None,
    counts: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    source: str | None = None,
) -> tuple[Path, Path]:
    """Write a standalone Brian2 script and its data file.

    Parameters
    ----------
    model_or_path : SpatialSNN or path-like
        The model or its file.
    script : path-like
        The script to write (``.py``).
    data_file : path-like, optional
        The data file (default: the script's name with ``.npz``); the script finds it
        next to itself.
    counts : array of int, shape (n_samples, n_steps, n_in), optional
        Example input stored in the data file (default: one sample of zeros, 100 steps).
    labels : array of int, shape (n_samples,), optional
        Their classes.
    source : str, optional
        Shown in the script's docstring (default: the model path).

    Returns
    -------
    script, data_file : pathlib.Path
    """
    from spatialsnn.brian2 import network_params

    params = network_params(model_or_path)
    script = Path(script)
    data_file = Path(data_file) if data_file is not None else script.with_suffix(".npz")
    if counts is None:
        counts = np.zeros((1, 100, params["n_in"]), dtype=np.uint8)
    counts = np.asarray(counts)
    if counts.ndim != 3 or counts.shape[2] != params["n_in"]:
        raise ValueError(f"counts must be [sample, step, {params['n_in']}], got {counts.shape}")
    if source is None:
        source = str(model_or_path) if isinstance(model_or_path, (str, os.PathLike)) else "a model"
    arrays = {k: np.asarray(v) for k, v in params.items()}
    arrays["counts"] = counts
    if labels is not None:
        arrays["labels"] = np.asarray(labels, dtype=np.int64)
    script.parent.mkdir(parents=True, exist_ok=True)
    data_file.parent.mkdir(parents=True, exist_ok=True)
    np.savez(data_file, **arrays)
    rel = os.path.relpath(data_file, script.parent)
    script.write_text(brian2_script_source(params, script=script.name, data=rel, source=source))
    script.chmod(0o755)
    return script, data_file
