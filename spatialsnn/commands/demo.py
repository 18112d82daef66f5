"""``spatialsnn demo``: the main job on a built-in default, start to finish.

Trains a small spatial network on the synthetic ``timing`` task (classes differ
only in the interval between two spike volleys, which delays make easy), writes
the model file, summarises it, checks in Brian2 that the simulation reproduces the
twin (``brian2`` extra) at the training step and at 0.1 ms (does the trained function
survive a finer simulation step?), and analyses it: functional vs spatial clusters,
modularity and wiring cost, with figures (``plot`` extra).
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from spatialsnn.commands import CommandError
from spatialsnn.commands._options import (
    check_output_dir,
    check_output_file,
    positive_int,
    removed_on_failure,
)

#: The demo's training configuration (see spatialsnn.train.TrainConfig).
DEMO_CONFIG = dict(
    task="timing",
    task_params=dict(n_train=1024, n_test=256),
    condition="spatial",
    n_hidden=48,
    epochs=40,
    batch_size=32,
    lr=3e-3,
    position_lr=100.0,
    max_delay=100.0,
    patience=8,
    model_kwargs=dict(init_extent=2000.0),
)  # with TrainConfig's 2 ms refractory period and 0-50 spikes/s rate range


def register(sub) -> None:
    """Add the ``demo`` parser."""
    p = sub.add_parser(
        "demo",
        help="train, summarise and validate a small spatial network",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", default="demo-model.nc", help="model file to write")
    p.add_argument(
        "--epochs", type=positive_int, help=f"training epochs (default {DEMO_CONFIG['epochs']})"
    )
    p.add_argument(
        "--samples",
        type=positive_int,
        help="test samples to validate in Brian2 (default: all 256; with fewer, one changed "
        "prediction weighs more in the 2-point transfer criterion)",
    )
    p.add_argument(
        "--plots",
        metavar="DIR",
        help="figures directory (default: <out without .nc>-figures next to the model)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo."""
    from spatialsnn.summary import describe_file, format_description
    from spatialsnn.train import train

    config = dict(DEMO_CONFIG)
    if args.epochs is not None:
        config["epochs"] = args.epochs
    out = check_output_file(args.out, "--out")
    plots = Path(args.plots) if args.plots else out.with_name(out.stem + "-figures")
    check_output_dir(plots, "--plots")
    ckpt = out.with_name(out.name + ".ckpt")
    print(f"Training a {config['n_hidden']}-neuron spatial network on the synthetic "
          f"'{config['task']}' task ...")  # fmt: skip
    try:
        with removed_on_failure(ckpt):  # the demo has no --resume: no checkpoint is kept
            result = train(config, out, progress=not args.no_progress)
    except (OSError, ValueError) as err:
        raise CommandError(str(err)) from None
    h, best = result.history, result.best_epoch - 1
    print(
        f"\nTest accuracy {h['test_accuracy'][best]:.1%} (chance "
        f"{1 / result.model.hparams['n_out']:.0%}), best of {len(h['test_accuracy'])} epochs."
    )
    print("\n" + format_description(describe_file(out)))
    status = 0
    if importlib.util.find_spec("brian2") is None:
        print('\nBrian2 is not installed: `pip install -e ".[brian2]"` adds the validation step.')
    else:
        status = _validate(out, args.samples)
    with removed_on_failure(plots):
        figures = _analyse(out, plots)
    print(f"\nModel written to {out.resolve()}")
    if figures:
        print(f"Figures written to {plots.resolve()}: {', '.join(p.name for p in figures)}")
    print(f"Next: `spatialsnn info {out}`, `spatialsnn analyze {out}`, or the tutorials.")
    return status


#: Scalar metrics the demo prints, with what they mean.
_SHOWN = {
    "ari": "agreement of functional and spatial clusters (adjusted Rand index)",
    "ari_p": "its permutation p value",
    "modularity_q_mean": "modularity of the recurrent weights (Louvain)",
    "wiring_cost": "wiring cost, sum of |w| * distance",
    "delay_mean": "mean recurrent delay",
}


def _analyse(path: Path, plots: Path) -> list[Path]:
    """Analyse the model on its test data; write figures if matplotlib is installed."""
    from spatialsnn.analysis import analyze, connectivity, load_model
    from spatialsnn.data import dataset_from_info
    from spatialsnn.io import training_config_of

    print("\nAnalysing: functional vs spatial clusters, modularity, wiring cost ...")
    model, ds = load_model(path)
    data = dataset_from_info(training_config_of(ds)["data"], "test")
    metrics, _ = analyze(model, data, n_perm=200, prune_fractions=None, seed=0)
    for name, meaning in _SHOWN.items():
        units = metrics[name].attrs.get("units", "1")
        value = f"{float(metrics[name]):.3g}" + ("" if units == "1" else f" {units}")
        print(f"  {name:18s} {value:>14s}   {meaning}")
    if importlib.util.find_spec("matplotlib") is None:
        print('matplotlib is not installed: `pip install -e ".[plot]"` adds the figures.')
        return []
    from spatialsnn.analysis import spike_rasters
    from spatialsnn.analysis.plots import plot_all

    rasters = spike_rasters(model, data)  # one sample per class, twin and Brian2 overlaid
    return plot_all(metrics, connectivity(model), rasters, plots)


#: The finer Brian2 step the demo checks the trained function at, ms.
FINE_DT = 0.1


def _validate(path: Path, samples: int | None) -> int:
    """Brian2 at the training step (spike for spike) and at ``FINE_DT`` (transfer)."""
    from spatialsnn.commands.validate import ladder_table
    from spatialsnn.validate import validate_file

    which = "the test samples" if samples is None else f"{samples} test samples"
    print(f"\nSimulating {which} in Brian2 and comparing with the twin ...")
    report = validate_file(path, samples=samples)
    print(report.format_table())
    print(f"\nThe same samples at a finer step, dt = {FINE_DT:g} ms: does the trained function "
          "survive a more faithful simulation? ...")  # fmt: skip
    fine = validate_file(path, samples=samples, dt=FINE_DT)
    print(ladder_table([report, fine], title="Brian2"))
    return 0 if report.passed and fine.passed else 1
