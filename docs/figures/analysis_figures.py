"""Draw the figures of docs/analysis.md: what `spatialsnn analyze --plots` writes.

The shipped model ``models/timing-spatial.nc`` is analysed on its recorded test task as
``spatialsnn analyze models/timing-spatial.nc --plots DIR --permutations 200
--no-pruning`` does (the same functions, the same seed); the four figures go to
``docs/figures/analysis/``, stored with a reduced colour palette to keep the repository
small. Run from the repository root (about 20 s; needs the brian2 and plot extras)::

    python docs/figures/analysis_figures.py
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from spatialsnn.analysis import analyze, connectivity, load_model, spike_rasters
from spatialsnn.analysis.plots import plot_all
from spatialsnn.data import dataset_from_info

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "timing-spatial.nc"
OUT = Path(__file__).resolve().parent / "analysis"


def main() -> None:
    """Write ``docs/figures/analysis/*.png``."""
    model, ds = load_model(MODEL)
    test = dataset_from_info(json.loads(ds.attrs["training_config"])["data"], "test")
    metrics, _ = analyze(model, test, n_perm=200, prune_fractions=None, seed=0)
    rasters = spike_rasters(model, test)  # one sample per class, twin and Brian2
    for path in plot_all(metrics, connectivity(model), rasters, OUT):
        with Image.open(path) as image:
            small = image.convert("RGB").quantize(
                colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
            )
        small.save(path, optimize=True)
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
