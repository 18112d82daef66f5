"""The output layer's time loop: indexing ``drive[:, t]`` vs ``drive.unbind(1)``, side by side.

One training step (forward, loss, backward, Adam) of the paper's SHD configuration
(700 -> 128 -> 20, T = 1000, batch 256, random input at SHD's rate), in one process,
alternating the two implementations of ``SpatialSNN._output_layer``: the former loop
over ``drive[:, t]`` (whose backward allocates and zeroes one full-size gradient per
step) and the current one over ``drive.unbind(1)``. Reports the median of ``--repeats``
steps each and the ratio; checks that the two give identical gradients::

    python benchmarks/bench_output_layer.py [--batch 256] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from spatialsnn import SNNLoss, SpatialSNN


def indexed_output_layer(self, drive, c):
    """The former implementation (``drive[:, t]``); ``c``: the step's coefficients."""
    v = drive.new_zeros(drive.shape[0], drive.shape[2])
    i_syn = torch.zeros_like(v)
    trace = []
    for t in range(drive.shape[1]):
        v = c.alpha * v + c.gamma * i_syn
        i_syn = c.beta * i_syn + drive[:, t]
        trace.append(v)
    return torch.stack(trace, dim=1)


def main() -> None:
    """Time both variants and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    torch.manual_seed(0)
    model = SpatialSNN(700, 128, 20, dims=2, velocity=1.0, max_delay=1000.0,
                       init_extent=300.0, seed=0)  # fmt: skip
    loss_fn = SNNLoss(spike_reg=5e-3)
    x = torch.poisson(torch.full((args.batch, 1000, 700), 0.01))
    y = torch.randint(0, 20, (args.batch,))
    current = SpatialSNN._output_layer

    def step() -> tuple[float, list[torch.Tensor]]:
        model.zero_grad()
        t0 = time.perf_counter()
        out = model(x)
        loss, _ = loss_fn(out, y, model)
        loss.backward()
        return time.perf_counter() - t0, [p.grad.clone() for p in model.parameters()]

    times: dict[str, list[float]] = {"indexed": [], "unbind": []}
    grads = {}
    step()  # warm-up (loads the compiled kernel)
    for _ in range(args.repeats):
        for name, impl in (("indexed", indexed_output_layer), ("unbind", current)):
            SpatialSNN._output_layer = impl
            seconds, grads[name] = step()
            times[name].append(seconds)
    SpatialSNN._output_layer = current
    same = all(torch.equal(a, b) for a, b in zip(grads["indexed"], grads["unbind"], strict=True))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"batch {args.batch}, T 1000, 700 -> 128 -> 20, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; forward+backward, median of "
          f"{args.repeats}")  # fmt: skip
    for name, values in times.items():
        print(f"  {name:8s} {med[name]:7.2f} s   ({', '.join(f'{v:.2f}' for v in values)})")
    print(f"  ratio    {med['indexed'] / med['unbind']:.1f}x; identical gradients: {same}")


if __name__ == "__main__":
    main()
