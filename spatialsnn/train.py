"""Training: the configuration, the loop, checkpoints, resume and data parallelism.

Every source of randomness is a seeded :class:`torch.Generator` derived from the
configuration's seed and the epoch number, so a run killed after any epoch and
resumed from its checkpoint ends in exactly the state of an uninterrupted run
(bitwise on the CPU). Under ``torchrun`` (``WORLD_SIZE > 1``) the global batch is
split across processes with :class:`~torch.nn.parallel.DistributedDataParallel`
(gloo on CPU, NCCL on GPU); losses are weighted so that the gradient equals the
single-process gradient of the same global batch.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from spatialsnn import ops
from spatialsnn.checkpoint import (
    atomic_save,
    check_checkpoint,
    read_checkpoint,
    remove_stale_temporaries,
)
from spatialsnn.config import TrainConfig, config_from_file  # noqa: F401 (re-exported)
from spatialsnn.data import SpikeDataset
from spatialsnn.model import CONDITIONS, SpatialSNN
from spatialsnn.progress import batch_bar, epoch_line, kernel_notes, on_terminal

__all__ = [
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "check_output_path",
    "evaluate",
    "load_datasets",
    "train",
]


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    model : SpatialSNN
        The best model (highest validation accuracy), in eval mode.
    history : dict of str to list of float
        Per-epoch ``train_loss``, ``train_accuracy``, ``val_accuracy``,
        ``test_loss``, ``test_accuracy``, ``hidden_rate_hz`` (mean firing rate of the
        hidden neurons on the test split, spikes/s), ``hidden_rate_max_hz`` (the
        highest single-neuron mean rate, spikes/s), ``clamped_delays`` (synapses
        clamped to ``max_delay`` at the epoch's end), ``epoch_seconds``.
    best_epoch : int
        1-based epoch of the kept model.
    path : pathlib.Path or None
        The model file written, if any.
    """

    model: SpatialSNN
    history: dict[str, list[float]]
    best_epoch: int
    path: Path | None = None


def load_datasets(config: TrainConfig) -> tuple[SpikeDataset, SpikeDataset]:
    """The train and test splits a configuration trains on."""
    from spatialsnn.data import make_task

    if config.task in ("shd", "ssc"):
        from spatialsnn.data import shd

        loader = shd.load_shd if config.task == "shd" else shd.load_ssc
        kw = dict(dt=config.dt, path=config.data_path, **config.task_params)
        return loader("train", **kw), loader("test", **kw)
    return make_task(config.task, seed=config.data_seed, dt=config.dt, **config.task_params)


def _input_init(data: SpikeDataset, config: TrainConfig) -> dict[str, float]:
    """Input weight scale from the input statistics, see ``TrainConfig.init``."""
    rate = data.total_spikes() / max(data.x.numel(), 1)  # spikes per channel per step
    per_tau = max(rate * data.n_channels * config.tau_mem / config.dt, 1e-6)
    scale = 6.0 / per_tau
    return {"w_in_mean": scale, "w_in_std": scale}


def _rank_world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


@torch.no_grad()
def evaluate(model: SpatialSNN, data: SpikeDataset, batch_size: int = 256) -> dict[str, float]:
    """Loss and accuracy of a model on a dataset, in eval mode (Brian2-compatible delays).

    Parameters
    ----------
    model : SpatialSNN
        The network; its train/eval mode is restored afterwards.
    data : SpikeDataset
        Samples to evaluate.
    batch_size : int
        Samples per forward pass.

    Returns
    -------
    dict
        ``loss`` (mean cross-entropy), ``accuracy`` (fraction), ``hidden_rate_hz``
        (mean firing rate of the hidden neurons, spikes/s), ``hidden_rate_max_hz``
        (the highest single-neuron mean rate over the data, spikes/s).
    """
    was_training = model.training
    model.eval()
    loss = correct = 0.0
    counts = torch.zeros(model.hparams["n_hidden"], dtype=torch.float64)
    n_steps = 0
    for x, y in data.batches(batch_size):
        out = model(x.to(model.w_in.dtype))
        loss += float(F.cross_entropy(out.logits, y, reduction="sum"))
        correct += float((out.logits.argmax(1) == y).sum())
        counts += out.hidden_spikes.sum((0, 1)).to(torch.float64)
        n_steps = x.shape[1]
    model.train(was_training)
    n = max(1, len(data))
    rates = counts / n / max(1e-300, n_steps * model.dt * 1e-3)  # spikes/s per neuron
    return {
        "loss": loss / n,
        "accuracy": correct / n,
        "hidden_rate_hz": float(rates.mean()),
        "hidden_rate_max_hz": float(rates.max()),
    }


class Trainer:
    """The training loop of one configuration.

    Parameters
    ----------
    config : TrainConfig
        What to train.
    train_data, test_data : SpikeDataset, optional
        Data to use instead of :func:`load_datasets` (e.g. already loaded).
    progress : bool
        Show a tqdm progress bar (on rank 0).
    """

    def __init__(
        self,
        config: TrainConfig,
        train_data: SpikeDataset | None = None,
        test_data: SpikeDataset | None = None,
        *,
        progress: bool = True,
    ) -> None:
        self.config = config
        if train_data is None or test_data is None:
            train_data, test_data = load_datasets(config)
        if train_data.n_channels != test_data.n_channels:
            raise ValueError("train and test data have different numbers of channels")
        self.data_info = dict(train_data.info)
        self.rank, self.world = _rank_world()
        order = torch.randperm(
            len(train_data), generator=torch.Generator().manual_seed(config.seed)
        )
        n_val = int(round(config.val_fraction * len(train_data)))
        self.val = train_data.subset(order[:n_val]) if n_val else test_data
        self.train_data = train_data.subset(order[n_val:]) if n_val else train_data
        self.test = test_data
        self.progress = progress and self.rank == 0
        spec = CONDITIONS[config.condition]["model"]
        init = _input_init(train_data, config) if config.init == "auto" else {}
        with kernel_notes(self.progress):  # the first model may compile the kernels
            self.model = SpatialSNN(
                train_data.n_channels,
                config.n_hidden,
                train_data.n_classes,
                config.dims,
                velocity=config.velocity,
                dt=config.dt,
                tau_mem=config.tau_mem,
                tau_syn=config.tau_syn,
                refractory=config.refractory,
                max_delay=config.max_delay,
                delay_mode=config.delay_mode,
                readout=config.readout,
                backend=config.backend,
                seed=config.seed,
                **spec,
                **{**init, **config.model_kwargs},
            ).to(getattr(torch, config.dtype))
        #: the implementation of the delay operators this run computes with: a resumed
        #: run must use the same one to continue bit for bit (see check_checkpoint)
        self.backend = ops.resolve_backend(config.backend, "cpu", self.model.w_in.dtype)
        self.loss_fn = config.loss()
        self.optimizer = torch.optim.Adam(self._param_groups())
        self.augment = None
        if config.augment is not None:  # {} means the paper's settings
            from spatialsnn.data.augment import Augment

            self.augment = Augment.from_config(config.augment)
        self.epoch = 0
        self.history: dict[str, list[float]] = {}
        self.best_val = -math.inf
        self.best_epoch = 0
        self.best_state = {k: v.clone() for k, v in self.model.state_dict().items()}
        self.stale = 0
        self._ddp = None
        if self.world > 1:
            self._ddp = torch.nn.parallel.DistributedDataParallel(self.model)

    def _param_groups(self) -> list[dict[str, Any]]:
        c, m = self.config, self.model
        pos_lr = c.position_lr if c.position_lr is not None else 1.0 * c.velocity
        groups = [{"params": [m.w_in, m.w_rec, m.w_out], "lr": c.lr, "name": "weights"}]
        positions = [
            p for p in (m.positions, m.input_positions) if p is not None and p.requires_grad
        ]
        if positions:
            groups.append({"params": positions, "lr": pos_lr, "name": "positions"})
        if m.rec_delay is not None:
            groups.append({"params": [m.rec_delay], "lr": c.delay_lr, "name": "delays"})
        return groups

    # ---------------------------------------------------------------- checkpoints
    def state(self) -> dict[str, Any]:
        """Everything needed to resume after the current epoch."""
        return {
            "format": "spatialsnn-checkpoint",
            "config": self.config.to_dict(),
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "history": self.history,
            "best_val": self.best_val,
            "best_epoch": self.best_epoch,
            "best_state": self.best_state,
            "stale": self.stale,
            "backend": self.backend,
            "threads": torch.get_num_threads(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state` (the configuration must match)."""
        check_checkpoint(state, self.config, self.backend)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch = state["epoch"]
        self.history = state["history"]
        self.best_val, self.best_epoch = state["best_val"], state["best_epoch"]
        self.best_state, self.stale = state["best_state"], state["stale"]

    # ---------------------------------------------------------------------- loop
    def _generator(self, purpose: int) -> torch.Generator:
        seed = (self.config.seed * 1_000_003 + self.epoch * 7919 + purpose) % (2**63)
        return torch.Generator().manual_seed(seed)

    def _train_epoch(self) -> dict[str, float]:
        c, model = self.config, self.model
        module = self._ddp or model
        model.train()
        n_total = len(self.train_data)
        order = torch.randperm(n_total, generator=self._generator(1))
        aug_gen = self._generator(2)
        sub_gen = self._generator(3)
        subs = c.train_substeps
        n_batches = math.ceil(n_total / c.batch_size)
        bar = batch_bar(n_batches, f"epoch {self.epoch + 1}/{c.epochs}", enabled=self.progress)
        loss_sum = correct = 0.0
        for b in range(n_batches):
            idx_global = order[b * c.batch_size : (b + 1) * c.batch_size]
            n_global = len(idx_global)
            idx = idx_global[self.rank :: self.world]  # this process's share
            y = self.train_data.y[idx]
            if self.augment is not None:  # on the uint8 counts, without copying the batch first
                x = self.augment.batch(self.train_data.x, idx, y, generator=aug_gen)
            else:
                x = self.train_data.x[idx]
            k = subs[int(torch.randint(len(subs), (1,), generator=sub_gen))]  # own generator
            # the uint8 counts as they are: the model's input projection reads them directly
            x, y = x.to(model.w_in.device), y.to(model.w_in.device)
            out = module(x, substeps=k)
            # sum of per-sample losses / global batch, times world size: DDP's gradient
            # average then equals the single-process gradient of the global batch.
            ce_sum = F.cross_entropy(out.logits, y, reduction="sum")
            loss = ce_sum / n_global * self.world
            loss = loss + self._regularisers(out, n_global)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            stats = torch.tensor([float(ce_sum.detach()), float((out.logits.argmax(1) == y).sum())])
            if self.world > 1:
                torch.distributed.all_reduce(stats)
            loss_sum += float(stats[0])
            correct += float(stats[1])
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss_sum / ((b + 1) * c.batch_size):.3f}")
        if bar is not None:
            bar.close()
        return {"loss": loss_sum / n_total, "accuracy": correct / n_total}

    def _regularisers(self, out, n_global: int) -> torch.Tensor:
        """Regularisers, with the spike count averaged over the global batch."""
        counts = out.hidden_spikes.sum((0, 1))
        if self.world > 1 and (self.loss_fn.spike_reg or self.loss_fn.rate_reg):
            from torch.distributed.nn.functional import all_reduce

            # autograd-aware: the backward sums the ranks' gradients, DDP then averages
            counts = all_reduce(counts)
        total, _ = self.loss_fn.penalties(self.model, counts / n_global, out.duration)
        return total

    def fit(self, checkpoint: Path | None = None) -> TrainResult:
        """Train until ``config.epochs`` or early stopping; checkpoint every epoch.

        Parameters
        ----------
        checkpoint : pathlib.Path, optional
            Written atomically after each epoch (rank 0).
        """
        c = self.config
        while self.epoch < c.epochs and not (c.patience and self.stale >= c.patience):
            start = time.perf_counter()
            tr = self._train_epoch()
            self.epoch += 1
            val = evaluate(self.model, self.val)
            test = evaluate(self.model, self.test)
            row = {
                "train_loss": tr["loss"],
                "train_accuracy": tr["accuracy"],
                "val_accuracy": val["accuracy"],
                "test_loss": test["loss"],
                "test_accuracy": test["accuracy"],
                "hidden_rate_hz": test["hidden_rate_hz"],
                "hidden_rate_max_hz": test["hidden_rate_max_hz"],
                "clamped_delays": float(sum(self.model.clamped_delays.values())),
                "epoch_seconds": time.perf_counter() - start,
            }
            for k, v in row.items():
                self.history.setdefault(k, []).append(float(v))
            if val["accuracy"] > self.best_val:
                self.best_val, self.best_epoch, self.stale = val["accuracy"], self.epoch, 0
                self.best_state = {k: v.clone() for k, v in self.model.state_dict().items()}
            else:
                self.stale += 1
            if self.progress:
                epoch_line(
                    f"epoch {self.epoch:3d}  loss {tr['loss']:.4f}  train {tr['accuracy']:.3f}"
                    f"  val {val['accuracy']:.3f}  test {test['accuracy']:.3f}"
                    f"  rate {test['hidden_rate_hz']:.1f} Hz (max {test['hidden_rate_max_hz']:.0f})"
                    f"  ({row['epoch_seconds']:.1f} s)",
                    bar_active=on_terminal(),
                )
            if checkpoint is not None and self.rank == 0:
                atomic_save(self.state(), checkpoint)
        self.model.load_state_dict(self.best_state)
        self.model.eval()
        return TrainResult(self.model, self.history, self.best_epoch)

    def training_config(self) -> dict[str, Any]:
        """What goes into the model file's ``training_config`` attribute."""
        return {
            **self.config.to_dict(),
            "data": self.data_info,
            "best_epoch": self.best_epoch,
            "world_size": self.world,
            "threads": torch.get_num_threads(),
        }


def train(
    config: TrainConfig | dict[str, Any],
    out: str | os.PathLike | None = None,
    *,
    resume: bool = False,
    progress: bool = True,
    train_data: SpikeDataset | None = None,
    test_data: SpikeDataset | None = None,
    threads: int | None = None,
) -> TrainResult:
    """Train a network and (optionally) write its model file.

    Parameters
    ----------
    config : TrainConfig or dict
        The run.
    out : path, optional
        Model file to write (format v2, with history and configuration). A
        checkpoint ``<out>.ckpt`` is written atomically after every epoch and removed
        when training ends.
    resume : bool
        Continue from ``<out>.ckpt`` if it exists (same configuration required;
        ``epochs`` may be raised).
    progress : bool
        Progress bar and one line per epoch.
    train_data, test_data : SpikeDataset, optional
        Data to use instead of loading it from the configuration.
    threads : int, optional
        torch's intra-op threads for the run (``torch.set_num_threads``, process-wide).
        None: the thread count recorded in the checkpoint when resuming, else torch's
        current one. Either way the count is fixed for the whole run, MKL's included
        (``torch.set_num_threads`` turns off MKL's dynamic choice of threads), so no
        thread pool adapts to the machine's load; docs/training.md, "Reproducibility".

    Returns
    -------
    TrainResult
    """
    from spatialsnn.io import save

    if isinstance(config, dict):
        config = TrainConfig.from_dict(config)
    if config.data_path is not None and not Path(config.data_path).expanduser().exists():
        raise ValueError(f"data_path {config.data_path}: no such file or directory")
    ckpt = state = None
    if out is not None:  # before any data is loaded or trained on
        out = check_output_path(out)
        ckpt = out.with_name(out.name + ".ckpt")
        if resume and ckpt.exists():
            backend = ops.resolve_backend(config.backend, "cpu", getattr(torch, config.dtype))
            state = read_checkpoint(ckpt, config, backend)
        for target in (ckpt, out):  # temporaries of a run killed while it saved
            remove_stale_temporaries(target)
    _fix_threads(threads, state)
    trainer = Trainer(config, train_data, test_data, progress=progress)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
    if state is not None:
        trainer.load_state(state)
    result = trainer.fit(ckpt)
    if out is not None and trainer.rank == 0:
        save(result.model, out, history=result.history, training_config=trainer.training_config())
        result.path = out
        if ckpt is not None and ckpt.exists():
            ckpt.unlink()
    return result


def _fix_threads(threads: int | None, state: dict[str, Any] | None) -> None:
    """Set torch's (and MKL's) thread count once for the run, as resuming needs it."""
    import warnings

    recorded = state.get("threads") if state is not None else None
    if threads is None:
        threads = recorded or torch.get_num_threads()
    elif recorded is not None and recorded != threads:
        warnings.warn(
            f"the checkpoint was computed with {recorded} threads and this run uses {threads}; "
            "large reductions may round differently, so the result may differ in the last "
            "bits from an uninterrupted run (leave out --threads to use the checkpoint's)",
            stacklevel=3,
        )
    torch.set_num_threads(int(threads))


def check_output_path(path: str | os.PathLike) -> Path:
    """Refuse a model-file path that could not be written, before any work is done.

    The path must not be a directory, and its directory must exist or be creatable and
    be writable (the model file and its checkpoint are written there atomically).

    Raises
    ------
    ValueError
        Naming the path and the problem.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(
            f"output {path} is a directory; give the model file's path, e.g. {path}/model.nc"
        )
    ckpt = path.with_name(path.name + ".ckpt")
    if ckpt.is_dir():
        raise ValueError(f"output {path}: its checkpoint path {ckpt} is a directory")
    parent = path.parent
    existing = next((p for p in (parent, *parent.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise ValueError(f"output {path}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"output {path}: cannot write in {existing} (permission denied)")
    return path
