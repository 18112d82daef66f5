"""cuda_standalone (brian2cuda): code generation and nvcc compilation, with or without a GPU.

Without a GPU the compiled binary stops at ``cudaSetDevice``; the test then checks that
this surfaces as one clear :class:`spatialsnn.brian2.Brian2RunError`. With a GPU
(``nvidia-smi`` on ``PATH``) the binary runs and must reproduce the twin.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from spatialsnn import SpatialSNN

pytestmark = [pytest.mark.brian2, pytest.mark.brian2cuda, pytest.mark.slow]


def test_cuda_standalone_compiles_and_runs_where_possible(tmp_path):
    from spatialsnn.brian2 import Brian2RunError, Simulator, network_params
    from spatialsnn.validate import random_counts

    model = (
        SpatialSNN(
            12,
            20,
            3,
            2,
            velocity=25.0,
            init_extent=150.0,
            seed=4,
            w_in_mean=0.35,
            w_in_std=0.15,
            w_rec_std=0.3,
            input_positions=True,
        )
        .double()
        .eval()
    )
    x = random_counts(4, 60, 12, rate_hz=80.0, dt=1.0, seed=4)
    sim = Simulator(
        network_params(model),
        n_steps=60,
        device="cuda_standalone",
        max_count=int(x.max()),
        batch=2,
        samples_per_run=2,
        build_dir=tmp_path / "cuda",
    )
    with sim:
        sim.build()
        project = tmp_path / "cuda"
        assert (project / "main").is_file()
        assert (project / "objects.cu").is_file()
        assert (project / "code_objects").is_dir()
        if shutil.which("nvidia-smi") is None:
            with pytest.raises(Brian2RunError, match="cuda_standalone run failed"):
                sim.run(x)
            return
        result = sim.run(x)
    with torch.no_grad():
        twin = model(torch.from_numpy(x.astype(np.float64)))
    np.testing.assert_array_equal(result.hidden_spikes, twin.hidden_spikes.numpy() > 0.5)
    assert twin.hidden_spikes.sum() > 50
