"""The training configuration: every option of a run, checked in one place.

:class:`TrainConfig` is what ``spatialsnn train`` flags and ``--config`` files fill in,
and what a model file records. Every field is checked when the configuration is made
(:func:`check_config`): types, finiteness, ranges with their units, and combinations
that make no sense, so that a bad option is refused with one message before any data
is loaded or any output written.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spatialsnn.data import TASKS
from spatialsnn.loss import SNNLoss
from spatialsnn.model import CONDITIONS, MAX_DELAY_STEPS

__all__ = ["TrainConfig", "check_config", "config_from_file"]

#: Data sets that are read from files rather than generated.
FILE_TASKS = ("shd", "ssc")
#: Task parameters the SHD/SSC loaders take (``spatialsnn.data.load_shd``).
FILE_TASK_PARAMS = ("n_steps", "n_channels")
#: Seeds are integers in [0, 2**53): exact as JSON numbers, and within what the generators
#: of torch and numpy accept after the offsets the trainer and the tasks add.
SEED_LIMIT = 2**53


@dataclass
class TrainConfig:
    """Everything that defines a training run (stored in the model file as JSON).

    Units: ms, µm, µm/ms. Learning rates of positions are in µm per step of Adam,
    of free delays in ms per step.

    Attributes
    ----------
    task : str
        ``"timing"`` or ``"randman"`` (synthetic, see :func:`spatialsnn.data.make_task`),
        or ``"shd"``/``"ssc"`` (Heidelberg spiking datasets).
    task_params : dict
        Parameters of a synthetic task (e.g. ``{"n_train": 512}``).
    data_path : str or None
        Directory or file of the SHD/SSC data (None: download into the cache).
    data_seed : int
        Seed of a synthetic task.
    seed : int
        Seed of the initialisation, shuffling and augmentation.
    condition : str
        One of :data:`spatialsnn.CONDITIONS`: ``spatial``, ``spatial+cost``, ``free``,
        ``none``.
    n_hidden, dims : int
        Hidden population size and dimension of space.
    velocity, dt, max_delay, tau_mem, tau_syn : float
        Model parameters (µm/ms, ms).
    refractory : float
        Absolute refractory period of the hidden neurons, ms. The default, 2 ms, is
        what makes trained networks keep their accuracy at finer simulation steps
        (docs/training.md, "Training for transfer"); 0 is the paper's model (none).
        See :class:`~spatialsnn.SpatialSNN`.
    epochs, batch_size : int
        Maximum number of epochs; global batch size.
    lr : float
        Adam learning rate of the weights.
    position_lr : float or None
        Adam learning rate of positions in µm; None: ``1.0 * velocity`` (one ms of
        delay per step, for short runs; the paper used 0.05 ms-units per step over
        hundreds of SHD epochs).
    delay_lr : float
        Adam learning rate of free delays, ms.
    spike_reg, nu, l1 : float
        Spike-count regulariser weight and target (spikes per neuron per trial; the
        paper's), L1 weight on recurrent weights.
    rate_reg : float
        Weight of the firing-rate regulariser (:func:`spatialsnn.loss.rate_penalty`),
        per (spikes/s)²; 0 disables it. The default 1e-5 keeps the timing task's
        networks near 45 spikes/s instead of ~180 (docs/training.md).
    rate_range : list of two floats
        ``[low, high]``: hidden firing rates inside this range, spikes/s, are free;
        outside it each neuron's batch-mean rate is pulled back quadratically.
    train_substeps : list of int
        Each training batch is simulated on a grid ``k`` times finer than ``dt``, ``k``
        drawn (seeded) from this list; ``[1]`` trains at ``dt`` only. Evaluation and
        early stopping stay at ``dt``. Training across steps makes the learned function
        a property of the continuous-time network rather than of the ``dt`` grid
        (docs/training.md, "Training for transfer").
    connection_cost, cost_exponent, cost_into_positions, communicability_cost
        Wiring-cost regularisers; ``None`` takes the condition's preset.
    patience : int
        Early stopping: stop after this many epochs without a better validation
        accuracy (0 disables); the best model is kept.
    val_fraction : float
        Fraction of the training split held out for early stopping.
    augment : dict or None
        Augmentation configuration (see :class:`spatialsnn.data.Augment`); ``{}``
        means the paper's settings (channel shift ±40 and same-class blend), None
        disables augmentation.
    readout, delay_mode, backend : str
        Passed to :class:`~spatialsnn.SpatialSNN`.
    init : {"auto", "paper"}
        Input-weight initialisation: ``"paper"`` uses Normal(0.03, 0.01) (made for
        SHD's 700 busy channels); ``"auto"`` scales the mean (and standard deviation)
        to ``6 / m``, with ``m`` the mean number of input spikes a neuron receives
        within one membrane time constant in the training data, which reproduces the
        paper's 0.03 on SHD and keeps sparse tasks spiking.
    dtype : {"float32", "float64"}
        Floating-point type of the parameters and the simulation.
    model_kwargs : dict
        Further keyword arguments for :class:`~spatialsnn.SpatialSNN` (e.g. weight
        initialisation).
    """

    task: str = "timing"
    task_params: dict[str, Any] = field(default_factory=dict)
    data_path: str | None = None
    data_seed: int = 0
    seed: int = 0
    condition: str = "spatial"
    n_hidden: int = 48
    dims: int = 2
    velocity: float = 100.0
    dt: float = 1.0
    max_delay: float = 100.0
    tau_mem: float = 20.0
    tau_syn: float = 5.0
    refractory: float = 2.0
    epochs: int = 30
    batch_size: int = 32
    lr: float = 3e-3
    position_lr: float | None = None
    delay_lr: float = 0.05
    spike_reg: float = 0.0
    nu: float = 1.0
    l1: float = 0.0
    rate_reg: float = 1e-5
    rate_range: list[float] = field(default_factory=lambda: [0.0, 50.0])
    train_substeps: list[int] = field(default_factory=lambda: [1])
    connection_cost: float | None = None
    cost_exponent: int | None = None
    cost_into_positions: bool = True
    communicability_cost: float = 0.0
    patience: int = 10
    val_fraction: float = 0.1
    augment: dict[str, Any] | None = None
    readout: str = "exp_mean"
    delay_mode: str = "interpolate"
    backend: str = "auto"
    init: str = "auto"
    dtype: str = "float32"
    model_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_config(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a dict, refusing unknown keys with one clear message."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown training options: {', '.join(unknown)}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict of all fields."""
        return dataclasses.asdict(self)

    def loss(self) -> SNNLoss:
        """The loss of this configuration (condition presets filled in)."""
        preset = CONDITIONS[self.condition]["loss"]
        return SNNLoss(
            spike_reg=self.spike_reg,
            nu=self.nu,
            l1=self.l1,
            connection_cost=preset.get("connection_cost", 0.0)
            if self.connection_cost is None
            else self.connection_cost,
            cost_exponent=preset.get("cost_exponent", 1)
            if self.cost_exponent is None
            else self.cost_exponent,
            cost_into_positions=self.cost_into_positions,
            communicability_cost=self.communicability_cost,
            rate_reg=self.rate_reg,
            rate_range=tuple(self.rate_range),
        )


def _number(name: str, value: Any, *, units: str, low: float, strict: bool) -> None:
    """A finite real number ``> low`` (strict) or ``>= low``; bools are not numbers."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and (value > low if strict else value >= low)
    if not ok:
        bound = f"> {low:g}" if strict else f">= {low:g}"
        unit = f" ({units})" if units else ""
        raise ValueError(f"{name} must be a finite number {bound}{unit}, got {value!r}")


def _integer(name: str, value: Any, low: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or (low is not None and value < low):
        raise ValueError(
            f"{name} must be an integer" + (f" >= {low}" if low is not None else "")
            + f", got {value!r}"
        )  # fmt: skip


def _choice(name: str, value: Any, choices) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")


#: field -> (units, lower bound, bound excluded); None as a value is allowed where noted.
_NUMBERS = {
    "velocity": ("um/ms", 0.0, True), "dt": ("ms", 0.0, True),
    "max_delay": ("ms", 0.0, False), "tau_mem": ("ms", 0.0, True),
    "tau_syn": ("ms", 0.0, True), "refractory": ("ms", 0.0, False),
    "lr": ("", 0.0, True), "position_lr": ("um per step", 0.0, True),
    "delay_lr": ("ms per step", 0.0, True), "spike_reg": ("", 0.0, False),
    "nu": ("spikes per neuron and trial", 0.0, False), "l1": ("", 0.0, False),
    "rate_reg": ("per (spikes/s)^2", 0.0, False), "connection_cost": ("", 0.0, False),
    "communicability_cost": ("", 0.0, False),
}  # fmt: skip
_OPTIONAL = ("position_lr", "connection_cost", "cost_exponent", "data_path", "augment")
#: SpatialSNN arguments the configuration sets itself (not allowed in model_kwargs).
_SET_BY_CONFIG = (
    "n_in", "n_hidden", "n_out", "dims", "velocity", "dt", "tau_mem", "tau_syn",
    "refractory", "max_delay", "delay_mode", "readout", "backend", "seed", "delays",
)  # fmt: skip


def check_config(c: TrainConfig) -> None:
    """Check every field of a configuration; raise ``ValueError`` naming the first bad one.

    Normalises ``rate_range`` and ``train_substeps`` to lists of float and int.
    """
    from spatialsnn.model import SpatialSNN
    from spatialsnn.ops import BACKENDS
    from spatialsnn.ops._common import MODES
    from spatialsnn.readouts import READOUTS

    _choice("task", c.task, (*TASKS, *FILE_TASKS))
    _choice("condition", c.condition, tuple(CONDITIONS))
    for name in ("epochs", "batch_size", "n_hidden", "dims"):
        _integer(name, getattr(c, name), 1)
    _integer("patience", c.patience, 0)
    for name in ("seed", "data_seed"):
        _integer(name, getattr(c, name), 0)
        if getattr(c, name) >= SEED_LIMIT:
            raise ValueError(f"{name} must be an integer < 2**53, got {getattr(c, name)!r}")
    for name, (units, low, strict) in _NUMBERS.items():
        value = getattr(c, name)
        if value is None and name in _OPTIONAL:
            continue
        _number(name, value, units=units, low=low, strict=strict)
    if c.cost_exponent is not None:
        _choice("cost_exponent", c.cost_exponent, (1, 2))
    if not isinstance(c.cost_into_positions, bool):
        raise ValueError(
            f"cost_into_positions must be true or false, got {c.cost_into_positions!r}"
        )
    _number("val_fraction", c.val_fraction, units="", low=0.0, strict=False)
    if not c.val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {c.val_fraction}")
    _choice("readout", c.readout, READOUTS)
    _choice("delay_mode", c.delay_mode, MODES)
    _choice("backend", c.backend, BACKENDS)
    _choice("init", c.init, ("auto", "paper"))
    _choice("dtype", c.dtype, ("float32", "float64"))
    _check_lists(c)
    if not c.max_delay / c.dt < MAX_DELAY_STEPS:
        raise ValueError(
            f"max_delay / dt = {c.max_delay / c.dt:g} steps; at most {MAX_DELAY_STEPS} allowed"
        )
    _check_tables(c)
    _check_task_params(c)
    allowed = set(inspect.signature(SpatialSNN).parameters) - set(_SET_BY_CONFIG)
    unknown = sorted(set(c.model_kwargs) - allowed)
    if unknown:
        own = [k for k in unknown if k in _SET_BY_CONFIG]
        why = f"set by the configuration itself: {', '.join(own)}; " if own else ""
        raise ValueError(
            f"model_kwargs: {', '.join(unknown)} cannot be set there ({why}allowed: "
            f"{', '.join(sorted(allowed))})"
        )


def _check_lists(c: TrainConfig) -> None:
    """``rate_range`` and ``train_substeps``, normalised to lists of float and int."""
    rr = c.rate_range
    if (
        not isinstance(rr, (list, tuple)) or len(rr) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                   for v in rr)
        or not 0 <= rr[0] <= rr[1]
    ):  # fmt: skip
        raise ValueError(f"rate_range must be [low, high] spikes/s with 0 <= low <= high, got {rr}")
    c.rate_range = [float(v) for v in rr]
    subs = c.train_substeps
    if (
        not isinstance(subs, (list, tuple)) or not subs
        or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in subs)
    ):  # fmt: skip
        raise ValueError(
            f"train_substeps must be a non-empty list of positive integers, got {subs!r}"
        )
    c.train_substeps = list(subs)


def _check_tables(c: TrainConfig) -> None:
    """``data_path`` and the option tables ``task_params``, ``model_kwargs``, ``augment``."""
    if c.data_path is not None and not isinstance(c.data_path, str):
        raise ValueError(f"data_path must be a path (string), got {c.data_path!r}")
    if c.data_path is not None and c.task not in FILE_TASKS:
        raise ValueError(
            f"data_path is for the data sets read from files ({', '.join(FILE_TASKS)}); "
            f"task {c.task!r} is generated"
        )
    for name in ("task_params", "model_kwargs"):
        if not isinstance(getattr(c, name), dict):
            raise ValueError(f"{name} must be a table of options, got {getattr(c, name)!r}")
    if c.augment is not None and not isinstance(c.augment, dict):
        raise ValueError(f"augment must be a table of options (or absent), got {c.augment!r}")
    if c.augment is not None:
        from spatialsnn.data.augment import Augment

        try:
            Augment.from_config(c.augment)
        except (TypeError, ValueError, OverflowError) as err:
            raise ValueError(f"augment: {err}") from None


def _check_task_params(c: TrainConfig) -> None:
    """Task parameters the chosen task takes, with integer sizes where sizes are meant."""
    if c.task in FILE_TASKS:
        known: dict[str, Any] = {name: 1 for name in FILE_TASK_PARAMS}  # sizes
    else:
        from spatialsnn.data.synthetic import _DEFAULTS

        known = _DEFAULTS[c.task]
    unknown = sorted(set(c.task_params) - set(known))
    if unknown:
        raise ValueError(
            f"task {c.task!r} does not take the task parameter(s) {', '.join(unknown)} "
            f"(it takes {', '.join(sorted(known))})"
        )
    for name, value in c.task_params.items():
        if isinstance(known[name], int):
            _integer(f"task_params.{name}", value, 0 if name == "jitter" else 1)
        else:
            _number(f"task_params.{name}", value, units="", low=0.0, strict=False)
    if c.task not in FILE_TASKS:
        from spatialsnn.data.synthetic import check_params

        try:
            check_params(c.task, c.task_params)
        except ValueError as err:
            raise ValueError(f"task_params: {err}") from None


def config_from_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read a TOML (``.toml``) or JSON (``.json``) training configuration."""
    path = Path(path)
    text = path.read_text()
    if path.suffix == ".json":
        return json.loads(text)
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads(text)
