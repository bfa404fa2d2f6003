"""The documentation site builds with no warning, and every "§" the code cites exists in it.

The build is the one ``make docs`` runs (Sphinx, warnings as errors): it generates the API pages
from the modules, executes the tutorial notebooks on the demo world and renders the methods
reference. Doctests of the package run separately (``--doctest-modules`` in pytest's options).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
METHODS = ROOT / "docs" / "methods"
#: "methods reference §3.1", "§3.1", "§§3.2-3.3" ... as cited in code, tests, notebooks and docs.
SECTION = re.compile(r"§+\s?(\d+(?:\.\d+)?)(?:\s?[-–]\s?(\d+(?:\.\d+)?))?")
SEARCHED = ("naravard_analysis", "tests", "notebooks", "docs", "papers", "benchmarks", "data")


def _headings() -> set[str]:
    """Section numbers of the methods reference: "# 3. Title" -> "3", "## 3.1 Title" -> "3.1"."""
    found = set()
    for page in METHODS.glob("*.md"):
        for line in page.read_text(encoding="utf-8").splitlines():
            m = re.match(r"#{1,2} (\d+)(?:\.(\d+))?\.?\s", line)
            if m:
                found.add(m.group(1) if m.group(2) is None else f"{m.group(1)}.{m.group(2)}")
    return found


def _citations() -> dict[str, set[str]]:
    cited: dict[str, set[str]] = {}
    for folder in SEARCHED:
        for path in (ROOT / folder).rglob("*"):
            if path.suffix not in (".py", ".md", ".ipynb", ".yaml", ".csv") or "_build" in path.parts:
                continue
            if "_executed" in path.parts or path == Path(__file__):
                continue
            text = path.read_text(encoding="utf-8", errors="ignore")
            for m in SECTION.finditer(text):
                for number in (m.group(1), m.group(2)):
                    if number:
                        cited.setdefault(number, set()).add(str(path.relative_to(ROOT)))
    return cited


def test_every_cited_section_exists_in_the_methods_reference():
    headings = _headings()
    assert {"1.2", "2.4", "3.1", "4.2", "5.2", "6.3", "7.3", "8.7", "9.2"} <= headings
    missing = {n: sorted(files)[:3] for n, files in _citations().items() if n not in headings}
    assert not missing, f"sections cited but absent from docs/methods: {missing}"


def test_no_reference_to_files_outside_the_repository():
    pattern = re.compile(r"DEFINITIONS\.md|DESIGN\.md|\.\./shared")
    offenders = []
    for folder in SEARCHED:
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".md", ".ipynb", ".yaml") and "_build" not in path.parts:
                if "_executed" in path.parts or path == Path(__file__):
                    continue
                if pattern.search(path.read_text(encoding="utf-8", errors="ignore")):
                    offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, offenders


@pytest.mark.skipif(shutil.which("sphinx-build") is None and not Path(sys.executable).with_name(
    "sphinx-build").exists(), reason="sphinx not installed (pip install -e '.[dev]')")
def test_site_builds_without_warnings(tmp_path):
    sphinx = Path(sys.executable).with_name("sphinx-build")
    run = subprocess.run(
        [str(sphinx), "-W", "--keep-going", "-q", "-b", "html", str(ROOT / "docs"), str(tmp_path)],
        capture_output=True, text=True, timeout=1800, cwd=ROOT,
    )
    problems = [ln for ln in run.stderr.splitlines() if "WARNING" in ln or "ERROR" in ln]
    problems = [ln for ln in problems if "IPKernelApp" not in ln]
    assert run.returncode == 0 and not problems, "\n".join(problems or run.stderr.splitlines()[-30:])
    assert (tmp_path / "methods" / "readmission.html").exists()
    assert (tmp_path / "tutorials" / "_executed" / "evaluating-a-mobile-team.html").exists()
