"""Personnummer recognition and pseudonymisation.

Check digits below were computed by hand with the Luhn rule of methods reference §8.5:
811218-987?: digits 8 1 1 2 1 8 9 8 7 times 2 1 2 1 2 1 2 1 2 -> 16 1 2 2 2 8 18 8 14;
digit sum 1+6+1+2+2+2+8+1+8+8+1+4 = 44 -> C = (10 - 4) % 10 = 6.
Samordningsnummer 811278-987?: day 78 = 18 + 60; 8 1 1 2 7 8 9 8 7 -> 16 1 2 2 14 8 18 8 14;
digit sum 1+6+1+2+2+1+4+8+1+8+8+1+4 = 47 -> C = 3.
"""

from __future__ import annotations

import calendar

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from naravard_analysis.data.identifiers import (
    classify_identifiers,
    find_identifier_columns,
    identifier_report,
    is_personnummer,
    luhn_check_digit,
    pseudonymise,
)
from naravard_analysis.errors import ParameterError


def test_hand_computed_check_digits():
    assert luhn_check_digit("811218987") == 6
    assert luhn_check_digit("811278987") == 3


def test_forms_of_a_valid_number():
    for form in ["811218-9876", "8112189876", "19811218-9876", "198112189876", "811218+9876"]:
        assert is_personnummer(form), form


def test_invalid_numbers():
    assert not is_personnummer("811218-9875")  # wrong check digit
    assert not is_personnummer("811318-9876")  # month 13
    assert not is_personnummer("17811218-9876")  # century 17
    assert not is_personnummer("12345")
    assert not is_personnummer(None)


def test_classification_of_each_kind():
    got = classify_identifiers(["811218-9876", "811278-9873", "811218-9875", "19AB1218CD56"]).tolist()
    assert got == ["pnr", "snr", "invalid", "reserve"]


def test_integers_with_a_lost_leading_zero_are_recognised():
    # 050101-???? written as an integer loses its leading zero: 501011234 has 9 digits.
    ten = "050101123"
    number = int(ten + str(luhn_check_digit(ten)))
    assert is_personnummer(number)


def test_vectorised_form_returns_array():
    out = is_personnummer(pd.Series(["811218-9876", "x", "811278-9873"]))
    assert isinstance(out, np.ndarray)
    assert out.tolist() == [True, False, True]


def test_find_identifier_columns():
    df = pd.DataFrame(
        {
            "pnr": ["19811218-9876", "811278-9873", None],
            "lopnr": [1, 2, 3],
            "ids_as_int": [8112189876, 8112789873, 8112189876],
            "diagnosis": ["I500", "J441", "E119"],
        }
    )
    assert find_identifier_columns(df) == ["pnr", "ids_as_int"]


def test_random_ten_digit_ids_are_not_flagged():
    rng = np.random.default_rng(1)
    ids = rng.integers(10**9, 10**10 - 1, size=5000)
    assert find_identifier_columns(pd.DataFrame({"lopnr": ids})) == []


def test_pseudonymise_is_stable_keyed_and_form_independent():
    a = pseudonymise(["811218-9876", "19811218-9876", 8112189876], key="k3y-for-tests-0123")
    assert a.nunique() == 1 and len(a.iloc[0]) == 20
    b = pseudonymise(["811218-9876"], key="another-key-0123456")
    assert b.iloc[0] != a.iloc[0]
    assert not any(is_personnummer(a))


def test_pseudonymise_rejects_short_keys():
    import pytest

    from naravard_analysis.errors import ParameterError

    with pytest.raises(ParameterError, match="at least 16 characters"):
        pseudonymise(["811218-9876"], key="short")


@pytest.mark.parametrize(
    "key", [" " * 16, " " * 40, "k" * 16, "abababababababab", b"\x00" * 32, "  short-key-1  "]
)
def test_pseudonymise_refuses_weak_keys_without_echoing_them(key):
    with pytest.raises(ParameterError, match="pseudonymise: key") as err:
        pseudonymise(["811218-9876"], key=key)
    assert "abab" not in str(err.value) and "kkkk" not in str(err.value)


def test_pseudonymise_keeps_missing_ids_missing():
    key = "a-secret-key-0123"
    got = pseudonymise(pd.Series(["811218-9876", None, None, "", "  ", pd.NA]), key)
    assert got.notna().tolist() == [True, False, False, False, False, False]
    floats = pseudonymise(pd.Series([8112189876.0, np.nan, np.nan]), key)
    assert floats.notna().tolist() == [True, False, False]
    assert floats.iloc[0] == got.iloc[0]
    ints = pseudonymise(pd.Series([8112189876, None], dtype="Int64"), key)
    assert ints.notna().tolist() == [True, False] and ints.iloc[0] == got.iloc[0]


@settings(deadline=None, max_examples=100)
@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_exactly_one_check_digit_is_valid(nine):
    month, day = int(nine[2:4]), int(nine[4:6])
    # Two-digit years have no century, so 29 February is always accepted (leap year 2000).
    dim = calendar.monthrange(2000, month)[1] if 1 <= month <= 12 else 0
    valid_date = dim > 0 and (1 <= day <= dim or 61 <= day <= 60 + dim)
    hits = is_personnummer([nine + str(c) for c in range(10)]).tolist()
    assert sum(hits) == (1 if valid_date else 0)
    if valid_date:
        assert hits.index(True) == luhn_check_digit(nine)


def test_contains_personnummer_in_text_and_with_a_space():
    from naravard_analysis.data.identifiers import contains_personnummer

    values = [
        "ring 811218-9876 imorgon",  # inside free text, with a hyphen
        "811218 9876",  # the whole value, with a space
        "pat. 19811218-9876.",  # 12 digits with a hyphen, punctuation around
        "remiss 198112189876",  # 12 digits starting 19
        "order 8112189876",  # 10 bare digits inside text: too common to flag
        "811218-9875",  # wrong check digit
        "tel 0701234567 8112189876123",  # longer digit runs are not numbers of this kind
        None,
    ]
    assert contains_personnummer(values).tolist() == [True, True, True, True, False, False, False, False]
    assert is_personnummer("811218 9876")
    report = identifier_report(pd.DataFrame({"note": ["ok", values[0], "x"], "n": [1, 2, 3]}))
    assert report == {"note": 1}
