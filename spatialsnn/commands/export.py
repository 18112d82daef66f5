"""``spatialsnn export model.nc --brian2-script net.py``: a Brian2 script for this model.

Writes ``net.py``, a Brian2 script generated for the model (its equations, groups,
synapses and position-derived delays as literal Brian2 code; it needs brian2, numpy and
xarray, not spatialsnn), ``net.nc``, a copy of the model file the script reads its
parameters from, and ``net.npz`` (or ``--data-file``) with example input: the first
``--samples`` samples of the model's recorded data (or of ``--data``), or random Poisson
input when the model records none. Run it with ``python net.py``.
"""

from __future__ import annotations

import argparse

from spatialsnn.commands import CommandError


def register(sub) -> None:
    """Add the ``export`` parser."""
    p = sub.add_parser(
        "export",
        help="write a standalone Brian2 script of a model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", help="spatialsnn model file (.nc)")
    p.add_argument("--brian2-script", required=True, metavar="NET.py", help="the script to write")
    p.add_argument(
        "--data-file",
        metavar="NET.npz",
        help="example input: counts, labels, dt (default: the script's name with .npz)",
    )
    p.add_argument(
        "--data",
        metavar="PATH|random",
        help="example input: .npz, .nc, SHD .h5 or 'random' (default: the recorded data)",
    )
    p.add_argument(
        "--split", choices=("test", "train"), default="test", help="split of the recorded data"
    )
    p.add_argument("--samples", type=int, default=8, metavar="N", help="example samples (8)")
    p.add_argument("--seed", type=int, default=0, help="seed of --data random (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the script and its data file."""
    import json
    from pathlib import Path

    from spatialsnn.export import write_brian2_script
    from spatialsnn.io import ModelFileError, from_dataset, open_model_dataset
    from spatialsnn.validate import ValidationInputError, load_data

    if args.samples < 1:
        raise CommandError(f"--samples must be >= 1, got {args.samples}")
    try:
        ds = open_model_dataset(args.model)
        model = from_dataset(ds, Path(args.model))
        try:
            training_config = json.loads(ds.attrs.get("training_config") or "{}")
        except json.JSONDecodeError:
            training_config = {}
        data = load_data(
            args.data,
            training_config=training_config,
            n_in=model.hparams["n_in"],
            dt=model.dt,
            split=args.split,
            samples=args.samples,
            seed=args.seed,
            where=str(args.model),
        )
    except (ModelFileError, ValidationInputError) as err:
        raise CommandError(str(err)) from None
    try:
        script, model_file, data_file = write_brian2_script(
            args.model,  # the file itself, copied next to the script
            args.brian2_script,
            data_file=args.data_file,
            counts=data.x,
            labels=data.y,
            source=str(args.model),
        )
    except OSError as err:
        raise CommandError(f"cannot write {args.brian2_script}: {err}") from None
    print(
        f"wrote {script}, {model_file} (the model) and {data_file} "
        f"({len(data.x)} samples of {data.description})"
    )
    print(f"run it with: python {script}")
    return 0
