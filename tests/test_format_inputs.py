"""docs/format.md, "Inputs, time steps and the readout": its code runs and agrees with the twin."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

import spatialsnn
from spatialsnn.cli import main

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "models" / "timing-spatial.nc"


def _section_blocks() -> list[str]:
    text = (ROOT / "docs" / "format.md").read_text(encoding="utf-8")
    start = text.index("## Inputs, time steps and the readout")
    section = text[start : text.index("\n## ", start + 1)]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_exported_inputs_and_the_readout_formula_reproduce_the_twin(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["export", str(SHIPPED), "--brian2-script", "net.py", "--samples", "16"]) == 0
    read_inputs, readout = _section_blocks()
    namespace: dict = {}
    exec(compile(read_inputs, "format.md", "exec"), namespace)  # noqa: S102
    counts, labels = namespace["counts"], namespace["labels"]
    assert counts.shape == (16, 100, 16) and labels.shape == (16,)
    assert namespace["dt"] == 1.0

    model = spatialsnn.load(SHIPPED).eval()
    with torch.no_grad():
        out = model(torch.from_numpy(counts.astype(np.float32)))
    voltage = out.output_voltage.numpy()
    assert np.all(voltage[:, 0] == 0.0)  # "V[:, 0] is always 0"
    namespace["V"] = voltage
    exec(compile(readout, "format.md", "exec"), namespace)  # noqa: S102
    np.testing.assert_allclose(namespace["scores"], out.logits.numpy(), atol=1e-5)
    np.testing.assert_array_equal(namespace["prediction"], out.logits.argmax(1).numpy())
