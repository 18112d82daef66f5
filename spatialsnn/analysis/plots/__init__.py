"""Figures of one model's analysis (matplotlib; the ``plot`` extra).

The only part of :mod:`spatialsnn` that imports matplotlib, lazily. Every figure is a
standalone :class:`matplotlib.figure.Figure` (pyplot and its backend are left alone)
that explains itself: axes with units, a legend for every colour and line, and a
paragraph under the plot that spells out every abbreviation. ``*_figure`` functions
return the figure; ``plot_*`` functions write it to a file; :func:`show` displays a
figure in Jupyter (and saves it), :func:`plot_all` writes the standard set.

The files of :func:`plot_all` (``spatialsnn analyze --plots``, ``spatialsnn demo``):

- ``positions.png``, :func:`positions_figure`: neurons in space by cluster, the strongest
  synapses, a dense core magnified, outliers ringed;
- ``distributions.png``, :func:`distributions_figure`: lengths and delays of the
  recurrent synapses;
- ``input_map.png``, :func:`input_map_figure`: the preferred position of each input
  channel;
- ``raster.png``, :func:`raster_figure`: input spikes, hidden spikes in the twin and in
  Brian2, population rate (from :func:`~spatialsnn.analysis.spike_rasters`).
"""

from __future__ import annotations

import os
from pathlib import Path

import xarray as xr

from spatialsnn.analysis.plots._figure import pyplot, show
from spatialsnn.analysis.plots.activity import plot_raster, population_rate, raster_figure
from spatialsnn.analysis.plots.inputs import input_map_figure, plot_input_map
from spatialsnn.analysis.plots.positions import plot_positions, positions_figure
from spatialsnn.analysis.plots.synapses import distributions_figure, plot_distributions

__all__ = [
    "distributions_figure",
    "input_map_figure",
    "plot_all",
    "plot_distributions",
    "plot_input_map",
    "plot_positions",
    "plot_raster",
    "population_rate",
    "positions_figure",
    "pyplot",
    "raster_figure",
    "show",
]


def plot_all(
    metrics: xr.Dataset,
    conn: xr.Dataset,
    rasters: xr.Dataset | None,
    directory: str | os.PathLike,
) -> list[Path]:
    """Write every figure of one model into ``directory``; return the paths.

    Parameters
    ----------
    metrics : xarray.Dataset
        From :func:`~spatialsnn.analysis.analyze`.
    conn : xarray.Dataset
        From :func:`~spatialsnn.analysis.connectivity`.
    rasters : xarray.Dataset, optional
        From :func:`~spatialsnn.analysis.spike_rasters`; None: no ``raster.png``.
    directory : path-like
        Created if needed.

    Returns
    -------
    list of pathlib.Path
        ``positions.png``, ``distributions.png``, ``input_map.png`` and, with
        ``rasters``, ``raster.png``.
    """
    d = Path(directory)
    paths = [
        plot_positions(metrics, conn, d / "positions.png"),
        plot_distributions(metrics, d / "distributions.png"),
        plot_input_map(metrics, d / "input_map.png"),
    ]
    if rasters is not None:
        paths.append(plot_raster(rasters, metrics, d / "raster.png"))
    return paths
