"""The runtime engine sharded over worker processes (``jobs > 1``)."""

from __future__ import annotations

import time
from typing import Any

from spatialsnn.brian2.engines.runtime import RuntimeEngine

__all__ = ["PoolEngine"]

# Each worker process builds the network once, in its initializer.
_WORKER: RuntimeEngine | None = None


def _worker_init(params, kwargs) -> None:
    from spatialsnn.brian2.simulator import Simulator

    global _WORKER
    _WORKER = RuntimeEngine(Simulator(params, **kwargs))


def _worker_run(counts):
    return _WORKER.run_chunk(counts)


def _worker_delays():
    return _WORKER.delay_steps()


class PoolEngine:
    """``jobs`` spawned processes, each with a :class:`RuntimeEngine`.

    Parameters
    ----------
    sim : Simulator
        As for :class:`RuntimeEngine`, plus ``jobs``.
    """

    def __init__(self, sim: Any):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        kwargs = dict(
            n_steps=sim.n_steps,
            dt=sim.dt,
            device="runtime",
            target=sim.target,
            precision=sim.precision,
            max_count=sim.max_count,
            batch=sim.batch,
        )
        self.pool = ProcessPoolExecutor(
            max_workers=sim.jobs,
            mp_context=mp.get_context("spawn"),
            initializer=_worker_init,
            initargs=(sim.params, kwargs),
        )
        # Start every worker (each builds the network) before timing runs.
        list(self.pool.map(time.sleep, [0.2] * sim.jobs))

    def map(self, counts, chunks):
        """Run the chunks in the workers; yield them in order."""
        futures = [self.pool.submit(_worker_run, counts[sl]) for sl in chunks]
        for sl, fut in zip(chunks, futures, strict=True):
            yield sl, fut.result()

    def delay_steps(self):
        """Delays in steps as Brian2 realised them (in one worker)."""
        return self.pool.submit(_worker_delays).result()

    def close(self) -> None:
        """Stop the workers."""
        self.pool.shutdown(cancel_futures=True)
