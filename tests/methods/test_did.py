"""Tests of naravard_analysis.methods.did (Callaway & Sant'Anna staggered DiD).

Reference numbers come from the package's reference/did/ (R package `did` 2.5.0 on mpdta; see PROVENANCE.md
there): ref_attgt.csv, ref_aggte.csv, ref_pretest.csv, scenario named in each test.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from naravard_analysis.data import official
from naravard_analysis.errors import DataWarning, ParameterError, SchemaError
from naravard_analysis.methods.did import staggered_did

REF = official.reference_dir() / "did"
MPDTA_COLS = dict(outcome="lemp", unit="countyreal", time="year", first_treated="first.treat")

# scenario of the reference files -> our arguments (generate_reference.R in csdid, see PROVENANCE.md)
SCENARIOS = {
    "mpdta_nev_dr": dict(control_group="never", estimator="dr"),
    "mpdta_nyt_dr": dict(control_group="notyet", estimator="dr"),
    "mpdta_nev_reg_cov": dict(control_group="never", estimator="reg", covariates=["lpop"]),
    "mpdta_nev_ipw": dict(control_group="never", estimator="ipw"),
}
# sim_nev_dr needs csdid's sim_data.csv, which is not published beside the reference outputs.
NOT_REPRODUCIBLE = {"sim_nev_dr"}
TOL = 1e-8


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(REF / "mpdta.csv")


@pytest.fixture(scope="module")
def fits(mpdta) -> dict:
    return {s: staggered_did(mpdta, **MPDTA_COLS, **kw) for s, kw in SCENARIOS.items()}


@pytest.fixture(scope="module")
def ref_attgt() -> pd.DataFrame:
    return pd.read_csv(REF / "ref_attgt.csv")


@pytest.fixture(scope="module")
def ref_aggte() -> pd.DataFrame:
    return pd.read_csv(REF / "ref_aggte.csv")


def test_every_reference_scenario_is_covered_or_explained(ref_attgt, ref_aggte):
    scenarios = set(ref_attgt["scenario"]) | set(ref_aggte["scenario"])
    assert scenarios - set(SCENARIOS) == NOT_REPRODUCIBLE


# ------------------------------------------------------------------------------------------------
# Reproduction of R `did` (ref_attgt.csv, ref_aggte.csv, ref_pretest.csv)
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_att_gt_reproduces_r_did(scenario, fits, ref_attgt):
    # ref_attgt.csv, rows of `scenario`: att_gt() att and analytic se for all 12 (g, t) cells
    ref = ref_attgt[ref_attgt["scenario"] == scenario].rename(columns={"t": "time"})
    got = fits[scenario].att_gt
    assert list(got.columns) == ["group", "time", "att", "se", "lower", "upper"]
    merged = got.merge(ref, on=["group", "time"], suffixes=("", "_r"), validate="one_to_one")
    assert len(merged) == len(ref) == len(got) == 12
    np.testing.assert_allclose(merged["att"], merged["att_r"], rtol=0, atol=TOL)
    np.testing.assert_allclose(merged["se"], merged["se_r"], rtol=0, atol=TOL)
    np.testing.assert_allclose(merged["upper"] - merged["att"], 1.959963984540054 * merged["se"])


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("kind", ["simple", "group", "dynamic", "calendar"])
def test_aggregate_reproduces_r_did(scenario, kind, fits, ref_aggte):
    # ref_aggte.csv, rows of `scenario` and type == kind: aggte(type=kind, bstrap=FALSE)
    ref = ref_aggte[(ref_aggte["scenario"] == scenario) & (ref_aggte["type"] == kind)]
    agg = fits[scenario].aggregate(kind)
    assert agg.att == pytest.approx(ref["overall_att"].iloc[0], abs=TOL)
    assert agg.se == pytest.approx(ref["overall_se"].iloc[0], abs=TOL)
    if kind == "simple":
        assert agg.table[["att", "se", "lower", "upper"]].iloc[0].tolist() == [
            agg.att, agg.se, agg.lower, agg.upper]
        return
    key = {"group": "group", "dynamic": "event_time", "calendar": "time"}[kind]
    assert agg.table.columns[0] == key
    np.testing.assert_array_equal(agg.table[key].to_numpy(float), ref["egt"].to_numpy(float))
    np.testing.assert_allclose(agg.table["att"], ref["att_egt"], rtol=0, atol=TOL)
    np.testing.assert_allclose(agg.table["se"], ref["se_egt"], rtol=0, atol=TOL)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_pretest_reproduces_r_did(scenario, fits):
    # ref_pretest.csv: W and Wpval (R rounds Wpval to 5 decimals, hence the 5e-6 tolerance)
    ref = pd.read_csv(REF / "ref_pretest.csv").set_index("scenario").loc[scenario]
    got = fits[scenario].pretest()
    assert got["df"] == 5  # pre-treatment cells: (2006, 2004/2005), (2007, 2004/2005/2006)
    assert got["W"] == pytest.approx(ref["W"], abs=1e-6)
    assert got["p_value"] == pytest.approx(ref["Wpval"], abs=5e-6)


def test_reference_values_spot_check(fits):
    # ref_attgt.csv, mpdta_nev_dr, group 2004, t 2007 (also the README of R `did`): -0.1008 (0.0344)
    row = fits["mpdta_nev_dr"].att_gt.query("group == 2004 and time == 2007").iloc[0]
    assert row["att"] == pytest.approx(-0.100811363085404, abs=1e-12)
    assert row["se"] == pytest.approx(0.0343592258346732, abs=1e-12)
    assert fits["mpdta_nev_dr"].n_units == 500


def test_dr_and_ipw_with_covariate_match_independent_drdid(fits, mpdta):
    # Independent numbers: PyPI drdid 1.1.7 (drdid_panel / std_ipw_did_panel, statsmodels GLM logit),
    # run by hand on mpdta with covariates [1, lpop], treated = cohort g, comparison = first.treat == 0,
    # Y_t - Y_base; influence function scaled by n/n_cell and se = sqrt(mean(IF^2)/n) over 500 units.
    expected = {
        ("dr", 2004, 2006): (-0.14044833681012228, 0.03537815471009641),
        ("dr", 2006, 2005): (-0.006202524579796674, 0.01849570190418264),
        ("dr", 2007, 2007): (-0.028781361039486576, 0.016238952966184977),
        ("ipw", 2004, 2006): (-0.14046460265549202, 0.035371001785682456),
        ("ipw", 2006, 2005): (-0.006397240343385124, 0.01845732845797838),
        ("ipw", 2007, 2007): (-0.02889476661456023, 0.01624640938717923),
    }
    for est in ("dr", "ipw"):
        tab = staggered_did(mpdta, **MPDTA_COLS, estimator=est, covariates="lpop").att_gt
        for (e, g, t), (att, se) in expected.items():
            if e != est:
                continue
            row = tab[(tab["group"] == g) & (tab["time"] == t)].iloc[0]
            assert row["att"] == pytest.approx(att, abs=1e-10)
            assert row["se"] == pytest.approx(se, abs=1e-10)


# ------------------------------------------------------------------------------------------------
# Hand calculations
# ------------------------------------------------------------------------------------------------
def _two_by_two_panel() -> pd.DataFrame:
    # 3 treated units (first treated in period 2) and 3 never-treated, periods 1 and 2
    y1 = [1.0, 2.0, 3.0, 2.0, 4.0, 6.0]
    y2 = [4.0, 4.0, 7.0, 3.0, 4.0, 8.0]
    g = [2, 2, 2, 0, 0, 0]
    rows = [(i, 1, y1[i], g[i]) for i in range(6)] + [(i, 2, y2[i], g[i]) for i in range(6)]
    return pd.DataFrame(rows, columns=["id", "period", "y", "g"])


@pytest.mark.parametrize("estimator", ["dr", "ipw", "reg"])
def test_two_groups_two_periods_is_the_simple_did_of_means(estimator):
    # Hand calculation: treated changes 3, 2, 4 (mean 3); controls 1, 0, 2 (mean 1): ATT = 3 - 1 = 2.
    # SE of a difference of two means with population variances: var_t = var_c = 2/3, n = 3 each,
    # se = sqrt(2/3/3 + 2/3/3) = sqrt(4/9) = 2/3.
    res = staggered_did(_two_by_two_panel(), outcome="y", unit="id", time="period",
                        first_treated="g", estimator=estimator)
    assert len(res.att_gt) == 1
    row = res.att_gt.iloc[0]
    assert (row["group"], row["time"]) == (2, 2)
    assert row["att"] == pytest.approx(2.0, abs=1e-12)
    assert row["se"] == pytest.approx(2 / 3, abs=1e-12)
    assert row["lower"] == pytest.approx(2 - 1.959963984540054 * 2 / 3, abs=1e-9)
    simple = res.aggregate("simple")
    assert (simple.att, simple.se) == (pytest.approx(2.0), pytest.approx(2 / 3))


def test_universal_base_period_is_relative_to_g_minus_1(mpdta):
    varying = staggered_did(mpdta, **MPDTA_COLS).att_gt.set_index(["group", "time"])
    universal = staggered_did(mpdta, **MPDTA_COLS, base_period="universal").att_gt
    universal = universal.set_index(["group", "time"])
    assert len(universal) == 15  # 3 cohorts x 5 periods, base cells included
    # post-treatment cells are identical under both base periods (methods reference §7.3)
    post = [k for k in varying.index if k[1] >= k[0]]
    np.testing.assert_allclose(universal.loc[post, "att"], varying.loc[post, "att"], atol=1e-14)
    # the base cell (g, g-1) is 0 by construction with no standard error
    assert universal.loc[(2007, 2006), "att"] == 0 and np.isnan(universal.loc[(2007, 2006), "se"])
    # DiD of means without covariates is linear in Y: long difference = minus the sum of the short
    # (varying) differences in between, e.g. ATT_u(2007, 2004) = -(ATT_v(2007, 2005) + ATT_v(2007, 2006))
    expected = -(varying.loc[(2007, 2005), "att"] + varying.loc[(2007, 2006), "att"])
    assert universal.loc[(2007, 2004), "att"] == pytest.approx(expected, abs=1e-14)


def test_anticipation_moves_the_base_period_back(mpdta):
    # With anticipation 1 the 2004 cohort would need a base period 2002: it is dropped (counted)
    with pytest.warns(DataWarning, match=r"Dropped 20 units .*\(2003 \+ anticipation 1\)"):
        res = staggered_did(mpdta, **MPDTA_COLS, anticipation=1)
    assert res.excluded["treated_in_first_period"] == 20  # countyreal with first.treat == 2004
    assert sorted(res.att_gt["group"].unique()) == [2006, 2007]
    # hand calculation: ATT(2006, 2007) = DiD of means of lemp 2007 - 2004 (base g - 1 - 1)
    w = mpdta.pivot(index="countyreal", columns="year", values="lemp")
    g = mpdta.groupby("countyreal")["first.treat"].first()
    dy = w[2007] - w[2004]
    expected = dy[g == 2006].mean() - dy[g == 0].mean()
    got = res.att_gt.query("group == 2006 and time == 2007")["att"].iloc[0]
    assert got == pytest.approx(expected, abs=1e-12)


def test_not_yet_treated_comparison_group_by_hand(mpdta):
    # ATT(2004, 2005) with not-yet-treated: comparison = never treated + cohorts 2006 and 2007
    res = staggered_did(mpdta, **MPDTA_COLS, control_group="notyet")
    w = mpdta.pivot(index="countyreal", columns="year", values="lemp")
    g = mpdta.groupby("countyreal")["first.treat"].first()
    dy = w[2005] - w[2003]
    expected = dy[g == 2004].mean() - dy[(g == 0) | (g > 2005)].mean()
    got = res.att_gt.query("group == 2004 and time == 2005")["att"].iloc[0]
    assert got == pytest.approx(expected, abs=1e-12)
    assert got == pytest.approx(-0.0783190990620607, abs=1e-12)  # ref_attgt.csv, mpdta_nyt_dr


def test_text_covariate_is_dummy_coded(mpdta):
    # a two-level text covariate gives the same result as its 0/1 numeric dummy
    size = np.where(mpdta["lpop"] > mpdta["lpop"].median(), "large", "small")
    a = mpdta.assign(size=pd.array(size, dtype="str"))
    b = mpdta.assign(size=(size == "small").astype(float))
    ra = staggered_did(a, **MPDTA_COLS, estimator="dr", covariates=["size"]).att_gt
    rb = staggered_did(b, **MPDTA_COLS, estimator="dr", covariates=["size"]).att_gt
    np.testing.assert_allclose(ra[["att", "se"]], rb[["att", "se"]], atol=1e-12)


def test_nullable_integers_with_missing_first_treated_mean_never_treated(mpdta, fits):
    # first_treated as pandas Int64 with <NA> for never treated (instead of R's 0)
    nullable = mpdta.assign(**{"first.treat": mpdta["first.treat"].astype("Int64").replace(0, pd.NA),
                               "year": mpdta["year"].astype("Int64")})
    got = staggered_did(nullable, **MPDTA_COLS).att_gt
    pd.testing.assert_frame_equal(got, fits["mpdta_nev_dr"].att_gt)


def test_string_unit_ids_and_row_order_do_not_matter(mpdta):
    shuffled = mpdta.sample(frac=1, random_state=3).assign(
        countyreal=lambda d: "k" + d["countyreal"].astype(str))
    a = staggered_did(mpdta, **MPDTA_COLS, estimator="reg", covariates="lpop").att_gt
    b = staggered_did(shuffled, **MPDTA_COLS, estimator="reg", covariates="lpop").att_gt
    pd.testing.assert_frame_equal(a, b, atol=1e-13, rtol=0)


# ------------------------------------------------------------------------------------------------
# Invariants (hypothesis)
# ------------------------------------------------------------------------------------------------
@st.composite
def _panels(draw):
    n_per = draw(st.integers(3, 6))
    n_t = draw(st.integers(2, 5))
    cohorts = [0] + list(range(2, n_t + 1))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    g = np.repeat(cohorts, n_per)
    n = g.size
    t = np.arange(1, n_t + 1)
    y = rng.normal(size=(n, n_t))
    x = rng.normal(size=n)
    df = pd.DataFrame({"id": np.repeat(np.arange(n), n_t), "t": np.tile(t, n),
                       "g": np.repeat(g, n_t), "y": y.ravel(), "x": np.repeat(x, n_t)})
    return df, rng


@settings(max_examples=25, deadline=None)
@given(_panels(), st.sampled_from(["dr", "ipw", "reg", "dr_imp"]),
       st.sampled_from(["never", "notyet"]))
def test_unit_and_period_effects_cancel(data, estimator, control):
    # DiD removes additive unit and period effects; a constant effect tau added from g on is
    # recovered exactly in every post-treatment cell when there is no noise.
    df, rng = data
    alpha = rng.normal(size=df["id"].max() + 1)
    lam = rng.normal(size=df["t"].max() + 1)
    shifted = df.assign(y=df["y"] + alpha[df["id"]] + lam[df["t"]])
    kw = dict(outcome="y", unit="id", time="t", first_treated="g", estimator=estimator,
              control_group=control)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        a = staggered_did(df, **kw).att_gt
        b = staggered_did(shifted, **kw).att_gt
        noiseless = df.assign(y=alpha[df["id"]] + lam[df["t"]]
                              + 1.5 * ((df["g"] > 0) & (df["t"] >= df["g"])))
        c = staggered_did(noiseless, **kw).att_gt
    np.testing.assert_allclose(a["att"], b["att"], atol=1e-9)
    np.testing.assert_allclose(a["se"], b["se"], atol=1e-9)
    ok = c["att"].notna()
    post = c["time"] >= c["group"]
    np.testing.assert_allclose(c.loc[ok & post, "att"], 1.5, atol=1e-9)
    np.testing.assert_allclose(c.loc[ok & ~post, "att"], 0.0, atol=1e-9)


@settings(max_examples=20, deadline=None)
@given(_panels())
def test_aggregates_are_weighted_means_of_cells(data):
    # simple = cohort-size weighted mean of post-treatment cells; calendar overall = mean of theta(t)
    df, _ = data
    res = staggered_did(df, outcome="y", unit="id", time="t", first_treated="g", estimator="reg",
                        covariates="x")
    tab = res.att_gt
    post = tab[tab["time"] >= tab["group"]]
    size = df.drop_duplicates("id")["g"].value_counts()
    w = post["group"].map(size).to_numpy(float)
    assert res.aggregate("simple").att == pytest.approx(np.sum(w * post["att"]) / w.sum(), abs=1e-12)
    cal = res.aggregate("calendar")
    assert cal.att == pytest.approx(cal.table["att"].mean(), abs=1e-12)
    grp = res.aggregate("group")
    np.testing.assert_allclose(grp.table["att"], post.groupby("group")["att"].mean(), atol=1e-12)
    assert np.all(np.isfinite([res.aggregate(k).se for k in ("simple", "group", "dynamic")]))


# ------------------------------------------------------------------------------------------------
# Exclusions and errors
# ------------------------------------------------------------------------------------------------
def test_units_treated_in_first_period_are_dropped_and_counted(mpdta):
    early = mpdta.assign(**{"first.treat": mpdta["first.treat"].where(
        ~mpdta["countyreal"].isin(mpdta["countyreal"].unique()[:7]), 2003)})
    with pytest.warns(DataWarning, match="Dropped 7 units that were already treated in the first"):
        res = staggered_did(early, **MPDTA_COLS)
    assert res.excluded == {"treated_in_first_period": 7}
    assert res.n_units == 493
    assert 2003 not in set(res.att_gt["group"])


def test_units_treated_after_last_period_count_as_never_treated(mpdta):
    late = mpdta.assign(**{"first.treat": mpdta["first.treat"].replace(0, 2010)})
    with pytest.warns(DataWarning, match="309 units are first treated after the last period"):
        res = staggered_did(late, **MPDTA_COLS)
    ref = staggered_did(mpdta, **MPDTA_COLS)
    pd.testing.assert_frame_equal(res.att_gt, ref.att_gt)


def test_unbalanced_panel_names_the_number_of_units(mpdta):
    holes = mpdta.drop(index=[0, 7, 12])  # three different counties lose a year
    with pytest.raises(SchemaError, match=r"panel is unbalanced: 3 of 500 units .* all 5 periods"):
        staggered_did(holes, **MPDTA_COLS)


def test_first_treated_must_be_constant_within_unit(mpdta):
    bad = mpdta.copy()
    bad.loc[[0, 5], "first.treat"] = 2006  # first rows of two units that are treated in 2007 / 0
    with pytest.raises(SchemaError, match=r"first\.treat: must be constant within each unit; 2 units"):
        staggered_did(bad, **MPDTA_COLS)


def test_never_control_group_without_never_treated_units(mpdta):
    treated = mpdta[mpdta["first.treat"] > 0]
    with pytest.raises(ParameterError, match="needs never-treated units.*control_group='notyet'"):
        staggered_did(treated, **MPDTA_COLS)
    # not-yet-treated works as R `did` does: the last cohort (2007) is comparison only and the
    # periods from 2007 on are dropped
    with pytest.warns(DataWarning, match="cohort 2007 is used only as comparison"):
        res = staggered_did(treated, **MPDTA_COLS, control_group="notyet")
    assert set(res.att_gt["group"]) == {2004, 2006}
    assert set(res.att_gt["time"]) == {2004, 2005, 2006}
    # ATT(2004, 2005): treated 2004 vs cohorts 2006 and 2007 (not yet treated in 2005)
    w = mpdta.pivot(index="countyreal", columns="year", values="lemp")
    g = mpdta.groupby("countyreal")["first.treat"].first()
    dy = w[2005] - w[2003]
    expected = dy[g == 2004].mean() - dy[g >= 2006].mean()
    got = res.att_gt.query("group == 2004 and time == 2005")["att"].iloc[0]
    assert got == pytest.approx(expected, abs=1e-12)


def test_duplicate_rows_and_missing_values_are_errors(mpdta):
    with pytest.raises(SchemaError, match=r"countyreal, year: each unit may appear once per period "
                                          r"-- 2 rows break it \(rows 0, 2500\)"):
        staggered_did(pd.concat([mpdta, mpdta.iloc[[0]]], ignore_index=True), **MPDTA_COLS)
    gap = mpdta.copy()
    gap.loc[3, "lemp"] = np.nan
    with pytest.raises(SchemaError, match=r"lemp: missing values are not allowed -- 1 row breaks it"):
        staggered_did(gap, **MPDTA_COLS)
    with pytest.raises(SchemaError, match="lpop2: required column missing"):
        staggered_did(mpdta, **MPDTA_COLS, covariates=["lpop2"])


@pytest.mark.parametrize("kwargs, message", [
    (dict(control_group="last"), "control_group must be 'never' or 'notyet'"),
    (dict(estimator="ols"), "estimator must be 'dr', 'ipw', 'reg' or 'dr_imp'"),
    (dict(base_period="fixed"), "base_period must be 'varying' or 'universal'"),
    (dict(anticipation=-1), "anticipation must be a non-negative integer"),
    (dict(level=95), "level must be between 0 and 1"),
])
def test_bad_parameters(mpdta, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        staggered_did(mpdta, **MPDTA_COLS, **kwargs)


def test_unknown_aggregation_and_r_control_names(mpdta):
    res = staggered_did(mpdta, **MPDTA_COLS, control_group="notyettreated")
    assert res.control_group == "notyet"
    with pytest.raises(ParameterError, match="kind must be"):
        res.aggregate("event")


def test_cell_violating_overlap_is_nan_and_left_out_of_aggregation():
    # cohort 2 has covariate x = 5, above every comparison unit (perfect separation, propensity -> 1):
    # its cells are NaN (R `did`'s overlap check); cohort 3 overlaps with the comparison units.
    rng = np.random.default_rng(1)
    x = np.r_[np.full(4, 5.0), rng.normal(size=4), rng.normal(size=8)]
    g = np.r_[np.full(4, 2), np.full(4, 3), np.zeros(8, int)]
    df = pd.DataFrame({"id": np.repeat(np.arange(16), 3), "t": np.tile([1, 2, 3], 16),
                       "g": np.repeat(g, 3), "x": np.repeat(x, 3),
                       "y": rng.normal(size=48)})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = staggered_did(df, outcome="y", unit="id", time="t", first_treated="g",
                            estimator="dr", covariates="x")
    messages = sorted(str(w.message) for w in caught if issubclass(w.category, DataWarning))
    assert [m[:35] for m in messages] == ["ATT(2, 2): overlap condition violat",
                                          "ATT(2, 3): overlap condition violat"]
    tab = res.att_gt.set_index(["group", "time"])
    assert tab.loc[2, "att"].isna().all() and tab.loc[2, "se"].isna().all()
    assert tab.loc[3, "att"].notna().all()
    with pytest.warns(DataWarning, match="2 ATT\\(g, t\\) cells could not be estimated"):
        simple = res.aggregate("simple")
    assert simple.att == pytest.approx(tab.loc[(3, 3), "att"], abs=1e-12)


# ------------------------------------------------------------------------------------------------
# Improved DR estimator (dr_imp): no R reference, checked against its defining properties
# ------------------------------------------------------------------------------------------------
def test_ipt_propensity_score_balances_covariates(mpdta):
    # Inverse probability tilting: sum over comparison units of p/(1-p) * X equals sum over treated X
    # (Sant'Anna & Zhao 2020 §3.1; Graham, Pinto & Egel 2012) -- the property that removes the
    # first-stage terms from the influence function.
    from naravard_analysis.methods.did import _ipt_pscore

    rng = np.random.default_rng(5)
    x = rng.normal(size=(400, 2))
    d = (rng.random(400) < 1 / (1 + np.exp(-(0.3 + x @ [0.8, -0.5])))).astype(float)
    xc = np.column_stack([np.ones(400), x])
    ps = _ipt_pscore(d, xc)
    odds = ps / (1 - ps)
    np.testing.assert_allclose(((1 - d) * odds) @ xc, d @ xc, rtol=1e-10)


def test_dr_imp_equals_dr_without_covariates_and_is_exact_for_linear_outcomes(mpdta):
    plain = staggered_did(mpdta, **MPDTA_COLS, estimator="dr_imp").att_gt
    ref = staggered_did(mpdta, **MPDTA_COLS, estimator="dr").att_gt
    np.testing.assert_allclose(plain[["att", "se"]], ref[["att", "se"]], atol=1e-14)
    # outcome trend linear in lpop plus a constant effect 0.2 from g on, no noise: every post cell
    # is exactly 0.2 and every pre cell 0 (outcome model correctly specified)
    years = mpdta["year"] - 2003
    treated_now = (mpdta["first.treat"] > 0) & (mpdta["year"] >= mpdta["first.treat"])
    lin = mpdta.assign(lemp=1 + 0.3 * mpdta["lpop"] * years + 0.2 * treated_now)
    tab = staggered_did(lin, **MPDTA_COLS, estimator="dr_imp", covariates="lpop").att_gt
    post = tab["time"] >= tab["group"]
    np.testing.assert_allclose(tab.loc[post, "att"], 0.2, atol=1e-9)
    np.testing.assert_allclose(tab.loc[~post, "att"], 0.0, atol=1e-9)
    # and with real data it stays close to the traditional DR (same estimand, both consistent)
    imp = staggered_did(mpdta, **MPDTA_COLS, estimator="dr_imp", covariates="lpop").att_gt
    dr = staggered_did(mpdta, **MPDTA_COLS, estimator="dr", covariates="lpop").att_gt
    assert np.max(np.abs(imp["att"] - dr["att"])) < 0.1 * dr["se"].min()
