"""Creating, saving and showing figures; the one place that imports matplotlib."""

from __future__ import annotations

import io
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

__all__ = ["captioned_figure", "new_figure", "pyplot", "save", "show"]

_EXTRA = 'plotting needs matplotlib: pip install "spatialsnn[plot]"'
#: Backends that cannot open a window (matplotlib's own list, before 3.9 not public).
_NON_INTERACTIVE = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}
#: Resolution of saved and displayed figures, dots per inch.
DPI = 110


def pyplot() -> Any:
    """``matplotlib.pyplot``, or an ImportError naming the ``plot`` extra.

    The backend is left as it is (inline in Jupyter, Agg without a display); the
    figure functions of :mod:`spatialsnn.analysis.plots` do not use pyplot at all, so
    they never change or depend on it.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(_EXTRA) from None
    return plt


def new_figure(**kwargs: Any) -> Any:
    """A standalone ``matplotlib.figure.Figure``, not registered with pyplot."""
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(_EXTRA) from None
    return Figure(**kwargs)


def captioned_figure(width: float, height: float, caption: str, *, size: float = 8.0) -> tuple:
    """A standalone figure whose bottom strip holds an explanatory paragraph.

    Parameters
    ----------
    width, height : float
        Size of the plotting area, inches; the caption strip is added below it.
    caption : str
        The paragraph, wrapped to the figure's width; a newline starts a new line.
    size : float
        Font size of the caption, points.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The whole figure (constrained layout).
    body : matplotlib.figure.SubFigure
        Where the plots, their legends and the title go.
    """
    chars = max(40, int(width * 72 / (0.5 * size)) - 6)
    lines = "\n".join(textwrap.fill(p, chars) for p in caption.split("\n"))
    strip = (lines.count("\n") + 1.6) * size * 1.3 / 72
    fig = new_figure(figsize=(width, height + strip), layout="constrained")
    body, bottom = fig.subfigures(2, 1, height_ratios=(height, strip))
    bottom.text(0.01, 0.98, lines, ha="left", va="top", fontsize=size, wrap=False)
    return fig, body


def save(fig: Any, path: str | os.PathLike) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix), creating its directory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    return path


def _in_jupyter_kernel() -> bool:
    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _interactive_backend() -> bool:
    import matplotlib

    backend = str(matplotlib.get_backend()).lower()
    return backend not in _NON_INTERACTIVE and not backend.startswith("module://matplotlib_inline")


def show(fig: Any, path: str | os.PathLike | None = None) -> Path | None:
    """Save a figure and show it: in the cell's output in Jupyter, in a window otherwise.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        A pyplot figure (``plt.subplots()``) or a standalone one (the ``*_figure``
        functions of :mod:`spatialsnn.analysis.plots`).
    path : path-like, optional
        Also write the figure to this file (PNG, or what the suffix names).

    Returns
    -------
    pathlib.Path or None
        The file written.

    Notes
    -----
    In a Jupyter kernel the figure is displayed once, as a PNG, whatever the backend. In
    a script a pyplot figure opens in a window if the backend can open one; with a
    non-interactive backend (``MPLBACKEND=Agg``, or no display) nothing is shown and the
    saved file is the way to see the figure. The backend is never changed. A pyplot
    figure is closed afterwards, so it is neither shown twice nor kept in memory.
    """
    written = save(fig, path) if path is not None else None
    managed = getattr(fig.canvas, "manager", None) is not None
    if _in_jupyter_kernel():
        from IPython.display import Image, display

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
        display(Image(data=buffer.getvalue(), format="png"))
    elif managed and _interactive_backend():
        pyplot().show()
    if managed:
        pyplot().close(fig)
    return written
