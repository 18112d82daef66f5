"""Does the thread count change training results, and what does fixing it cost?

``invariance``: the first training steps of a configuration, in fresh processes with 1
and with ``os.cpu_count()`` threads; prints whether the gradients and parameters after
every step are bitwise identical, and whether a plain ``tensor.sum()`` of an SHD-sized
batch is (torch splits such a reduction across its threads). ``cost``: epoch times with
torch's thread count left alone and with it fixed by ``torch.set_num_threads`` (which also
turns off MKL's dynamic thread count, as ``spatialsnn.train.train`` does), in alternating
fresh processes.

    python benchmarks/threads.py invariance
    python benchmarks/threads.py cost --epochs 8 --repeats 3
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time

#: The configurations of ``invariance``: the default, and an SHD-sized input layer.
CONFIGS = {
    "default (timing, 48 hidden, batch 32)": {"seed": 3},
    "randman 700 inputs, 256 hidden, batch 32, L1 + connection cost": {
        "seed": 3, "n_hidden": 256, "batch_size": 32, "task": "randman",
        "task_params": {"n_channels": 700, "n_steps": 100, "n_train": 256, "n_test": 64},
        "l1": 1e-5, "connection_cost": 1e-6,
    },
}  # fmt: skip


def steps(config: dict, n_steps: int) -> list[str]:
    """Hashes of the gradients and parameters after each of the first training steps."""
    import torch
    import torch.nn.functional as F

    from spatialsnn.config import TrainConfig
    from spatialsnn.train import Trainer

    tr = Trainer(TrainConfig(**config), progress=False)
    c, model = tr.config, tr.model
    order = torch.randperm(len(tr.train_data), generator=tr._generator(1))
    out = []
    for b in range(n_steps):
        idx = order[b * c.batch_size : (b + 1) * c.batch_size]
        x, y = tr.train_data.x[idx], tr.train_data.y[idx]
        result = model(x.to(model.w_in.dtype))
        loss = F.cross_entropy(result.logits, y, reduction="sum") / len(idx)
        loss = loss + tr._regularisers(result, len(idx))
        tr.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grads = b"".join(p.grad.detach().numpy().tobytes() for p in model.parameters())
        tr.optimizer.step()
        params = b"".join(p.detach().numpy().tobytes() for p in model.parameters())
        out.append(hashlib.sha1(grads + params).hexdigest()[:12])
    return out


def epochs(n: int, pin: bool) -> list[float]:
    """Seconds per training epoch of the default configuration (after one warm-up epoch)."""
    import torch

    if pin:
        torch.set_num_threads(torch.get_num_threads())
    from spatialsnn.config import TrainConfig
    from spatialsnn.train import Trainer

    tr = Trainer(TrainConfig(seed=3), progress=False)
    tr._train_epoch()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        tr._train_epoch()
        times.append(time.perf_counter() - start)
    return times


def _child(args: list[str]) -> object:
    cmd = [sys.executable, __file__, "_child", *args]
    return json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=("invariance", "cost", "_child"))
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.what == "_child":
        kind, *rest = args.rest
        if kind == "steps":
            import torch

            torch.set_num_threads(int(rest[0]))
            print(json.dumps(steps(json.loads(rest[1]), int(rest[2]))))
        elif kind == "sum":
            import torch

            torch.set_num_threads(int(rest[0]))
            x = torch.randn(int(rest[1]), generator=torch.Generator().manual_seed(0))
            print(json.dumps(x.sum().item()))
        else:
            print(json.dumps(epochs(int(rest[0]), rest[1] == "pin")))
        return 0
    if args.what == "invariance":
        many = os.cpu_count() or 1
        print(f"| configuration | 1 thread vs {many} threads, first {args.steps} steps |")
        print("|---|---|")
        for name, config in CONFIGS.items():
            runs = [_child(["steps", str(t), json.dumps(config), str(args.steps)])
                    for t in (1, many)]  # fmt: skip
            same = sum(a == b for a, b in zip(*runs, strict=True))
            print(f"| {name} | {same} of {args.steps} steps bitwise identical |")
        n = 256 * 100 * 700  # one SHD-sized batch of inputs
        sums = [_child(["sum", str(t), str(n)]) for t in (1, many)]
        print(f"| `torch.randn({n}).sum()` | {sums[0]!r} vs {sums[1]!r}: "
              f"{'identical' if sums[0] == sums[1] else 'different'} |")  # fmt: skip
        return 0
    times: dict[str, list[float]] = {"threads as they are": [], "threads fixed": []}
    for _ in range(args.repeats):
        times["threads as they are"] += _child(["epochs", str(args.epochs), "free"])
        times["threads fixed"] += _child(["epochs", str(args.epochs), "pin"])
    for name, values in times.items():
        print(f"{name}: median epoch {statistics.median(values):.3f} s over {len(values)} "
              f"epochs (min {min(values):.3f}, max {max(values):.3f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
