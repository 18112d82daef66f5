""":func:`validate`: the same samples through the twin and through Brian2, compared.

The steps, in the order :func:`validate` takes them: choose the simulation step (the
model's, or a finer one that divides it); make the twin at that step (and at the training
step, for the transfer check); build the Brian2 network once (:class:`~spatialsnn.brian2.
Simulator`); run both on blocks of samples and compare each sample (spikes, output
voltage, prediction); read back the delays Brian2 realised; check the criteria; report.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from spatialsnn.validate.agreement import SampleComparison, delay_statistics, hidden_rates
from spatialsnn.validate.criteria import Criteria, evaluate
from spatialsnn.validate.report import ValidationResult
from spatialsnn.validate.samples import ValidationData, ValidationInputError, upsample_counts
from spatialsnn.validate.sources import load_data
from spatialsnn.validate.twin import run_twin, twin_at, twin_delay_steps

__all__ = ["validate", "validate_file"]


def validate(
    model,
    data: ValidationData,
    *,
    device: str = "runtime",
    dt: float | None = None,
    precision: str = "float64",
    target: str = "numpy",
    jobs: int = 1,
    batch: int | None = None,
    samples_per_run: int | None = None,
    tolerance: float | None = None,
    criteria: Criteria | None = None,
    progress: bool = False,
    build_dir: str | os.PathLike | None = None,
    cuda_options: Mapping[str, Any] | None = None,
    model_path: str | os.PathLike | None = None,
) -> ValidationResult:
    """Run the same samples through the twin and Brian2 and compare them.

    Parameters
    ----------
    model : SpatialSNN
        The network (its training ``dt`` is ``model.dt``).
    data : ValidationData
        Spike counts at ``model.dt`` (see :func:`load_data`).
    device : {"runtime", "cpp_standalone", "cuda_standalone"}
        Brian2 device.
    dt : float, optional
        Simulation time step, ms; must divide ``model.dt`` (e.g. 0.1 for a 1 ms
        model). Both the twin and Brian2 run at it; inputs arrive at the first sub-step
        of their bin; delays are rounded to the finer grid.
    precision : {"float64", "float32"}
        Floating-point type of both sides.
    target : {"numpy", "cython"}
        Code generation of the runtime device.
    jobs : int
        Parallel Brian2 processes.
    batch : int, optional
        Network copies per Brian2 run (see :class:`spatialsnn.brian2.Simulator`; default on
        ``runtime``: 16, or the number of samples if fewer).
    samples_per_run : int, optional
        Standalone devices: samples per copy and run of the binary (default: up to 32,
        fewer when that leaves a job idle).
    tolerance : float, optional
        Tolerance of the spike agreement, ms (default: ``model.dt``).
    criteria : Criteria, optional
        Pass criteria.
    progress : bool
        Show a tqdm progress bar on standard error when it is a terminal (never in a
        log file).
    build_dir : path-like, optional
        Keep the standalone project here.
    cuda_options : mapping, optional
        See :func:`spatialsnn.brian2.configure_brian2cuda`.
    model_path : path-like, optional
        Shown in the report.

    Returns
    -------
    ValidationResult

    Raises
    ------
    ValidationInputError
        Options that do not fit the model (``dt``, data shape).
    ImportError
        brian2 (or brian2cuda) is not installed; the message names the extra.
    spatialsnn.brian2.Brian2RunError
        Brian2 failed to build or run.
    """
    from spatialsnn import __version__
    from spatialsnn.brian2 import network_params

    train_dt = float(model.dt)
    dt, ratio = _simulation_step(train_dt, dt)
    _check_inputs(model, data, precision)
    tolerance = train_dt if tolerance is None else float(tolerance)
    thresholds = (criteria or Criteria()).resolved(precision)
    params = network_params(model)
    twin = twin_at(model, dt, precision)
    coarse = twin_at(model, None, precision) if ratio > 1 else None
    sim = _simulator(
        params, data.x, ratio, dt=dt, device=device, target=target, precision=precision,
        batch=batch, samples_per_run=samples_per_run, jobs=jobs, build_dir=build_dir,
        cuda_options=cuda_options,
    )  # fmt: skip
    with sim:
        comparison = SampleComparison(int(params["n_hidden"]), dt, train_dt, tolerance)
        twin_seconds = _simulate_and_compare(sim, twin, coarse, data.x, comparison, progress)
        brian2_steps = sim.delay_steps()

    per = comparison.per_sample(data.index, data.y)
    accuracy = _accuracy(per, data.y, train_dt if coarse is not None else None)
    checks, failures = evaluate(thresholds, per, data.y, accuracy)
    duration_s = data.x.shape[1] * train_dt * 1e-3
    summary = {
        "passed": not failures,
        "checks": checks,
        "failures": failures,
        "criteria": thresholds,
        "spatialsnn_version": __version__,
        "model": {
            "path": str(model_path) if model_path else "<model>",
            "description": _describe_model(model),
            "config": model.config(),
        },
        "data": _data_summary(data),
        "brian2": _brian2_summary(sim, train_dt),
        "delays": _delay_report(params, twin_delay_steps(twin), brian2_steps, dt),
        "agreement": _agreement(per, tolerance),
        "accuracy": accuracy,
        "rates": {
            run: hidden_rates(counts, len(data.x), duration_s)
            for run, counts in comparison.neuron_counts.items()
            if coarse is not None or run != "twin_train_dt"
        },
        "timing": _timing(sim, twin_seconds, len(data.x)),
    }
    return ValidationResult(not failures, summary, per)


# ------------------------------------------------------------------------------- steps


def _simulation_step(train_dt: float, dt: float | None) -> tuple[float, int]:
    """The simulation step (ms) and how many of them make one training step."""
    dt = train_dt if dt is None else float(dt)
    if not (dt > 0 and math.isfinite(dt)):
        raise ValidationInputError(f"--dt must be a positive number of ms, got {dt}")
    ratio = round(train_dt / dt)
    if ratio < 1 or not math.isclose(ratio * dt, train_dt, rel_tol=1e-9):
        raise ValidationInputError(
            f"--dt {dt:g} ms must divide the model's dt {train_dt:g} ms (e.g. 0.1 or 0.5 for 1 ms)"
        )
    return dt, ratio


def _simulator(params, x, ratio: int, *, device: str, batch, samples_per_run, jobs: int, **kw):
    """The Brian2 simulator for samples ``x`` on ``ratio`` times finer steps.

    Defaults: on ``runtime`` no more network copies than samples (up to 16); on the
    standalone devices up to 32 samples per run, fewer when that would leave a job idle.
    """
    from spatialsnn.brian2 import Simulator

    n = len(x)
    if device == "runtime" and batch is None:
        batch = max(1, min(16, n))
    if device != "runtime" and samples_per_run is None:
        samples_per_run = max(1, min(32, math.ceil(n / ((batch or 1) * jobs))))
    return Simulator(
        params,
        n_steps=x.shape[1] * ratio,
        device=device,
        max_count=max(1, int(x.max(initial=0))),
        batch=batch,
        samples_per_run=samples_per_run,
        jobs=jobs,
        **kw,
    )


def _check_inputs(model, data: ValidationData, precision: str) -> None:
    if precision not in ("float64", "float32"):
        raise ValidationInputError(f"precision must be float64 or float32, got {precision!r}")
    if data.x.shape[2] != model.hparams["n_in"]:
        raise ValidationInputError(
            f"data has {data.x.shape[2]} channels but the model has {model.hparams['n_in']} inputs"
        )


def _simulate_and_compare(sim, twin, coarse, x, comparison: SampleComparison, progress) -> float:
    """Run blocks of samples through the twin(s) and Brian2; return the twin's seconds."""
    from tqdm.auto import tqdm

    from spatialsnn.brian2 import readout
    from spatialsnn.progress import on_terminal

    ratio = sim.n_steps // x.shape[1]
    block = max(32, 2 * sim.jobs * sim.batch * sim.samples_per_run)
    twin_seconds = 0.0
    shown = progress and on_terminal()
    bar = tqdm(total=len(x), unit="sample", desc=f"validate ({sim.device})", disable=not shown)
    with bar:
        bar.set_postfix_str("building Brian2 network")
        sim.build()
        bar.set_postfix_str("")
        for start in range(0, len(x), block):
            coarse_x = x[start : start + block]
            fine_x = upsample_counts(coarse_x, ratio)
            t0 = time.perf_counter()
            tw = run_twin(twin, fine_x)
            cw = run_twin(coarse, coarse_x) if coarse is not None else None
            twin_seconds += time.perf_counter() - t0
            br = sim.run(fine_x, progress=bar.update)
            logits = readout(br.output_voltage, sim.params["readout"])
            comparison.add(tw, br.hidden_spikes, br.output_voltage, logits, cw)
    return twin_seconds


def _delay_report(params, twin_steps, brian2_steps, dt: float) -> dict[str, Any]:
    """:func:`delay_statistics` per projection with delays (None for the others)."""
    from spatialsnn.brian2 import exact_delays

    exact = exact_delays(params)
    k_max = int(np.floor(float(params["max_delay"]) / dt + 0.5))
    report: dict[str, Any] = {}
    for name in ("hidden_hidden", "input_hidden"):
        if exact[name] is None or (name == "hidden_hidden" and params["delays"] == "none"):
            report[name] = None
            continue
        present = np.asarray(params[f"weight_{name}"]) != 0
        report[name] = delay_statistics(
            exact[name], dt, k_max, present, twin_steps[name], brian2_steps.get(name)
        )
    return report


def _accuracy(per, labels, train_dt: float | None) -> dict[str, Any]:
    """Accuracy of each side (None without labels); with a finer step, the transfer."""

    def accuracy(pred):
        return None if labels is None else float((pred == labels).mean())

    twin, brian2 = accuracy(per["prediction_twin"]), accuracy(per["prediction_brian2"])
    out: dict[str, Any] = {
        "twin": twin,
        "brian2": brian2,
        "difference_pp": None if labels is None else 100 * abs(twin - brian2),
    }
    if train_dt is not None:
        coarse = accuracy(per["prediction_twin_train_dt"])
        out.update(
            train_dt_ms=train_dt,
            twin_train_dt=coarse,
            change_pp=None if labels is None else 100 * (brian2 - coarse),
        )
    return out


def _agreement(per, tolerance: float) -> dict[str, Any]:
    """How alike the spikes, predictions and output voltages of the two sides are."""
    n = len(per["identical"])
    ident = int(per["identical"].sum())
    agree = int((per["prediction_twin"] == per["prediction_brian2"]).sum())
    out: dict[str, Any] = {
        "identical_samples": ident,
        "identical_fraction": ident / n,
        "n_spikes_twin": int(per["n_spikes_twin"].sum()),
        "n_spikes_brian2": int(per["n_spikes_brian2"].sum()),
        "n_spike_mismatch": int(per["n_spike_mismatch"].sum()),
        "tolerance_ms": tolerance,
        "spike_agreement_mean": float(per["spike_agreement"].mean()),
        "spike_agreement_min": float(per["spike_agreement"].min()),
        "prediction_agreement_samples": agree,
        "prediction_agreement": agree / n,
        "max_abs_dv_output": float(per["max_abs_dv_output"].max()),
    }
    if "spike_agreement_train_dt" in per:
        out["spike_agreement_train_dt_mean"] = float(per["spike_agreement_train_dt"].mean())
    return out


def _describe_model(model) -> str:
    hp = model.hparams
    where = "inputs with positions, " if hp["input_positions"] else ""
    return (
        f"{hp['n_in']} -> {hp['n_hidden']} (recurrent, {hp['delays']} delays, "
        f"D={hp['dims']}) -> {hp['n_out']}, {where}dt {hp['dt']:g} ms, velocity "
        f"{hp['velocity']:g} um/ms, max delay {hp['max_delay']:g} ms, "
        + (f"refractory {hp['refractory']:g} ms" if hp["refractory"] else "no refractory period")
    )


def _data_summary(data: ValidationData) -> dict[str, Any]:
    return {
        "description": data.description,
        "source": data.source,
        "n_samples": int(data.x.shape[0]),
        "n_steps": int(data.x.shape[1]),
        "n_channels": int(data.x.shape[2]),
        "max_count": max(1, int(data.x.max(initial=0))),
        "has_labels": data.y is not None,
    }


def _brian2_summary(sim, train_dt: float) -> dict[str, Any]:
    from spatialsnn.brian2 import brian2_version

    return {
        "version": brian2_version(),
        "device": sim.device,
        "target": sim.target,
        "precision": sim.precision,
        "dt_ms": sim.dt,
        "train_dt_ms": train_dt,
        "n_steps": sim.n_steps,
        "batch": sim.batch,
        "samples_per_run": sim.samples_per_run,
        "jobs": sim.jobs,
        "n_runs": sim.n_runs,
    }


def _timing(sim, twin_seconds: float, n: int) -> dict[str, float]:
    build_s, run_s = sim.build_seconds, sim.run_seconds
    return {
        "twin_s": twin_seconds,
        "brian2_build_s": build_s,
        "brian2_run_s": run_s,
        "brian2_samples_per_s": n / run_s if run_s > 0 else float("inf"),
        "brian2_total_s": build_s + run_s,
    }


def validate_file(
    path: str | os.PathLike,
    *,
    data: str | os.PathLike | None = None,
    split: str = "test",
    samples: int | None = None,
    seed: int = 0,
    **kwargs: Any,
) -> ValidationResult:
    """Validate a model file (what ``spatialsnn validate`` runs).

    Parameters
    ----------
    path : path-like
        The model file.
    data, split, samples, seed
        See :func:`load_data`.
    **kwargs
        Passed to :func:`validate`.

    Returns
    -------
    ValidationResult

    Raises
    ------
    spatialsnn.ModelFileError
        Missing or invalid model file.
    ValidationInputError
        Bad data or options.
    """
    from spatialsnn.io import from_dataset, open_model_dataset, training_config_of

    ds = open_model_dataset(path)
    model = from_dataset(ds, Path(path))
    _simulation_step(float(model.dt), kwargs.get("dt"))  # refuse a bad --dt before the data
    vdata = load_data(
        data,
        training_config=training_config_of(ds),
        n_in=model.hparams["n_in"],
        dt=model.dt,
        split=split,
        samples=samples,
        seed=seed,
        where=str(path),
    )
    return validate(model, vdata, model_path=path, **kwargs)
