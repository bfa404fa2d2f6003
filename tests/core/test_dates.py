"""Day numbers, the civil calendar and ages, against Python's datetime and numpy's calendar."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from naravard_analysis.core.dates import (
    NAT_DAY,
    as_datetime,
    civil,
    completed_years,
    day_numbers,
    ymd,
)
from naravard_analysis.errors import SchemaError

days = st.integers(-80_000, 80_000)  # 1750 .. 2189


@settings(max_examples=200, deadline=None)
@given(st.lists(days, min_size=1, max_size=50))
def test_calendar_equals_python_datetime(values):
    arr = np.array(values, dtype=np.int64)
    expected = [dt.date(1970, 1, 1) + dt.timedelta(days=v) for v in values]
    y, m, d = civil(arr)
    assert list(zip(y.tolist(), m.tolist(), d.tolist(), strict=True)) == [
        (e.year, e.month, e.day) for e in expected
    ]
    keys = [e.year * 10000 + e.month * 100 + e.day for e in expected]
    assert ymd(arr).tolist() == keys  # table path (narrow range) or direct path
    assert ymd(arr.astype(np.int32), np.int32).tolist() == keys


def test_ymd_wide_range_and_missing():
    arr = np.array([-700_000, 0, NAT_DAY, 700_000], dtype=np.int64)  # wider than the table
    y, m, d = civil(np.array([-700_000, 700_000]))
    assert ymd(arr).tolist() == [
        y[0] * 10000 + m[0] * 100 + d[0], 19700101, 0, y[1] * 10000 + m[1] * 100 + d[1]
    ]


@settings(max_examples=200, deadline=None)
@given(days, days)
def test_completed_years_equals_the_birthday_rule(b, a):
    birth = dt.date(1970, 1, 1) + dt.timedelta(days=b)
    at = dt.date(1970, 1, 1) + dt.timedelta(days=a)
    # Birthday reached on the same month and day; 29 February reached on 1 March otherwise.
    expected = at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))
    got = completed_years(ymd(np.array([a])), ymd(np.array([b])))
    assert int(got[0]) == expected


def test_leap_day_birthday():
    birth = ymd(day_numbers(pd.Series(pd.to_datetime(["1960-02-29"]))))
    at = ymd(day_numbers(pd.Series(pd.to_datetime(["2024-02-28", "2023-02-28", "2023-03-01"]))))
    assert completed_years(at, birth).tolist() == [63, 62, 63]


def test_day_numbers_inputs():
    ts = pd.to_datetime(["1969-12-31 23:59", "1970-01-01 00:00", None, "2024-02-29 12:00"])
    expected = [-1, 0, NAT_DAY, 19782]
    assert day_numbers(pd.Series(ts)).tolist() == expected
    assert day_numbers(ts.to_numpy()).tolist() == expected
    assert day_numbers(pd.Series(["1969-12-31", "1970-01-01", None, "2024-02-29"])).tolist() == expected
    assert day_numbers(pd.Series(ts).astype("datetime64[s]")).tolist() == expected
    assert as_datetime(np.array([19782])).astype("datetime64[D]").tolist() == [dt.date(2024, 2, 29)]
    with pytest.raises(SchemaError, match="admission_date"):
        day_numbers(pd.Series(["not a date"]), "admissions", "admission_date")
