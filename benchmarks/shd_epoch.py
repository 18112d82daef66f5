"""Time one training epoch of the paper's SHD configuration on random data of SHD's shape.

The paper's configuration (DESIGN §2.6): 700 input channels, 128 recurrent hidden
neurons in 2-D, 20 classes, dt = 1 ms, T = 1000 steps, batch 256, 8156 training
samples (32 batches), delays up to 1000 steps. The data are random spike counts with
SHD's mean rate; weights make the hidden layer fire a few spikes per neuron.

By default every batch of the epoch is run. ``--batches K`` times only the first K
batches and extrapolates to the epoch (reported as such)::

    python benchmarks/shd_epoch.py --backend auto
    python benchmarks/shd_epoch.py --backend reference --batches 2
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time

import torch

N_SAMPLES, N_IN, N_HIDDEN, N_OUT, T, BATCH = 8156, 700, 128, 20, 1000, 256


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--batches", type=int, help="time only this many batches")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rate", type=float, default=0.01, help="input spikes/channel/step")
    parser.add_argument("--json", help="write the result here")
    args = parser.parse_args()

    from spatialsnn import SNNLoss, SpatialSNN, ops

    torch.manual_seed(0)
    device = torch.device(args.device)
    model = SpatialSNN(
        N_IN, N_HIDDEN, N_OUT, dims=2, velocity=1.0, max_delay=1000.0, init_extent=300.0,
        backend=args.backend, seed=0,
    ).to(device)  # fmt: skip
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = SNNLoss(spike_reg=5e-3)
    n_batches = math.ceil(N_SAMPLES / BATCH)
    todo = min(n_batches, args.batches or n_batches)
    spikes = 0.0
    start = time.perf_counter()
    for b in range(todo):
        size = min(BATCH, N_SAMPLES - b * BATCH)
        x = torch.poisson(torch.full((size, T, N_IN), args.rate, device=device))
        y = torch.randint(0, N_OUT, (size,), device=device)
        out = model(x)
        loss, _ = loss_fn(out, y, model)
        opt.zero_grad()
        loss.backward()
        opt.step()
        spikes += float(out.hidden_spikes.detach().sum()) / size / N_HIDDEN
    if device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    result = {
        "backend": ops.resolve_backend(args.backend),
        "device": str(device),
        "batches_timed": todo,
        "batches_per_epoch": n_batches,
        "seconds_timed": elapsed,
        "seconds_per_epoch": elapsed / todo * n_batches,
        "extrapolated": todo < n_batches,
        "hidden_spikes_per_neuron_per_trial": spikes / todo,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads",
    }
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
