"""``spatialsnn train``: train a network and write its model file.

Every option of ``spatialsnn.train.TrainConfig`` is a flag; ``--config`` reads
the same options from a TOML or JSON file, and flags given on the command line win.
The configuration is stored in the model file. Under ``torchrun`` the global batch
is split across processes (data parallel).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path

from spatialsnn.commands import CommandError
from spatialsnn.commands._options import positive_int

#: flag -> TrainConfig field, for the options with a plain scalar type
_SCALARS = {
    "task": str, "data_path": str, "data_seed": int, "seed": int, "condition": str,
    "n_hidden": int, "dims": int, "velocity": float, "dt": float, "max_delay": float,
    "tau_mem": float, "tau_syn": float, "refractory": float, "epochs": int,
    "batch_size": int, "lr": float, "position_lr": float, "delay_lr": float,
    "spike_reg": float, "nu": float, "l1": float, "rate_reg": float,
    "connection_cost": float, "cost_exponent": int, "communicability_cost": float,
    "patience": int, "val_fraction": float, "readout": str, "delay_mode": str,
    "backend": str, "init": str, "dtype": str,
}  # fmt: skip


def register(sub) -> None:
    """Add the ``train`` parser."""
    from spatialsnn.model import CONDITIONS

    p = sub.add_parser(
        "train",
        help="train a network and write its model file",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", required=True, help="model file to write (.nc)")
    p.add_argument("--config", help="TOML or JSON file with training options")
    p.add_argument("--resume", action="store_true", help="continue from <out>.ckpt if present")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--threads",
        type=positive_int,
        help="torch intra-op threads (default: torch's; with --resume the checkpoint's)",
    )
    p.add_argument(
        "--task-param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="synthetic task parameter, e.g. --task-param n_train=512 (repeatable)",
    )
    p.add_argument("--cost-into-positions", choices=("yes", "no"), help="wiring cost moves neurons")
    p.add_argument(
        "--augment",
        help="augmentation as JSON: '{}' for the paper's (shift 40 + blend), "
        '\'{"shift": 40, "blend": 0}\' for shift only',
    )
    from spatialsnn.train import TrainConfig

    defaults = TrainConfig()
    group = p.add_argument_group("training options (see spatialsnn.train.TrainConfig)")
    for name, kind in _SCALARS.items():
        flag = "--" + name.replace("_", "-")
        extra = {"choices": tuple(CONDITIONS)} if name == "condition" else {}
        default = _DEFAULT_TEXT.get(name, getattr(defaults, name))
        if name in ("connection_cost", "cost_exponent"):
            default = _preset_text(name, 0 if name == "connection_cost" else 1, CONDITIONS)
        group.add_argument(flag, dest=name, type=kind, default=None, metavar=kind.__name__.upper(),
                           help=f"default: {default}", **extra)  # fmt: skip
    low, high = defaults.rate_range
    group.add_argument("--rate-range", dest="rate_range", type=float, nargs=2, default=None,
                       metavar=("LOW", "HIGH"),
                       help=f"hidden firing-rate range of --rate-reg, spikes/s (default: {low:g} "
                       f"{high:g})")  # fmt: skip
    group.add_argument("--train-substeps", dest="train_substeps", type=int, nargs="+",
                       default=None, metavar="K",
                       help="simulate each training batch at dt/K, K drawn from these "
                       f"(default: {' '.join(map(str, defaults.train_substeps))})")  # fmt: skip
    p.set_defaults(func=run)


#: Help text of the options whose default depends on other options.
_DEFAULT_TEXT = {
    "position_lr": "velocity x 1 ms, i.e. 1 ms of delay per Adam step (um)",
    "data_path": "download SHD/SSC into the cache "
    "($SPATIALSNN_DATA or ~/.cache/spatialsnn/datasets)",
}


def _preset_text(name: str, fallback: float, conditions: dict) -> str:
    """Help text of a loss option whose default is the condition's preset."""
    presets = [
        f"{c['loss'][name]:g} for --condition {k}"
        for k, c in conditions.items()
        if name in c["loss"]
    ]
    return ", ".join([*presets, f"else {fallback:g}"])


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def config_from_args(args: argparse.Namespace):
    """Merge ``--config`` file and flags into a :class:`~spatialsnn.train.TrainConfig`."""
    from spatialsnn.train import TrainConfig, config_from_file

    values: dict = {}
    if args.config:
        try:
            values = config_from_file(args.config)
        except FileNotFoundError:
            raise CommandError(f"{args.config}: no such file") from None
        except (ValueError, UnicodeDecodeError) as err:  # JSON and TOML decode errors
            raise CommandError(f"{args.config}: cannot parse: {err}") from None
        except OSError as err:  # a directory, no permission, ...
            raise CommandError(f"{args.config}: cannot read: {err.strerror or err}") from None
        if not isinstance(values, dict):
            raise CommandError(f"{args.config}: must hold a table of options, got {values!r}")
        values = dict(values)
    for name in (*_SCALARS, "rate_range", "train_substeps"):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    if args.task_param:
        params = values.get("task_params", {})
        if not isinstance(params, dict):
            raise CommandError(f"task_params must be a table of options, got {params!r}")
        values["task_params"] = params = dict(params)
    for item in args.task_param:
        key, sep, value = item.partition("=")
        if not sep:
            raise CommandError(f"--task-param expects KEY=VALUE, got {item!r}")
        params[key] = _parse_value(value)
    if args.cost_into_positions:
        values["cost_into_positions"] = args.cost_into_positions == "yes"
    if args.augment:
        try:
            values["augment"] = json.loads(args.augment)
        except json.JSONDecodeError as err:
            raise CommandError(f"--augment is not valid JSON: {err}") from None
    try:
        return TrainConfig.from_dict(values)
    except (TypeError, ValueError) as err:
        raise CommandError(str(err)) from None


def run(args: argparse.Namespace) -> int:
    """Train as configured and write the model file."""
    import torch

    from spatialsnn.train import train

    config = config_from_args(args)
    out = Path(args.out)
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    try:
        result = train(
            config, out, resume=args.resume, progress=not args.no_progress, threads=args.threads
        )
    except (ValueError, OSError) as err:
        raise CommandError(str(err)) from None
    finally:
        if distributed:
            torch.distributed.destroy_process_group()
    if result.path is not None:
        best = result.best_epoch - 1
        h = result.history
        print(
            f"wrote {result.path}: best epoch {result.best_epoch}, "
            f"validation accuracy {h['val_accuracy'][best]:.3f}, "
            f"test accuracy {h['test_accuracy'][best]:.3f}"
        )
    return 0


def _fields() -> list[str]:  # for docs and tests
    from spatialsnn.train import TrainConfig

    return [f.name for f in dataclasses.fields(TrainConfig)]
