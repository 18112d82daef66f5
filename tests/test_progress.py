"""Training output: bars only on a terminal, one line per epoch, a note on kernel builds."""

from __future__ import annotations

import io
import logging

import pytest

from spatialsnn import progress
from spatialsnn.train import TrainConfig, Trainer

TINY = dict(
    task="timing",
    task_params=dict(n_train=64, n_test=32),
    n_hidden=8,
    epochs=2,
    batch_size=32,
    backend="reference",
)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_terminal_reads_isatty():
    assert progress.on_terminal(_Terminal()) is True
    assert progress.on_terminal(io.StringIO()) is False
    closed = io.StringIO()
    closed.close()
    assert progress.on_terminal(closed) is False


def test_training_off_a_terminal_prints_one_line_per_epoch_and_no_bar(capsys):
    Trainer(TrainConfig(**TINY), progress=True).fit()
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert [line.split()[:2] for line in lines] == [["epoch", "1"], ["epoch", "2"]], out
    assert "batch" not in err and "\r" not in err + out  # no tqdm bar, no carriage returns


def test_training_on_a_terminal_draws_a_bar(monkeypatch, capsys):
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    Trainer(TrainConfig(**TINY), progress=True).fit()
    assert "batch" in terminal.getvalue()  # tqdm's unit
    assert capsys.readouterr().out.count("epoch ") == 2


def test_no_progress_prints_nothing(capsys):
    Trainer(TrainConfig(**TINY), progress=False).fit()
    assert capsys.readouterr() == ("", "")


def _build_message() -> None:
    log = logging.getLogger(progress.KERNEL_LOGGER)
    log.info("compiling the spatialsnn %s kernels (first use) in %s", "cpu", "/cache/x")
    log.info("built %s in %.1f s", "spatialsnn_cpu_abc", 42.0)


def test_kernel_notes_show_the_build_as_one_line_each():
    log = logging.getLogger(progress.KERNEL_LOGGER)
    before = (list(log.handlers), log.level, log.propagate)
    stream = io.StringIO()
    with progress.kernel_notes(stream=stream):
        _build_message()
    lines = stream.getvalue().splitlines()
    assert lines == [
        "spatialsnn: compiling the spatialsnn cpu kernels (first use) in /cache/x "
        "(once: later runs load it from the cache)",
        "spatialsnn: built spatialsnn_cpu_abc in 42.0 s",
    ]
    assert (list(log.handlers), log.level, log.propagate) == before  # all restored
    _build_message()  # outside the block: nothing more reaches the stream
    assert stream.getvalue().splitlines() == lines


def test_kernel_notes_do_not_repeat_what_the_programs_logging_shows(caplog):
    stream = io.StringIO()
    with caplog.at_level(logging.INFO, logger=progress.KERNEL_LOGGER):
        with progress.kernel_notes(stream=stream):
            _build_message()
    assert stream.getvalue() == ""  # the program's own handler (caplog) has them
    assert "built spatialsnn_cpu_abc" in caplog.text


@pytest.mark.parametrize("enabled", [True, False])
def test_a_kernel_build_during_training_is_announced(monkeypatch, capsys, enabled):
    """The first model of a process may compile the kernels: the trainer says so."""
    import spatialsnn.model

    real = spatialsnn.model.ops.resolve_backend

    def resolve_and_build(*args, **kwargs):
        _build_message()  # what the loader logs while it compiles
        return real(*args, **kwargs)

    monkeypatch.setattr(spatialsnn.model.ops, "resolve_backend", resolve_and_build)
    Trainer(TrainConfig(**TINY), progress=enabled)
    err = capsys.readouterr().err
    assert ("spatialsnn: compiling the spatialsnn cpu kernels" in err) == enabled, err
