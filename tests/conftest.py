"""Shared fixtures: a tiny hand-built bundle, and the demo synthetic world (built once per run)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

# Figures render without a screen in tests and CI.
os.environ.setdefault("MPLBACKEND", "Agg")


def tiny_tables() -> dict[str, pd.DataFrame]:
    """Three persons, four stays, five contacts: small enough to check by eye."""
    persons = pd.DataFrame(
        {
            "person_id": [1, 2, 3],
            "sex": ["F", "M", "F"],
            "birth_date": ["1940-05-01", "1952-11-30", "1985-02-14"],
            "region_code": ["14", "14", "14"],
            "municipality_code": ["1480", "1401", "1480"],
            "death_date": [None, "2021-03-02", None],
        }
    )
    admissions = pd.DataFrame(
        {
            "person_id": [1, 1, 2, 3],
            "admission_date": ["2020-01-03", "2020-02-10", "2021-02-20", "2020-01-15"],
            "discharge_date": ["2020-01-08", "2020-02-12", "2021-03-02", "2020-01-15"],
            "main_diagnosis": ["I500", "J441", "J189", "O800"],
            "other_diagnoses": ["E119 I10", "", "I500", ""],
            "planned": [False, False, False, True],
            "hospital_id": ["SU", "SU", "NAL", "SU"],
            "department": ["101", "101", "101", "451"],
            "admitted_from": ["home", "home", "special_housing", "home"],
            "discharge_to": ["home", "home", "died", "home"],
        }
    )
    contacts = pd.DataFrame(
        {
            "person_id": [1, 1, 1, 2, 3],
            "contact_date": ["2020-01-20", "2020-03-01", "2020-05-05", "2020-06-01", "2020-06-02"],
            "provider_id": ["D1", "D1", "N1", "D2", "D3"],
            "profession": ["physician", "physician", "nurse", "physician", "physician"],
            "unit_id": ["VC1", "VC1", "VC1", "VC2", "VC1"],
            "care_level": ["primary"] * 5,
            "mode": ["physical", "phone", "physical", "video", "physical"],
            "planned": [True, True, None, False, True],
        }
    )
    return {"persons": persons, "admissions": admissions, "contacts": contacts}


@pytest.fixture
def tiny():
    return {k: v.copy() for k, v in tiny_tables().items()}


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """The demo synthetic world written to disk once per test run."""
    from naravard_analysis.data.synthetic import make_world

    out = tmp_path_factory.mktemp("demo")
    make_world("demo", region="14", seed=0).to_dir(out)
    return out


@pytest.fixture(scope="session")
def regional_report_run(demo_dir, tmp_path_factory):
    """The regional report for region 14 on the demo world, run once through the batch runner."""
    from naravard_analysis.report.batch import run_reports

    out = tmp_path_factory.mktemp("reports")
    summary = run_reports("14", data=demo_dir, out=out, jobs=1, progress=False)
    return summary, out
