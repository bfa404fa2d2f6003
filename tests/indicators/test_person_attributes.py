"""Tests of the person-attribute join (age at the event, sex, residence)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from naravard_analysis.errors import ParameterError, SchemaError
from naravard_analysis.indicators.continuity import continuity_indices, kontinuitetsindex
from naravard_analysis.indicators.person_attributes import age_at, with_person_attributes


def _persons():
    return pd.DataFrame(
        {
            "person_id": [1, 2, 3],
            "sex": ["F", "M", "F"],
            "birth_date": pd.to_datetime(["1960-02-29", "1940-12-31", "2000-01-01"]),
            "municipality_code": ["1480", "1401", "1480"],
            "region_code": ["14", "14", "14"],
        }
    )


def test_age_at_birthdays_and_leap_days_by_hand():
    birth = pd.Series(pd.to_datetime(["1960-02-29"] * 3 + ["1940-12-31", None]))
    at = pd.Series(pd.to_datetime(["2023-02-28", "2023-03-01", "2024-02-29", "2020-12-30", "2020-01-01"]))
    # 29 Feb birthdays complete a year on 1 March in common years; a missing birth stays missing
    assert age_at(birth, at).tolist() == [62, 63, 64, 79, pd.NA]


@settings(max_examples=200, deadline=None)
@given(
    st.dates(min_value=pd.Timestamp("1900-01-01").date(), max_value=pd.Timestamp("2030-12-31").date()),
    st.dates(min_value=pd.Timestamp("1900-01-01").date(), max_value=pd.Timestamp("2030-12-31").date()),
)
def test_age_at_equals_the_calendar_definition(birth, at):
    """Reference: count the birthdays passed, one calendar year at a time."""
    if at < birth:
        birth, at = at, birth
    expected = at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))
    got = age_at(pd.Series(pd.to_datetime([birth])), pd.Series(pd.to_datetime([at])))
    assert got.iloc[0] == expected


def test_join_keeps_rows_order_and_index_and_adds_attributes():
    ev = pd.DataFrame(
        {"person_id": [3, 1, 1, 2], "admission_date": pd.to_datetime(
            ["2020-06-01", "2023-02-28", "2023-03-01", "2020-12-31"])},
        index=[10, 11, 12, 13],
    )
    out = with_person_attributes(ev, _persons(), date="admission_date")
    assert list(out.index) == [10, 11, 12, 13]
    assert out["age"].tolist() == [20, 62, 63, 80]
    assert out["sex"].tolist() == ["F", "F", "F", "M"]
    assert out["municipality_code"].tolist() == ["1480", "1480", "1480", "1401"]
    assert "age" not in ev.columns  # input untouched
    only = with_person_attributes(ev, _persons(), date="admission_date", attributes="sex")
    assert list(only.columns) == ["person_id", "admission_date", "sex"]


def test_join_errors_name_table_column_and_count():
    ev = pd.DataFrame({"person_id": [1, 9, 9], "contact_date": pd.to_datetime(["2020-01-01"] * 3)})
    with pytest.raises(SchemaError, match="contacts.person_id.*person not in the persons table") as e:
        with_person_attributes(ev, _persons(), date="contact_date", table="contacts")
    assert e.value.n_rows == 2
    with pytest.raises(ParameterError, match=r"unknown \['kommun'\]; valid values"):
        with_person_attributes(ev, _persons(), date="contact_date", attributes=["kommun"])
    with pytest.raises(ParameterError, match="already has column"):
        with_person_attributes(ev.assign(sex="F"), _persons(), date="contact_date")


def test_continuity_by_municipality_hints_the_join_and_works_after_it():
    contacts = pd.DataFrame(
        {
            "person_id": [1, 1, 2, 2, 2],
            "contact_date": pd.to_datetime(
                ["2020-01-01", "2020-02-01", "2020-01-01", "2020-02-01", "2020-03-01"]
            ),
            "provider_id": ["A", "A", "B", "C", "B"],
            "profession": "physician",
            "unit_id": "U",
            "care_level": "primary",
            "mode": "physical",
        }
    )
    with pytest.raises(ParameterError, match="contacts carry no.*with_person_attributes"):
        continuity_indices(contacts, by="municipality_code")
    with pytest.raises(ParameterError, match="with_person_attributes"):
        kontinuitetsindex(contacts, baseline_year=2020, by="municipality_code", ci=None)
    joined = with_person_attributes(contacts, _persons(), date="contact_date")
    out = continuity_indices(joined, by="municipality_code").set_index("municipality_code")
    assert out.loc["1480", "coc"] == pytest.approx(1.0)
    assert out.loc["1401", "coc"] == pytest.approx((4 + 1 - 3) / 6)
    assert np.isfinite(out["coc"]).all()
