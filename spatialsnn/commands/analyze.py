"""``spatialsnn analyze model.nc``: structure, function and pruning metrics of a model.

By default the model is evaluated on the test split of the task it was trained on (as
recorded in the file). ``--data`` takes an ``.npz`` file with ``x`` (sample, time,
channel spike counts) and ``y`` (sample labels), or an SHD/SSC-format ``.h5`` file.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from spatialsnn.commands import CommandError


def register(sub) -> None:
    """Add the ``analyze`` parser."""
    p = sub.add_parser(
        "analyze",
        help="analyse a model: structure, function, pruning",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", help="path to a spatialsnn model file (.nc)")
    p.add_argument("--data", help="evaluation data (.npz with x, y; or SHD-format .h5)")
    p.add_argument("--no-data", action="store_true", help="structural metrics only")
    p.add_argument("--out", help="write the metrics Dataset here (.nc)")
    p.add_argument("--plots", metavar="DIR", help="write figures (PNG) into DIR")
    p.add_argument("--json", action="store_true", help="print scalar metrics as JSON")
    p.add_argument("--samples", type=int, default=256, help="samples evaluated (default 256)")
    p.add_argument("--clusters", type=int, help="functional/spatial clusters (default: classes)")
    p.add_argument("--permutations", type=int, default=1000, help="permutation-null size")
    p.add_argument("--seed", type=int, default=0, help="seed of every random step")
    p.add_argument("--no-pruning", action="store_true", help="skip the pruning curve")
    p.set_defaults(func=run)


def _load_data(args: argparse.Namespace, ds) -> Any:
    if args.no_data:
        return None
    if args.data:
        path = Path(args.data)
        if not path.is_file():
            raise CommandError(f"{path}: no such data file")
        if path.suffix == ".npz":
            import numpy as np
            import torch

            try:
                with np.load(path) as f:
                    return torch.as_tensor(f["x"]), torch.as_tensor(f["y"]).long()
            except (KeyError, ValueError, OSError) as err:
                raise CommandError(f"{path}: not an .npz with arrays x and y ({err})") from None
        from spatialsnn.data import load_shd

        try:
            return load_shd("test", path=path, dt=float(ds["dt"]), download=False)
        except Exception as err:  # h5py and our loader raise many kinds
            raise CommandError(f"{path}: cannot read as SHD-format data ({err})") from None
    try:
        info = json.loads(ds.attrs.get("training_config") or "{}").get("data")
    except ValueError:
        info = None
    if not info:
        raise CommandError(f"{args.model}: no recorded training data; pass --data or --no-data")
    from spatialsnn.data import dataset_from_info

    try:
        return dataset_from_info(info, "test")
    except Exception as err:
        raise CommandError(f"cannot recreate the model's test data ({err}); pass --data") from None


def run(args: argparse.Namespace) -> int:
    """Analyse ``args.model``; print a summary or JSON; write metrics and plots."""
    from spatialsnn.analysis import analyze, connectivity, load_model, scalars

    if args.samples is not None and args.samples < 1:
        raise CommandError("--samples must be >= 1")
    try:
        model, ds = load_model(args.model)
    except ValueError as err:  # ModelFileError is a ValueError
        raise CommandError(str(err)) from None
    data = _load_data(args, ds)
    if data is not None:
        n_in = data.x.shape[2] if hasattr(data, "x") else data[0].shape[2]
        if n_in != model.hparams["n_in"]:
            raise CommandError(f"data has {n_in} channels, the model {model.hparams['n_in']}")
    metrics, _ = analyze(
        model,
        data,
        max_samples=args.samples,
        n_clusters=args.clusters,
        n_perm=args.permutations,
        seed=args.seed,
        prune_fractions=None if args.no_pruning else (0.0, 0.5, 0.9),
    )
    metrics.attrs["model"] = str(args.model)
    metrics.attrs["condition"] = _condition(ds)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        metrics.to_netcdf(out, engine="h5netcdf")
    if args.plots:
        try:
            from spatialsnn.analysis.plots import plot_all
        except ImportError as err:
            raise CommandError(str(err)) from None
        from spatialsnn.analysis import spike_rasters

        # a few samples in the twin and, if it is installed, in Brian2, for raster.png
        rasters = None if data is None else spike_rasters(model, data)
        plot_all(metrics, connectivity(model), rasters, args.plots)
    values = scalars(metrics)
    if args.json:
        print(json.dumps({k: (None if math.isnan(v) else v) for k, v in values.items()}, indent=2))
    else:
        for name, value in values.items():
            units = metrics[name].attrs.get("units", "")
            print(f"{name:28s} {value:.4g} {'' if units == '1' else units}".rstrip())
    return 0


def _condition(ds) -> str:
    try:
        return str(
            json.loads(ds.attrs.get("training_config") or "{}").get("condition")
            or ds.attrs.get("delays", "")
        )
    except ValueError:
        return str(ds.attrs.get("delays", ""))
