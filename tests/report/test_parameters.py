"""Notebook parameters are validated before any kernel starts (methods reference §9.2, 9.3)."""

from __future__ import annotations

import pytest

from naravard_analysis.errors import ParameterError
from naravard_analysis.report.parameters import (
    validate_municipality_codes,
    validate_parameters,
    validate_region_code,
)


@pytest.mark.parametrize("code", ["01", "14", "25", "09"])
def test_official_region_codes_pass(code):
    assert validate_region_code(code) == code


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (14, r"region_code must be a two-digit zero-padded string such as '14' or '01', got the integer 14"),
        ("1", r"must be one of the 21 region codes \(01, 03, .*\), got '1'; did you mean '01'\?"),
        ("0114", r"got '0114'; that looks like a municipality code \(4 digits\); regions have 2"),
        ("02", r"must be one of the 21 region codes .* got '02'$"),
        (1.0, r"got the float 1.0"),
    ],
)
def test_bad_region_codes_say_what_was_expected(value, message):
    with pytest.raises(ParameterError, match=message):
        validate_region_code(value)


def test_municipality_codes():
    assert validate_municipality_codes(["1480", "1401"], region_code="14") == ["1480", "1401"]
    assert validate_municipality_codes(None) == []
    with pytest.raises(ParameterError, match="YAML reads 0114 as an octal number"):
        validate_municipality_codes([76])
    with pytest.raises(ParameterError, match="municipality '0114' lies in region 01, not 14"):
        validate_municipality_codes(["0114"], region_code="14")


def test_unknown_parameter_is_an_error(tmp_path):
    with pytest.raises(ParameterError, match=r"unknown parameter\(s\) 'regoin'; the notebook declares region_code, language"):
        validate_parameters({"regoin": "01"}, declared=["region_code", "language"])


def test_other_standard_parameters(tmp_path):
    with pytest.raises(ParameterError, match="language must be 'sv' or 'en', got 'de'"):
        validate_parameters({"language": "de"})
    with pytest.raises(ParameterError, match="min_count must be an integer >= 1, got 0"):
        validate_parameters({"min_count": 0})
    with pytest.raises(ParameterError, match="data_dir '.*missing' does not exist; create a synthetic world"):
        validate_parameters({"data_dir": str(tmp_path / "missing")})
    assert validate_parameters({"data_dir": str(tmp_path)})["data_dir"] == str(tmp_path)
