"""Tests of summarise_continuity (methods reference §1.8); expected values are hand calculations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from naravard_analysis.errors import DataWarning, ParameterError
from naravard_analysis.indicators.continuity import continuity_indices, summarise_continuity


def _contacts():
    # person 1: A A (COC 1, N 2); person 2: A B C D (COC 0, N 4); person 3: A A B (COC 1/3, N 3);
    # person 4: one visit (ineligible)
    seqs = {1: "AA", 2: "ABCD", 3: "AAB", 4: "A"}
    rows = [
        (p, pd.Timestamp("2023-01-01") + pd.Timedelta(days=i), prov)
        for p, s in seqs.items()
        for i, prov in enumerate(s)
    ]
    c = pd.DataFrame(rows, columns=["person_id", "contact_date", "provider_id"])
    c["care_level"] = "primary"
    return c


def _summary(method, index="coc", **kw):
    ind = continuity_indices(_contacts())
    return summarise_continuity(ind, method=method, index=index, **kw).iloc[0]


def test_mean_and_pooled_coc_by_hand():
    m = _summary("mean")
    # mean of 1, 0, 1/3 over P = 3 eligible persons (person 4 excluded)
    assert m["value"] == pytest.approx((1 + 0 + 1 / 3) / 3)
    assert (m["n_persons"], m["n_eligible"]) == (4, 3)
    p = _summary("pooled")
    # Σ(Σn²−N) / ΣN(N−1) = (2 + 0 + 2) / (2 + 12 + 6) = 4/20
    assert p["value"] == pytest.approx(0.2)
    assert p["method"] == "pooled"


def test_pooled_secon_upc_hhi_by_hand():
    ind = continuity_indices(_contacts())
    out = summarise_continuity(ind, method="pooled", ci=None).set_index("index")
    # SECON: matches (1 + 0 + 1) / pairs (1 + 3 + 2) = 2/6
    assert out.loc["secon", "value"] == pytest.approx(2 / 6)
    # UPC: m (2 + 1 + 2) / N (2 + 4 + 3) = 5/9
    assert out.loc["upc", "value"] == pytest.approx(5 / 9)
    # HHI: Σn² (4 + 4 + 5) / N² (4 + 16 + 9) = 13/29
    assert out.loc["hhi", "value"] == pytest.approx(13 / 29)
    assert set(out.index) == {"coc", "secon", "upc", "hhi"}
    with pytest.raises(ParameterError, match="no pooled form"):
        summarise_continuity(ind, method="pooled", index="mmci")


def test_analytic_ci_of_mean_is_t_free_normal_interval():
    m = _summary("mean")
    vals = np.array([1, 0, 1 / 3])
    se = vals.std(ddof=1) / np.sqrt(3)  # independent: sample sd / sqrt(P)
    z = stats.norm.ppf(0.975)
    assert m["lower"] == pytest.approx(vals.mean() - z * se)
    assert m["upper"] == pytest.approx(vals.mean() + z * se)


def test_share_above_threshold():
    m = _summary("mean", threshold=0.3)
    assert m["share_above"] == pytest.approx(2 / 3)  # COC 1 and 1/3 are >= 0.3
    assert _summary("mean")["share_above"] == pytest.approx(1 / 3)  # only COC 1 >= 0.7


def test_bootstrap_is_seeded_and_brackets_value():
    rng = np.random.default_rng(3)
    n = 3000
    c = pd.DataFrame(
        {
            "person_id": rng.integers(0, 300, n),
            "contact_date": pd.Timestamp("2023-01-01")
            + pd.to_timedelta(rng.integers(0, 300, n), "D"),
            "provider_id": rng.choice(list("ABCD"), n),
            "care_level": "primary",
        }
    )
    ind = continuity_indices(c)
    a = summarise_continuity(ind, index="coc", ci="bootstrap", n_boot=200, seed=7).iloc[0]
    b = summarise_continuity(ind, index="coc", ci="bootstrap", n_boot=200, seed=7).iloc[0]
    assert a["lower"] == b["lower"] and a["upper"] == b["upper"]
    assert a["lower"] < a["value"] < a["upper"]
    an = summarise_continuity(ind, index="coc").iloc[0]
    # bootstrap and analytic widths agree within 30 % on 300 persons
    w_boot, w_an = a["upper"] - a["lower"], an["upper"] - an["lower"]
    assert 0.7 < w_boot / w_an < 1.3


def test_by_group_and_empty_group_gives_nan_with_warning():
    c = _contacts()
    c["unit_id"] = np.where(c["person_id"] == 4, "U2", "U1")
    ind = continuity_indices(c, by="unit_id")
    with pytest.warns(DataWarning, match="no eligible person"):
        out = summarise_continuity(ind, by="unit_id", index="coc")
    assert list(out["unit_id"]) == ["U1", "U2"]
    assert out["value"].iloc[0] == pytest.approx(4 / 9)
    assert np.isnan(out["value"].iloc[1]) and out["n_eligible"].iloc[1] == 0


def test_person_in_several_years_is_one_cluster():
    # same person twice (two years): analytic SE uses person totals, not rows
    ind = pd.DataFrame(
        {
            "person_id": [1, 1, 2, 2],
            "year": [1, 2, 1, 2],
            "coc": [1.0, 0.8, 0.0, 0.2],
            "eligible": True,
            "n_visits": 2,
        }
    )
    out = summarise_continuity(ind, index="coc").iloc[0]
    # clusters: resid totals (1.8 - 1.0, 0.2 - 1.0) = (0.8, -0.8); se = sqrt(2/1 * 1.28)/4 = 0.4
    assert out["value"] == pytest.approx(0.5)
    z = stats.norm.ppf(0.975)
    assert out["upper"] - out["value"] == pytest.approx(z * 0.4)


def test_parameter_errors():
    ind = continuity_indices(_contacts())
    with pytest.raises(ParameterError, match="method"):
        summarise_continuity(ind, method="median")
    with pytest.raises(ParameterError, match="level"):
        summarise_continuity(ind, level=95)


def test_continuity_distribution_counts_and_edges():
    from naravard_analysis.indicators.continuity import continuity_distribution

    ind = pd.DataFrame(
        {
            "year": [1, 1, 1, 1, 2],
            "coc": [0.0, 0.7, 1.0, np.nan, 0.69],
            "eligible": [True, True, True, False, True],
        }
    )
    out = continuity_distribution(ind, bins=10, by="year")
    assert out.shape == (20, 5)  # every bin in every year, zeros included
    y1 = out.loc[out["year"] == 1].set_index("bin")["n_persons"]
    # 0.0 -> first bin; 0.7 -> [0.7, 0.8); 1.0 -> last bin (closed right); NaN not binned
    assert (y1["0.0-0.1"], y1["0.7-0.8"], y1["0.9-1.0"], y1.sum()) == (1, 1, 1, 3)
    assert out.loc[out["year"] == 2].set_index("bin")["n_persons"]["0.6-0.7"] == 1
    assert out.attrs["n_ineligible"] == 1
    with pytest.raises(ParameterError, match="bins"):
        continuity_distribution(ind, bins=[0.5, 0.2])
