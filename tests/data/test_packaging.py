"""The built wheel works on its own: reference data are package data, found without the checkout.

A wheel is built from a copy of the package sources (``pyproject.toml``, ``README.md`` and
``naravard_analysis/`` only, so nothing else in the checkout can help), installed with ``--no-deps``
into a fresh virtual environment whose only other import path is the test interpreter's
site-packages (the third-party dependencies; ``.pth`` files there -- such as the editable install's
import hook -- are not processed for a path listed in a ``.pth`` file). ``naravard synth`` then runs
from a folder outside the checkout. This runs in CI with the default tests (about 15-30 s).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 300


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(
        REPO / "naravard_analysis",
        src / "naravard_analysis",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    dist = tmp_path_factory.mktemp("dist")
    # pip's isolated build installs the build-system requirements (setuptools, wheel) from its cache.
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)],
        cwd=src,
    )
    (whl,) = dist.glob("naravard_analysis-*.whl")
    return whl


def test_wheel_holds_reference_data_with_provenance(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    ref = "naravard_analysis/data/reference/"
    for needed in (
        "sweden-codes/municipalities.csv",
        "sweden-codes/PROVENANCE.md",
        "scb-population/SCB_alderkon.csv.gz",
        "scb-population/sweden.popn.rda",
        "scb-population/PROVENANCE.md",
        "scb-deaths/PROVENANCE.md",
        "oppna-jamforelser/Datalista-En-god-vard.csv.gz",
        "sicily/sicily.csv",
        "did/mpdta.csv",
        "CALIBRATION.md",
    ):
        assert ref + needed in names, needed
    # every shipped data folder keeps its provenance beside the data
    folders = {n[len(ref):].split("/")[0] for n in names if n.startswith(ref) and n.count("/") > 3}
    assert folders and all(f"{ref}{f}/PROVENANCE.md" in names for f in folders), folders


def test_wheel_install_runs_synth_outside_the_checkout(wheel, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    py = venv / "bin" / "python"
    _run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index",
         "-q", str(wheel)],
        cwd=tmp_path,
    )
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=tmp_path).strip())
    # the dependencies come from the test interpreter; its editable hook is not loaded this way
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NARAVARD_REFERENCE_DIR")}
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _run([str(py), "-c", "import naravard_analysis, sys; print(naravard_analysis.__file__)"],
                 cwd=work, env=env)
    assert Path(where.strip()).is_relative_to(venv), where
    out = work / "world"
    _run(
        [str(venv / "bin" / "naravard"), "synth", "--preset", "demo", "--n-persons", "1500",
         "--seed", "3", "--out", str(out)],
        cwd=work,
        env=env,
    )
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["tables"], manifest
    # the official-statistics readers find their files in the installed package
    n = _run([str(py), "-c", "from naravard_analysis.data import official; "
              "print(len(official.municipalities()), official.reference_dir())"], cwd=work, env=env)
    count, ref = n.split()
    assert int(count) == 290 and Path(ref).is_relative_to(venv)
