"""Tests of naravard_analysis.indicators.area_panel (region and municipality panels for synth_did)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from naravard_analysis.data import official
from naravard_analysis.errors import DataWarning, ParameterError
from naravard_analysis.indicators.area_panel import municipality_panel, region_panel


# ------------------------------------------------------------------------------------------------
# Regions (Öppna jämförelser)
# ------------------------------------------------------------------------------------------------
def test_region_panel_330_is_balanced_and_leaves_out_jamtland():
    # Jämtland (23) has no published 2016 value of indicator 330 (see official.oppna_jamforelser)
    with pytest.warns(DataWarning, match="unpublished"):
        p = region_panel(330, treated_regions=["14"], first_treated=2014)
    assert p.attrs["excluded"] == {"23": ["2016"]}
    assert p["region_code"].nunique() == 20 and sorted(p["time"].unique()) == list(range(2012, 2018))
    assert len(p) == 20 * 6 and not p["value"].isna().any()
    vg = p[p["region_code"] == "14"]
    assert vg["treated"].tolist() == [0, 0, 1, 1, 1, 1] and p["treated"].sum() == 4
    oj = official.oppna_jamforelser(330)
    cell = oj.query("level == 'county' and sex == 'all' and region_code == '14' and period == '2017'")
    assert vg.loc[vg["time"] == 2017, "value"].item() == cell["value"].item()


def test_region_panel_526_three_periods():
    p = region_panel(526, treated_regions=["14"], first_treated=2015)
    assert p["region_code"].nunique() == 21 and p.attrs["excluded"] == {}
    assert p.loc[p["region_code"] == "14", "period"].tolist() == ["2008-2011", "2012-2014", "2015-2017"]
    assert p.loc[p["region_code"] == "14", "treated"].tolist() == [0, 0, 1]


def test_region_panel_exclude_and_errors():
    p = region_panel(526, treated_regions=["14"], first_treated=2015, exclude=["12"])
    assert "12" not in set(p["region_code"])
    with pytest.raises(ParameterError, match="not in indicator"):
        region_panel(526, treated_regions=["99"], first_treated=2015)
    with pytest.raises(ParameterError, match="empty"):
        region_panel(526, treated_regions=[], first_treated=2015)


# ------------------------------------------------------------------------------------------------
# Municipalities (register bundle)
# ------------------------------------------------------------------------------------------------
def _bundle() -> SimpleNamespace:
    persons = pd.DataFrame({
        "person_id": [1, 2, 3, 4],
        "municipality_code": ["0001", "0001", "0002", "0003"],
        "birth_date": pd.to_datetime(["1940-06-15", "1960-01-01", "1945-03-01", "1950-01-01"])})
    # person 1 turns 80 on 2020-06-15; person 2 is 60-61 (too young); 3 and 4 are 65+
    admissions = pd.DataFrame({
        "person_id": [1, 1, 2, 3, 3, 3, 4],
        "admission_date": pd.to_datetime(["2019-02-01", "2021-05-01", "2020-01-01", "2019-07-01",
                                          "2020-07-01", "2020-08-01", "2021-01-01"]),
        "planned": [False, False, False, False, True, False, False]})
    population = pd.DataFrame([(m, y, a, n) for m in ("0001", "0002", "0003") for y in (2019, 2020, 2021)
                               for a, n in ((60, 10), (70, 100))],
                              columns=["municipality_code", "year", "age", "population"])
    enrolments = pd.DataFrame({"person_id": [3, 3], "intervention": ["mobile_team"] * 2,
                               "team_id": ["T2", "T2"],
                               "start_date": pd.to_datetime(["2021-03-01", "2021-09-01"])})
    return SimpleNamespace(persons=persons, admissions=admissions, population=population,
                           enrolments=enrolments)


def test_municipality_panel_counts_by_hand():
    p = municipality_panel(_bundle(), min_age=65)
    assert len(p) == 9  # 3 municipalities x 3 years, zero admissions included
    got = p.set_index(["municipality_code", "year"])["admissions"].to_dict()
    # unplanned 65+: person 1 in 2019 and 2021 (0001); person 3 in 2019 and 2020-08 (0002; the
    # 2020-07 stay is planned); person 4 in 2021 (0003); person 2 is under 65
    assert got == {("0001", 2019): 1, ("0001", 2020): 0, ("0001", 2021): 1,
                   ("0002", 2019): 1, ("0002", 2020): 1, ("0002", 2021): 0,
                   ("0003", 2019): 0, ("0003", 2020): 0, ("0003", 2021): 1}
    assert (p["population"] == 100).all() and np.allclose(p["rate"], 10 * p["admissions"])
    t = p.set_index(["municipality_code", "year"])["treated"]
    assert t.loc["0002"].tolist() == [0, 0, 1] and t.loc[["0001", "0003"]].sum() == 0
    assert p.loc[p["municipality_code"] == "0002", "team_start"].iloc[0] == pd.Timestamp("2021-03-01")
    assert p.attrs["excluded"]["below_min_age"] == 1


def test_municipality_panel_leaves_out_starts_without_pre_years():
    b = _bundle()
    b.enrolments.loc[0, "start_date"] = pd.Timestamp("2020-02-01")  # one pre-year only
    with pytest.warns(DataWarning, match="fewer than 2 years"):
        p = municipality_panel(b)
    assert p.attrs["excluded"]["too_few_pre_years"] == ["0002"] and "0002" not in set(p["municipality_code"])
    assert "0002" in set(municipality_panel(b, min_pre_years=1)["municipality_code"])


def test_municipality_panel_on_the_demo_world(demo_dir):
    from naravard_analysis.data import RegisterData

    w = RegisterData.from_dir(demo_dir)
    with pytest.warns(DataWarning):  # a team starting in the first year leaves no pre-years
        p = municipality_panel(w)
    adm = w.admissions[~w.admissions["planned"]].merge(w.persons, on="person_id")
    age = (adm["admission_date"].dt.year - adm["birth_date"].dt.year
           - ((adm["admission_date"].dt.month * 100 + adm["admission_date"].dt.day)
              < (adm["birth_date"].dt.month * 100 + adm["birth_date"].dt.day)).astype(int))
    adm = adm[age >= 65]
    expected = adm.groupby(["municipality_code", adm["admission_date"].dt.year]).size()
    got = p.set_index(["municipality_code", "year"])["admissions"]
    assert (expected.reindex(got.index, fill_value=0) == got).all()
    assert p.groupby("municipality_code").size().nunique() == 1  # balanced
