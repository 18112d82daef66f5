"""Importing brian2 and brian2cuda lazily, with errors that name the extra to install."""

from __future__ import annotations

__all__ = [
    "BRIAN2_EXTRA",
    "CUDA_EXTRA",
    "Brian2RunError",
    "brian2_version",
    "require_brian2",
    "require_brian2cuda",
]

#: Install hint for the Brian2 extra.
BRIAN2_EXTRA = 'pip install "spatialsnn[brian2]"'
#: Install hint for the brian2cuda extra.
CUDA_EXTRA = 'pip install "spatialsnn[cuda]"'


class Brian2RunError(RuntimeError):
    """Brian2 failed to build or run a network; the message says where and why."""


def require_brian2():
    """Import and return :mod:`brian2`, or raise an ImportError naming the extra.

    Returns
    -------
    module
        The ``brian2`` package.

    Raises
    ------
    ImportError
        If brian2 is not installed (or does not import, e.g. with numpy >= 2.4 for
        brian2 < 2.10).
    """
    try:
        import brian2
    except ImportError as err:
        raise ImportError(
            f"the Brian2 export needs brian2 ({err}); install it with: {BRIAN2_EXTRA}"
        ) from err
    except AttributeError as err:  # brian2 2.9 on numpy 2.4: ndarray.ptp was removed
        raise ImportError(
            f"brian2 does not import with this numpy ({err}); brian2 < 2.10 needs "
            f'numpy < 2.4: pip install "numpy<2.4", or reinstall with: {BRIAN2_EXTRA}'
        ) from err
    return brian2


def require_brian2cuda():
    """Import and return :mod:`brian2cuda` (registers the ``cuda_standalone`` device).

    Raises
    ------
    ImportError
        If brian2cuda is not installed; the message names the extra.
    """
    require_brian2()
    try:
        import brian2cuda
    except ImportError as err:
        raise ImportError(f"cuda_standalone needs brian2cuda ({err}): {CUDA_EXTRA}") from err
    return brian2cuda


def brian2_version() -> str:
    """Version of the installed brian2 (and brian2cuda, when importable)."""
    b2 = require_brian2()
    try:
        import brian2cuda
    except ImportError:
        return f"brian2 {b2.__version__}"
    return f"brian2 {b2.__version__}, brian2cuda {brian2cuda.__version__}"
