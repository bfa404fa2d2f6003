"""Tests of kontinuitetsindex (§1.9) and regular_doctor_rule (§1.10); hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from naravard_analysis.errors import DataWarning, ParameterError
from naravard_analysis.indicators.continuity import (
    TARGETS,
    kontinuitetsindex,
    regular_doctor_rule,
)


def _rows(person, providers, start, profession="physician", mode="physical"):
    return [
        {
            "person_id": person,
            "contact_date": pd.Timestamp(start) + pd.Timedelta(days=i),
            "provider_id": p,
            "profession": profession,
            "mode": mode,
            "care_level": "primary",
            "unit_id": "U1",
        }
        for i, p in enumerate(providers)
    ]


def _kont_contacts():
    rows = (
        _rows(1, "AB", "2019-02-01")  # 2019 physician COC 0
        + _rows(2, "AA", "2019-03-01")  # 2019 physician COC 1 -> mean 0.5
        + _rows(1, "AA", "2020-02-01")  # 2020 COC 1
        + _rows(2, "AAB", "2020-03-01")  # 2020 COC (4+1-3)/6 = 1/3 -> mean 2/3
        + _rows(1, "N", "2020-05-01", profession="nurse")  # all staff: person 1 2020 = A A N
    )
    return pd.DataFrame(rows)


def test_kontinuitetsindex_relative_change_and_target():
    out = kontinuitetsindex(_kont_contacts(), baseline_year=2019, ci=None)
    phys = out.loc[out["staff"] == "physician"].set_index("year")
    assert phys.loc[2019, "coc"] == pytest.approx(0.5)
    assert phys.loc[2020, "coc"] == pytest.approx((1 + 1 / 3) / 2)
    # relative change 2020: (2/3)/(1/2) - 1 = 1/3 >= 0.20
    assert phys.loc[2020, "relative_change"] == pytest.approx(1 / 3)
    assert bool(phys.loc[2020, "target_met"]) and phys.loc[2019, "relative_change"] == 0
    assert bool(phys.loc[2020, "target_verified"])
    allst = out.loc[out["staff"] == "all"].set_index("year")
    # all staff 2020: person 1 A A N: (4+1-3)/6 = 1/3; person 2: 1/3 -> mean 1/3; vs 0.5: -1/3
    assert allst.loc[2020, "coc"] == pytest.approx(1 / 3)
    assert allst.loc[2020, "relative_change"] == pytest.approx(-1 / 3)
    assert not bool(allst.loc[2020, "target_met"])
    assert not bool(allst.loc[2020, "target_verified"])  # all-staff target is unverified
    assert TARGETS["coc_all_staff"].verified is False
    assert "baseline year" in out.attrs["unverified"]


def test_kontinuitetsindex_pooled_and_missing_baseline():
    out = kontinuitetsindex(
        _kont_contacts(), baseline_year=2019, staff="physician", method="pooled", ci=None
    ).set_index("year")
    # 2019 pooled: (0 + 2)/(2 + 2) = 0.5; 2020: (2 + 2)/(2 + 6) = 0.5
    assert out.loc[2020, "coc"] == pytest.approx(0.5)
    assert out.loc[2020, "relative_change"] == pytest.approx(0.0)
    with pytest.warns(DataWarning, match="baseline_year 2015"):
        miss = kontinuitetsindex(_kont_contacts(), baseline_year=2015, ci=None)
    assert miss["relative_change"].isna().all() and miss["target_met"].isna().all()
    with pytest.raises(ParameterError, match="staff"):
        kontinuitetsindex(_kont_contacts(), baseline_year=2019, staff="doctors")


def test_kontinuitetsindex_by_unit():
    c = _kont_contacts()
    c.loc[c["person_id"] == 2, "unit_id"] = "U2"
    out = kontinuitetsindex(c, baseline_year=2019, by="unit_id", staff="physician", ci=None)
    u1 = out.loc[out["unit_id"] == "U1"].set_index("year")
    assert u1.loc[2019, "coc"] == 0.0 and u1.loc[2020, "coc"] == 1.0
    assert u1.loc[2020, "relative_change"] == np.inf  # from 0 at baseline
    assert list(out.columns[:3]) == ["staff", "unit_id", "year"]


def _rule_contacts():
    rows = (
        _rows(1, "AAB", "2023-01-01")  # N = 3: not eligible (needs > 3)
        + _rows(2, "AABB", "2023-01-01")  # N = 4, m/N = 0.5 exactly: does not qualify (strict)
        + _rows(3, "AAAB", "2023-01-01")  # 0.75: qualifies
        + _rows(4, "AABBA", "2023-01-01")  # 3/5 = 0.6: qualifies
        + _rows(5, "AAAA", "2023-01-01", mode="video")  # video: not counted -> N = 0
    )
    return pd.DataFrame(rows)


def test_regular_doctor_rule_strict_thresholds():
    c = _rule_contacts()
    out = regular_doctor_rule(c).iloc[0]
    assert (out["n_persons"], out["n_eligible"], out["n_meeting"]) == (5, 3, 2)
    assert out["share_meeting"] == pytest.approx(2 / 3)
    per = regular_doctor_rule(c, persons=True).set_index("person_id")
    assert list(per["eligible"]) == [False, True, True, True, False]
    assert list(per["meets_rule"]) == [False, False, True, True, False]
    assert per.loc[4, "usual_share"] == pytest.approx(0.6)
    # share = 0.6 is strict too: person 4 (exactly 3/5) no longer qualifies
    assert regular_doctor_rule(c, share=0.6).iloc[0]["n_meeting"] == 1
    # counting video as well makes person 5 eligible and meeting (4/4)
    allm = regular_doctor_rule(c, modes=None).iloc[0]
    assert (allm["n_eligible"], allm["n_meeting"]) == (4, 3)
    assert regular_doctor_rule(c, persons=True).attrs["verified"] is False


def test_regular_doctor_rule_by_unit_and_nobody_eligible():
    c = _rule_contacts()
    c["unit_id"] = np.where(c["person_id"] <= 2, "U1", "U2")
    out = regular_doctor_rule(c, by="unit_id").set_index("unit_id")
    assert out.loc["U1", "n_eligible"] == 1 and out.loc["U1", "share_meeting"] == 0.0
    assert out.loc["U2", "share_meeting"] == pytest.approx(1.0)
    none = regular_doctor_rule(c, min_visits=10).iloc[0]
    assert none["n_eligible"] == 0 and np.isnan(none["share_meeting"])
    with pytest.raises(ParameterError, match="share"):
        regular_doctor_rule(c, share=1.5)


def test_kontinuitetsindex_unknown_care_level_is_an_error_not_a_baseline_warning():
    with pytest.raises(ParameterError, match=r"care_levels: unknown value.*valid values are"):
        kontinuitetsindex(_kont_contacts(), baseline_year=2019, care_levels="primär", ci=None)
