"""All analyses of one model in one Dataset (what ``spatialsnn analyze`` writes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from spatialsnn.analysis import functional, pruning, structure, tonotopy
from spatialsnn.analysis.network import connectivity
from spatialsnn.analysis.record import record

__all__ = ["SCALARS", "analyze", "scalars"]

#: The scalar metrics a sweep collects, name -> units.
SCALARS = {
    "accuracy": "1",
    "modularity_q_mean": "1",
    "modularity_q_sd": "1",
    "clustering_ratio": "1",
    "efficiency_ratio": "1",
    "sigma": "1",
    "binary_sigma": "1",
    "wiring_cost": "um",
    "wiring_efficiency": "1",
    "ari": "1",
    "ari_p": "1",
    "ami": "1",
    "ami_p": "1",
    "mantel_r": "1",
    "mantel_p": "1",
    "position_r2": "1",
    "mean_rate": "Hz",
    "max_rate": "Hz",
}


def analyze(
    model,
    data: Any | None = None,
    *,
    max_samples: int | None = 256,
    n_clusters: int | None = None,
    seeds: int = 10,
    n_perm: int = 1000,
    n_null: int = 20,
    percentile: float = 90.0,
    prune_fractions: Sequence[float] | None = (0.0, 0.5, 0.9),
    seed: int = 0,
    batch_size: int = 128,
) -> tuple[xr.Dataset, xr.Dataset | None]:
    """Structure, function, tonotopy and pruning metrics of one model.

    Parameters
    ----------
    model : SpatialSNN
        The network.
    data : SpikeDataset or (x, y), optional
        Evaluation data. None: structural metrics only (no activity, agreement,
        Mantel test or pruning).
    max_samples : int, optional
        Samples of ``data`` used.
    n_clusters : int, optional
        Number of functional and spatial clusters (default: number of classes).
    seeds : int
        Louvain seeds.
    n_perm : int
        Permutations of the agreement and Mantel nulls.
    n_null : int
        Shuffle-null draws for clustering / efficiency.
    percentile : float
        Threshold of the binary graph (``binary_*`` metrics): keep ``|W|`` above it.
    prune_fractions : sequence of float, optional
        Pruning fractions; None: no pruning curve.
    seed : int
        Seed of every random step (k-means, permutations, nulls, folds).
    batch_size : int
        Samples per forward pass.

    Returns
    -------
    metrics : xarray.Dataset
        Scalars (see :data:`SCALARS`) and arrays: ``position`` (neuron, space),
        ``community`` (neuron), ``q`` (seed), histograms, ``preferred_position``
        (channel, space) and, with data, ``tuning`` (neuron, class), ``selectivity``,
        ``functional_cluster``, ``spatial_cluster`` (neuron), ``activity_preferred_position``
        and the pruning curve ``pruned_accuracy`` (criterion, fraction).
    activity : xarray.Dataset or None
        The recorded activity (with ``binned_count`` in 5-ms bins), or None.
    """
    conn = connectivity(model)
    out = xr.Dataset(
        coords={"neuron": conn["neuron"], "space": conn["space"], "channel": conn["channel"]}
    )
    out, null = _structure(out, conn, seeds=seeds, n_null=n_null, percentile=percentile, seed=seed)
    activity = None
    acc = np.nan
    if data is not None:
        activity = record(
            model,
            data,
            batch_size=batch_size,
            max_samples=max_samples,
            time_bin=5.0 * model.hparams["dt"],
        )
        acc = activity.attrs["accuracy"]
        out = _function(out, activity, conn, n_clusters=n_clusters, n_perm=n_perm, seed=seed)
        if prune_fractions:
            curve = pruning.pruning_curve(
                model,
                data,
                fractions=prune_fractions,
                batch_size=batch_size,
                max_samples=max_samples,
            )
            out["pruned_accuracy"] = curve["accuracy"]
            out["pruned_weight"] = curve["weight_removed"]
    out["accuracy"] = xr.DataArray(acc, attrs={"units": "1", "long_name": "test accuracy"})
    out.attrs.update(
        delays=conn.attrs["delays"],
        velocity=conn.attrs["velocity"],
        structure_null=null,
        seed=seed,
        n_perm=n_perm,
        n_null=n_null,
        binary_percentile=percentile,
        n_samples=0 if activity is None else activity.sizes["sample"],
    )
    return out, activity


def _structure(
    out: xr.Dataset, conn: xr.Dataset, *, seeds: int, n_null: int, percentile: float, seed: int
) -> tuple[xr.Dataset, str]:
    """The metrics of the wiring alone: modularity, small-worldness, cost, tonotopy.

    Returns ``out`` with them added, and the name of the small-world null.
    """
    w, pos = conn["weight"], conn["position"]
    out["position"] = pos
    mod = structure.modularity(w, seeds=seeds)
    out["q"] = mod["q"]
    out["community"] = mod["community"]
    out["modularity_q_mean"], out["modularity_q_sd"] = mod["q_mean"], mod["q_sd"]
    sw = structure.small_world(w, n_null=n_null, seed=seed)
    for name in ("clustering", "clustering_ratio", "efficiency", "efficiency_ratio", "sigma"):
        out[name] = sw[name]
    bsw = structure.small_world(
        structure.threshold(w, percentile, binary=True), n_null=n_null, seed=seed
    )
    for name in ("clustering_ratio", "efficiency_ratio", "sigma"):
        out[f"binary_{name}"] = bsw[name]
    out["wiring_cost"] = xr.DataArray(
        structure.wiring_cost(w, conn["length"]),
        attrs={"units": "um", "long_name": "sum |w| * length"},
    )
    out["wiring_efficiency"] = xr.DataArray(
        structure.wiring_efficiency(w, conn["length"]), attrs={"units": "1"}
    )
    out = out.merge(structure.distributions(conn))
    out["preferred_position"] = tonotopy.preferred_positions(conn["weight_in"], pos)
    r2 = tonotopy.position_r2(conn["weight_in"], pos, seed=seed)
    out["position_r2"] = r2["r2_mean"]
    return out, sw.attrs["null"]


def _function(
    out: xr.Dataset,
    activity: xr.Dataset,
    conn: xr.Dataset,
    *,
    n_clusters: int | None,
    n_perm: int,
    seed: int,
) -> xr.Dataset:
    """The metrics of the activity: tuning, functional vs spatial clusters, Mantel, rates."""
    pos = conn["position"]
    prof = functional.tuning(activity)
    out["tuning"] = prof
    out = out.merge(functional.selectivity(prof))
    k = n_clusters or prof.sizes["class"]
    fc = functional.functional_clusters(prof, k, seed=seed)
    sc = functional.spatial_clusters(pos, k, seed=seed)
    out["functional_cluster"], out["spatial_cluster"] = fc, sc
    agree = functional.agreement(fc, sc, n_perm=n_perm, seed=seed)
    for name in ("ari", "ari_p", "ari_null_mean", "ami", "ami_p", "ami_null_mean"):
        out[name] = agree[name]
    sim = functional.functional_similarity(activity)
    man = functional.mantel(conn["distance"], sim, n_perm=n_perm, seed=seed)
    out["mantel_r"], out["mantel_p"] = man["r"], man["p"]
    out["mantel_r"].attrs["long_name"] = "Spearman r(distance, count correlation)"
    per_neuron = activity["rate"].mean("sample")  # spikes/s, averaged over the samples
    out["mean_rate"] = xr.DataArray(
        float(per_neuron.mean()), attrs={"units": "Hz", "long_name": "mean hidden rate"}
    )
    out["max_rate"] = xr.DataArray(
        float(per_neuron.max()),
        attrs={"units": "Hz", "long_name": "rate of the busiest hidden neuron"},
    )
    if "rsta" in activity:
        out["activity_preferred_position"] = tonotopy.preferred_positions(
            activity["rsta"].transpose("neuron", "channel"), pos
        )
    return out


def scalars(metrics: xr.Dataset) -> dict[str, float]:
    """The 0-d metrics of a Dataset as ``{name: float}`` (NaN kept; JSON-friendly via str)."""
    return {name: float(v) for name, v in metrics.data_vars.items() if v.ndim == 0}
