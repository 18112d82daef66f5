"""Datasets: synthetic temporal tasks, the Heidelberg spiking data sets, augmentation."""

from __future__ import annotations

from typing import Any

from spatialsnn.data.augment import (
    PAPER_BLEND_FRACTION,
    Augment,
    blend,
    blend_pairs,
    channel_shift,
    same_class_partners,
)
from spatialsnn.data.cache import DatasetError, DatasetUnavailableError, default_cache_dir
from spatialsnn.data.counts import SpikeCounts
from spatialsnn.data.dataset import SpikeDataset
from spatialsnn.data.shd import load_shd, load_ssc, write_shd_like
from spatialsnn.data.synthetic import TASKS, make_task

__all__ = [
    "PAPER_BLEND_FRACTION",
    "TASKS",
    "Augment",
    "DatasetError",
    "DatasetUnavailableError",
    "SpikeCounts",
    "SpikeDataset",
    "blend",
    "blend_pairs",
    "channel_shift",
    "dataset_from_info",
    "default_cache_dir",
    "load_shd",
    "load_ssc",
    "make_task",
    "same_class_partners",
    "write_shd_like",
]


def dataset_from_info(info: dict[str, Any], split: str = "test") -> SpikeDataset:
    """Recreate a dataset from the provenance a trainer recorded (``SpikeDataset.info``).

    Parameters
    ----------
    info : dict
        ``{"source": "synthetic", "task": ..., "seed": ..., ...}`` or
        ``{"source": "shd" | "ssc", "dt": ..., "n_steps": ..., "path": ...}`` as stored
        in a model file's ``training_config["data"]``.
    split : {"train", "test"} or, for SSC, "valid"
        Which split to return (SHD/SSC files are re-read, downloading them if needed).

    Returns
    -------
    SpikeDataset
    """
    source = info.get("source")
    if source in ("shd", "ssc"):
        from spatialsnn.data.shd import from_info

        return from_info(info, split)
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if source == "synthetic":
        skip = ("source", "task", "seed", "dt", "split")
        params = {k: v for k, v in info.items() if k not in skip}
        train, test = make_task(info["task"], seed=info["seed"], dt=info["dt"], **params)
        return train if split == "train" else test
    raise ValueError(f"cannot recreate data from source {source!r}")
