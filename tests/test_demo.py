"""``spatialsnn demo``: the README's main job, end to end on a short run."""

from __future__ import annotations

import pytest

from spatialsnn import load
from spatialsnn.cli import main


@pytest.mark.brian2
def test_demo_trains_validates_analyses_and_writes_figures(tmp_path, capsys):
    out = tmp_path / "demo.nc"
    status = main(["demo", "--out", str(out), "--epochs", "1", "--samples", "3", "--no-progress"])
    text = capsys.readouterr().out
    model = load(out)
    assert model.hparams["n_hidden"] == 48
    # Brian2 reproduced the twin on every validated sample
    assert "identical spike trains" in text and "3 / 3 (100.00 %)" in text
    # ... at the training step and at 0.1 ms, each row with its verdict; one epoch of
    # training may or may not transfer, and the exit status says which
    table = text[text.index("Brian2: accuracy vs simulation step") :].splitlines()
    rows = [line.split() for line in table[2:4]]
    assert [r[0] for r in rows] == ["1", "0.1"]
    assert all(r[5:8] == ["3", "/", "3"] for r in rows)  # identical: 3 / 3
    verdicts = [("PASS" if "  PASS" in line else "FAIL") for line in table[2:4]]
    assert all(("  PASS" in line) != ("  FAIL:" in line) for line in table[2:4])
    assert status == (0 if verdicts == ["PASS", "PASS"] else 1), text
    # the analysis ran on the model's test data and its figures were written
    for name in ("ari", "modularity_q_mean", "wiring_cost"):
        assert f"  {name} " in text
    figures = tmp_path / "demo-figures"
    written = sorted(p.name for p in figures.iterdir())
    assert written == ["distributions.png", "input_map.png", "positions.png", "raster.png"]
    assert all((figures / n).stat().st_size > 1000 for n in written)
    assert f"Model written to {out.resolve()}" in text
    assert f"Figures written to {figures.resolve()}" in text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--epochs", "0"], "argument --epochs: must be an integer >= 1, got 0"),
        (["--samples", "0"], "argument --samples: must be an integer >= 1, got 0"),
        (["--plots", "FILE"], "exists and is not a directory"),
    ],
)
def test_demo_refuses_bad_input_before_training(tmp_path, capsys, extra, message):
    (tmp_path / "FILE").write_text("")
    extra = [str(tmp_path / e) if e == "FILE" else e for e in extra]
    try:
        code = main(["demo", "--out", str(tmp_path / "m.nc"), *extra])
    except SystemExit as exit_:  # a usage error, refused by the parser
        code = exit_.code
    assert code == 2
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err
    assert "Training" not in captured.out  # refused before any work
    assert not (tmp_path / "m.nc").exists()
