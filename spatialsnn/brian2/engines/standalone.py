"""``cpp_standalone`` / ``cuda_standalone``: compile once, rerun the binary per chunk.

Each run of the binary gets a new ``input_counts`` TimedArray on its command line
(Brian2's ``run_args``: ``input_counts.values=static_arrays/<file>.dat``) and its own
results directory, so several runs can go in parallel. In one run every network copy
simulates ``samples_per_run`` samples one after the other (see
:func:`~spatialsnn.brian2.build_network`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spatialsnn.brian2.cuda import configure_brian2cuda
from spatialsnn.brian2.engines.common import Prefs, delay_matrices, float_dtype
from spatialsnn.brian2.imports import Brian2RunError
from spatialsnn.brian2.inputs import input_count_table
from spatialsnn.brian2.network import build_network

__all__ = ["StandaloneEngine"]


@dataclass
class _ArrayFile:
    """A device array the binary writes into its results directory."""

    name: str
    dtype: Any


class StandaloneEngine:
    """Generate and compile the project once in ``sim.build_dir``; run it per chunk.

    Parameters
    ----------
    sim : Simulator
        Its parameters, ``device``, ``build_dir``, ``n_steps``, ``dt``, ``precision``,
        ``max_count``, ``batch``, ``samples_per_run``, ``jobs`` and ``cuda_options``.
    """

    def __init__(self, sim: Any):
        import brian2 as b2

        self.sim = sim
        self.project = Path(sim.build_dir).resolve()
        self.project.mkdir(parents=True, exist_ok=True)
        values: dict[str, Any] = {
            "core.default_float_dtype": float_dtype(sim.precision),
            # Brian2's default is an unbounded `make -j`: dozens of compilers on few cores
            "devices.cpp_standalone.extra_make_args_unix": [f"-j{os.cpu_count() or 1}"],
        }
        old_cuda: dict[str, Any] = {}
        old_dt = b2.defaultclock.dt
        try:
            if sim.device == "cuda_standalone":
                old_cuda = configure_brian2cuda(build_dir=self.project, **sim.cuda_options)
            with Prefs(values):
                b2.set_device(sim.device, build_on_run=False, directory=str(self.project))
                try:
                    self._build(b2)
                finally:
                    b2.device.reinit()
                    b2.set_device("runtime")
        except (Brian2RunError, ImportError):
            raise
        except Exception as err:  # compiler errors surface as RuntimeError/OSError
            raise Brian2RunError(
                f"{sim.device} build failed in {self.project}: {type(err).__name__}: {err}"
            ) from err
        finally:
            for k, v in old_cuda.items():
                b2.prefs[k] = v
            b2.defaultclock.dt = old_dt
        self._delays: dict[str, np.ndarray | None] | None = None

    def _build(self, b2) -> None:
        """Build the network, generate and compile the project; note its array files."""
        sim = self.sim
        net = build_network(
            sim.params,
            n_steps=sim.n_steps,
            input_mode="timedarray",
            max_count=sim.max_count,
            n_copies=sim.batch,
            dt=sim.dt,
            samples_per_run=sim.samples_per_run,
        )
        self.net = net
        net.network.run(sim.samples_per_run * net.period * net.dt * b2.ms, namespace={})
        b2.device.build(directory=str(self.project), compile=True, run=False)
        dev = b2.get_device()

        def array(var) -> _ArrayFile:
            return _ArrayFile(dev.get_array_filename(var), np.dtype(var.dtype))

        self.files = {
            "i": array(net.hidden_spikes.variables["i"]),
            "t": array(net.hidden_spikes.variables["t"]),
            "v": array(net.output_voltage.variables["v"]),
        }
        for name in ("hidden_hidden", "input_hidden"):
            syn = getattr(net, name)
            if syn is not None:
                self.files[f"delay_{name}"] = array(syn.pre.variables["delay"])
        self.table_name = net.input_counts.name
        self.table_dtype = np.dtype(net.input_counts.values.dtype)
        cmd = b2.prefs["devices.cpp_standalone.run_cmd_unix"]
        self.run_cmd = [cmd] if isinstance(cmd, str) else list(cmd)
        self.env = {
            **os.environ,
            **b2.prefs["devices.cpp_standalone.run_environment_variables"],
            **getattr(dev, "run_environment_variables", {}),
        }

    # ---------------------------------------------------------------------- runs
    def _read(self, results: Path, key: str) -> np.ndarray | None:
        f = self.files.get(key)
        if f is None:
            return None
        path = results / f.name
        return np.fromfile(path, dtype=f.dtype) if path.exists() else np.zeros(0, f.dtype)

    def _run_binary(self, table: np.ndarray, results: Path) -> None:
        """One run of the compiled binary with ``table`` as ``input_counts``."""
        tag = results.name.removeprefix("results_")
        data = Path("static_arrays") / f"spatialsnn_counts_{tag}.dat"
        table.astype(self.table_dtype).tofile(self.project / data)
        try:
            proc = subprocess.run(
                [
                    *self.run_cmd,
                    "--results_dir",
                    str(results) + os.sep,
                    f"{self.table_name}.values={data.as_posix()}",
                ],
                cwd=self.project,
                env=self.env,
                capture_output=True,
                text=True,
            )
        finally:
            (self.project / data).unlink(missing_ok=True)
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
            raise Brian2RunError(
                f"{self.sim.device} run failed (exit {proc.returncode}) in {self.project}: "
                + " | ".join(tail)
            )

    def run_chunk(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Hidden spikes and output voltage of up to ``batch * samples_per_run`` samples."""
        sim, period = self.sim, self.net.period
        results = self.project / f"results_{uuid.uuid4().hex}"  # brian2cuda lower-cases
        results.mkdir()
        try:
            self._run_binary(input_count_table(counts, sim.batch, sim.samples_per_run, period),
                             results)  # fmt: skip
            n_hid, n_out = int(sim.params["n_hidden"]), int(sim.params["n_out"])
            i = self._read(results, "i").astype(np.int64)
            t = self._read(results, "t").astype(np.float64)
            v = self._read(results, "v").astype(np.float64)
            # run step -> (slot, step within the sample); sample j = slot * batch + copy
            slot, step = np.divmod(np.rint(t / (self.net.dt * 1e-3)).astype(np.int64), period)
            inside = step < sim.n_steps  # the threshold is off in the gaps anyway
            sample = slot * sim.batch + i // n_hid
            raster = np.zeros((sim.batch * sim.samples_per_run, sim.n_steps, n_hid), dtype=bool)
            raster[sample[inside], step[inside], (i % n_hid)[inside]] = True
            # StateMonitor v is stored [run steps, recorded neurons]
            volt = v.reshape(sim.samples_per_run, period, sim.batch, n_out)
            volt = volt[:, : sim.n_steps].transpose(0, 2, 1, 3).reshape(-1, sim.n_steps, n_out)
            if self._delays is None:
                seconds = {
                    n: self._read(results, f"delay_{n}") for n in ("hidden_hidden", "input_hidden")
                }
                self._delays = delay_matrices(self.net.params, self.net.synapse_index, seconds,
                                              self.net.dt)  # fmt: skip
            return raster[: len(counts)], volt[: len(counts)]
        finally:
            shutil.rmtree(results, ignore_errors=True)

    def map(self, counts, chunks):
        """Run the chunks, ``jobs`` binaries at a time; yield them in order."""
        if self.sim.jobs == 1:
            for sl in chunks:
                yield sl, self.run_chunk(counts[sl])
            return
        with ThreadPoolExecutor(max_workers=self.sim.jobs) as pool:
            futures = [pool.submit(self.run_chunk, counts[sl]) for sl in chunks]
            for sl, fut in zip(chunks, futures, strict=True):
                yield sl, fut.result()

    def delay_steps(self) -> dict[str, np.ndarray | None]:
        """Delays in steps as Brian2 realised them (read after the first run)."""
        if self._delays is None:
            n_in = int(self.sim.params["n_in"])
            self.run_chunk(np.zeros((1, self.sim.n_steps, n_in), dtype=np.int64))
        return self._delays

    def close(self) -> None:
        """Nothing to release (the simulator deletes its own build directory)."""
