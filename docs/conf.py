"""Sphinx configuration of the naravard_analysis documentation site.

Built with ``make docs`` (warnings are errors).  Sphinx with the pydata theme and numpydoc is the
scientific-Python default: the package's docstrings are numpydoc, and the same stack renders the
statsmodels, pandas and lifelines sites its users already read.  Tutorials are notebooks executed
by myst-nb at build time on the synthetic demo world.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from pathlib import Path

import naravard_analysis

DOCS = Path(__file__).resolve().parent

project = "naravard_analysis"
author = "naravard_analysis contributors"
copyright = "2026, naravard_analysis contributors"
release = naravard_analysis.__version__
version = release

extensions = [
    "myst_nb",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx_copybutton",
]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

# numpydoc renders the docstrings; the API pages list members explicitly, so no stub tables.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_typehints = "none"
autodoc_member_order = "bysource"

# Tutorials execute on the demo world; NARAVARD_DOCS_EXECUTE=off skips execution (drafting only).
nb_execution_mode = os.environ.get("NARAVARD_DOCS_EXECUTE", "force")
nb_execution_timeout = 900
nb_execution_raise_on_error = True
nb_execution_show_tb = True

html_theme = "pydata_sphinx_theme"
html_title = "naravard_analysis"
html_theme_options = {"navigation_depth": 2, "show_toc_level": 2}
html_last_updated_fmt = None

intersphinx_mapping = {}


def _write_api_pages() -> None:
    """One page per public module (a module with ``__all__``), so the reference follows the code."""
    out = DOCS / "api"
    out.mkdir(exist_ok=True)
    modules = []
    for info in pkgutil.walk_packages(naravard_analysis.__path__, "naravard_analysis."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        mod = importlib.import_module(info.name)
        if getattr(mod, "__all__", None) is None and not info.ispkg:
            continue
        modules.append(info.name)
    for name in modules:
        title = f"``{name}``"
        text = f"{title}\n{'=' * len(title)}\n\n.. automodule:: {name}\n"
        mod = importlib.import_module(name)
        if getattr(mod, "__all__", None) is None:
            text += "   :no-members:\n"
        page = out / f"{name}.rst"
        if not page.exists() or page.read_text() != text:
            page.write_text(text)
    for stale in out.glob("naravard_analysis*.rst"):
        if stale.stem not in modules:
            stale.unlink()
    index = "API reference\n=============\n\nEvery public module, generated from its docstrings.\n\n"
    index += ".. toctree::\n   :maxdepth: 1\n\n" + "".join(f"   {m}\n" for m in sorted(modules))
    if not (out / "index.rst").exists() or (out / "index.rst").read_text() != index:
        (out / "index.rst").write_text(index)


_write_api_pages()
