""":class:`Simulator`: many samples of one network in Brian2, built only once.

The facade over the engines of :mod:`spatialsnn.brian2.engines`: the runtime device in
this process or in worker processes, and the standalone devices (``cpp_standalone``,
``cuda_standalone``) whose binary is compiled once and rerun per chunk of samples.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spatialsnn.brian2.engines.common import float_dtype
from spatialsnn.brian2.engines.pool import PoolEngine
from spatialsnn.brian2.engines.runtime import RuntimeEngine
from spatialsnn.brian2.engines.standalone import StandaloneEngine
from spatialsnn.brian2.imports import require_brian2

__all__ = ["DEVICES", "TARGETS", "SimulationResult", "Simulator"]

#: Devices :class:`Simulator` runs on.
DEVICES = ("runtime", "cpp_standalone", "cuda_standalone")
#: Runtime code-generation targets.
TARGETS = ("numpy", "cython")


@dataclass
class SimulationResult:
    """Hidden spikes and output membrane of a batch of samples simulated by Brian2.

    Attributes
    ----------
    hidden_spikes : numpy.ndarray of bool, shape (n_samples, n_steps, n_hidden)
    output_voltage : numpy.ndarray of float64, shape (n_samples, n_steps, n_out)
    """

    hidden_spikes: np.ndarray
    output_voltage: np.ndarray


class Simulator:
    """Simulate many samples of one network in Brian2, building it only once.

    Parameters
    ----------
    params : mapping
        :func:`network_params` of the model.
    n_steps : int
        Steps per sample (at ``dt``).
    dt : float, optional
        Time step, ms (default: the model's).
    device : {"runtime", "cpp_standalone", "cuda_standalone"}
        Brian2 device.
    target : {"numpy", "cython"}
        Code-generation target of the runtime device.
    precision : {"float64", "float32"}
        Brian2's ``core.default_float_dtype``.
    max_count : int
        Largest spike count per step and channel that runs may deliver.
    batch : int, optional
        Network copies simulated side by side in one run. Default: 16 (runtime), 1
        (standalone).
    samples_per_run : int, optional
        Standalone devices: samples each copy simulates one after the other in one run
        of the binary (see :func:`build_network`). Default: 32 (standalone); the
        runtime device always uses 1 (it restores the network between runs instead).
    jobs : int
        Parallel processes: runtime workers, or concurrent runs of the standalone
        binary (use 1 for cuda_standalone).
    build_dir : path-like, optional
        Standalone project directory (kept); default: a temporary directory, deleted
        by :meth:`close`.
    cuda_options : dict, optional
        Keyword arguments of :func:`configure_brian2cuda` (``compute_capability``,
        ``gpu_id``, ``cuda_path``).

    Examples
    --------
    >>> with Simulator(network_params(model), n_steps=100) as sim:   # doctest: +SKIP
    ...     sim.build()
    ...     result = sim.run(x)          # x: counts [n_samples, 100, n_in]
    """

    def __init__(
        self,
        params: Mapping[str, Any],
        *,
        n_steps: int,
        dt: float | None = None,
        device: str = "runtime",
        target: str = "numpy",
        precision: str = "float64",
        max_count: int = 1,
        batch: int | None = None,
        samples_per_run: int | None = None,
        jobs: int = 1,
        build_dir: str | os.PathLike | None = None,
        cuda_options: Mapping[str, Any] | None = None,
    ) -> None:
        if device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
        float_dtype(precision)  # refuses an unknown precision
        if int(n_steps) < 1 or int(max_count) < 1 or int(jobs) < 1:
            raise ValueError("n_steps, max_count and jobs must be >= 1")
        self.params = dict(params)
        self.n_steps = int(n_steps)
        self.dt = float(self.params["dt"] if dt is None else dt)
        self.device = device
        self.target = target
        self.precision = precision
        self.max_count = int(max_count)
        self.batch = int(batch) if batch else (16 if device == "runtime" else 1)
        if device == "runtime":
            self.samples_per_run = 1
        else:
            self.samples_per_run = int(samples_per_run) if samples_per_run else 32
        self.jobs = int(jobs)
        self.cuda_options = dict(cuda_options or {})
        self._own_dir = build_dir is None
        self.build_dir = Path(build_dir) if build_dir is not None else None
        #: Seconds spent building (objects, code generation, compilation).
        self.build_seconds = 0.0
        #: Seconds spent in runs.
        self.run_seconds = 0.0
        #: Number of Brian2 runs (binary invocations or ``Network.run`` calls).
        self.n_runs = 0
        self._engine: Any = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Stop workers and delete the temporary project directory."""
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        if self._own_dir and self.build_dir is not None:
            shutil.rmtree(self.build_dir, ignore_errors=True)
            self.build_dir = None

    def build(self) -> float:
        """Build (and compile) the network; return the seconds it took."""
        require_brian2()
        start = time.perf_counter()
        if self.device == "runtime":
            self._engine = PoolEngine(self) if self.jobs > 1 else RuntimeEngine(self)
        else:
            if self.build_dir is None:
                self.build_dir = Path(tempfile.mkdtemp(prefix="spatialsnn-brian2-"))
            self._engine = StandaloneEngine(self)
        self.build_seconds = time.perf_counter() - start
        return self.build_seconds

    # ------------------------------------------------------------------------ run
    def run(
        self, counts: np.ndarray, progress: Callable[[int], None] | None = None
    ) -> SimulationResult:
        """Simulate samples.

        Parameters
        ----------
        counts : array of int, shape (n_samples, n_steps, n_in)
            Spike counts per step (at this simulator's ``dt``).
        progress : callable, optional
            Called with the number of samples finished after each Brian2 run.

        Returns
        -------
        SimulationResult
        """
        if self._engine is None:
            self.build()
        counts = np.asarray(counts)
        n_in = int(self.params["n_in"])
        if counts.ndim != 3 or counts.shape[1:] != (self.n_steps, n_in):
            raise ValueError(
                f"counts must be [n_samples, {self.n_steps}, {n_in}], got {counts.shape}"
            )
        if counts.size and (counts.min() < 0 or counts.max() > self.max_count):
            raise ValueError(f"counts must lie in [0, max_count={self.max_count}]")
        n = counts.shape[0]
        spikes = np.zeros((n, self.n_steps, int(self.params["n_hidden"])), dtype=bool)
        voltage = np.zeros((n, self.n_steps, int(self.params["n_out"])))
        size = self.batch * self.samples_per_run  # samples per Brian2 run
        chunks = [slice(s, min(n, s + size)) for s in range(0, n, size)]
        start = time.perf_counter()
        for sl, (sp, v) in self._engine.map(counts, chunks):
            spikes[sl], voltage[sl] = sp, v
            self.n_runs += 1
            if progress is not None:
                progress(sl.stop - sl.start)
        self.run_seconds += time.perf_counter() - start
        return SimulationResult(spikes, voltage)

    def delay_steps(self) -> dict[str, np.ndarray | None]:
        """Delays in steps as Brian2 realised them, per projection, ``[pre, post]``.

        Returns
        -------
        dict
            ``"hidden_hidden"`` and ``"input_hidden"``: int64 arrays ``[pre, post]``
            with ``int(delay/dt + 0.5)`` of Brian2's delay variable (of copy 0); ``-1``
            where there is no synapse (zero weight); None for a projection without
            delays.
        """
        if self._engine is None:
            self.build()
        return self._engine.delay_steps()
