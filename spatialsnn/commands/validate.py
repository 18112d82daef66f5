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
from spatialsnn.commands._options import (
    check_data_options,
    check_output_dir,
    check_output_file,
    number,
    positive_int,
    removed_on_failure,
    seed,
)

DEVICES = ("runtime", "cpp_standalone", "cuda_standalone")
#: The simulation steps of ``--faithful`` below the training step, ms.
FAITHFUL_STEPS = (0.1, 0.025)


def register(sub) -> None:
    """Add the ``validate`` parser."""
    p = sub.add_parser(
        "validate",
        help="check that the Brian2 simulation reproduces the twin",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", help="spatialsnn model file (.nc)")
    _sample_options(p.add_argument_group("samples"))
    _simulation_options(p.add_argument_group("simulation"))
    _criteria_options(p.add_argument_group("when the validation passes"))
    _run_options(p.add_argument_group("how the Brian2 runs are made"))
    out = p.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print the summary as JSON")
    out.add_argument("--report", metavar="OUT.nc", help="write per-sample results (netCDF)")
    out.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _sample_options(p) -> None:
    """Where the samples come from and how many."""
    p.add_argument(
        "--data",
        metavar="PATH|random",
        help="samples: .npz, .nc, SHD .h5, or 'random' (default: the model's recorded data)",
    )
    p.add_argument(
        "--split",
        choices=("test", "train"),
        help="split of the recorded data (default: test)",
    )
    p.add_argument("--samples", type=positive_int, metavar="N", help="use the first N samples")
    p.add_argument("--seed", type=seed, help="seed of --data random (default 0)")


def _simulation_options(p) -> None:
    """Brian2's device, step and precision (the twin follows the step and precision)."""
    p.add_argument(
        "--device", choices=DEVICES, default="runtime", help="Brian2 device (default: runtime)"
    )
    p.add_argument(
        "--target",
        choices=("numpy", "cython"),
        help="code generation of the runtime device (default: numpy)",
    )
    p.add_argument(
        "--dt",
        type=number(0, strict=True, units="ms"),
        metavar="MS",
        help="simulation time step in ms, dividing the model's (e.g. 0.1); both sides run at it",
    )
    p.add_argument(
        "--precision",
        choices=("float64", "float32"),
        default="float64",
        help="floating point of twin and Brian2 (default: float64)",
    )


def _criteria_options(p) -> None:
    """The criteria of a pass."""
    p.add_argument(
        "--tolerance",
        type=number(0, strict=True, units="ms"),
        metavar="MS",
        help="tolerance of the spike agreement (default: the model's dt)",
    )
    p.add_argument(
        "--min-identical",
        type=number(0, strict=False, high=1),
        metavar="FRACTION",
        help="required fraction of identical samples (default: 0.99 in float64, "
        "not required in float32)",
    )
    p.add_argument(
        "--max-accuracy-diff",
        type=number(0, strict=False, high=100, units="percentage points"),
        default=0.5,
        metavar="PP",
        help="largest accuracy difference, percentage points (default: 0.5)",
    )
    p.add_argument(
        "--max-transfer-drop",
        type=number(0, strict=False, high=100, units="percentage points"),
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


def _run_options(p) -> None:
    """Parallel processes, samples per run, standalone builds."""
    p.add_argument(
        "--jobs",
        type=positive_int,
        default=1,
        metavar="N",
        help="parallel Brian2 processes (default: 1)",
    )
    p.add_argument(
        "--batch",
        type=positive_int,
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
        type=number(0, strict=True),
        metavar="X.Y",
        help="cuda_standalone: target GPU when none can be detected (default 9.0)",
    )


def _steps(args: argparse.Namespace, train_dt: float) -> list[float | None]:
    """The simulation steps to validate at (None: the model's training step)."""
    if not args.faithful:
        return [args.dt]
    if args.dt is not None:
        raise CommandError("--faithful runs its own ladder of steps; leave out --dt")
    return [None, *(dt for dt in FAITHFUL_STEPS if dt < train_dt * (1 - 1e-9))]


def _report_paths(report: str, steps: list[float | None], train_dt: float) -> list:
    """One report file, or one per step of ``--faithful`` (``OUT-dt0.1.nc``, ...)."""
    from pathlib import Path

    out = Path(report)
    if len(steps) == 1:
        return [out]
    return [
        out.with_name(f"{out.stem}-dt{train_dt if dt is None else dt:g}{out.suffix}")
        for dt in steps
    ]


def preflight(args: argparse.Namespace) -> tuple[list[float | None], list]:
    """Every option checked against the model before any data is loaded or simulated.

    Returns
    -------
    steps : list of float or None
        The simulation steps to validate at.
    reports : list of pathlib.Path
        The report files to write (empty without ``--report``).
    """
    import math
    import warnings

    from spatialsnn.derived import DerivedVariableWarning
    from spatialsnn.io import ModelFileError, open_model_dataset

    try:
        with warnings.catch_warnings():  # shown once, when validate_file reads the model
            warnings.simplefilter("ignore", DerivedVariableWarning)
            train_dt = float(open_model_dataset(args.model)["dt"])
    except ModelFileError as err:
        raise CommandError(str(err)) from None
    steps = _steps(args, train_dt)
    if args.dt is not None:
        ratio = round(train_dt / args.dt)
        if ratio < 1 or not math.isclose(ratio * args.dt, train_dt, rel_tol=1e-9):
            raise CommandError(
                f"--dt {args.dt:g} ms must divide the model's dt {train_dt:g} ms "
                "(e.g. 0.1 or 0.5 for 1 ms)"
            )
    check_data_options(args)
    if args.target is not None and args.device != "runtime":
        raise CommandError("--target chooses the code generation of --device runtime only")
    args.target = args.target or "numpy"
    if args.compute_capability is not None and args.device != "cuda_standalone":
        raise CommandError("--compute-capability is for --device cuda_standalone only")
    if args.build_dir is not None:
        if args.device == "runtime":
            raise CommandError("--build-dir is for the standalone devices only")
        check_output_dir(args.build_dir, "--build-dir")
    inputs = (args.model, *([args.data] if args.data not in (None, "random") else []))
    if args.report is not None:
        check_output_file(args.report, "--report", inputs=inputs)
    reports = _report_paths(args.report, steps, train_dt) if args.report is not None else []
    for path in reports:
        check_output_file(path, "--report", inputs=inputs)
    return steps, reports


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

    steps, reports = preflight(args)
    cuda = {}
    if args.compute_capability is not None:
        cuda["compute_capability"] = args.compute_capability
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
                build_dir=_build_dir(args.build_dir, dt, len(steps)),
                cuda_options=cuda,
            )  # fmt: skip
        except (ModelFileError, ValidationInputError, ImportError, Brian2RunError) as err:
            raise CommandError(str(err)) from None
        results.append(result)
        if not args.json:
            print(result.format_table(), flush=True)
            if len(steps) > 1:
                print()
    if reports:
        _write_reports(reports, results)
    if args.json:
        import json

        docs = [json.loads(r.to_json()) for r in results]
        print(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2))
    elif len(steps) > 1:
        print(ladder_table(results))
    return 0 if all(r.passed for r in results) else 1


def _build_dir(root: str | None, dt: float | None, n_steps: int) -> str | None:
    """The standalone project folder of one step: ``root``, or ``root/dt<step>`` per step."""
    if root is None or n_steps == 1:
        return root
    return f"{root}/dt{dt or 'train'}"


def _write_reports(paths: list, results: list) -> None:
    """Write one report per result; none is left behind if one of them fails."""
    with removed_on_failure(*paths):
        for out, r in zip(paths, results, strict=True):
            try:
                r.write_report(out)
            except OSError as err:
                raise CommandError(f"cannot write the report {out}: {err}") from None
    for out in paths:
        print(f"report written to {out}", file=sys.stderr)
