"""Draw the README's figure from the shipped model: space, and Brian2 reproducing the twin.

Left: the hidden neurons of ``models/timing-spatial.nc`` at their learned positions,
coloured by functional cluster, with the strongest recurrent synapses. Right: the
hidden spikes of one test sample in the twin (open circles) and in Brian2 (dots), with
Brian2 computing every delay from the positions and the conduction velocity.

Run from the repository root (about 30 s; needs the brian2 and plot extras)::

    python docs/figures/readme_figure.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

import spatialsnn
from spatialsnn.analysis import analyze, connectivity
from spatialsnn.brian2 import to_brian2
from spatialsnn.data import dataset_from_info

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "timing-spatial.nc"
OUT = Path(__file__).resolve().parent / "readme.png"
SAMPLE = 0


def main() -> None:
    """Write ``docs/figures/readme.png``."""
    import brian2 as b2

    b2.prefs.codegen.target = "numpy"
    model = spatialsnn.load(MODEL, dtype=torch.float64).eval()
    import xarray as xr

    with xr.open_dataset(MODEL, engine="h5netcdf") as ds:
        info = json.loads(ds.attrs["training_config"])["data"]
    test = dataset_from_info(info, "test")
    metrics, _ = analyze(model, test, max_samples=256, n_perm=200, prune_fractions=None)
    conn = connectivity(model)

    x = test.x[SAMPLE : SAMPLE + 1].numpy().astype(np.int64)
    with torch.no_grad():
        twin = model(torch.from_numpy(x).double()).hidden_spikes[0].numpy() > 0.5
    net = to_brian2(model, counts=x, n_copies=1)
    net.run()
    brian = net.hidden_spike_raster()[0]

    fig = Figure(figsize=(10, 4.2), layout="constrained")
    ax_pos, ax_raster = fig.subplots(1, 2, width_ratios=[1, 1.25])

    pos = conn["position"].values
    labels = metrics["functional_cluster"].values
    w = conn["weight"].values.copy()
    np.fill_diagonal(w, 0.0)
    strongest = np.argsort(np.abs(w).ravel())[::-1][: int(0.03 * w.size)]
    wmax = np.abs(w).max()
    for idx in strongest:
        post, pre = np.unravel_index(idx, w.shape)
        ax_pos.annotate(
            "",
            xy=pos[post],
            xytext=pos[pre],
            arrowprops=dict(
                arrowstyle="-|>",
                color="tab:red" if w[post, pre] > 0 else "tab:blue",
                lw=0.3 + 1.5 * abs(w[post, pre]) / wmax,
                alpha=0.45,
                shrinkA=4,
                shrinkB=4,
            ),
        )
    for c in np.unique(labels):
        sel = labels == c
        ax_pos.scatter(*pos[sel].T, s=45, color=f"C{c}", edgecolor="k", zorder=3, label=str(c))
    ax_pos.set(xlabel="x (µm)", ylabel="y (µm)", aspect="equal")
    ax_pos.legend(title="functional cluster", fontsize=7, title_fontsize=7, loc="upper left")
    ax_pos.set_title(
        "learned positions; delay = distance / 100 µm/ms\n"
        f"function vs space: ARI {float(metrics['ari']):.2f} (p = {float(metrics['ari_p']):.3f})",
        fontsize=9,
    )

    order = np.argsort(pos[:, 0])  # neurons sorted along x
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    t, n = np.nonzero(twin)
    ax_raster.scatter(t, rank[n], s=22, facecolor="none", edgecolor="tab:blue", lw=0.8)
    t_b, n_b = np.nonzero(brian)
    ax_raster.scatter(t_b, rank[n_b], s=4, color="tab:red")
    same = "identical" if np.array_equal(twin, brian) else "NOT identical"
    ax_raster.set(xlabel="time (ms)", ylabel="hidden neuron (sorted by x)")
    ax_raster.set_title(
        f"one test sample (class {int(test.y[SAMPLE])}), hidden spikes: PyTorch twin (blue"
        f" circles, {len(t)})\nand Brian2 (red dots, {len(t_b)}): spike trains {same}",
        fontsize=9,
    )
    fig.savefig(OUT, dpi=120)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
