"""Helpers of the benchmark worker processes: importing this checkout, memory, GPU sync.

Shared by ``bench_kernels.py`` and ``bench_delayed_linear.py`` (which import this module
and ``_machine.py``, never each other). torch is imported lazily, inside the helpers.
"""

from __future__ import annotations

import sys
from typing import Any

from _machine import REPO_ROOT, current_rss_kib, maxrss_kib

MIB = 1024**2


def import_spatialsnn() -> Any:
    """Import torch and spatialsnn from this checkout (not an installed copy)."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    import torch

    import spatialsnn  # noqa: F401

    return torch


class MemoryProbe:
    """Peak memory of the work after :meth:`start`, in MiB (RSS on CPU, allocator on CUDA)."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.before_kib = 0

    def start(self) -> None:
        """Mark the baseline."""
        import torch

        if self.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.before_bytes = torch.cuda.memory_allocated()
        else:
            self.before_kib = current_rss_kib()

    def peak_mib(self) -> float:
        """Peak above the baseline so far."""
        import torch

        if self.device == "cuda":
            return (torch.cuda.max_memory_allocated() - self.before_bytes) / MIB
        return (maxrss_kib() - self.before_kib) / 1024


def sync(device: str) -> None:
    """Wait for queued GPU work (no-op on CPU)."""
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def torch_facts(device: str) -> dict[str, Any]:
    """torch version, threads and GPU name for the report."""
    import torch

    facts = {"torch": torch.__version__, "torch_num_threads": torch.get_num_threads()}
    if device == "cuda":
        facts["gpu"] = torch.cuda.get_device_name()
        facts["cuda"] = torch.version.cuda
    return facts
