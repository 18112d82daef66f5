"""``spatialsnn validate model.nc``: check that Brian2 reproduces the twin.

Runs the same samples through the twin (``eval()`` mode: delays rounded as Brian2 rounds
them) and through the exported Brian2 network, and reports per-sample spike-train
agreement, prediction agreement, the accuracy of each, how the delays were rounded, and
the time taken. Exit code 0: the criteria hold; 1: they do not; 2: bad input (missing
or corrupt file, data that does not fit the model, brian2 not installed).

Data: by default the test split of the data set recorded in the model (synthetic tasks
regenerate from their seed); a model without recorded data is checked on seeded random
Poisson input. ``--data`` takes an .npz (``x`` [sample, time, channel] counts, optional
``y``, ``dt``), a netCDF file with the same variables, an SHD-layout .h5 file, or
``random``.
"""

from __future__ import annotations

import argparse
import sys

from spatialsnn.commands import CommandError

DEVICES = ("runtime", "cpp_standalone", "cuda_standalone")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1], got {text}")
    return value


def register(sub) -> None:
    """Add the ``validate`` parser."""
    p = sub.add_parser(
        "validate",
        help="check that the Brian2 simulation reproduces the twin",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", help="spatialsnn model file (.nc)")
    p.add_argument(
        "--data",
        metavar="PATH|random",
        help="samples: .npz, .nc, SHD .h5, or 'random' (default: the model's recorded data)",
    )
    p.add_argument(
        "--split",
        choices=("test", "train"),
        default="test",
        help="split of the recorded data (default: test)",
    )
    p.add_argument("--samples", type=_positive_int, metavar="N", help="use the first N samples")
    p.add_argument("--seed", type=int, default=0, help="seed of --data random (default 0)")
    p.add_argument(
        "--device", choices=DEVICES, default="runtime", help="Brian2 device (default: runtime)"
    )
    p.add_argument(
        "--target",
        choices=("numpy", "cython"),
        default="numpy",
        help="code generation of the runtime device (default: numpy)",
    )
    p.add_argument(
        "--dt",
        type=_positive_float,
        metavar="MS",
        help="simulation time step in ms, dividing the model's (e.g. 0.1); both sides run at it",
    )
    p.add_argument(
        "--precision",
        choices=("float64", "float32"),
        default="float64",
        help="floating point of twin and Brian2 (default: float64)",
    )
    p.add_argument(
        "--tolerance",
        type=_positive_float,
        metavar="MS",
        help="tolerance of the spike agreement (default: the model's dt)",
    )
    p.add_argument(
        "--min-identical",
        type=_fraction,
        metavar="FRACTION",
        help="required fraction of identical samples (default: 0.99 in float64, "
        "not required in float32)",
    )
    p.add_argument(
        "--max-accuracy-diff",
        type=float,
        default=0.5,
        metavar="PP",
        help="largest accuracy difference, percentage points (default: 0.5)",
    )
    p.add_argument(
        "--jobs",
        type=_positive_int,
        default=1,
        metavar="N",
        help="parallel Brian2 processes (default: 1)",
    )
    p.add_argument(
        "--batch",
        type=_positive_int,
        metavar="N",
        help="samples per Brian2 run (default: 16 runtime, 1 standalone)",
    )
    p.add_argument(
        "--build-dir",
        metavar="DIR",
        help="keep the standalone project here (default: a temporary directory)",
    )
    p.add_argument(
        "--compute-capability",
        type=float,
        metavar="X.Y",
        help="cuda_standalone: target GPU when none can be detected (default 9.0)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--report", metavar="OUT.nc", help="write per-sample results (netCDF)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate ``args.model``; return 0 (pass) or 1 (fail)."""
    from spatialsnn.brian2 import Brian2RunError
    from spatialsnn.io import ModelFileError
    from spatialsnn.validate import Criteria, ValidationInputError, validate_file

    cuda = {}
    if args.compute_capability is not None:
        cuda["compute_capability"] = args.compute_capability
    try:
        result = validate_file(
            args.model,
            data=args.data,
            split=args.split,
            samples=args.samples,
            seed=args.seed,
            device=args.device,
            dt=args.dt,
            precision=args.precision,
            target=args.target,
            jobs=args.jobs,
            batch=args.batch,
            tolerance=args.tolerance,
            criteria=Criteria(args.min_identical, args.max_accuracy_diff),
            progress=not args.no_progress and not args.json,
            build_dir=args.build_dir,
            cuda_options=cuda,
        )
    except (ModelFileError, ValidationInputError, ImportError, Brian2RunError) as err:
        raise CommandError(str(err)) from None
    if args.report:
        try:
            result.write_report(args.report)
        except OSError as err:
            raise CommandError(f"cannot write the report {args.report}: {err}") from None
    if args.json:
        print(result.to_json())
    else:
        print(result.format_table())
        if args.report:
            print(f"report written to {args.report}", file=sys.stderr)
    return 0 if result.passed else 1
