"""Analysis of trained networks with xarray: function, space, structure, pruning.

Every function takes and returns xarray objects (or plain arrays) with named dims
(``sample``, ``time``, ``neuron``, ``space``, ``class``, ``channel``, ``pre``, ``post``,
``seed``, ``condition``) and ``units`` attributes. Plots live in
:mod:`spatialsnn.analysis.plots` (needs the ``plot`` extra, matplotlib).

Examples
--------
>>> import spatialsnn
>>> from spatialsnn import analysis
>>> model = spatialsnn.SpatialSNN(n_in=8, n_hidden=12, n_out=3, seed=0)
>>> conn = analysis.connectivity(model)
>>> conn["weight"].dims, conn["position"].attrs["units"]
(('post', 'pre'), 'um')
"""

from __future__ import annotations

from spatialsnn.analysis.functional import (
    adjusted_mutual_info,
    adjusted_rand,
    agreement,
    functional_clusters,
    functional_similarity,
    kmeans,
    mantel,
    selectivity,
    spatial_clusters,
    tuning,
)
from spatialsnn.analysis.metrics import SCALARS, analyze, scalars
from spatialsnn.analysis.network import connectivity, load_model, synapse_length
from spatialsnn.analysis.pruning import accuracy, prune, prune_mask, pruning_curve
from spatialsnn.analysis.rasters import one_per_class, spike_rasters
from spatialsnn.analysis.record import record
from spatialsnn.analysis.structure import (
    clustering_coefficient,
    distributions,
    global_efficiency,
    modularity,
    null_shuffle,
    small_world,
    symmetrise,
    threshold,
    wiring_cost,
    wiring_efficiency,
)
from spatialsnn.analysis.tonotopy import position_r2, preferred_positions

__all__ = [
    "SCALARS",
    "accuracy",
    "adjusted_mutual_info",
    "adjusted_rand",
    "agreement",
    "analyze",
    "clustering_coefficient",
    "connectivity",
    "distributions",
    "functional_clusters",
    "functional_similarity",
    "global_efficiency",
    "kmeans",
    "load_model",
    "mantel",
    "modularity",
    "null_shuffle",
    "one_per_class",
    "position_r2",
    "preferred_positions",
    "prune",
    "prune_mask",
    "pruning_curve",
    "record",
    "scalars",
    "selectivity",
    "small_world",
    "spatial_clusters",
    "spike_rasters",
    "symmetrise",
    "synapse_length",
    "threshold",
    "tuning",
    "wiring_cost",
    "wiring_efficiency",
]
