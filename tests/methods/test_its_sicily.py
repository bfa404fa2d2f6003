"""Reproduction of the Lopez Bernal, Cummins & Gasparrini (2017, corrected 2020) tutorial on the Sicily data.

Where the expected numbers come from
------------------------------------
The authors' model definitions (gasparrini/2017_lopezbernal_IJE_codedata, ``Rcode.R``; methods reference §6.3):

  model1 <- glm(aces ~ offset(log(stdpop)) + smokban + time, family=poisson)
  model2 <- same, family=quasipoisson
  model3 <- model2 + harmonic(month, 2, 12)
  model4 <- model3 + I(time-36):smokban

``ci.exp`` gives exp(b +- qnorm(0.975) * se), with se scaled by sqrt(Pearson X^2 / (n - p)) for the
quasi-Poisson models. The expected values are computed in this module, **independently of the package**,
by ``_irls`` below: a hand-written iteratively reweighted least squares for a log-link Poisson GLM with
an offset, on design matrices written out column by column from the R formulas (tsModel ``harmonic(x,
nfreq, period)`` = sin/cos(2 pi k x / period), k = 1..nfreq). ``EXPECTED`` holds the 4-decimal rate
ratios that ``_irls`` printed (copied by hand, so that a change in both the package and the helper would
still be caught).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from naravard_analysis.data import official
from naravard_analysis.methods.its import fit_its

SICILY = official.reference_dir() / "sicily" / "sicily.csv"
Z = stats.norm.ppf(0.975)


@pytest.fixture(scope="module")
def sicily() -> pd.DataFrame:
    return pd.read_csv(SICILY)


def _irls(y, X, offset, quasi: bool, tol: float = 1e-12):
    """Independent Poisson GLM (log link, offset) by IRLS; returns b, se, dispersion, mu."""
    b = np.zeros(X.shape[1])
    b[0] = np.log(y.sum() / np.exp(offset).sum())
    for _ in range(100):
        eta = X @ b + offset
        mu = np.exp(eta)
        z = eta - offset + (y - mu) / mu  # working response without the offset
        W = mu
        new = np.linalg.solve(X.T @ (W[:, None] * X), X.T @ (W * z))
        if np.max(np.abs(new - b)) < tol:
            b = new
            break
        b = new
    mu = np.exp(X @ b + offset)
    n, p = X.shape
    phi = np.sum((y - mu) ** 2 / mu) / (n - p) if quasi else 1.0
    cov = np.linalg.inv(X.T @ (mu[:, None] * X)) * phi
    return b, np.sqrt(np.diag(cov)), phi, mu


def _lopez_bernal_design(d: pd.DataFrame, model: int) -> tuple[np.ndarray, list[str]]:
    """Columns of the authors' R formulas (model 4 uses their centring I(time-36):smokban)."""
    cols = [np.ones(len(d)), d["smokban"].to_numpy(float), d["time"].to_numpy(float)]
    names = ["(Intercept)", "smokban", "time"]
    if model == 4:
        cols.append((d["time"] - 36).to_numpy(float) * d["smokban"].to_numpy(float))
        names.append("I(time-36):smokban")
    if model >= 3:
        x = 2 * np.pi * d["month"].to_numpy(float) / 12
        for k in (1, 2):
            cols += [np.sin(k * x), np.cos(k * x)]
            names += [f"sin{k}", f"cos{k}"]
    return np.column_stack(cols), names


def _reference(d: pd.DataFrame, model: int) -> dict[str, tuple[float, float, float]]:
    X, names = _lopez_bernal_design(d, model)
    b, se, phi, _ = _irls(d["aces"].to_numpy(float), X, np.log(d["stdpop"].to_numpy(float)), quasi=model > 1)
    out = {n: (np.exp(b[i]), np.exp(b[i] - Z * se[i]), np.exp(b[i] + Z * se[i])) for i, n in enumerate(names)}
    out["_phi"] = (phi, phi, phi)
    out["_b"] = b
    out["_se"] = se
    return out


# 4-decimal rate ratios (ratio, lower, upper) printed by _irls on sicily.csv (see module docstring).
EXPECTED = {
    1: {"smokban": (0.8944, 0.8647, 0.9251), "time": (1.0050, 1.0040, 1.0059)},
    2: {"smokban": (0.8944, 0.8392, 0.9532), "time": (1.0050, 1.0031, 1.0068)},
    3: {"smokban": (0.8851, 0.8394, 0.9332), "time": (1.0054, 1.0038, 1.0070)},
    4: {"smokban": (0.8765, 0.8268, 0.9292), "time": (1.0051, 1.0034, 1.0068),
        "I(time-36):smokban": (1.0015, 0.9978, 1.0051)},
}

MODELS = {
    1: dict(family="poisson", slope_change=False),
    2: dict(family="quasipoisson", slope_change=False),
    3: dict(family="quasipoisson", slope_change=False, harmonics=2, season="month"),
    4: dict(family="quasipoisson", slope_change=True, harmonics=2, season="month"),
}


@pytest.mark.parametrize("model", [1, 2, 3, 4])
def test_independent_reference_matches_recorded_values(sicily, model):
    ref = _reference(sicily, model)
    for term, triple in EXPECTED[model].items():
        assert np.round(ref[term], 4).tolist() == list(triple), term


@pytest.mark.parametrize("model", [1, 2, 3])
def test_step_models_reproduce_rate_ratios_to_four_decimals(sicily, model):
    res = fit_its(sicily, outcome="aces", time="time", interruption=37, exposure="stdpop", **MODELS[model])
    ref = _reference(sicily, model)
    eff = res.effects
    for ours, theirs in (("level_change", "smokban"), ("pre_trend", "time")):
        got = eff.loc[ours, ["ratio", "ratio_lower", "ratio_upper"]].to_numpy(float)
        np.testing.assert_allclose(got, ref[theirs], rtol=1e-8)
        assert np.round(got, 4).tolist() == list(EXPECTED[model][theirs])
    np.testing.assert_allclose(res.dispersion, ref["_phi"][0], rtol=1e-8)
    if model == 1:
        assert res.dispersion == 1.0
        assert res.pearson_dispersion > 3  # the reason the tutorial moves to quasi-Poisson


def test_model4_centred_slope_change(sicily):
    """Ours (Linden centring, 0 in the first post month) vs the authors' I(time-36):smokban (1 there):
    same slope change and fit; level_change(ours) = smokban(theirs) + slope change (methods reference §6.2)."""
    res = fit_its(sicily, outcome="aces", time="time", interruption=37, exposure="stdpop", **MODELS[4])
    ref = _reference(sicily, 4)
    b, se = ref["_b"], ref["_se"]
    eff = res.effects
    got = eff.loc["slope_change", ["ratio", "ratio_lower", "ratio_upper"]].to_numpy(float)
    np.testing.assert_allclose(got, ref["I(time-36):smokban"], rtol=1e-8)
    assert np.round(got, 4).tolist() == list(EXPECTED[4]["I(time-36):smokban"])
    np.testing.assert_allclose(eff.loc["level_change", "estimate"], b[1] + b[3], rtol=1e-8)
    # the authors' step coefficient is a linear combination of ours
    theirs = res.lincom({"level_change": 1, "slope_change": -1})
    np.testing.assert_allclose(theirs[["ratio", "ratio_lower", "ratio_upper"]].to_numpy(float)[0],
                               ref["smokban"], rtol=1e-7)
    assert np.round(theirs["ratio"].iloc[0], 4) == EXPECTED[4]["smokban"][0]
    np.testing.assert_allclose(theirs["se"].iloc[0], se[1], rtol=1e-7)
    # fitted values identical to the authors' parameterisation
    X, _ = _lopez_bernal_design(sicily, 4)
    mu_ref = sicily["stdpop"].to_numpy() * np.exp(X @ b)
    np.testing.assert_allclose(res.predict()["predicted"], mu_ref, rtol=1e-9)


def test_uncentred_interaction_same_fit_different_level(sicily):
    """The pre-2020 error: smokban*time (uncentred) fits identically, but its 'level change' is the
    step extrapolated to time 0 (methods reference §6.2)."""
    res = fit_its(sicily, outcome="aces", time="time", interruption=37, exposure="stdpop", **MODELS[4])
    X, _ = _lopez_bernal_design(sicily, 4)
    X[:, 3] = sicily["smokban"] * sicily["time"]  # uncentred interaction
    b, se, phi, mu = _irls(sicily["aces"].to_numpy(float), X, np.log(sicily["stdpop"].to_numpy(float)), True)
    np.testing.assert_allclose(res.predict()["predicted"], mu, rtol=1e-9)
    np.testing.assert_allclose(res.dispersion, phi, rtol=1e-9)
    np.testing.assert_allclose(res.effects.loc["slope_change", "estimate"], b[3], rtol=1e-7)
    # the uncentred step coefficient is level_change - 37 * slope_change: different and not meaningful
    np.testing.assert_allclose(b[1], res.effects.loc["level_change", "estimate"]
                               - 37 * res.effects.loc["slope_change", "estimate"], rtol=1e-7)
    assert abs(np.exp(b[1]) - res.effects.loc["level_change", "ratio"]) > 0.04


def test_time_origin_changes_only_intercept(sicily):
    shifted = sicily.assign(time=sicily["time"] + 500)
    a = fit_its(sicily, outcome="aces", time="time", interruption=37, exposure="stdpop", **MODELS[4])
    b = fit_its(shifted, outcome="aces", time="time", interruption=537, exposure="stdpop", **MODELS[4])
    pd.testing.assert_frame_equal(a.effects, b.effects, rtol=1e-9)


def test_counterfactual_uses_exposure_offset(sicily):
    res = fit_its(sicily, outcome="aces", time="time", interruption=37, exposure="stdpop", **MODELS[4])
    cf = res.predict(counterfactual=True)
    p = res.params
    T = sicily["time"].to_numpy(float) - 1
    x = 2 * np.pi * sicily["month"].to_numpy(float) / 12
    eta = (p["intercept"] + p["pre_trend"] * T + p["sin_1"] * np.sin(x) + p["cos_1"] * np.cos(x)
           + p["sin_2"] * np.sin(2 * x) + p["cos_2"] * np.cos(2 * x))
    # hand-written counterfactual: stdpop * exp(no-ban linear predictor)
    np.testing.assert_allclose(cf["predicted"], sicily["stdpop"] * np.exp(eta), rtol=1e-10)
    assert cf["predicted"].iloc[40] > 300  # a count (~700), not a rate exp(eta) ~ 0.002
    fitted = res.predict()
    post = sicily["smokban"].to_numpy() == 1
    ratio = fitted["predicted"][post] / cf["predicted"][post]
    h = sicily["time"][post].to_numpy() - 37
    np.testing.assert_allclose(ratio, np.exp(p["level_change"] + h * p["slope_change"]), rtol=1e-10)
    np.testing.assert_allclose(fitted["predicted"][~post], cf["predicted"][~post], rtol=1e-12)


def test_effect_at_and_cumulative(sicily):
    res = fit_its(sicily, outcome="aces", time="time", interruption=37, exposure="stdpop", **MODELS[4])
    e = res.effect_at(12).iloc[0]
    assert e["time"] == 49
    lc = res.lincom({"level_change": 1, "slope_change": 12})
    np.testing.assert_allclose(e["relative"], lc["ratio"].iloc[0] - 1, rtol=1e-10)
    np.testing.assert_allclose([e["relative_lower"], e["relative_upper"]],
                               [lc["ratio_lower"].iloc[0] - 1, lc["ratio_upper"].iloc[0] - 1], rtol=1e-8)
    np.testing.assert_allclose(e["difference"], e["fitted"] - e["counterfactual"])
    c = res.cumulative_effect().iloc[0]
    fit, cf = res.predict(), res.predict(counterfactual=True)
    post = fit["post"].to_numpy()
    np.testing.assert_allclose(c["difference"], (fit["predicted"] - cf["predicted"])[post].sum(), rtol=1e-10)
    assert c["n_periods"] == 23 and c["difference"] < 0
    assert c["difference_lower"] < c["difference"] < c["difference_upper"] < 0
    # one-period window equals effect_at
    one = res.cumulative_effect(49, 49).iloc[0]
    np.testing.assert_allclose(one["difference_lower"], e["difference_lower"], rtol=1e-10)


def test_default_season_from_time_spans_same_space(sicily):
    """harmonics built from time (Stata `fourier degrees`) vs month: identical fit (methods reference §6.4)."""
    a = fit_its(sicily, outcome="aces", time="time", interruption=37, exposure="stdpop", **MODELS[4])
    kw = dict(MODELS[4])
    kw.pop("season")
    b = fit_its(sicily, outcome="aces", time="time", interruption=37, exposure="stdpop", **kw)
    pd.testing.assert_frame_equal(a.effects.iloc[:4], b.effects.iloc[:4], rtol=1e-8)
    np.testing.assert_allclose(a.predict()["predicted"], b.predict()["predicted"], rtol=1e-10)


def test_dates_equal_integer_time(sicily):
    d = sicily.assign(date=pd.to_datetime(dict(year=sicily["year"], month=sicily["month"], day=1)))
    a = fit_its(sicily, outcome="aces", time="time", interruption=37, exposure="stdpop", **MODELS[4])
    b = fit_its(d, outcome="aces", time="date", interruption="2005-01-01", exposure="stdpop",
                family="quasipoisson", harmonics=2)
    pd.testing.assert_frame_equal(a.effects.iloc[:4], b.effects.iloc[:4], rtol=1e-8)
    assert b.stata_names["level_change"] == "_x540"  # Stata %tm: 2005m1 = 540
    assert b.effect_at("2006-01-01")["horizon"].iloc[0] == 12
