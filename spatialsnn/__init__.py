"""spatialsnn: spiking networks whose neurons live in space.

Neurons have positions (µm); the delay of a connection is the Euclidean distance
between its neurons divided by an axonal conduction velocity (µm/ms). Positions are
learned by gradient descent together with the weights ("space as time",
Mészáros, Knight, Akarca & Nowotny 2025, arXiv:2511.01632).

Units inside torch: time in ms, positions in µm, velocity in µm/ms, voltages
dimensionless (threshold 1). See :mod:`spatialsnn.units`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from spatialsnn import ops
from spatialsnn.geometry import (
    DelayClampWarning,
    delay_steps,
    delays_from_positions,
    pairwise_distance,
)
from spatialsnn.io import ModelFileError, load, save
from spatialsnn.loss import SNNLoss
from spatialsnn.model import CONDITIONS, SNNOutput, SpatialSNN
from spatialsnn.readouts import readout
from spatialsnn.train import TrainConfig

try:
    __version__ = version("spatialsnn")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "CONDITIONS",
    "DelayClampWarning",
    "ModelFileError",
    "SNNLoss",
    "SNNOutput",
    "SpatialSNN",
    "TrainConfig",
    "__version__",
    "delay_steps",
    "delays_from_positions",
    "load",
    "ops",
    "pairwise_distance",
    "readout",
    "save",
]
