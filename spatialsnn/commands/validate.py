"""``spatialsnn validate model.nc``: check that Brian2 reproduces the twin.

Runs the same samples through the twin (``eval()`` mode: delays rounded as Brian2 rounds
them) and through the exported Brian2 network, and reports per-sample spike-train
agreement, prediction agreement, the accuracy of each, how the delays were rounded, and
the time taken, and the hidden firing rates in spikes/s. Exit code 0: the criteria
hold; 1: they do not (the report names the criterion that failed); 2: bad input
(missing or corrupt file, data that does not fit the model, brian2 not installed).

With ``--dt`` finer than the model's training step the run also checks *transfer*:
Brian2's accuracy at the fine step may lie at most ``--max-transfer-drop`` percentage
points below the twin's at the training step. ``--faithful`` runs the ladder of steps
(the training step, 0.1 ms and 0.025 ms) in one call and fails if any step fails.

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
#: The simulation steps of ``--faithful`` below the training step, ms.
FAITHFUL_STEPS = (0.1, 0.025)


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
        "--max-transfer-drop",
        type=_non_negative_float,
        default=2.0,
        metavar="PP",
        help="with --dt finer than the training step: largest accuracy drop of Brian2 at "
        "that step below the twin at the training step, percentage points (default: 2)",
    )
    p.add_argument(
        "--faithful",
        action="store_true",
        help="run the training step, 0.1 ms and 0.025 ms one after the other (each with "
        "its criteria); exit 1 if any fails. Not with --dt",
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


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def _steps(args: argparse.Namespace) -> list[float | None]:
    """The simulation steps to validate at (None: the model's training step)."""
    if not args.faithful:
        return [args.dt]
    if args.dt is not None:
        raise CommandError("--faithful runs its own ladder of steps; leave out --dt")
    from spatialsnn.io import ModelFileError, open_model_dataset

    try:
        with open_model_dataset(args.model) as ds:
            train_dt = float(ds["dt"])
    except ModelFileError as err:
        raise CommandError(str(err)) from None
    return [None, *(dt for dt in FAITHFUL_STEPS if dt < train_dt * (1 - 1e-9))]


def ladder_table(results: list, title: str = "spatialsnn validate --faithful") -> str:
    """Accuracy, spike-for-spike agreement and rates per simulation step, one row each."""
    lines = [
        "",
        f"{title}: accuracy vs simulation step",
        f"  {'dt (ms)':>8}{'twin':>10}{'brian2':>10}{'identical':>12}{'rate (Hz)':>11}"
        f"{'busiest':>9}  result",
    ]
    for r in results:
        s = r.summary
        acc, a, rate = s["accuracy"], s["agreement"], s["rates"]["brian2"]

        def pct(v):
            return "n/a" if v is None else f"{100 * v:.1f} %"

        lines.append(
            f"  {s['brian2']['dt_ms']:>8g}{pct(acc['twin']):>10}{pct(acc['brian2']):>10}"
            f"{a['identical_samples']:>6} / {s['data']['n_samples']:<4}"
            f"{rate['mean_hz']:>11.1f}{rate['max_hz']:>9.1f}  "
            + ("PASS" if r.passed else "FAIL: " + "; ".join(s["failures"]))
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Validate ``args.model``; return 0 (pass) or 1 (fail)."""
    from spatialsnn.brian2 import Brian2RunError
    from spatialsnn.io import ModelFileError
    from spatialsnn.validate import Criteria, ValidationInputError, validate_file

    cuda = {}
    if args.compute_capability is not None:
        cuda["compute_capability"] = args.compute_capability
    steps = _steps(args)
    criteria = Criteria(args.min_identical, args.max_accuracy_diff, args.max_transfer_drop)
    results = []
    for dt in steps:
        try:
            result = validate_file(
                args.model,
                data=args.data,
                split=args.split,
                samples=args.samples,
                seed=args.seed,
                device=args.device,
                dt=dt,
                precision=args.precision,
                target=args.target,
                jobs=args.jobs,
                batch=args.batch,
                tolerance=args.tolerance,
                criteria=criteria,
                progress=not args.no_progress and not args.json,
                build_dir=None if args.build_dir is None or len(steps) == 1
                else f"{args.build_dir}/dt{dt or 'train'}",
                cuda_options=cuda,
            )  # fmt: skip
        except (ModelFileError, ValidationInputError, ImportError, Brian2RunError) as err:
            raise CommandError(str(err)) from None
        results.append(result)
        if not args.json:
            print(result.format_table(), flush=True)
            if len(steps) > 1:
                print()
    if args.report:
        _write_reports(args.report, results)
    if args.json:
        import json

        docs = [json.loads(r.to_json()) for r in results]
        print(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2))
    elif len(steps) > 1:
        print(ladder_table(results))
    return 0 if all(r.passed for r in results) else 1


def _write_reports(path: str, results: list) -> None:
    """One report file, or one per step of ``--faithful`` (``OUT-dt0.1.nc``, ...)."""
    from pathlib import Path

    for r in results:
        out = Path(path)
        if len(results) > 1:
            out = out.with_name(f"{out.stem}-dt{r.summary['brian2']['dt_ms']:g}{out.suffix}")
        try:
            r.write_report(out)
        except OSError as err:
            raise CommandError(f"cannot write the report {out}: {err}") from None
        print(f"report written to {out}", file=sys.stderr)
