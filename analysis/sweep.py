"""Compare trained models across conditions and seeds: one xarray Dataset, a table, a figure.

Usage::

    python analysis/sweep.py models/conditions --out sweep.nc --md sweep.md --fig sweep.png

Every ``*.nc`` model file in DIR is analysed on its own recorded test task (first
``--samples`` samples). The condition and seed come from the file's
``training_config`` (else from names like ``spatial_cost-seed1.nc``). Files are opened
one at a time (``xarray.open_dataset``, lazy per variable) and closed again, so memory
stays that of one model; dask is not needed. The result has dims (condition, seed);
missing combinations are NaN.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from spatialsnn.analysis import analyze, load_model
from spatialsnn.data import dataset_from_info

METRICS = {  # name in the sweep -> (name in analyze's Dataset, units, label)
    "accuracy": ("accuracy", "1", "test accuracy"),
    "modularity": ("modularity_q_mean", "1", "Louvain Q (mean over seeds)"),
    "clustering_ratio": ("clustering_ratio", "1", "C / C_null (weighted)"),
    "sigma": ("sigma", "1", "small-worldness (C/C0)(E/E0)"),
    "wiring_cost": ("wiring_cost", "um", "sum |w| * length"),
    "wiring_efficiency": ("wiring_efficiency", "1", "wiring efficiency"),
    "ari": ("ari", "1", "ARI functional vs spatial clusters"),
    "ari_p": ("ari_p", "1", "permutation p of ARI"),
    "mantel_r": ("mantel_r", "1", "Spearman r(distance, correlation)"),
}


def identify(path: Path, ds: xr.Dataset) -> tuple[str, int]:
    """Condition and seed of a model file."""
    cfg = json.loads(ds.attrs.get("training_config") or "{}")
    m = re.match(r"(.+?)-seed(\d+)", path.name)
    condition = cfg.get("condition") or (m.group(1) if m else ds.attrs.get("delays", "?"))
    seed = cfg.get("seed", int(m.group(2)) if m else 0)
    return str(condition), int(seed)


def analyse_file(path: Path, samples: int, n_perm: int) -> tuple[str, int, dict[str, float]]:
    """Scalar metrics of one model file."""
    model, ds = load_model(path)
    condition, seed = identify(path, ds)
    info = json.loads(ds.attrs.get("training_config") or "{}").get("data")
    data = dataset_from_info(info, "test") if info else None
    metrics, _ = analyze(
        model, data, max_samples=samples, n_perm=n_perm, n_null=10, prune_fractions=None, seeds=5
    )
    values = {
        k: float(metrics[src]) if src in metrics else np.nan for k, (src, _, _) in METRICS.items()
    }
    return condition, seed, values


def build(paths: list[Path], samples: int, n_perm: int) -> xr.Dataset:
    """One Dataset with dims (condition, seed) from many model files."""
    rows = []
    for path in paths:
        t = time.perf_counter()
        try:
            condition, seed, values = analyse_file(path, samples, n_perm)
        except (ValueError, OSError) as err:
            warnings.warn(f"skipped {path}: {err}", stacklevel=1)
            continue
        rows.append((condition, seed, values))
        print(
            f"{path.name}: {condition} seed {seed} ({time.perf_counter() - t:.1f} s)",
            file=sys.stderr,
        )
    conditions = sorted({r[0] for r in rows})
    seeds = sorted({r[1] for r in rows})
    out = xr.Dataset(coords={"condition": conditions, "seed": seeds})
    for name, (_, units, label) in METRICS.items():
        arr = np.full((len(conditions), len(seeds)), np.nan)
        for c, s, v in rows:
            arr[conditions.index(c), seeds.index(s)] = v[name]
        out[name] = xr.DataArray(
            arr, dims=("condition", "seed"), attrs={"units": units, "long_name": label}
        )
    out.attrs["samples"] = samples
    out.attrs["n_perm"] = n_perm
    return out


def markdown(sweep: xr.Dataset) -> str:
    """Table of mean ± sd over seeds (n = seeds with a value) per condition."""
    names = list(METRICS)
    lines = ["| condition | n | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for c in sweep["condition"].values:
        row = sweep.sel(condition=c)
        n = int(np.isfinite(row["accuracy"].values).sum())
        cells = []
        for name in names:
            v = row[name].values
            v = v[np.isfinite(v)]
            fmt = "{:.3g}" if name == "wiring_cost" else "{:.3f}"
            cells.append("–" if v.size == 0 else f"{fmt.format(v.mean())} ± {fmt.format(v.std())}")
        lines.append(f"| {c} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def figure(sweep: xr.Dataset, path: Path) -> None:
    """One panel per metric: seeds as dots, mean as a bar."""
    from spatialsnn.analysis.plots import pyplot

    plt = pyplot()
    names = [n for n in METRICS if n != "ari_p"]
    fig, axes = plt.subplots(2, 4, figsize=(14, 6))
    conds = list(sweep["condition"].values)
    for ax, name in zip(axes.ravel(), names, strict=False):
        values = sweep[name].values
        ax.bar(range(len(conds)), np.nanmean(values, axis=1), color="lightgrey")
        for i in range(len(conds)):
            ax.plot(np.full(values.shape[1], i), values[i], "o", color="k", ms=4)
        ax.set_xticks(range(len(conds)), conds, rotation=30)
        units = sweep[name].attrs["units"]
        ax.set_title(name + ("" if units == "1" else f" ({units})"), fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Command line of the sweep."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("directory", type=Path)
    p.add_argument("--out", type=Path, help="sweep Dataset (.nc)")
    p.add_argument("--md", type=Path, help="Markdown summary table")
    p.add_argument("--fig", type=Path, help="summary figure (.png)")
    p.add_argument("--samples", type=int, default=256)
    p.add_argument("--permutations", type=int, default=500)
    args = p.parse_args(argv)
    paths = sorted(args.directory.glob("*.nc"))
    if not paths:
        print(f"no *.nc model files in {args.directory}", file=sys.stderr)
        return 2
    sweep = build(paths, args.samples, args.permutations)
    table = markdown(sweep)
    print(table)
    for target in (args.out, args.md, args.fig):
        if target is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
    if args.out:
        sweep.to_netcdf(args.out, engine="h5netcdf")
    if args.md:
        args.md.write_text(table)
    if args.fig:
        figure(sweep, args.fig)
    return 0


if __name__ == "__main__":
    sys.exit(main())
