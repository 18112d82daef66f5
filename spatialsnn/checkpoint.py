"""Training checkpoints: written atomically after every epoch, read back by ``--resume``.

A checkpoint (``<out>.ckpt``) holds everything :class:`spatialsnn.train.Trainer` needs to
continue after the last finished epoch: the configuration, model and optimiser state,
history and early-stopping state. It is checked before any work starts (readable, made
with the same configuration), so a damaged or foreign checkpoint ends ``--resume`` with
one message instead of a traceback after the data are loaded.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import torch

from spatialsnn.config import TrainConfig

__all__ = ["atomic_save", "check_checkpoint", "read_checkpoint", "remove_stale_temporaries"]


def atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, renamed into place.

    A run killed while saving leaves the previous checkpoint intact; after ``kill -9``
    the temporary file ``.<name>.<random>.tmp`` may remain, which
    :func:`remove_stale_temporaries` deletes when training to the same path starts again.
    """
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")  # mkstemp would be 0600
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def check_checkpoint(state: Any, config: TrainConfig, backend: str | None = None) -> None:
    """Refuse a checkpoint that is not one, or that this run could not continue bit for bit.

    Parameters
    ----------
    state : object
        What ``torch.load`` returned.
    config : TrainConfig
        The configuration of the run that wants to resume.
    backend : str, optional
        The concrete backend this run computes with (``"cpu"``, ``"reference"``, ...);
        a checkpoint written with another one is refused: the backends agree only to
        rounding, so the resumed run would drift from the uninterrupted one.

    Raises
    ------
    ValueError
        Naming the options that differ (``epochs`` may differ: it can be raised), or the
        two backends.
    """
    if not isinstance(state, dict) or state.get("format") != "spatialsnn-checkpoint":
        raise ValueError("not a spatialsnn checkpoint")
    saved = {k: v for k, v in state["config"].items() if k != "epochs"}
    now = {k: v for k, v in config.to_dict().items() if k != "epochs"}
    if saved != now:
        diff = sorted(k for k in now if saved.get(k) != now[k])
        raise ValueError(f"checkpoint was made with a different configuration ({', '.join(diff)})")
    made_with = state.get("backend")
    if backend is not None and made_with is not None and made_with != backend:
        raise ValueError(
            f"checkpoint was computed with the {made_with!r} backend, this run would use "
            f"{backend!r} (see `spatialsnn doctor`); resuming would not continue bit for bit"
        )


def read_checkpoint(path: Path, config: TrainConfig, backend: str | None = None) -> dict[str, Any]:
    """Read ``<out>.ckpt`` for ``--resume`` and check it fits ``config``, before any work.

    Raises
    ------
    ValueError
        One line naming the file: unreadable (truncated, not a checkpoint) or made with
        another configuration. Delete the file to start over.
    """
    try:
        state = torch.load(path, weights_only=False)
    except Exception as err:  # pickle, zip and torch errors of a damaged file
        problem = " ".join(str(err).split()) or type(err).__name__
        raise ValueError(
            f"{path}: cannot be read as a checkpoint ({problem}); delete it to start over"
        ) from None
    try:
        check_checkpoint(state, config, backend)
    except (ValueError, KeyError, AttributeError, TypeError) as err:
        raise ValueError(f"{path}: {err}; delete it to start over, or resume with the "
                         "configuration it was made with") from None  # fmt: skip
    return state


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete the temporary files a killed :func:`atomic_save` to ``path`` left behind.

    Returns
    -------
    list of pathlib.Path
        The files removed.
    """
    stale = sorted(path.parent.glob(f".{path.name}.*.tmp")) if path.parent.is_dir() else []
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    return stale
