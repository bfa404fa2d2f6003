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
exclude_patterns = ["_build", "**.ipynb_checkpoints", "tutorials/sources"]
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

# Tutorials are the topic notebooks, executed by the package's own Papermill runner on the demo
# world before Sphinx reads them (below), so myst-nb only renders them.
# NARAVARD_DOCS_EXECUTE=off copies them unexecuted (for drafting text only).
nb_execution_mode = "off"
EXECUTE = os.environ.get("NARAVARD_DOCS_EXECUTE", "on") != "off"

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


#: Tutorial page name -> topic notebook in notebooks/ (the notebooks stay the source).
TUTORIALS = {
    "regional-report-notebook": "regional_report",
    "patientregistret-extract": "05_patientregistret_extract",
    "its-of-a-reform": "40_interrupted_time_series",
    "evaluating-a-mobile-team": "50_mobile_teams",
    "reproducing-a-paper": "../docs/tutorials/sources/reproducing-a-paper",
}


def _demo_world(folder: Path) -> Path:
    """The synthetic demo world of the tutorials (region 14, seed 0), generated once per build."""
    if not (folder / "manifest.json").exists():
        from naravard_analysis.data.synthetic import make_world

        make_world("demo", region="14", seed=0).to_dir(folder)
    return folder


def _prepare_tutorials() -> None:
    """Execute each tutorial notebook on the demo world into ``tutorials/_executed``."""
    import shutil

    # The tutorials run on synthetic data, so their figures are shown inline (batch runs on real
    # data keep executed notebooks free of pixels; see report.pipeline.FIGURES_INLINE_ENV).
    os.environ["NARAVARD_FIGURES_INLINE"] = "1"

    from naravard_analysis.report.pipeline import notebook_parameters, run_notebook

    target = DOCS / "tutorials" / "_executed"
    target.mkdir(parents=True, exist_ok=True)
    build = DOCS / "_build"
    data = _demo_world(build / "demo-data") if EXECUTE else None
    for page, stem in TUTORIALS.items():
        source = DOCS.parent / "notebooks" / f"{stem}.ipynb"
        page_path = target / f"{page}.ipynb"
        if not EXECUTE:
            shutil.copyfile(source, page_path)
            _ensure_title(page_path, page)
            continue
        declared = notebook_parameters(source)
        params = {"data_dir": str(data), "output_dir": str(build / "tutorial-outputs" / page)}
        params = {k: v for k, v in params.items() if k in declared}
        run_notebook(source, page_path, params, timeout=900)
        _ensure_title(page_path, page)


#: Titles for notebooks whose first cell is not a level-1 heading (the report notebook renders its
#: text from the library, so it starts with code).
TITLES = {"regional-report-notebook": "The regional report notebook, executed"}


def _ensure_title(path: Path, page: str) -> None:
    """Give a rendered notebook a page title when its first cell has none."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0] if nb.cells else None
    if first is not None and first.cell_type == "markdown" and first.source.lstrip().startswith("# "):
        return
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(f"# {TITLES.get(page, page)}"))
    nbformat.write(nb, path)


_write_api_pages()
_prepare_tutorials()
