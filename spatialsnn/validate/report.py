""":class:`ValidationResult`: the outcome of a validation as a table, JSON and a Dataset."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ValidationResult"]


@dataclass
class ValidationResult:
    """Outcome of :func:`validate`.

    Attributes
    ----------
    passed : bool
        Whether every criterion held.
    summary : dict
        Everything reported (JSON-serialisable): model, data, Brian2 set-up, delay
        statistics, agreement, accuracy, timing, criteria and failures.
    per_sample : dict of numpy.ndarray
        Per-sample results, see :meth:`to_dataset`.
    """

    passed: bool
    summary: dict[str, Any]
    per_sample: dict[str, np.ndarray] = field(repr=False)

    def to_json(self) -> str:
        """The summary as JSON."""
        return json.dumps(self.summary, indent=2)

    def to_dataset(self):
        """Per-sample results as an :class:`xarray.Dataset` (dims ``sample``, ``class``).

        Variables: ``label`` (-1: unknown), ``prediction_twin``, ``prediction_brian2``,
        ``identical`` (hidden spike trains equal), ``n_spikes_twin``,
        ``n_spikes_brian2``, ``n_spike_mismatch`` (entries of the rasters that differ),
        ``first_divergence`` (ms; NaN when identical), ``spike_agreement``,
        ``max_abs_dv_output``, ``logits_twin``, ``logits_brian2``; with a finer ``dt``
        also ``prediction_twin_train_dt`` and ``spike_agreement_train_dt``. Every
        variable has ``units`` and ``long_name``; the summary is the JSON attribute
        ``summary``.
        """
        import xarray as xr

        meta = {
            "label": ("1", "true class (-1: unknown)"),
            "prediction_twin": ("1", "class predicted by the twin"),
            "prediction_brian2": ("1", "class predicted by Brian2"),
            "identical": ("1", "hidden spike trains identical (twin vs Brian2)"),
            "n_spikes_twin": ("1", "hidden spikes in the twin"),
            "n_spikes_brian2": ("1", "hidden spikes in Brian2"),
            "n_spike_mismatch": ("1", "(step, neuron) entries of the hidden rasters that differ"),
            "first_divergence": ("ms", "time of the first differing hidden spike (NaN: none)"),
            "spike_agreement": ("1", "tolerance-based spike-train agreement, 2*pairs/(n_a+n_b)"),
            "max_abs_dv_output": ("1", "max |V_out(twin) - V_out(Brian2)|"),
            "logits_twin": ("1", "readout of the twin"),
            "logits_brian2": ("1", "readout of Brian2"),
            "prediction_twin_train_dt": ("1", "class predicted by the twin at the training dt"),
            "spike_agreement_train_dt": (
                "1",
                "agreement of Brian2 with the twin at the training dt",
            ),
        }
        data = {}
        for name, values in self.per_sample.items():
            if name == "index":
                continue
            dims = ("sample", "class") if values.ndim == 2 else ("sample",)
            units, long_name = meta[name]
            data[name] = xr.Variable(dims, values, {"units": units, "long_name": long_name})
        s = self.summary
        attrs = {
            "title": "spatialsnn validation report (twin vs Brian2)",
            "model": str(s["model"]["path"]),
            "passed": np.int8(self.passed),
            "device": s["brian2"]["device"],
            "precision": s["brian2"]["precision"],
            "dt": float(s["brian2"]["dt_ms"]),
            "dt_units": "ms",
            "spatialsnn_version": s["spatialsnn_version"],
            "brian2_version": s["brian2"]["version"],
            "summary": json.dumps(s, sort_keys=True),
        }
        coords = {
            "sample": ("sample", self.per_sample["index"]),
            "class": ("class", np.arange(self.per_sample["logits_twin"].shape[1])),
        }
        return xr.Dataset(data, coords=coords, attrs=attrs)

    def write_report(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dataset` to a netCDF4 file (engine h5netcdf)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.to_dataset().to_netcdf(path, engine="h5netcdf")
        return path

    def format_table(self) -> str:
        """A human-readable summary: set-up, delays, twin vs Brian2, verdict."""
        s = self.summary
        lines = [
            *_setup_lines(s),
            *_delay_lines(s["delays"]),
            "",
            *_comparison_lines(s),
            "",
            ("PASS: " + "; ".join(s["checks"]))
            if self.passed
            else "FAIL: " + "; ".join(s["failures"]),
        ]
        return "\n".join(lines)


#: Width of the row labels of the comparison table.
_WIDTH = 34


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.2f} %"


def _setup_lines(s: dict[str, Any]) -> list[str]:
    """What was validated: model, data, Brian2 set-up."""
    m, d, b = s["model"], s["data"], s["brian2"]
    counts = f"at most {d['max_count']} spike{'s' if d['max_count'] != 1 else ''} per bin"
    target = f" ({b['target']})" if b["device"] == "runtime" else ""
    copies = "y" if b["batch"] == 1 else "ies"
    return [
        f"spatialsnn validate: {m['path']}",
        f"  model     {m['description']}",
        f"  data      {d['description']}: {d['n_samples']} samples x {d['n_steps']} steps "
        f"({counts} and channel)",
        f"  brian2    {b['version']}, {b['device']}{target}, {b['precision']}, "
        f"dt {b['dt_ms']:g} ms, {b['batch']} network cop{copies} x "
        f"{b['samples_per_run']} sample(s) per run, {b['jobs']} job(s)",
    ]


def _delay_lines(delays: dict[str, Any]) -> list[str]:
    """One line per projection with delays: range, rounding, clamping, twin vs Brian2."""
    lines = []
    for name, st in delays.items():
        if st is None:
            continue
        if not st["n_synapses"]:
            lines.append(f"  delays    {name}: no synapses")
            continue
        differ = st["n_twin_brian2_differ"]
        lines.append(
            f"  delays    {name}: {st['n_synapses']} synapses, {st['delay_min_ms']:.3g}.."
            f"{st['delay_max_ms']:.4g} ms (<= {st['steps_max']} steps), mean |rounding| "
            f"{st['rounding_abs_mean_steps']:.3f} step, {st['n_half_step_ties']} at a "
            f"half-step tie, {st['n_clamped']} clamped, "
            f"{'?' if differ is None else differ} differ twin/Brian2"
        )
    return lines


def _comparison_lines(s: dict[str, Any]) -> list[str]:
    """The twin | brian2 table, the transfer rows with a finer dt, and the times."""
    a, acc, t, r, n = s["agreement"], s["accuracy"], s["timing"], s["rates"], s["data"]["n_samples"]
    w = _WIDTH
    lines = [
        f"  {'':{w}}{'twin':>12}{'brian2':>12}",
        f"  {'accuracy':{w}}{_pct(acc['twin']):>12}{_pct(acc['brian2']):>12}",
        f"  {'hidden spikes':{w}}{a['n_spikes_twin']:>12}{a['n_spikes_brian2']:>12}",
        f"  {'identical spike trains':{w}}{a['identical_samples']:>7} / {n} "
        f"({_pct(a['identical_fraction'])})",
        f"  {'spike agreement (±' + format(a['tolerance_ms'], 'g') + ' ms)':{w}}"
        f"{a['spike_agreement_mean']:>12.4f}",
        f"  {'prediction agreement':{w}}{a['prediction_agreement_samples']:>7} / {n} "
        f"({_pct(a['prediction_agreement'])})",
        f"  {'max |dV_out|':{w}}{a['max_abs_dv_output']:>12.3g}",
        f"  {'hidden rate, mean (spikes/s)':{w}}"
        f"{r['twin']['mean_hz']:>12.1f}{r['brian2']['mean_hz']:>12.1f}",
        f"  {'hidden rate, busiest (spikes/s)':{w}}"
        f"{r['twin']['max_hz']:>12.1f}{r['brian2']['max_hz']:>12.1f}",
    ]
    if "twin_train_dt" in acc:
        coarse = f"twin at {acc['train_dt_ms']:g} ms"
        change = "n/a" if acc["change_pp"] is None else f"{acc['change_pp']:+.2f} pp"
        rc = r["twin_train_dt"]
        lines += [
            f"  {'accuracy, ' + coarse:{w}}{_pct(acc['twin_train_dt']):>12}",
            f"  {'accuracy change, brian2 - ' + coarse:{w}}{change:>12}",
            f"  {'spike agreement with ' + coarse:{w}}{a['spike_agreement_train_dt_mean']:>12.4f}",
            f"  {'hidden rate, ' + coarse:{w}}{rc['mean_hz']:>12.1f} spikes/s "
            f"(busiest {rc['max_hz']:.1f})",
        ]
    lines.append(
        f"  {'time':{w}}twin {t['twin_s']:.1f} s | brian2 build {t['brian2_build_s']:.1f} s, "
        f"run {t['brian2_run_s']:.1f} s ({t['brian2_samples_per_s']:.1f} samples/s)"
    )
    return lines
