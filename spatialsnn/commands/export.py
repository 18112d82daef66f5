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
from spatialsnn.commands._options import (
    check_data_options,
    check_output_file,
    positive_int,
    removed_on_failure,
    seed,
)


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
        "--split", choices=("test", "train"), help="split of the recorded data (default: test)"
    )
    p.add_argument(
        "--samples", type=positive_int, default=8, metavar="N", help="example samples (8)"
    )
    p.add_argument("--seed", type=seed, help="seed of --data random (default 0)")
    p.set_defaults(func=run)


def preflight(args: argparse.Namespace) -> tuple:
    """Options and output paths checked before the model is exported.

    Returns
    -------
    script, model_file, data_file : pathlib.Path
        The script, the copy of the model beside it (the model itself when the script
        sits beside its own file) and the example input.
    """
    from pathlib import Path

    check_data_options(args)
    inputs = (args.model, *([args.data] if args.data not in (None, "random") else []))
    script = check_output_file(args.brian2_script, "--brian2-script", inputs=inputs)
    data_file = Path(args.data_file) if args.data_file else script.with_suffix(".npz")
    if data_file.suffix != ".npz":
        raise CommandError(f"--data-file {data_file} must end in .npz (numpy would add it)")
    check_output_file(data_file, "--data-file", inputs=(*inputs, script))
    model_file = script.with_suffix(".nc")  # where the script reads the model
    if model_file.resolve() != Path(args.model).resolve():
        what = "--brian2-script (its model copy)"
        check_output_file(model_file, what, inputs=(*inputs[1:], script, data_file))
    return script, model_file, data_file


def run(args: argparse.Namespace) -> int:
    """Write the script, the model file beside it and the example input."""
    from pathlib import Path

    from spatialsnn.io import ModelFileError, from_dataset, open_model_dataset, training_config_of
    from spatialsnn.validate import ValidationInputError, load_data

    script, model_file, data_file = preflight(args)
    try:
        ds = open_model_dataset(args.model)
        model = from_dataset(ds, args.model)
        data = load_data(
            args.data,
            training_config=training_config_of(ds),
            n_in=model.hparams["n_in"],
            dt=model.dt,
            split=args.split,
            samples=args.samples,
            seed=args.seed,
            where=str(args.model),
        )
    except (ModelFileError, ValidationInputError) as err:
        raise CommandError(str(err)) from None
    from spatialsnn.export import write_brian2_script

    copy = None if model_file.resolve() == Path(args.model).resolve() else model_file
    try:
        with removed_on_failure(script, data_file, copy):  # never the input model
            write_brian2_script(
                args.model,  # the file itself, copied next to the script
                script,
                data_file=data_file,
                model_file=model_file,
                counts=data.x,
                labels=data.y,
                source=str(args.model),
            )
    except OSError as err:
        raise CommandError(f"cannot write {script}: {err}") from None
    print(
        f"wrote {script}, {model_file} (the model) and {data_file} "
        f"({len(data.x)} samples of {data.description})"
    )
    print(f"run it with: python {script}")
    return 0
