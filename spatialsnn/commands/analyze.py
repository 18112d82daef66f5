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
from spatialsnn.commands._options import (
    check_input_file,
    check_output_dir,
    check_output_file,
    integer,
    positive_int,
    removed_on_failure,
    seed,
)


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
    p.add_argument(
        "--samples", type=positive_int, default=256, help="samples evaluated (default 256)"
    )
    p.add_argument(
        "--clusters",
        type=integer(2),
        help="functional/spatial clusters, 2 .. hidden neurons (default: classes)",
    )
    p.add_argument(
        "--permutations", type=integer(0), default=1000, help="permutation-null size (1000)"
    )
    p.add_argument("--seed", type=seed, default=0, help="seed of every random step")
    p.add_argument("--no-pruning", action="store_true", help="skip the pruning curve")
    p.set_defaults(func=run)


def _load_data(args: argparse.Namespace, ds) -> Any:
    from spatialsnn.io import training_config_of

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
                    x, y = np.asarray(f["x"]), np.asarray(f["y"])
            except (KeyError, ValueError, OSError, EOFError) as err:
                raise CommandError(f"{path}: not an .npz with arrays x and y ({err})") from None
            ok = x.ndim == 3 and y.ndim == 1 and len(x) == len(y) and len(y) > 0
            ok = ok and np.issubdtype(x.dtype, np.number) and np.issubdtype(y.dtype, np.integer)
            if not ok or not np.isfinite(x).all() or (x < 0).any():
                raise CommandError(
                    f"{path}: x must be [sample, time, channel] spike counts (finite, >= 0) and "
                    f"y [sample] integer labels, got x {x.shape} {x.dtype}, y {y.shape} {y.dtype}"
                )
            return torch.as_tensor(x), torch.as_tensor(y).long()
        from spatialsnn.data import load_shd

        try:
            return load_shd("test", path=path, dt=float(ds["dt"]), download=False)
        except Exception as err:  # h5py and our loader raise many kinds
            raise CommandError(f"{path}: cannot read as SHD-format data ({err})") from None
    info = training_config_of(ds).get("data")  # checked on read
    if not info:
        raise CommandError(f"{args.model}: no recorded training data; pass --data or --no-data")
    from spatialsnn.data import dataset_from_info

    try:
        return dataset_from_info(info, "test")
    except Exception as err:
        raise CommandError(f"cannot recreate the model's test data ({err}); pass --data") from None


def preflight(args: argparse.Namespace) -> None:
    """Options and outputs checked before the model is loaded and analysed."""
    if args.no_data and args.data:
        raise CommandError("--data and --no-data exclude each other")
    if args.data:
        check_input_file(args.data, "--data")
    inputs = (args.model, *([args.data] if args.data else []))
    if args.out:
        check_output_file(args.out, "--out", inputs=inputs)
    if args.plots:
        check_output_dir(args.plots, "--plots")
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            raise CommandError('--plots needs matplotlib: pip install -e ".[plot]"')


def _write_atomically(metrics, out: Path) -> None:
    """The metrics file written beside its destination and renamed into place."""
    import os
    import uuid

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex}.tmp")
    try:
        metrics.to_netcdf(tmp, engine="h5netcdf")
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()


def run(args: argparse.Namespace) -> int:
    """Analyse ``args.model``; print a summary or JSON; write metrics and plots."""
    from spatialsnn.analysis import analyze, connectivity, load_model, scalars

    preflight(args)
    try:
        model, ds = load_model(args.model)
    except ValueError as err:  # ModelFileError is a ValueError
        raise CommandError(str(err)) from None
    if args.clusters is not None and args.clusters > model.hparams["n_hidden"]:
        raise CommandError(
            f"--clusters {args.clusters} is more than the {model.hparams['n_hidden']} hidden "
            "neurons"
        )
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
    rasters = None
    if args.plots and data is not None:
        from spatialsnn.analysis import spike_rasters

        # a few samples in the twin and, if it is installed, in Brian2, for raster.png
        rasters = spike_rasters(model, data)
    try:
        with removed_on_failure(args.out, args.plots):
            if args.out:
                _write_atomically(metrics, Path(args.out))
            if args.plots:
                try:
                    from spatialsnn.analysis.plots import plot_all
                except ImportError as err:
                    raise CommandError(str(err)) from None
                plot_all(metrics, connectivity(model), rasters, args.plots)
    except OSError as err:  # a full disk, a directory removed meanwhile, ...
        raise CommandError(f"cannot write the results: {err}") from None
    values = scalars(metrics)
    if args.json:
        print(json.dumps({k: (None if math.isnan(v) else v) for k, v in values.items()}, indent=2))
    else:
        for name, value in values.items():
            units = metrics[name].attrs.get("units", "")
            print(f"{name:28s} {value:.4g} {'' if units == '1' else units}".rstrip())
    return 0


def _condition(ds) -> str:
    from spatialsnn.io import training_config_of

    try:
        return str(training_config_of(ds).get("condition") or ds.attrs.get("delays", ""))
    except ValueError:
        return str(ds.attrs.get("delays", ""))
