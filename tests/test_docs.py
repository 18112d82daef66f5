"""The documentation site: it builds with warnings as errors and documents everything public.

One Sphinx build (``python -m sphinx -W --keep-going``, tutorials not executed) into a
temporary directory is shared by the tests of this module marked ``docs`` (they need the
``docs`` extra, which the README's test command installs). The coverage tests read the
built HTML, so a public function, module or subcommand that is added without appearing
in the documentation fails here.
"""

from __future__ import annotations

import argparse
import html
import importlib
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import spatialsnn
from spatialsnn.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

#: Modules with a page ``docs/api/<module>.md``; every name in their ``__all__`` must be
#: documented, on that page or (if re-exported) in the main namespace.
API_MODULES = (
    "spatialsnn",
    "spatialsnn.model",
    "spatialsnn.geometry",
    "spatialsnn.dynamics",
    "spatialsnn.readouts",
    "spatialsnn.loss",
    "spatialsnn.ops",
    "spatialsnn.config",
    "spatialsnn.train",
    "spatialsnn.progress",
    "spatialsnn.checkpoint",
    "spatialsnn.data",
    "spatialsnn.io",
    "spatialsnn.derived",
    "spatialsnn.summary",
    "spatialsnn.brian2",
    "spatialsnn.validate",
    "spatialsnn.export",
    "spatialsnn.analysis",
    "spatialsnn.analysis.plots",
    "spatialsnn.units",
)

#: Top-level modules documented elsewhere: the command line has its own page (cli.md).
NOT_IN_API = {"spatialsnn.cli", "spatialsnn.commands"}


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("docs")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPATIALSNN_DOCS_")}
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-j", "1",
           "-b", "html", "-d", str(out / "doctrees"), str(DOCS), str(out / "html")]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    return proc, out / "html"


def _ids(path: Path) -> set[str]:
    return set(re.findall(r'id="([^"]+)"', path.read_text(encoding="utf-8")))


@pytest.mark.docs
def test_docs_build_without_warnings(built_docs):
    proc, html_dir = built_docs
    report = (proc.stderr + proc.stdout).strip()
    assert proc.returncode == 0 and not report, (
        f"sphinx-build -W failed (exit code {proc.returncode}):\n{report[-20000:]}"
    )
    assert (html_dir / "index.html").is_file()


def test_every_top_level_module_has_an_api_page():
    found = {
        f"spatialsnn.{m.name}"
        for m in pkgutil.iter_modules(spatialsnn.__path__)
        if not m.name.startswith("_")
    }
    missing = sorted(found - set(API_MODULES) - NOT_IN_API)
    assert not missing, f"public modules without an API page (add docs/api/<module>.md): {missing}"
    for name in API_MODULES:
        assert (DOCS / "api" / f"{name}.md").is_file(), name


@pytest.mark.docs
@pytest.mark.parametrize("module_name", API_MODULES)
def test_api_reference_documents_every_public_name(built_docs, module_name):
    _, html_dir = built_docs
    page = html_dir / "api" / f"{module_name}.html"
    assert page.is_file(), f"no API page for {module_name}"
    ids = set().union(*(_ids(p) for p in (html_dir / "api").glob("*.html")))
    module = importlib.import_module(module_name)
    missing = []
    for name in module.__all__:
        obj = getattr(module, name)
        if module_name != "spatialsnn" and getattr(spatialsnn, name, None) is obj:
            documented = f"spatialsnn.{name}" in ids  # re-exported: documented there once
        elif isinstance(obj, type(spatialsnn)):
            documented = f"module-{obj.__name__}" in ids
        else:
            documented = f"{module_name}.{name}" in ids
        if not documented:
            missing.append(name)
    assert not missing, (
        f"{module_name}.__all__ names missing from the API reference "
        f"(no docstring, or excluded on docs/api/{module_name}.md): {missing}"
    )


@pytest.mark.docs
def test_cli_page_documents_every_subcommand_and_option(built_docs):
    _, html_dir = built_docs
    page = (html_dir / "cli.html").read_text(encoding="utf-8")
    ids = _ids(html_dir / "cli.html")
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(sub.choices) >= 7
    missing = []
    for name, parser in sub.choices.items():
        if f"spatialsnn-{name}" not in ids:
            missing.append(name)
        for action in parser._actions:
            missing += [
                f"{name} {opt}"
                for opt in action.option_strings
                if opt.startswith("--") and opt not in text
            ]
    assert not missing, f"missing from the CLI reference: {missing}"


@pytest.mark.docs
def test_every_tutorial_is_rendered(built_docs):
    _, html_dir = built_docs
    tutorials = sorted((ROOT / "tutorials").glob("[!_]*.py"))
    pages = html_dir / "tutorials"
    missing = [p.name for p in tutorials if not (pages / f"{p.stem}.html").is_file()]
    assert not missing, f"tutorials without a page: {missing}"
