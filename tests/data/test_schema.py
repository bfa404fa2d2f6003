"""Canonical schema: coercion to canonical dtypes and one clear error per broken rule."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from naravard_analysis.data.schema import STRING_DTYPE, TABLES, empty_table, validate_table
from naravard_analysis.errors import DataWarning, IdentifierError, SchemaError


def test_persons_coerced_to_canonical_dtypes(tiny):
    out = validate_table(tiny["persons"], "persons")
    assert out["person_id"].dtype == np.int64
    assert out["birth_date"].dtype == "datetime64[ns]"
    assert out["region_code"].dtype == STRING_DTYPE
    assert out["death_date"].isna().sum() == 2
    assert out.loc[1, "death_date"] == pd.Timestamp("2021-03-02")


def test_register_dates_as_integers_are_not_epoch_nanoseconds(tiny):
    adm = tiny["admissions"].assign(admission_date=[20200103, 20200210, 20210220, 20200115])
    out = validate_table(adm, "admissions")
    # 20200103 read as epoch nanoseconds would be 1970-01-01 00:00:00.020200103
    assert out["admission_date"].tolist()[0] == pd.Timestamp("2020-01-03")


def test_float_lopnr_becomes_integer(tiny):
    persons = tiny["persons"].assign(person_id=[1.0, 2.0, 3.0])
    assert validate_table(persons, "persons")["person_id"].tolist() == [1, 2, 3]


def test_fractional_float_id_is_an_error(tiny):
    persons = tiny["persons"].assign(person_id=[1.0, 2.5, 3.0])
    with pytest.raises(SchemaError, match=r"persons\.person_id: float id must be a whole number.*1 row breaks it \(row 1\)"):
        validate_table(persons, "persons")


def test_optional_columns_get_defaults(tiny):
    adm = tiny["admissions"].drop(columns=["other_diagnoses", "admitted_from"])
    out = validate_table(adm, "admissions")
    assert out["other_diagnoses"].tolist() == ["", "", "", ""]
    assert out["admitted_from"].eq("home").all()
    assert out["procedures"].eq("").all()


@pytest.mark.parametrize(
    ("table", "change", "message"),
    [
        ("admissions", lambda d: d.drop(columns="main_diagnosis"),
         r"admissions\.main_diagnosis: missing required column"),
        ("admissions", lambda d: d.assign(planned=["yes", "no", "maybe", "no"]),
         r"admissions\.planned: must be boolean .* 1 row breaks it \(row 2\)"),
        ("admissions", lambda d: d.assign(admission_date=["2020-01-03", "2020-02-10", "not a date", "2020-01-15"]),
         r"admissions\.admission_date: cannot be read as a date .* 1 row breaks it \(row 2\)"),
        ("admissions", lambda d: d.assign(discharge_date=["2020-01-01", "2020-02-12", "2021-03-02", "2020-01-14"]),
         r"admissions\.discharge_date: discharge_date must not be before admission_date -- 2 rows break it \(rows 0, 3\)"),
        ("admissions", lambda d: d.assign(admission_date=["1899-12-31", "2020-02-10", "2021-02-20", "2020-01-15"]),
         r"admissions\.admission_date: must lie between 1900-01-01 and today .* \(row 0\)"),
        ("admissions", lambda d: d.assign(discharge_date=["2020-01-08", "2020-02-12", "2099-03-02", "2020-01-15"]),
         r"admissions\.discharge_date: must lie between 1900-01-01 and today .* \(row 2\)"),
        ("admissions", lambda d: d.assign(main_diagnosis=["I50.0", "J441", "j18", "O800"]),
         r"admissions\.main_diagnosis: must be a dotless upper-case ICD-10 code .* 2 rows break it \(rows 0, 2\)"),
        ("admissions", lambda d: d.assign(other_diagnoses=["E119  I10", "", "I500", ""]),
         r"admissions\.other_diagnoses: must be a dotless ICD-10 codes separated by single spaces .* \(row 0\)"),
        ("admissions", lambda d: d.assign(discharge_to=["home", "home", "dead", "home"]),
         r"admissions\.discharge_to: must be one of 'home', 'hospital', 'special_housing', 'died', 'other' .* \(row 2\)"),
        ("admissions", lambda d: pd.concat([d, d.iloc[[1]]]),
         r"admissions: duplicate rows: every row must be unique -- 1 row breaks it \(row 4\)"),
        ("persons", lambda d: d.assign(region_code=["1", "14", "14"]),
         r"persons\.region_code: must be a two-digit zero-padded region code -- 1 row breaks it \(row 0\)"),
        ("persons", lambda d: d.assign(region_code=[14, 14, 14]),
         r"persons\.region_code: must be a zero-padded text code of 2 digits, got numbers"),
        ("persons", lambda d: d.assign(region_code=["02", "14", "14"]),
         r"persons\.region_code: must be a region code of the 21 Swedish regions \(official code list\) -- 1 row"),
        ("persons", lambda d: d.assign(municipality_code=["114", "1401", "1480"]),
         r"persons\.municipality_code: must be a four-digit zero-padded municipality code -- 1 row"),
        ("persons", lambda d: d.assign(sex=["F", "K", "F"]),
         r"persons\.sex: must be one of 'F', 'M' -- 1 row breaks it \(row 1\)"),
        ("persons", lambda d: d.assign(person_id=[1, 1, 3]),
         r"persons: duplicate key \(person_id\): every row must be unique -- 1 row breaks it \(row 1\)"),
        ("persons", lambda d: d.assign(death_date=["1930-01-01", None, None]),
         r"persons\.death_date: death_date must not be before birth_date -- 1 row"),
        ("contacts", lambda d: d.assign(mode=["physical", "fax", "physical", "video", "physical"]),
         r"contacts\.mode: must be one of 'physical', 'video', 'phone' -- 1 row breaks it \(row 1\)"),
    ],
)
def test_each_broken_rule_gives_one_clear_error(tiny, table, change, message):
    with pytest.raises(SchemaError, match=message):
        validate_table(change(tiny[table]), table)


def test_error_names_at_most_five_positions(tiny):
    adm = pd.concat([tiny["admissions"]] * 3, ignore_index=True)
    adm["main_diagnosis"] = "bad"
    adm["admission_date"] = pd.date_range("2020-01-01", periods=len(adm)).astype(str)
    adm["discharge_date"] = adm["admission_date"]
    with pytest.raises(SchemaError) as err:
        validate_table(adm, "admissions")
    assert err.value.n_rows == 12
    assert err.value.examples == [0, 1, 2, 3, 4]
    assert "(rows 0, 1, 2, 3, 4, ...)" in str(err.value)


def test_unknown_extra_column_warns_and_is_kept(tiny):
    with pytest.warns(DataWarning, match=r"persons: 1 unknown column\(s\) kept: ALDER"):
        out = validate_table(tiny["persons"].assign(ALDER=[80, 68, 35]), "persons")
    assert out["ALDER"].tolist() == [80, 68, 35]
    assert list(out.columns[:6]) == list(TABLES["persons"].column_names)


def test_duplicates_can_be_kept_with_a_counted_warning(tiny):
    adm = pd.concat([tiny["admissions"], tiny["admissions"].iloc[[0, 1]]])
    with pytest.warns(DataWarning, match="admissions: 2 duplicate rows kept"):
        out = validate_table(adm, "admissions", duplicates="warn")
    assert len(out) == 6


def test_clear_text_personnummer_is_refused_without_naming_it(tiny):
    persons = tiny["persons"].assign(person_id=["19811218-9876", "811218-9876", "19400501-1238"])
    with pytest.raises(IdentifierError) as err:
        validate_table(persons, "persons")
    msg = str(err.value)
    assert "persons.person_id: holds clear-text personnummer" in msg
    assert "9876" not in msg


def test_empty_table_has_canonical_dtypes():
    empty = empty_table("contacts")
    assert list(empty.columns) == list(TABLES["contacts"].column_names)
    assert validate_table(empty, "contacts").shape == (0, 8)


def test_no_warning_for_clean_table(tiny):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_table(tiny["contacts"], "contacts")
