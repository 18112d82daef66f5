"""Does the biological simulation reproduce the twin? Twin vs Brian2 on the same samples.

:func:`validate` runs the same input through the PyTorch twin (in ``eval()`` mode, i.e.
``round`` delays, docs/model.md) and through the Brian2 network of
:mod:`spatialsnn.brian2`, and compares, per sample: the hidden spike trains (identical,
and a tolerance-based agreement), the output membrane, the predicted class; and over
all samples: the accuracy of each, the delays (in steps) each side used, the hidden
firing rates (spikes/s) and the time each took. :func:`validate_file` adds the model
file and the data (``spatialsnn validate``).

The package's modules:

:mod:`.pipeline`
    :func:`validate` and :func:`validate_file`, step by step.
:mod:`.samples`, :mod:`.sources`
    The samples (:class:`ValidationData`) and where they come from (:func:`load_data`:
    the data recorded in the model, ``.npz``/``.nc``/SHD files, random input).
:mod:`.twin`
    The twin at the simulation step and precision, and its runs.
:mod:`.agreement`
    Spike agreement, delay rounding statistics, rates, the per-sample comparison.
:mod:`.criteria`
    :class:`Criteria`: when a validation passes (identical spikes, accuracy, transfer to
    a finer step).
:mod:`.report`
    :class:`ValidationResult`: table, JSON, per-sample xarray Dataset.
"""

from __future__ import annotations

from spatialsnn.validate.agreement import delay_statistics, hidden_rates, spike_agreement
from spatialsnn.validate.criteria import Criteria
from spatialsnn.validate.pipeline import validate, validate_file
from spatialsnn.validate.report import ValidationResult
from spatialsnn.validate.samples import (
    ValidationData,
    ValidationInputError,
    random_counts,
    upsample_counts,
)
from spatialsnn.validate.sources import load_data
from spatialsnn.validate.twin import TwinResult, run_twin, twin_at

__all__ = [
    "Criteria",
    "TwinResult",
    "ValidationData",
    "ValidationInputError",
    "ValidationResult",
    "delay_statistics",
    "hidden_rates",
    "load_data",
    "random_counts",
    "run_twin",
    "spike_agreement",
    "twin_at",
    "upsample_counts",
    "validate",
    "validate_file",
]
