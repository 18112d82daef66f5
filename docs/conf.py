"""Sphinx configuration of the spatialsnn documentation.

Build (warnings are errors, as the tests build it)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The tutorials are jupytext notebooks in ``../tutorials/*.py`` (py:percent). They are
copied into ``docs/tutorials/`` at the start of every build and rendered by myst-nb
without executing them; ``SPATIALSNN_DOCS_EXECUTE=1`` executes them (cached in
``docs/_build/.jupyter_cache``) for a publishing build. Nothing here reaches the network
unless ``SPATIALSNN_DOCS_INTERSPHINX=1`` is set.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# Document the source tree next to this file, also when another copy is installed.
sys.path.insert(0, str(ROOT))

import spatialsnn  # noqa: E402


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def sync_tutorials(src: Path = ROOT / "tutorials", dst: Path = DOCS / "tutorials") -> list[str]:
    """Mirror ``src/*.py`` into ``dst`` (copying only changed files, removing stale ones)."""
    dst.mkdir(exist_ok=True)
    names = sorted(p.name for p in src.glob("[!_]*.py")) if src.is_dir() else []
    for name in names:
        target = dst / name
        if not target.exists() or not filecmp.cmp(src / name, target, shallow=False):
            shutil.copy2(src / name, target)
    for stale in dst.glob("*.py"):
        if stale.name not in names:
            stale.unlink()
    return names


sync_tutorials()

# -- Project -----------------------------------------------------------------------------

project = "spatialsnn"
author = "The spatialsnn developers"
copyright = "the spatialsnn developers"
release = spatialsnn.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------------------

extensions = [
    "myst_nb",  # includes the MyST Markdown parser
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx.ext.mathjax",
    "sphinxarg.ext",
    "sphinx_copybutton",
]

# Only Markdown pages and the copied tutorials are documents: conf.py and any other
# .py file in docs/ must not be read as a notebook.
include_patterns = ["*.md", "api/*.md", "tutorials/*.py"]
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
nitpicky = False
# Command lines and JSON in the text must stay copyable: no typographic dashes or quotes.
smartquotes = False
# numpydoc types such as "Tensor of shape (n_samples, n_steps)" make every word a
# cross-reference; words that name attributes of several classes ("x", "n_steps") are
# then ambiguous. Such type words are not links worth having, so no warning for them.
suppress_warnings = ["ref.python"]

# -- MyST / myst-nb ----------------------------------------------------------------------

myst_enable_extensions = ["colon_fence", "deflist", "dollarmath"]
myst_heading_anchors = 3  # [text](page.md#a-heading) links, as on GitHub
nb_custom_formats = {".py": ["jupytext.reads", {"fmt": "py:percent"}]}
nb_execution_mode = "cache" if _truthy("SPATIALSNN_DOCS_EXECUTE") else "off"
nb_execution_cache_path = str(DOCS / "_build" / ".jupyter_cache")
nb_execution_timeout = 1800
nb_execution_in_temp = True  # the tutorials' tutorial-output/ goes to a temporary folder
nb_execution_raise_on_error = True
nb_merge_streams = True

# -- autodoc / napoleon ------------------------------------------------------------------

autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"
autodoc_preserve_defaults = True
autosummary_generate = False
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False

# -- HTML --------------------------------------------------------------------------------

html_theme = "furo"
html_title = f"spatialsnn {release}"
html_static_path: list[str] = []
copybutton_prompt_text = r"\$ |>>> |\.\.\. "
copybutton_prompt_is_regexp = True

# -- Optional intersphinx (needs the network, so off by default) -------------------------

if _truthy("SPATIALSNN_DOCS_INTERSPHINX"):
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "torch": ("https://pytorch.org/docs/stable", None),
        "xarray": ("https://docs.xarray.dev/en/stable", None),
        "brian2": ("https://brian2.readthedocs.io/en/stable", None),
    }
