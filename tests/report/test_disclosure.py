"""Tests of naravard_analysis.report.disclosure (methods reference §8.5, 8.7).

The recoverability checks use an attacker written here, independently of the module: it knows the
table layout (parts and published totals), builds the row/column equations itself and then
(1) solves every equation with exactly one unknown, repeatedly ("subtraction"), and (2) asks
linear algebra whether a hidden cell is determined (its unit vector lies in the row space of the
equations restricted to the hidden cells: rank test with numpy).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from naravard_analysis.data.identifiers import is_personnummer as valid_id
from naravard_analysis.errors import DataWarning, NaravardError, ParameterError
from naravard_analysis.report.disclosure import (
    DisclosureError,
    check_outputs,
    format_suppressed,
    is_count_column,
    sort_by_displayed,
    suppress,
    suppression_note,
)

T = "Totalt"


# ---------------------------------------------------------------------------------------------
# independent attacker
# ---------------------------------------------------------------------------------------------


def margins(tab: np.ndarray) -> np.ndarray:
    """(r+1) x (c+1) table with row totals in the last column and column totals in the last row."""
    r, c = tab.shape
    ext = np.zeros((r + 1, c + 1), dtype=np.int64)
    ext[:r, :c] = tab
    ext[:r, c] = tab.sum(axis=1)
    ext[r, :c] = tab.sum(axis=0)
    ext[r, c] = tab.sum()
    return ext


def equations(shape: tuple[int, int]) -> list[tuple[list[tuple[int, int]], list[int]]]:
    """Published equations of an extended table: each row and column, parts - total = 0."""
    rr, cc = shape
    eqs = []
    for i in range(rr):
        eqs.append(([(i, j) for j in range(cc)], [1] * (cc - 1) + [-1]))
    for j in range(cc):
        eqs.append(([(i, j) for i in range(rr)], [1] * (rr - 1) + [-1]))
    return eqs


def subtraction_attack(ext: np.ndarray, hidden: np.ndarray) -> set[tuple[int, int]]:
    """Cells an attacker recovers by solving equations with one unknown, repeatedly."""
    known = ~hidden
    recovered: set[tuple[int, int]] = set()
    changed = True
    while changed:
        changed = False
        for cells, _ in equations(ext.shape):
            unknown = [x for x in cells if not known[x]]
            if len(unknown) == 1:
                known[unknown[0]] = True
                recovered.add(unknown[0])
                changed = True
    return recovered


def determined_by_algebra(shape: tuple[int, int], hidden: np.ndarray) -> set[tuple[int, int]]:
    """Hidden cells whose value the equations determine (rank test)."""
    u = [tuple(x) for x in np.argwhere(hidden)]
    if not u:
        return set()
    rows = []
    for cells, coefs in equations(shape):
        row = np.zeros(len(u))
        for x, k in zip(cells, coefs, strict=True):
            if x in u:
                row[u.index(x)] = k
        rows.append(row)
    a = np.array(rows)
    base = np.linalg.matrix_rank(a)
    out = set()
    for i, x in enumerate(u):
        e = np.zeros(len(u))
        e[i] = 1
        if np.linalg.matrix_rank(np.vstack([a, e])) == base:
            out.add(x)
    return out


def long_table(tab: np.ndarray, total: str = T) -> pd.DataFrame:
    """Long table region x sex with both margins, labels r0.., c0.. and ``total``."""
    ext = margins(tab)
    r, c = tab.shape
    rows = []
    for i in range(r + 1):
        for j in range(c + 1):
            rows.append(
                {
                    "region": f"r{i}" if i < r else total,
                    "sex": f"c{j}" if j < c else total,
                    "n": int(ext[i, j]),
                }
            )
    return pd.DataFrame(rows)


def hidden_grid(s: pd.DataFrame, shape: tuple[int, int]) -> np.ndarray:
    """Hidden mask of a suppressed long table, in the layout of ``margins``."""
    return s["n"].isna().to_numpy().reshape(shape)


def assert_protected(ext: np.ndarray, hidden: np.ndarray, min_count: int) -> None:
    primary = (ext > 0) & (ext < min_count)
    assert (hidden | ~primary).all(), "a small count is visible"
    for cells, _ in equations(ext.shape):
        k = sum(hidden[x] for x in cells)
        assert k != 1, f"an equation with exactly one hidden cell: {cells}"
    hidden_cells = {tuple(x) for x in np.argwhere(hidden)}
    assert not (subtraction_attack(ext, hidden.copy()) & hidden_cells)
    assert not determined_by_algebra(ext.shape, hidden)


# ---------------------------------------------------------------------------------------------
# suppress: primary and 1-D
# ---------------------------------------------------------------------------------------------


def test_one_dimension_hides_small_count_and_its_complement():
    t = pd.DataFrame({"sex": ["F", "M", T], "n": [3, 40, 43]})
    s = suppress(t, "n")
    assert s["n"].isna().tolist() == [True, True, False]
    assert s["n_suppressed"].tolist() == ["primary", "secondary", ""]
    assert s.attrs["disclosure"]["min_count"] == 5
    assert (s.attrs["disclosure"]["n_primary"], s.attrs["disclosure"]["n_secondary"]) == (1, 1)
    assert list(s.columns) == ["sex", "n", "n_suppressed"]
    assert str(s["n"].dtype) == "Int64"


def test_complement_is_the_next_smallest_positive_non_total_cell():
    # parts 2, 9, 30, 7 with total 48: 2 is primary; the smallest other part is 7.
    t = pd.DataFrame({"k": ["a", "b", "c", "d", "Alla"], "n": [2, 9, 30, 7, 48]})
    s = suppress(t, "n", dims=["k"])
    assert s["n_suppressed"].tolist() == ["primary", "", "", "secondary", ""]


def test_zero_is_not_used_as_complement_and_not_suppressed_by_default():
    # Hiding the 0 next to the 3 would give the 3 back (total 15 - 12 - 0 = 3 is not
    # solvable, but 0 is the only value a non-negative cell of that row could take
    # once the attacker bounds it); the positive 12 is hidden instead.
    t = pd.DataFrame({"k": ["a", "b", "c", T], "n": [3, 0, 12, 15]})
    s = suppress(t, "n")
    assert s["n"].tolist()[1] == 0
    assert s["n_suppressed"].tolist() == ["primary", "", "secondary", ""]


def test_suppress_zero_hides_zero_as_primary():
    t = pd.DataFrame({"k": ["a", "b", "c"], "n": [0, 6, 12]})
    s = suppress(t, "n", suppress_zero=True)
    assert s["n_suppressed"].tolist() == ["primary", "", ""]
    assert suppress(t, "n")["n"].tolist() == [0, 6, 12]


@pytest.mark.parametrize(
    ("min_count", "hidden"),
    [(3, [1, 2]), (5, [1, 2, 3, 4]), (10, [1, 2, 3, 4, 9])],
)
def test_threshold_is_a_parameter(min_count, hidden):
    values = [0, 1, 2, 3, 4, 9, 10, 12]
    t = pd.DataFrame({"k": list("abcdefgh"), "n": values})  # no total: no secondary
    s = suppress(t, "n", min_count=min_count)
    shown = [v for v, h in zip(values, s["n"].isna(), strict=True) if h]
    assert shown == hidden
    assert s.attrs["disclosure"]["min_count"] == min_count


def test_input_is_not_mutated():
    t = pd.DataFrame({"sex": ["F", "M", T], "n": [3, 40, 43], "rate": [0.1, 0.2, 0.15]})
    t.attrs["source"] = "x"
    before = t.copy(deep=True)
    s = suppress(t, "n")
    pd.testing.assert_frame_equal(t, before)
    assert t.attrs == {"source": "x"}
    assert "disclosure" in s.attrs and s.attrs["source"] == "x"


def test_applying_twice_keeps_the_result():
    t = long_table(np.array([[3, 10, 12], [8, 9, 20]]))
    once = suppress(t, "n")
    twice = suppress(once, "n")
    pd.testing.assert_frame_equal(once, twice, check_like=False)


# ---------------------------------------------------------------------------------------------
# suppress: 2-D and recoverability
# ---------------------------------------------------------------------------------------------


def test_two_dimensions_hand_example():
    # 2 x 3 table [[3, 10, 12], [8, 9, 20]]: 3 is primary; column 0 needs a second hidden cell
    # (8, the only non-total part), row 0 needs one (10 < 12), and then row 1 / column 1 each
    # hold one hidden cell, fixed together by hiding 9: the 2 x 2 rectangle 3, 10 / 8, 9.
    tab = np.array([[3, 10, 12], [8, 9, 20]])
    s = suppress(long_table(tab), "n", dims=["region", "sex"])
    hidden = hidden_grid(s, (3, 4))
    expected = np.zeros((3, 4), dtype=bool)
    expected[:2, :2] = True
    np.testing.assert_array_equal(hidden, expected)
    assert s.attrs["disclosure"]["n_secondary"] == 3
    assert_protected(margins(tab), hidden, 5)


@pytest.mark.parametrize("max_block", [1500, 0])  # dense QR audit / iterative (LSQR) audit
def test_bridge_between_two_cycles_is_fixed_by_the_exact_audit(max_block):
    # Each row and column of this hidden pattern holds two hidden cells, yet the cell (2, 2)
    # is a bridge between the cycles {(0,0),(0,1),(1,0),(1,1)} and {(3,3),(3,4),(4,3),(4,4)}
    # ... joined through (1,2)/(2,2)/(2,3): the rank test recovers it unless more is hidden.
    tab = np.array(
        [
            [2, 2, 50, 50, 50],
            [2, 2, 2, 50, 50],
            [50, 50, 2, 2, 50],
            [50, 50, 50, 2, 2],
            [50, 50, 50, 2, 2],
        ]
    )
    ext = margins(tab)
    s = suppress(long_table(tab), "n", max_block=max_block)
    hidden = hidden_grid(s, ext.shape)
    assert_protected(ext, hidden, 5)


@st.composite
def small_tables(draw):
    r = draw(st.integers(1, 4))
    c = draw(st.integers(2, 4))
    vals = draw(st.lists(st.integers(0, 14), min_size=r * c, max_size=r * c))
    return np.array(vals, dtype=np.int64).reshape(r, c)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tab=small_tables(), min_count=st.sampled_from([3, 5, 10]))
def test_property_long_table_no_hidden_cell_recoverable(tab, min_count):
    ext = margins(tab)
    t = long_table(tab)
    s = suppress(t, "n", min_count=min_count)
    hidden = hidden_grid(s, ext.shape)
    assert_protected(ext, hidden, min_count)
    # visible cells keep their value; flags agree with the mask
    shown = ~hidden
    np.testing.assert_array_equal(
        s["n"].to_numpy(dtype=float, na_value=np.nan).reshape(ext.shape)[shown], ext[shown]
    )
    assert ((s["n_suppressed"] != "").to_numpy().reshape(ext.shape) == hidden).all()
    assert s.attrs["disclosure"]["n_primary"] + s.attrs["disclosure"]["n_secondary"] == hidden.sum()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tab=small_tables(), min_count=st.sampled_from([3, 5, 10]))
def test_property_wide_table_no_hidden_cell_recoverable(tab, min_count):
    # Wide: count columns c0.. plus a total column; a total row labelled "Riket".
    ext = margins(tab)
    r, c = tab.shape
    cols = [f"c{j}" for j in range(c)] + [T]
    t = pd.DataFrame(ext, columns=cols)
    t.insert(0, "region", [f"r{i}" for i in range(r)] + ["Riket"])
    s = suppress(t, cols, min_count=min_count, dims=["region"])
    hidden = s[cols].isna().to_numpy()
    assert_protected(ext, hidden, min_count)


@settings(max_examples=30, deadline=None)
@given(
    vals=st.lists(st.integers(0, 14), min_size=1, max_size=8), min_count=st.sampled_from([3, 5, 10])
)
def test_property_one_dimension(vals, min_count):
    t = pd.DataFrame({"k": [f"k{i}" for i in range(len(vals))] + ["Alla"], "n": [*vals, sum(vals)]})
    s = suppress(t, "n", min_count=min_count)
    hidden = s["n"].isna().to_numpy()
    assert hidden.sum() != 1
    if hidden.any():  # total - visible parts must not give one hidden part back
        assert hidden.sum() >= 2
    assert all(h for v, h in zip(t["n"], hidden, strict=True) if 0 < v < min_count)


def test_three_dimensions_with_a_dimension_without_total():
    # year has no total: each year is its own 2-D table; hidden cells of 2024 are protected
    # within 2024, whatever 2023 looks like.
    a = long_table(np.array([[3, 10, 12], [8, 9, 20]])).assign(year=2023)
    b = long_table(np.array([[30, 10, 12], [8, 9, 20]])).assign(year=2024)
    s = suppress(pd.concat([a, b], ignore_index=True), "n")
    assert s.loc[s["year"] == 2024, "n"].notna().all()
    hidden = s.loc[s["year"] == 2023, "n"].isna().to_numpy().reshape(3, 4)
    assert hidden.sum() == 4
    assert_protected(margins(np.array([[3, 10, 12], [8, 9, 20]])), hidden, 5)


def test_total_marked_by_a_relabelling_column_is_recognised():
    # The total row has code "00" (not a total label) but name "Riket": the name is a 1:1
    # relabelling of the code, so the row is still taken as the total.
    t = pd.DataFrame(
        {
            "region_code": ["01", "03", "00"],
            "region_name": ["Stockholm", "Uppsala", "Riket"],
            "n": [2, 50, 52],
        }
    )
    s = suppress(t, "n", dims=["region_code"])
    assert s["n"].isna().tolist() == [True, True, False]


def test_margins_that_do_not_add_up_give_a_warning():
    t = pd.DataFrame({"k": ["a", "b", T], "n": [3, 40, 45]})
    with pytest.warns(DataWarning, match="1 of 1 totals do not equal the sum of their parts"):
        suppress(t, "n")


# ---------------------------------------------------------------------------------------------
# rates
# ---------------------------------------------------------------------------------------------


def test_rates_and_their_intervals_go_with_their_counts():
    t = pd.DataFrame(
        {
            "kommun": ["A", "B", "C", T],
            "events": [2, 9, 30, 41],
            "population": [100, 200, 300, 600],
            "rate": [0.02, 0.045, 0.1, 41 / 600],
            "rate_lower": [0.01, 0.02, 0.07, 0.05],
            "rate_upper": [0.07, 0.08, 0.14, 0.09],
        }
    )
    s = suppress(t, ["events"], rate_cols={"rate": ["events", "population"]}, dims=["kommun"])
    assert s["events_suppressed"].tolist() == ["primary", "secondary", "", ""]
    assert s["rate_suppressed"].tolist() == ["primary", "secondary", "", ""]
    for c in ("rate", "rate_lower", "rate_upper"):
        assert s[c].isna().tolist() == [True, True, False, False], c
    # the visible population and a visible rate would give the hidden count back: both hidden
    assert s.attrs["disclosure"]["n_rates"] == 6
    assert s["population"].tolist() == [100, 200, 300, 600]


def test_rate_hidden_when_denominator_small_although_numerator_is_zero():
    t = pd.DataFrame(
        {"k": ["a", "b"], "events": [0, 7], "population": [3, 900], "share": [0.0, 7 / 900]}
    )
    s = suppress(t, "events", rate_cols={"share": ["events", "population"]})
    assert s["events"].tolist() == [0, 7]
    assert s["share"].isna().tolist() == [True, False]
    assert s["share_suppressed"].tolist() == ["primary", ""]


def test_default_rate_rule_hides_float_columns_in_rows_with_hidden_counts():
    t = pd.DataFrame(
        {"year": [2023, 2024], "n": [3, 60], "mean_age": [71.5, 80.2], "rate": [0.1, 0.2]}
    )
    s = suppress(t, "n")
    assert s["year"].tolist() == [2023, 2024]  # integer column: a dimension, untouched
    assert s["mean_age"].isna().tolist() == [True, False]
    assert s["rate"].isna().tolist() == [True, False]
    assert s.attrs["disclosure"]["rate_cols"] == {"mean_age": ["n"], "rate": ["n"]}


def test_a_ratio_goes_with_counts_the_table_does_not_publish():
    """A before/after ratio of 2/14 = 1/7 beside no count still gives an after-count of 2 away
    (the mobile-team table published it with only n_enrolled = 7 beside it). The events before
    and after are passed as hidden counts: the ratio is hidden where one is small or unknown,
    its interval with it, and the counts themselves are never written."""
    t = pd.DataFrame({"outcome": ["admissions", "ed_visits", "bed_days", "deaths"], "n_enrolled": [7, 7, 7, 7],
                      "ratio": [2 / 14, 30 / 45, 0 / 46, 0.5], "lower": [0.03, 0.4, 0.0, 0.2],
                      "upper": [0.6, 1.1, 0.1, 1.2]})
    hidden = {"before": [14, 45, 46, np.nan], "after": [2, 30, 0, 9]}
    s = suppress(t, "n_enrolled", rate_cols={"ratio": ["n_enrolled", "before", "after"]},
                 hidden_counts=hidden, secondary=False)
    # small (2), shown (30/45), zero is shown as zero counts are, unknown (NaN) cannot be checked
    assert s["ratio_suppressed"].tolist() == ["primary", "", "", "primary"]
    assert s["lower"].isna().tolist() == [True, False, False, True]
    assert s["n_enrolled"].tolist() == [7, 7, 7, 7]
    assert not {"before", "after", "before_suppressed", "after_suppressed"} & set(s.columns)
    assert s.attrs["disclosure"]["hidden_counts"] == ["before", "after"]
    # a DataFrame works as well, and without rate_cols every rate depends on every hidden count
    d = suppress(t.drop(columns=["lower", "upper"]), "n_enrolled", hidden_counts=pd.DataFrame(hidden),
                 secondary=False)
    assert d["ratio_suppressed"].tolist() == ["primary", "", "", "primary"]
    # before the rule the same table showed 1/7
    assert suppress(t, "n_enrolled", rate_cols={"ratio": ["n_enrolled"]}, secondary=False)[
        "ratio"].notna().all()


def test_registry_ties_a_ratio_to_hidden_counts_and_its_interval_only_to_its_rate():
    from naravard_analysis.report.disclosure import DisclosureRegistry

    t = pd.DataFrame({"outcome": ["a", "b"], "n_cases": [40, 40], "naive_ratio": [1 / 7, 0.8],
                      "estimate": [0.9, 1.1], "lower": [0.7, 0.9], "upper": [1.2, 1.3]})
    out = DisclosureRegistry(5).publish(
        "mobile", t, "n_cases", secondary=False,
        rate_cols={"naive_ratio": ["n_cases", "before", "after"], "estimate": ["n_cases"]},
        interval_cols={"lower": "estimate", "upper": "estimate"},
        hidden_counts={"before": [14, 50], "after": [2, 40]})
    assert out["naive_ratio"].isna().tolist() == [True, False]
    # the interval belongs to the estimate: not hidden with the naive ratio
    assert out["lower"].notna().all() and out["estimate"].notna().all()


@pytest.mark.parametrize(
    ("hidden", "message"),
    [
        ({"n": [1, 2]}, r"hidden_counts: 'n' is a column of the table"),
        ({"x": [1, 2, 3]}, r"hidden_counts: 'x' has 3 values for a table of 2 rows"),
        ({"x": [1, -2]}, r"hidden_counts: 'x': counts cannot be negative"),
        ({"x": ["a", "b"]}, r"hidden_counts: 'x' is not numeric"),
        ([1, 2], "hidden_counts must be a DataFrame or a mapping"),
    ],
)
def test_bad_hidden_counts(hidden, message):
    t = pd.DataFrame({"k": ["a", "b"], "n": [30, 90], "rate": [0.1, 0.2]})
    with pytest.raises(ParameterError, match=message):
        suppress(t, "n", rate_cols={"rate": ["n", "x"]} if isinstance(hidden, dict) and "x" in hidden else None,
                 hidden_counts=hidden)


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"count_cols": "antal"}, r"count_cols: column\(s\) \['antal'\] not in the table"),
        ({"count_cols": "n", "min_count": 0}, "min_count must be an integer >= 1"),
        ({"count_cols": "n", "min_count": 2.5}, "min_count must be an integer >= 1"),
        ({"count_cols": "n", "language": "de"}, "language must be one of"),
        (
            {"count_cols": "n", "rate_cols": {"rate": "x"}},
            r"rate_cols: column\(s\) \['rate'\] not in the table",
        ),
        ({"count_cols": "n", "dims": ["n"]}, r"both dims and count_cols"),
    ],
)
def test_bad_parameters(kwargs, message):
    t = pd.DataFrame({"k": ["a", "b"], "n": [3, 9]})
    with pytest.raises(ParameterError, match=message):
        suppress(t, **kwargs)


def test_negative_and_text_counts_are_rejected():
    with pytest.raises(
        ParameterError,
        match=r"count column 'n': counts cannot be negative -- 1 row\(s\) are \(row 1\)",
    ):
        suppress(pd.DataFrame({"n": [3, -1]}), "n")
    with pytest.raises(ParameterError, match="count column 'n' is not numeric"):
        suppress(pd.DataFrame({"n": ["a", "b"]}), "n")


def test_two_totals_for_the_same_cell_are_an_error():
    t = pd.DataFrame({"k": ["a", "Totalt", "Alla"], "n": [3, 3, 3]})
    with pytest.raises(ParameterError, match=r"dimension 'k': 2 rows are labelled as a total"):
        suppress(t, "n")


# ---------------------------------------------------------------------------------------------
# display helpers
# ---------------------------------------------------------------------------------------------


def test_format_suppressed_uses_the_actual_threshold():
    t = pd.DataFrame({"k": ["a", "b", "c", T], "n": [7, 12, 40, 59], "rate": [0.1, 0.2, 0.3, 0.25]})
    s = suppress(t, "n", min_count=10)
    f = format_suppressed(s, "en")
    assert f["n"].tolist() == ["<10", "..", 40, 59]
    assert f["rate"].tolist() == ["..", "..", 0.3, 0.25]  # a hidden rate is not "<10"
    assert "n_suppressed" not in f.columns
    assert "fewer than 10" in f.attrs["disclosure_note"]
    assert "färre än 10" in format_suppressed(s, "sv").attrs["disclosure_note"]
    with pytest.raises(ParameterError, match="needs a table returned by suppress"):
        format_suppressed(t)


def test_suppression_note_languages():
    assert suppression_note(3, "sv").startswith("Värden som bygger på färre än 3")
    assert "'<3'" in suppression_note(3, "en")


def test_sort_by_displayed_does_not_reveal_hidden_order():
    # Rows pre-sorted by the true value (descending): e 4, b 3, d 2 are hidden. After sorting
    # by the displayed value the hidden rows appear in label order b, d, e -- not 4, 3, 2.
    t = pd.DataFrame({"k": ["a", "c", "e", "b", "d"], "n": [40, 9, 4, 3, 2]})
    s = suppress(t, "n")
    out = sort_by_displayed(s, "n")
    assert out["k"].tolist() == ["a", "c", "b", "d", "e"]
    assert sort_by_displayed(s, "n", ascending=True)["k"].tolist() == ["c", "a", "b", "d", "e"]


def test_sort_by_displayed_puts_totals_last():
    t = pd.DataFrame({"k": ["a", "b", T], "n": [10, 30, 40]})
    assert sort_by_displayed(suppress(t, "n"), "n")["k"].tolist() == ["b", "a", T]


# ---------------------------------------------------------------------------------------------
# identity numbers
# ---------------------------------------------------------------------------------------------


def test_identity_number_validator():
    # 811218-9876: Luhn over 8 1 1 2 1 8 9 8 7 with weights 2 1 2 1 ...: digit sums
    # 7+1+2+2+2+8+9+8+5 = 44 -> check (10 - 4) % 10 = 6, the last digit.
    assert valid_id("811218-9876") and valid_id("8112189876") and valid_id("19811218-9876")
    assert valid_id("198112189876") and valid_id("811218+9876")
    assert not valid_id("811218-9875")  # wrong check digit
    # samordningsnummer: day 78 = 18 + 60; sums 7+1+2+2+5+8+9+8+5 = 47 -> check 3
    assert valid_id("811278-9873")
    assert not valid_id("811338-9871")  # month 13
    # same digits, other year: 8 2 1 2 1 8 9 8 7 -> 7+2+2+2+2+8+9+8+5 = 45 -> check 5, not 6
    assert not valid_id("821218-9876")


def test_count_column_names():
    yes = [
        "n",
        "N",
        "n_patients",
        "antal",
        "Antal besök",
        "events",
        "deaths",
        "admissions_total",
        "population",
        "count_2024",
    ]
    no = [
        "rate",
        "n_per_1000",
        "andel",
        "region",
        "year",
        "n_suppressed",
        "mean_n",
        "admissions_rate",
        "rate_lower",
    ]
    assert [c for c in yes if not is_count_column(c)] == []
    assert [c for c in no if is_count_column(c)] == []
    assert is_count_column("Kvinnor", ("Kvinnor",))


# ---------------------------------------------------------------------------------------------
# check_outputs
# ---------------------------------------------------------------------------------------------

PNR = "19811218-9876"


def clean_outputs(d: Path) -> None:
    t = pd.DataFrame(
        {"kommun": ["A", "B", "C", T], "antal": [2, 9, 30, 41], "andel": [0.1, 0.2, 0.3, 0.25]}
    )
    s = suppress(t, "antal", rate_cols={"andel": "antal"})
    s.to_csv(d / "table_sv.csv", sep=";", decimal=",", index=False, encoding="utf-8-sig")
    format_suppressed(s, "en").to_csv(d / "table_en.csv", index=False)
    with pd.ExcelWriter(d / "tables.xlsx") as w:
        pd.DataFrame({"item": ["source"], "text": ["synthetic"]}).to_excel(
            w, sheet_name="Om data", index=False
        )
        format_suppressed(s, "sv").to_excel(w, sheet_name="Tabell", index=False)
    (d / "report.html").write_text(
        "<html><body><p>Sha 0a1b2c3d4e5f60718293a4b5</p>"
        + format_suppressed(s).to_html()
        + "</body></html>"
    )
    (d / "table_sv.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))  # data: .csv
    (d / "manifest.json").write_text(
        json.dumps({"rows": 4, "value": 0.8112189876, "id": "a8112189876b"})
    )


def test_check_outputs_passes_a_clean_directory(tmp_path):
    clean_outputs(tmp_path)
    rep = check_outputs(tmp_path)
    assert rep.ok and rep.findings == []
    kinds = {s.file: s.kind for s in rep.files}
    assert kinds == {
        "table_sv.csv": "csv",
        "table_en.csv": "csv",
        "tables.xlsx": "excel",
        "report.html": "html",
        "table_sv.png": "image",
        "manifest.json": "text",
    }
    csv_scan = next(s for s in rep.files if s.file == "table_sv.csv")
    assert csv_scan.scanned == ["sep ';': 5 columns x 4 rows, count columns: antal"]
    assert "no problems found" in str(rep)
    assert rep.to_frame().shape == (6, 8)


def test_check_outputs_finds_a_small_count_in_a_csv(tmp_path):
    clean_outputs(tmp_path)
    (tmp_path / "sub").mkdir()
    pd.DataFrame(
        {"region": ["A", "B", "C"], "antal_besok": [12, 3, 40], "andel": [0.5, 1.5, 2.5]}
    ).to_csv(tmp_path / "sub" / "raw.csv", sep=";", decimal=",", index=False)
    with pytest.raises(DisclosureError) as info:
        check_outputs(tmp_path)
    msg = str(info.value)
    assert (
        "sub/raw.csv [sep ';'] column 'antal_besok': 1 cell(s) with a count of 1..4 (rows 1)" in msg
    )
    assert "rule: counts below min_count=5 must be suppressed" in msg
    assert isinstance(info.value, NaravardError)
    assert len(info.value.report.findings) == 1  # the andel column 1,5 is not a count
    # same file passes at min_count 3
    assert check_outputs(tmp_path / "sub" / "raw.csv", min_count=3).ok


def test_check_outputs_finds_a_small_count_in_an_excel_sheet(tmp_path):
    with pd.ExcelWriter(tmp_path / "book.xlsx") as w:
        pd.DataFrame({"x": ["no counts here"]}).to_excel(w, sheet_name="Om data", index=False)
        pd.DataFrame({"kommun": ["A", "B"], "n_patients": [25, 40]}).to_excel(
            w, sheet_name="Tabell 1", index=False
        )
        pd.DataFrame({"kommun": ["A", "B", "C"], "n_patients": [25, 40, 2]}).to_excel(
            w, sheet_name="Tabell 2", index=False, startrow=2
        )
    rep = check_outputs(tmp_path, raise_on_failure=False)
    assert not rep.ok
    (f,) = rep.findings
    # header written at Excel row 3 (startrow=2), data rows 4, 5, 6: the 2 is on row 6
    assert (f.file, f.location, f.column, f.rows, f.n_cells) == (
        "book.xlsx",
        "sheet 'Tabell 2'",
        "n_patients",
        (6,),
        1,
    )
    assert "book.xlsx [sheet 'Tabell 2'] column 'n_patients': 1 cell(s)" in f.describe()


def test_check_outputs_finds_a_personnummer_in_html_without_printing_it(tmp_path):
    clean_outputs(tmp_path)
    (tmp_path / "page.html").write_text(
        f"<html><body><h1>Rapport</h1>\n<p>Patient {PNR} hade 3 besök</p></body></html>"
    )
    with pytest.raises(DisclosureError) as info:
        check_outputs(tmp_path)
    msg = str(info.value)
    assert "page.html [text]: 1 valid personnummer/samordningsnummer (lines 2)" in msg
    assert "811218" not in msg and "811218" not in str(info.value.report)


def test_check_outputs_finds_identifiers_and_counts_in_notebook_outputs(tmp_path):
    nb = nbformat.v4.new_notebook()
    df = pd.DataFrame({"sex": ["F", "M"], "n": [3, 50]})
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell(
            "show()",
            outputs=[
                nbformat.v4.new_output(
                    "execute_result",
                    data={"text/plain": "id 811278-9873", "text/html": df.to_html()},
                    execution_count=1,
                )
            ],
        ),
        nbformat.v4.new_code_cell(
            "print(df)",
            outputs=[nbformat.v4.new_output("stream", name="stdout", text=df.to_string())],
        ),
    ]
    nbformat.write(nb, tmp_path / "run.ipynb")
    rep = check_outputs(tmp_path, raise_on_failure=False)
    got = sorted((f.location, f.rule, f.column, f.rows) for f in rep.findings)
    assert got == [
        ("cell 1 output 0 text/html table 0", "small_count", "n", (0,)),
        ("cell 1 output 0 text/plain", "personnummer", None, (1,)),
        ("cell 2 output 0 printed table", "small_count", "n", (0,)),
    ]


def test_check_outputs_ignores_invalid_numbers_and_decimals(tmp_path):
    (tmp_path / "notes.txt").write_text(
        "invalid check digit 811218-9875\nfraction 0.8112189876\nhash a8112189876b\n"
        "too long 8112189876123\n"
    )
    assert check_outputs(tmp_path).ok
    (tmp_path / "notes.txt").write_text("valid, comma-separated: 1,811218-9876,2\n")
    rep = check_outputs(tmp_path, raise_on_failure=False)
    assert [(f.rule, f.rows) for f in rep.findings] == [("personnummer", (1,))]
    # in a CSV each cell is looked at on its own: no separator needed
    (tmp_path / "notes.txt").unlink()
    (tmp_path / "ids.csv").write_text("a,id,b\n1,8112189876,2\n3,x,4\n")
    rep = check_outputs(tmp_path, raise_on_failure=False)
    assert [(f.rule, f.column, f.rows) for f in rep.findings] == [("personnummer", "id", (0,))]


def test_check_outputs_zero_and_missing_directory(tmp_path):
    pd.DataFrame({"k": ["a"], "n": [0]}).to_csv(tmp_path / "z.csv", index=False)
    assert check_outputs(tmp_path).ok
    assert not check_outputs(tmp_path, allow_zero=False, raise_on_failure=False).ok
    with pytest.raises(ParameterError, match="does not exist"):
        check_outputs(tmp_path / "nope")


def test_check_outputs_reads_parquet_and_html_report_is_renderable(tmp_path):
    pd.DataFrame({"k": ["a", "b"], "deaths": [1, 20]}).to_parquet(tmp_path / "t.parquet")
    rep = check_outputs(tmp_path, raise_on_failure=False)
    assert [(f.file, f.column, f.rows) for f in rep.findings] == [("t.parquet", "deaths", (0,))]
    assert re.search(r"1 problem\(s\)", rep._repr_html_())


def test_suppressed_outputs_of_suppress_pass_check_outputs(tmp_path):
    # round trip: whatever suppress returns, written by pandas, passes the scanner
    rng = np.random.default_rng(3)
    tab = rng.integers(0, 9, (5, 4))
    s = suppress(long_table(tab), "n")
    s.to_csv(tmp_path / "a.csv", index=False)
    s.to_excel(tmp_path / "a.xlsx", index=False)
    format_suppressed(s).to_csv(tmp_path / "b.csv", sep=";", index=False)
    assert check_outputs(tmp_path).ok
    # and the unsuppressed table does not
    long_table(tab).to_csv(tmp_path / "raw.csv", index=False)
    assert not check_outputs(tmp_path, raise_on_failure=False).ok


def test_excel_workbook_from_openpyxl_numbers_as_identifiers(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Rapport"])
    ws.append([8112189876])
    wb.save(tmp_path / "w.xlsx")
    rep = check_outputs(tmp_path, raise_on_failure=False)
    assert [(f.rule, f.location, f.rows) for f in rep.findings] == [
        ("personnummer", "sheet 'Sheet'", (2,))
    ]


def _two_rates(lower: str = "lower", upper: str = "upper") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "year": [2023, 2024, 2025],
            "n_eligible": [3, 50, 60],
            "n_meeting": [40, 2, 30],
            "coc": [0.3, 0.4, 0.5],
            "share": [0.2, 0.1, 0.6],
            lower: [0.1, 0.2, 0.3],
            upper: [0.5, 0.6, 0.7],
        }
    )


_TWO_RATES = {"coc": "n_eligible", "share": ["n_meeting", "n_eligible"]}


def test_unnamed_interval_goes_with_every_rate_of_its_row():
    # two rates and a lower/upper pair that names neither: hidden when either rate is
    s = suppress(_two_rates(), ["n_eligible", "n_meeting"], rate_cols=_TWO_RATES, secondary=False)
    assert s["coc"].isna().tolist() == [True, False, False]
    assert s["share"].isna().tolist() == [True, True, False]
    assert s["lower"].isna().tolist() == [True, True, False]
    assert s["upper_suppressed"].tolist() == ["primary", "primary", ""]


def test_interval_names_outside_the_contract_are_refused_not_guessed():
    t = _two_rates("ci_low", "ci_high")
    with pytest.raises(ParameterError, match=r"ci_low.*interval_cols"):
        suppress(t, ["n_eligible", "n_meeting"], rate_cols=_TWO_RATES, secondary=False)
    # named explicitly: a list goes with every rate, a mapping with the rates it names
    s = suppress(t, ["n_eligible", "n_meeting"], rate_cols=_TWO_RATES, secondary=False,
                 interval_cols=["ci_low", "ci_high"])
    assert s["ci_low"].isna().tolist() == [True, True, False]
    m = suppress(t, ["n_eligible", "n_meeting"], rate_cols=_TWO_RATES, secondary=False,
                 interval_cols={"ci_low": "coc", "ci_high": "coc"})
    assert m["ci_high_suppressed"].tolist() == ["primary", "", ""]
    with pytest.raises(ParameterError, match="not rate columns"):
        suppress(t, ["n_eligible", "n_meeting"], rate_cols=_TWO_RATES, interval_cols={"ci_low": "x"})


def test_iterative_audit_agrees_with_the_rank_test_on_random_hidden_patterns():
    # The large-table audit (random null vector by LSQR) against the independent rank test.
    from naravard_analysis.report.disclosure import _Constraints, _determined

    rng = np.random.default_rng(5)
    for _ in range(120):
        r, c = rng.integers(2, 8, 2)
        idx = np.arange((r + 1) * (c + 1)).reshape(r + 1, c + 1)
        cons = _Constraints()
        for i in range(r + 1):
            cons.add(idx[i], np.r_[np.ones(c), -1])
        for j in range(c + 1):
            cons.add(idx[:, j], np.r_[np.ones(r), -1])
        hidden = rng.random(idx.size) < rng.uniform(0.1, 0.7)
        found = _determined(hidden, cons.matrix(idx.size), 0)
        got = set(np.concatenate(found).tolist()) if found else set()
        expected = determined_by_algebra((r + 1, c + 1), hidden.reshape(r + 1, c + 1))
        assert got == {int(idx[x]) for x in expected}


def test_dimensions_in_the_index_and_pivot_margins_are_protected():
    # 1-D with the dimension as index
    s = suppress(pd.DataFrame({"sex": ["F", "M", "Alla"], "n": [3, 40, 43]}).set_index("sex"), "n")
    assert s["n"].isna().tolist() == [True, True, False]
    assert s.index.tolist() == ["F", "M", "Alla"]
    # a pivot table with margins=True ("All" row and column) is a wide 2-D table
    tab = np.array([[3, 10, 12], [8, 9, 20]])
    long = long_table(tab).query("region != @T and sex != @T")
    wide = long.pivot_table(index="region", columns="sex", values="n", aggfunc="sum", margins=True)
    wide.columns.name = None
    cols = list(wide.columns)  # c0, c1, c2, All
    s = suppress(wide, cols)
    hidden = s[cols].isna().to_numpy()
    assert hidden.sum() == 4  # the 2 x 2 rectangle of the hand example above
    assert_protected(margins(tab), hidden, 5)


def equations_nd(shape: tuple[int, ...]) -> list[tuple[list[tuple[int, ...]], list[int]]]:
    """Equations of an N-D table with a total as the last index of every axis: each line
    along each axis sums its parts to its total."""
    eqs = []
    for axis, size in enumerate(shape):
        others = [range(s) for i, s in enumerate(shape) if i != axis]
        for rest in np.ndindex(*[len(o) for o in others]):
            cells = [tuple(list(rest[:axis]) + [k] + list(rest[axis:])) for k in range(size)]
            eqs.append((cells, [1] * (size - 1) + [-1]))
    return eqs


def test_three_dimensions_with_totals_on_every_axis_leave_nothing_recoverable():
    rng = np.random.default_rng(11)
    x = rng.poisson(rng.gamma(1.0, 6, size=(5, 3, 2)))
    ext = np.zeros((6, 4, 3), dtype=np.int64)
    ext[:5, :3, :2] = x
    ext[5] = ext[:5].sum(axis=0)
    ext[:, 3] = ext[:, :3].sum(axis=1)
    ext[:, :, 2] = ext[:, :, :2].sum(axis=2)
    regions, ages, sexes = (
        [*"ABCDE", "Riket"],
        ["0-64", "65-79", "80+", "Alla"],
        ["F", "M", "Båda könen"],
    )
    idx = pd.MultiIndex.from_product([regions, ages, sexes], names=["region", "age", "sex"])
    t = pd.DataFrame({"n": ext.ravel()}, index=idx).reset_index()
    s = suppress(t, "n", dims=["region", "age", "sex"])
    hidden = s["n"].isna().to_numpy().reshape(ext.shape)
    assert ((ext > 0) & (ext < 5) <= hidden).all()
    eqs = equations_nd(ext.shape)
    assert all(sum(hidden[c] for c in cells) != 1 for cells, _ in eqs)
    u = [tuple(c) for c in np.argwhere(hidden)]
    a = np.array([[coefs[cells.index(c)] if c in cells else 0 for c in u] for cells, coefs in eqs])
    base = np.linalg.matrix_rank(a)
    for i in range(len(u)):  # rank test: no hidden cell is determined by the equations
        e = np.zeros(len(u))
        e[i] = 1
        assert np.linalg.matrix_rank(np.vstack([a, e])) > base, u[i]
    assert hidden.sum() > 4  # the example does exercise suppression


@pytest.mark.slow
def test_national_municipality_table_scale():
    # 290 municipalities x 20 age bands x sex with all margins: 18 333 cells (~1-3 s)
    rng = np.random.default_rng(0)
    x = rng.poisson(rng.gamma(1.0, 20, size=(290, 20, 2)))
    ext = np.zeros((291, 21, 3), dtype=np.int64)
    ext[:290, :20, :2] = x
    ext[290] = ext[:290].sum(axis=0)
    ext[:, 20] = ext[:, :20].sum(axis=1)
    ext[:, :, 2] = ext[:, :, :2].sum(axis=2)
    idx = pd.MultiIndex.from_product(
        [
            [f"k{i:03d}" for i in range(290)] + ["Riket"],
            [f"a{j:02d}" for j in range(20)] + ["Alla"],
            ["F", "M", "Båda könen"],
        ],
        names=["kommun", "age", "sex"],
    )
    t = pd.DataFrame({"n": ext.ravel()}, index=idx).reset_index()
    s = suppress(t, "n", dims=["kommun", "age", "sex"])
    hidden = s["n"].isna().to_numpy().reshape(ext.shape)
    assert ((ext > 0) & (ext < 5) <= hidden).all()
    for axis in range(3):
        per_line = hidden.sum(axis=axis)
        assert not (per_line == 1).any()


def test_printed_model_summary_is_not_taken_for_a_count_table(tmp_path):
    # A sentence that mentions "events" and "population" followed by a coefficient table
    # (text as printed by the ITS notebook) has no count column.
    text = (
        "Interrupted time series: events ~ segmented regression, offset log(population)\n"
        "interruption at 2019-01-01; periods fitted 71, excluded 25; dispersion 0.8447\n"
        "              estimate     se   lower   upper  p_value\n"
        "term\n"
        "intercept      -7.2134 0.0891 -7.3880 -7.0389   0.0000\n"
        "level_change   -0.1359 0.1241 -0.3793  0.1074   0.2735\n"
    )
    printed = pd.DataFrame({"month": ["jan", "feb"], "events": [12, 3]}).to_string()
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "fit()", outputs=[nbformat.v4.new_output("stream", name="stdout", text=text)]
        ),
        nbformat.v4.new_code_cell(
            "df", outputs=[nbformat.v4.new_output("stream", name="stdout", text=printed)]
        ),
    ]
    nbformat.write(nb, tmp_path / "its.ipynb")
    rep = check_outputs(tmp_path, raise_on_failure=False)
    assert [(f.location, f.column, f.rows) for f in rep.findings] == [
        ("cell 1 output 0 printed table", "events", (1,))
    ]
