"""Tests of direct/indirect standardisation (methods reference §5).

Expected numbers come from hand calculations written out beside each assertion, from the textbook
exact Poisson (Garwood 1936) limits, or from the chi-square route to the gamma quantile
(G⁻¹(q; k, θ) = θ · χ²⁻¹(q; 2k) / 2), which does not share code with the implementation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from naravard_analysis.errors import ParameterError, SchemaError
from naravard_analysis.indicators.standardise import (
    age_band_labels,
    band_ages,
    band_population,
    byar_limits,
    direct_standardise,
    indirect_standardise,
    merge_top_bands,
    standard_population,
)


def test_esp2013_bands_and_subtotals():
    esp = standard_population("esp2013")
    assert esp["age_group"].tolist() == [
        "0-4", "5-9", "10-14", "15-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49",
        "50-54", "55-59", "60-64", "65-69", "70-74", "75-79", "80-84", "85-89", "90+",
    ]  # fmt: skip
    assert esp["population"].sum() == 100_000
    # Sub-totals (methods reference §5.5, derived): 65+ = 19 500, 20+ = 78 500, 15+ = 84 000.
    assert standard_population("esp2013", min_age=65)["population"].sum() == 19_500
    assert standard_population("esp2013", min_age=20)["population"].sum() == 78_500
    assert standard_population("esp2013", min_age=15)["population"].sum() == 84_000
    top = standard_population("esp2013", min_age=65, top_age=85)
    assert top["age_group"].tolist() == ["65-69", "70-74", "75-79", "80-84", "85+"]
    assert top["population"].tolist() == [5500, 5000, 4000, 2500, 2500]  # 1500 + 1000
    with pytest.raises(ParameterError, match="cuts band '15-19'"):
        standard_population("esp2013", min_age=18)


def test_band_helpers():
    assert band_ages([0, 4, 5, 89, 90, 104, -1]).astype(str).tolist() == [
        "0-4", "0-4", "5-9", "85-89", "90+", "90+", "nan",
    ]  # fmt: skip
    assert age_band_labels([0, 20, 65]) == ["0-19", "20-64", "65+"]
    pop = pd.DataFrame({"year": 2020, "age": [19, 20, 24, 25, 95], "population": [1, 2, 3, 4, 5]})
    b = band_population(pop, min_age=20)
    assert b.loc[b.age_group == "20-24", "population"].item() == 5  # 2 + 3
    assert b.loc[b.age_group == "90+", "population"].item() == 5
    assert len(b) == 15  # bands 20-24 … 90+, zeros included
    m = merge_top_bands(b, 85, sum_cols=["population"])
    assert m.loc[m.age_group == "85+", "population"].item() == 5


def _two_band():
    return pd.DataFrame(
        {"age_group": ["A", "B"], "events": [20, 45], "population": [10_000, 5_000]}
    )


def test_direct_standardise_against_hand_calculation():
    # Hand calculation: w = (0.6, 0.4); r = (20/10000, 45/5000) = (0.002, 0.009)
    # DSR = 0.6*0.002 + 0.4*0.009 = 0.0048;  V = 0.36*20/1e8 + 0.16*45/2.5e7 = 3.6e-7
    # w_M = max(0.6/10000, 0.4/5000) = 8e-5
    # lower: shape = 0.0048^2/3.6e-7 = 64, scale = 3.6e-7/0.0048 = 7.5e-5
    # upper: shape = 0.00488^2/(3.6e-7 + 6.4e-9), scale = (3.6e-7 + 6.4e-9)/0.00488
    r = direct_standardise(_two_band(), {"A": 60_000, "B": 40_000})
    assert r["events"].item() == 65 and r["population"].item() == 15_000
    assert r["crude_rate"].item() == pytest.approx(65 / 15_000 * 1e5)
    assert r["adjusted_rate"].item() == pytest.approx(480.0)
    lower = 7.5e-5 * stats.chi2.ppf(0.025, 2 * 64) / 2
    v_u, d_u = 3.6e-7 + 6.4e-9, 0.0048 + 8e-5
    upper = (v_u / d_u) * stats.chi2.ppf(0.975, 2 * d_u**2 / v_u) / 2
    assert r["lower"].item() == pytest.approx(lower * 1e5, rel=1e-9)
    assert r["upper"].item() == pytest.approx(upper * 1e5, rel=1e-9)
    assert r["n_strata"].item() == 2


def test_single_stratum_reduces_to_garwood_exact_interval():
    # Exact Poisson limits for 10 events (Garwood 1936; textbook tables): 4.7954, 18.3904.
    c = pd.DataFrame({"age_group": ["all"], "events": [10], "population": [1]})
    r = direct_standardise(c, {"all": 1.0}, per=1)
    assert r["adjusted_rate"].item() == 10
    assert r["lower"].item() == pytest.approx(4.7954, abs=5e-5)
    assert r["upper"].item() == pytest.approx(18.3904, abs=5e-5)


def test_no_events_lower_zero_upper_closed_form():
    # All d_i = 0: lower = 0 (Fay–Feuer convention), upper = -w_M ln(α/2) (§5.3).
    c = _two_band().assign(events=0)
    r = direct_standardise(c, {"A": 60_000, "B": 40_000}, per=1)
    assert r["adjusted_rate"].item() == 0 and r["lower"].item() == 0
    assert r["upper"].item() == pytest.approx(-8e-5 * np.log(0.025), rel=1e-12)
    # Exact Poisson upper limit for 0 events with n = 1: 3.6889 (Garwood tables).
    one = pd.DataFrame({"age_group": ["x"], "events": [0], "population": [1]})
    assert direct_standardise(one, {"x": 1}, per=1)["upper"].item() == pytest.approx(
        3.6889, abs=1e-4
    )


def test_by_groups_and_esp2013_proportions_equal_counts():
    esp = standard_population("esp2013", min_age=65)
    rows = []
    for year, k in ((2020, 1), (2021, 2)):
        for i, band in enumerate(esp["age_group"]):
            rows.append((year, band, k * (i + 1), 1000 * (i + 2)))
    c = pd.DataFrame(rows, columns=["year", "age_group", "events", "population"])
    r1 = direct_standardise(c, esp, by="year")
    r2 = direct_standardise(c, esp.assign(population=esp.population / 19_500), by="year")
    pd.testing.assert_frame_equal(r1, r2)
    assert r1["year"].tolist() == [2020, 2021]
    # Doubling every count doubles the DSR (hand: linear in d).
    assert r1["adjusted_rate"].iloc[1] == pytest.approx(2 * r1["adjusted_rate"].iloc[0])
    # Hand: DSR_2020 = Σ w_i (i+1)/(1000 (i+2)) with ESP 65+ weights.
    w = np.array([5500, 5000, 4000, 2500, 1500, 1000]) / 19_500
    i = np.arange(6)
    assert r1["adjusted_rate"].iloc[0] == pytest.approx(
        1e5 * np.sum(w * (i + 1) / (1000 * (i + 2)))
    )


def test_dobson_against_hand_calculation():
    # O = 65, DSR = 0.0048, V = 3.6e-7 (see hand calculation above); z = 1.959964
    # Byar: O_L = 65 (1 - 1/585 - z/(3 sqrt 65))^3, O_U = 66 (1 - 1/594 + z/(3 sqrt 66))^3
    z = 1.959963984540054
    o_l = 65 * (1 - 1 / 585 - z / (3 * np.sqrt(65))) ** 3
    o_u = 66 * (1 - 1 / 594 + z / (3 * np.sqrt(66))) ** 3
    f = np.sqrt(3.6e-7 / 65)
    r = direct_standardise(_two_band(), {"A": 60_000, "B": 40_000}, method="dobson", per=1)
    assert r["lower"].item() == pytest.approx(0.0048 + f * (o_l - 65), rel=1e-9)
    assert r["upper"].item() == pytest.approx(0.0048 + f * (o_u - 65), rel=1e-9)
    lo, hi = byar_limits(np.array([0.0]))
    assert lo[0] == 0 and hi[0] == pytest.approx(1 * (1 - 1 / 9 + z / 3) ** 3)


def test_indirect_standardise_against_hand_calculation():
    # R = (10/10000, 50/5000) = (0.001, 0.01); study n = (1000, 2000) -> E = 1 + 20 = 21; O = 30
    ref = pd.DataFrame({"age_group": ["A", "B"], "events": [10, 50], "population": [10_000, 5_000]})
    study = pd.DataFrame({"age_group": ["A", "B"], "events": [12, 18], "population": [1000, 2000]})
    r = indirect_standardise(study, ref, per=1)
    assert r["expected"].item() == pytest.approx(21)
    assert r["ratio"].item() == pytest.approx(30 / 21)
    assert r["lower"].item() == pytest.approx(stats.chi2.ppf(0.025, 60) / 2 / 21)
    assert r["upper"].item() == pytest.approx(stats.chi2.ppf(0.975, 62) / 2 / 21)
    # Rate = ratio × reference crude rate (60/15000).
    assert r["rate"].item() == pytest.approx(30 / 21 * 60 / 15_000)
    zero = indirect_standardise(study.assign(events=0), ref, per=1, method="byar")
    assert zero["lower"].item() == 0


def test_errors_name_the_problem():
    c = _two_band()
    with pytest.raises(SchemaError, match="age band not in the standard"):
        direct_standardise(c, {"A": 1, "C": 1})
    with pytest.raises(
        SchemaError, match=r"strata of data and standard differ.*missing bands.*\['C'\]"
    ):
        direct_standardise(c, {"A": 1, "B": 1, "C": 1})
    with pytest.raises(SchemaError, match="population 0 in a stratum.*first such band 'B'"):
        direct_standardise(c.assign(population=[10, 0]), {"A": 1, "B": 1})
    with pytest.raises(SchemaError, match="duplicate age band within a group"):
        direct_standardise(pd.concat([c, c]), {"A": 1, "B": 1})
    with pytest.raises(ParameterError, match="level must be in"):
        direct_standardise(c, {"A": 1, "B": 1}, level=95)
    with pytest.raises(SchemaError, match="counts.events: must be a number >= 0 -- 1 row"):
        direct_standardise(c.assign(events=[-1, 2]), {"A": 1, "B": 1})


strata = st.lists(
    st.tuples(st.integers(0, 200), st.integers(1, 50_000), st.floats(0.01, 10)),
    min_size=1,
    max_size=8,
)


@settings(max_examples=100, deadline=None)
@given(strata, st.floats(0.001, 1000), st.randoms())
def test_invariances(rows, scale, rnd):
    labels = [f"b{i}" for i in range(len(rows))]
    c = pd.DataFrame(
        {"age_group": labels, "events": [r[0] for r in rows], "population": [r[1] for r in rows]}
    )
    std = pd.Series([r[2] for r in rows], index=labels)
    r = direct_standardise(c, std)
    # Scaling the standard changes nothing.
    r2 = direct_standardise(c, std * scale)
    np.testing.assert_allclose(
        r2[["adjusted_rate", "lower", "upper"]], r[["adjusted_rate", "lower", "upper"]], rtol=1e-9
    )
    # Row order changes nothing.
    perm = list(range(len(c)))
    rnd.shuffle(perm)
    r3 = direct_standardise(c.iloc[perm], std)
    np.testing.assert_allclose(
        r3[["adjusted_rate", "lower", "upper"]], r[["adjusted_rate", "lower", "upper"]], rtol=1e-12
    )
    # DSR lies between the smallest and largest stratum rate; the interval contains it.
    rates = c.events / c.population * 1e5
    dsr = r["adjusted_rate"].item()
    assert rates.min() - 1e-9 <= dsr <= rates.max() + 1e-9
    assert r["lower"].item() <= dsr + 1e-9 <= r["upper"].item() + 2e-9
    # Equal rates in every stratum -> DSR equals the crude rate.
    eq = c.assign(events=c.population)  # rate 1 in every stratum
    assert direct_standardise(eq, std, per=1)["adjusted_rate"].item() == pytest.approx(1.0)
