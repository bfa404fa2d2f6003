"""API, inference settings and error handling of naravard_analysis.methods.its.

Independent numbers: Newey-West sandwiches are written out below from Stata's ``newey`` formula
(methods reference §6.5); controlled-ITS terms are checked against the exact identity with two separate
per-group OLS fits; Prais-Winsten against its fixed-point equations.
"""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from naravard_analysis.data import official
from naravard_analysis.errors import DataWarning, ParameterError, SchemaError
from naravard_analysis.methods.its import (
    ITSResult,
    fit_its,
    fit_its_many,
    monthly_series,
    prais_winsten,
)

matplotlib.use("Agg")

SICILY = official.reference_dir() / "sicily" / "sicily.csv"


@pytest.fixture(scope="module")
def sicily() -> pd.DataFrame:
    d = pd.read_csv(SICILY)
    return d.assign(rate=d["aces"] / d["stdpop"] * 1e5)


def _series(n=96, start="2015-01-01", t_int=48, beta=(50.0, 0.1, -5.0, -0.2), sigma=1.0, seed=1, rho=0.0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = (t >= t_int).astype(float)
    e = rng.normal(0, sigma, n)
    for i in range(1, n):
        e[i] += rho * e[i - 1]
    y = beta[0] + beta[1] * t + beta[2] * x + beta[3] * x * (t - t_int) + e
    return pd.DataFrame({"month": pd.date_range(start, periods=n, freq="MS"), "t": t, "y": y})


def _newey_west(X, e, L, groups=None):
    """Stata newey: (X'X)^-1 S (X'X)^-1 * n/(n-k), S = sum_l w_l sum_t e_t e_{t-l} (x_t x_{t-l}' + x_{t-l} x_t'),
    w_0 = 1/2 (so the l = 0 term counts once), w_l = 1 - l/(L+1); lags only within a unit."""
    n, k = X.shape
    groups = np.zeros(n) if groups is None else groups
    S = np.zeros((k, k))
    for g in np.unique(groups):
        Xg, eg = X[groups == g], e[groups == g]
        u = Xg * eg[:, None]
        S += u.T @ u
        for lag in range(1, L + 1):
            w = 1 - lag / (L + 1)
            G = u[lag:].T @ u[:-lag]
            S += w * (G + G.T)
    B = np.linalg.inv(X.T @ X)
    return B @ S @ B * n / (n - k)


def test_newey_west_equals_hand_sandwich(sicily):
    res = fit_its(sicily, outcome="rate", time="time", interruption=37, harmonics=2, season="month",
                  cov_type="hac", hac_lags=3)
    X = res.design.X
    e = sicily["rate"].to_numpy() - X @ res.fit.params
    V = _newey_west(X, e, 3)
    np.testing.assert_allclose(res.cov.to_numpy(), V, rtol=1e-10)
    # t(n - k) inference as Stata newey
    se = np.sqrt(V[2, 2])
    q = stats.t.ppf(0.975, 59 - 8)
    row = res.effects.loc["level_change"]
    np.testing.assert_allclose([row["lower"], row["upper"]], [row["estimate"] - q * se, row["estimate"] + q * se])
    np.testing.assert_allclose(row["p_value"], 2 * stats.t.sf(abs(row["estimate"] / se), 51))
    # point estimates are OLS
    b_ols = np.linalg.lstsq(X, sicily["rate"].to_numpy(), rcond=None)[0]
    np.testing.assert_allclose(res.fit.params, b_ols, rtol=1e-10)
    assert "Newey-West (Bartlett, 3 lags" in res.summary("en")


def test_hac_needs_lags(sicily):
    with pytest.raises(ParameterError, match="hac_lags"):
        fit_its(sicily, outcome="rate", time="time", interruption=37, cov_type="hac")


def _panel(seed=3, n=60, t_int=30):
    rng = np.random.default_rng(seed)
    frames = []
    for g, (b0, b1, b2, b3) in {"A": (20, 0.2, -3, -0.1), "B": (18, 0.15, 0, 0), "C": (19, 0.1, 1, 0.05)}.items():
        t = np.arange(n)
        x = t >= t_int
        y = b0 + b1 * t + b2 * x + b3 * x * (t - t_int) + rng.normal(0, 1, n)
        frames.append(pd.DataFrame({"unit": g, "t": t + 1, "y": y}))
    return pd.concat(frames, ignore_index=True).sample(frac=1, random_state=1)  # order must not matter


def test_controlled_its_two_groups_equals_separate_fits():
    """Fully interacted two-group OLS = separate OLS per group: differences are exact (Linden §6.8)."""
    d = _panel()
    d2 = d[d["unit"].isin(["A", "B"])]
    res = fit_its(d2, outcome="y", time="t", interruption=31, group="unit", treated="A")
    sep = {g: fit_its(d2[d2["unit"] == g], outcome="y", time="t", interruption=31).params for g in "AB"}
    eff = res.effects["estimate"]
    for term, diff in [("level_difference", "intercept"), ("pre_trend_difference", "pre_trend"),
                       ("level_change_difference", "level_change"), ("slope_change_difference", "slope_change")]:
        np.testing.assert_allclose(eff[term], sep["A"][diff] - sep["B"][diff], atol=1e-9)
    np.testing.assert_allclose(eff["level_change"], sep["B"]["level_change"], atol=1e-9)
    np.testing.assert_allclose(eff["treated_post_trend"], sep["A"]["pre_trend"] + sep["A"]["slope_change"], atol=1e-9)
    assert res.stata_names["slope_change_difference"] == "_z_x_t31"
    # counterfactual of the treated: differences switched off, control changes kept
    cf = res.predict(counterfactual=True)
    fit = res.predict()
    ctrl = ~cf["treated"].to_numpy()
    np.testing.assert_allclose(cf["predicted"][ctrl], fit["predicted"][ctrl])
    e = res.effect_at(5)
    assert len(e) == 1 and e["group"].iloc[0] == "A"
    np.testing.assert_allclose(e["difference"].iloc[0], eff["level_change_difference"] + 5 * eff["slope_change_difference"])


def test_controlled_its_panel_newey_west_and_t_df():
    d = _panel()
    res = fit_its(d, outcome="y", time="t", interruption=31, group="unit", treated="A", cov_type="hac", hac_lags=2)
    f = res.frame
    X = res.design.X
    e = f["observed"].to_numpy() - X @ res.fit.params
    V = _newey_west(X, e, 2, groups=f["group"].to_numpy())
    np.testing.assert_allclose(res.cov.to_numpy(), V, rtol=1e-10)
    n, k = X.shape
    row = res.effects.loc["slope_change_difference"]
    se = np.sqrt(V[res.design.col("slope_change_difference")] [res.design.col("slope_change_difference")])
    np.testing.assert_allclose(row["p_value"], 2 * stats.t.sf(abs(row["estimate"]) / se, n - k))  # Stata df
    assert res.frame["treated"].sum() == 60


def test_prais_winsten_fixed_point_and_first_observation():
    d = _series(n=200, rho=0.6, seed=7)
    res = fit_its(d, outcome="y", time="month", interruption="2019-01-01", errors="prais")
    rho = res.fit.rho
    X = res.design.X
    y = d["y"].to_numpy()
    b = res.fit.params
    e = y - X @ b
    np.testing.assert_allclose(rho, e[1:] @ e[:-1] / (e[:-1] @ e[:-1]), atol=1e-7)  # rho equation
    c = np.sqrt(1 - rho**2)
    ys = np.r_[c * y[0], y[1:] - rho * y[:-1]]
    Xs = np.vstack([c * X[:1], X[1:] - rho * X[:-1]])
    np.testing.assert_allclose(b, np.linalg.lstsq(Xs, ys, rcond=None)[0], rtol=1e-6)  # GLS equation
    assert res.fit.model.nobs == 200  # first observation kept (not Cochrane-Orcutt)
    assert 0.45 < rho < 0.75
    assert res.fit.use_t and "rho" in res.summary("en")
    pw = prais_winsten(y, X)
    np.testing.assert_allclose(pw.params, b)


def test_arima_errors_and_exclusion_as_missing():
    d = _series(n=120, rho=0.5, seed=11)
    res = fit_its(d, outcome="y", time="month", interruption="2019-01-01", errors="arima",
                  exclude=("2016-01-01", "2016-06-01"))
    assert set(res.fit.extra_params) == {"ar.L1", "sigma2"}
    assert 0.2 < res.fit.extra_params["ar.L1"] < 0.8
    assert abs(res.effects.loc["level_change", "estimate"] + 5) < 1.5
    assert res.frame["excluded"].sum() == 6 and res.n_obs == 114
    with pytest.raises(ParameterError, match="single Gaussian"):
        fit_its(d.assign(c=1), outcome="y", time="month", interruption="2019-01-01", family="poisson", errors="arima")


def test_exclude_equals_fit_on_subset_and_predicts_excluded():
    d = _series(seed=5)
    covid = ("2020-03-01", "2020-08-01")
    res = fit_its(d, outcome="y", time="month", interruption="2019-01-01", exclude=covid)
    sub = d[~d["month"].between(*pd.to_datetime(covid))]
    ref = fit_its(sub, outcome="y", time="month", interruption="2019-01-01")
    pd.testing.assert_frame_equal(res.effects, ref.effects, rtol=1e-10)
    pred = res.predict()
    assert pred["excluded"].sum() == 6 and pred["predicted"].notna().all()
    c = res.cumulative_effect().iloc[0]
    assert c["n_excluded"] == 6 and c["n_periods"] == 48 - 6
    # a boolean column works the same way
    flag = d["month"].between(*pd.to_datetime(covid))
    res2 = fit_its(d.assign(flag=flag), outcome="y", time="month", interruption="2019-01-01", exclude="flag")
    pd.testing.assert_frame_equal(res.effects, res2.effects)


def test_further_interruptions_have_own_terms_and_stay_in_counterfactual():
    d = _series(n=120, seed=9)
    res = fit_its(d, outcome="y", time="month", interruption="2019-01-01",
                  interruptions={"covid": "2020-03-01", "covid_end": "2021-07-01"})
    names = list(res.params.index)
    assert names[:4] == ["intercept", "pre_trend", "level_change", "slope_change"]
    assert {"level_change_covid", "slope_change_covid", "level_change_covid_end"} <= set(names)
    cf = res.predict(counterfactual=True)
    p = res.params
    i = int(np.flatnonzero(d["month"] == pd.Timestamp("2021-01-01"))[0])
    t = i  # index from the first month
    expected = p["intercept"] + p["pre_trend"] * t + p["level_change_covid"] + p["slope_change_covid"] * (t - 62)
    np.testing.assert_allclose(cf["predicted"].iloc[i], expected)
    res2 = fit_its(d, outcome="y", time="month", interruption="2019-01-01", interruptions=["2020-03-01"])
    assert "level_change_2" in res2.params.index


def test_forecast_mode_fits_pre_period_only():
    d = _series(seed=2)
    res = fit_its(d, outcome="y", time="month", interruption="2019-01-01", mode="forecast")
    pre = d[d["month"] < "2019-01-01"]
    b = np.polyfit(pre["t"], pre["y"], 1)
    np.testing.assert_allclose(res.params[["pre_trend", "intercept"]].to_numpy(), b, rtol=1e-9)
    assert "level_change" not in res.effects.index
    e = res.effect_at(0).iloc[0]
    np.testing.assert_allclose(e["difference"], e["observed"] - (b[1] + b[0] * 48))
    assert "pre-period fit projected forward" in res.summary("en")


def test_poisson_and_negbin_on_simulated_counts():
    rng = np.random.default_rng(4)
    n = 120
    t = np.arange(n)
    x = t >= 60
    pop = np.linspace(1e5, 1.1e5, n)
    mu = pop * np.exp(-7 + 0.002 * t - 0.2 * x - 0.004 * x * (t - 60))
    y = rng.poisson(mu)
    d = pd.DataFrame({"t": t, "y": y, "pop": pop})
    res = fit_its(d, outcome="y", time="t", interruption=60, family="negbin", exposure="pop")
    assert res.link == "log" and res.dispersion < 0.01  # alpha ~ 0 for Poisson data
    assert {"ratio", "ratio_lower", "ratio_upper"} <= set(res.effects.columns)
    assert res.effects.loc["level_change", "ratio_lower"] < np.exp(-0.2) < res.effects.loc["level_change", "ratio_upper"]
    diag = fit_its(d, outcome="y", time="t", interruption=60, family="poisson", exposure="pop").diagnostics()
    assert list(diag["test"]) == ["durbin_watson", "ljung_box", "pearson_dispersion"]
    assert diag.loc[2, "p_value"] > 0.001  # Poisson data: no overdispersion


def test_errors_name_column_rule_and_rows(sicily):
    with pytest.raises(SchemaError, match="column.*'nope'"):
        fit_its(sicily, outcome="nope", time="time", interruption=37)
    bad = sicily.copy()
    bad.loc[[3, 7], "aces"] = -1
    with pytest.raises(SchemaError, match=r"counts must be >= 0 -- 2 rows break it \(rows 3, 7\)"):
        fit_its(bad, outcome="aces", time="time", interruption=37, family="poisson")
    bad = sicily.copy()
    bad.loc[5, "aces"] = np.nan
    with pytest.raises(SchemaError, match="outcome missing.*row 5"):
        fit_its(bad, outcome="aces", time="time", interruption=37)
    # but excluding that period explicitly is fine
    fit_its(bad, outcome="aces", time="time", interruption=37, exclude=(6, 6))
    with pytest.raises(SchemaError, match="one row per period"):
        fit_its(pd.concat([sicily, sicily.iloc[:1]]), outcome="aces", time="time", interruption=37)
    with pytest.raises(SchemaError, match="exposure must be > 0"):
        fit_its(sicily.assign(stdpop=0.0), outcome="aces", time="time", interruption=37, family="poisson", exposure="stdpop")
    with pytest.raises(ParameterError, match="exposure .* count families"):
        fit_its(sicily, outcome="aces", time="time", interruption=37, exposure="stdpop")
    with pytest.raises(ParameterError, match="family must be"):
        fit_its(sicily, outcome="aces", time="time", interruption=37, family="binomial")
    with pytest.raises(ParameterError, match="need >= 2 fitted periods before"):
        fit_its(sicily, outcome="aces", time="time", interruption=100)
    with pytest.raises(ParameterError, match="harmonics"):
        fit_its(sicily, outcome="aces", time="time", interruption=37, harmonics=6)
    with pytest.raises(ParameterError, match="group and treated"):
        fit_its(sicily, outcome="aces", time="time", interruption=37, group="year")


def test_plot_summary_and_repr(sicily):
    res = fit_its(sicily, outcome="aces", time="time", interruption=37, family="quasipoisson",
                  exposure="stdpop", harmonics=2, exclude=(50, 52))
    fig = res.plot(language="sv")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "Antal per 100 000"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"Observerat", "Anpassat", "Kontrafaktiskt", "Exkluderat ur skattningen"} <= set(labels)
    fig2 = res.plot_acf(lags=12)
    assert len(fig2.axes) == 2
    s = res.summary("en")
    assert "quasi-Poisson" in s and "offset log(stdpop)" in s and "excluded 3" in s
    assert "<table" in res._repr_html_()
    assert isinstance(res, ITSResult)
    import matplotlib.pyplot as plt

    plt.close("all")


@settings(max_examples=25, deadline=None)
@given(shift=st.integers(-500, 500), scale=st.floats(0.01, 100))
def test_invariance_time_origin_and_exposure_scale(shift, scale):
    """Shifting time or rescaling exposure changes only the intercept (log link: by -log(scale))."""
    d = pd.read_csv(SICILY)
    base = fit_its(d, outcome="aces", time="time", interruption=37, family="quasipoisson", exposure="stdpop")
    other = fit_its(d.assign(time=d["time"] + shift, stdpop=d["stdpop"] * scale), outcome="aces", time="time",
                    interruption=37 + shift, family="quasipoisson", exposure="stdpop")
    a, b = base.effects, other.effects
    np.testing.assert_allclose(a.loc[a.index != "intercept", "estimate"], b.loc[b.index != "intercept", "estimate"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(b.loc["intercept", "estimate"], a.loc["intercept", "estimate"] - np.log(scale), atol=1e-6)
    np.testing.assert_allclose(base.predict()["predicted"], other.predict()["predicted"], rtol=1e-6)


def test_fit_its_many_tidy_and_records_failures():
    d = _panel()
    d = d.assign(z=d["y"] * 2)
    bad = pd.DataFrame({"unit": "D", "t": [1, 2, 3], "y": [1.0, 2.0, 3.0], "z": [1.0, 1.0, 1.0]})
    with pytest.warns(DataWarning, match="2 of 8 series failed"):
        tidy, results = fit_its_many(pd.concat([d, bad]), by="unit", outcome=["y", "z"], time="t",
                                     interruption=31, progress=False, return_results=True)
    ok = tidy[tidy["error"] == ""]
    assert len(ok) == 6 * 5  # 3 units x 2 outcomes x 5 terms (4 + post_trend)
    np.testing.assert_allclose(ok.query("unit == 'A' and outcome == 'z' and term == 'level_change'")["estimate"].iloc[0],
                               2 * ok.query("unit == 'A' and outcome == 'y' and term == 'level_change'")["estimate"].iloc[0])
    assert tidy.loc[tidy["unit"] == "D", "error"].str.contains("ParameterError").all()
    assert set(results) == {(u, o) for u in "ABC" for o in "yz"}
    with pytest.raises(ParameterError):
        fit_its_many(bad, by="unit", outcome="y", time="t", interruption=31, progress=False, on_error="raise")


def test_monthly_series_counts_zero_months_and_population():
    events = pd.DataFrame({
        "admission_date": pd.to_datetime(["2020-01-05", "2020-01-20", "2020-03-01", "2021-02-10", "2020-02-02", None]),
        "region_code": ["01", "01", "01", "01", "03", "01"],
    })
    pop = pd.DataFrame({"year": [2020, 2020, 2020, 2021], "region_code": ["01", "01", "03", "03"],
                        "sex": ["F", "M", "F", "F"], "age": [70, 70, 70, 70], "population": [100, 150, 80, 90]})
    with pytest.warns(DataWarning) as rec:
        s = monthly_series(events, pop, date="admission_date", by="region_code")
    msgs = " ".join(str(w.message) for w in rec)
    assert "1 events excluded" in msgs and "nearest year" in msgs
    assert len(s) == 2 * 14  # 2 regions x Jan 2020..Feb 2021
    r1 = s[s["region_code"] == "01"].set_index("period")
    assert r1.loc["2020-01-01", "events"] == 2 and r1.loc["2020-02-01", "events"] == 0
    assert r1.loc["2020-01-01", "population"] == 250 and r1.loc["2021-02-01", "population"] == 250  # nearest year
    assert s.loc[(s["region_code"] == "03") & (s["period"] == "2021-01-01"), "population"].iloc[0] == 90
    np.testing.assert_allclose(r1.loc["2020-01-01", "rate"], 2 / 250 * 1e5)
    assert s["events"].sum() == 5
    with pytest.warns(DataWarning, match="2 events excluded"):
        q = monthly_series(events, pop, date="admission_date", freq="QS", start="2020-01-01", end="2020-12-31")
    assert list(q["events"]) == [4, 0, 0, 0] and q["population"].iloc[0] == 330
    res = fit_its(s[s["region_code"] == "01"], outcome="events", time="period", interruption="2020-07-01",
                  family="poisson", exposure="population")
    assert res.axis.freq == "M"
    with pytest.raises(SchemaError, match="not present in population"), pytest.warns(DataWarning):
        monthly_series(events.assign(region_code="09"), pop, date="admission_date", by="region_code")


def test_quarterly_and_yearly_axes():
    d = _series(n=40)
    q = d.assign(quarter=pd.date_range("2010-01-01", periods=40, freq="QS"))
    res = fit_its(q, outcome="y", time="quarter", interruption="2015-01-01", harmonics=1, period=4)
    assert res.axis.freq == "Q" and res.frame["post"].sum() == 20
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = d.iloc[:12].assign(year=pd.date_range("2010-01-01", periods=12, freq="YS"))
        assert fit_its(y, outcome="y", time="year", interruption="2016-01-01").stata_names["level_change"] == "_x2016"


def test_monthly_series_age_standardised_offset():
    """Hand calculation: weights 1/4, 3/4; Jan: 1 event / 100 (20-24) and 3 / 300 (25-29) ->
    DSR = 0.25*0.01 + 0.75*0.01 = 0.01 = 1000 per 100 000, std_population = 4 / 0.01 = 400.
    Feb has no events: std_population = 400 x pooled ratio 400/400 (DataWarning)."""
    events = pd.DataFrame({"d": pd.to_datetime(["2020-01-03", "2020-01-09", "2020-01-20", "2020-01-21", "2020-03-02"]),
                           "age": [22, 27, 27, 27, 22]})
    pop = pd.DataFrame({"year": [2020, 2020], "age": [22, 27], "population": [100, 300]})
    with pytest.warns(DataWarning, match="1 period"):
        s = monthly_series(events, pop, date="d", standardise={"20-24": 1, "25-29": 3})
    assert list(s["events"]) == [4, 0, 1]
    np.testing.assert_allclose(s["adjusted_rate"], [1000.0, 0.0, 0.25 * 1 / 100 * 1e5])
    np.testing.assert_allclose(s["std_population"], [400.0, 400.0, 1 / (0.0025)])
    with pytest.raises(SchemaError, match="age"):
        monthly_series(events.drop(columns="age"), pop, date="d", standardise="esp2013")


def test_monthly_series_ages_and_where_filter_numerator_and_denominator_alike():
    from naravard_analysis.errors import SchemaError as _SchemaError
    from naravard_analysis.methods.its import monthly_series as _ms

    events = pd.DataFrame(
        {
            "date": pd.to_datetime(["2020-01-05", "2020-01-20", "2020-02-03", "2020-02-10"]),
            "age": [85, 79, 80, 90],
            "sex": ["F", "F", "M", "F"],
        }
    )
    population = pd.DataFrame(
        {"year": 2020, "age": [79, 80, 85, 90], "sex": ["F", "M", "F", "F"],
         "population": [1000, 200, 300, 100]}
    )
    s = _ms(events, population, date="date", ages=(80, None))
    # 80+: January 1 event (85), February 2 (80, 90); population 200 + 300 + 100
    assert s["events"].tolist() == [1, 2] and s["population"].tolist() == [600.0, 600.0]
    f = _ms(events, population, date="date", ages=(80, None), where={"sex": "F"})
    assert f["events"].tolist() == [1, 1] and f["population"].tolist() == [400.0, 400.0]
    with pytest.raises(_SchemaError, match="with_person_attributes"):
        _ms(events.drop(columns="age"), population, date="date", ages=(80, None))
    with pytest.raises(_SchemaError, match="both events and population"):
        _ms(events, population.drop(columns="sex"), date="date", where={"sex": "F"})
