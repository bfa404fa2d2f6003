"""Tests of value_effects: hand calculation on a small result, bootstrap behaviour, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from naravard_analysis.errors import ParameterError
from naravard_analysis.methods.costs import value_effects
from naravard_analysis.methods.evaluation import EvaluationResult


def _result(design: str = "matched_did") -> EvaluationResult:
    # two matched sets: case A with controls B, C (weights 1/2); case D with control E (weight 1)
    units = pd.DataFrame({
        "set_id": [0, 0, 0, 1, 1],
        "code": [0, 1, 2, 3, 4],
        "treated": [True, False, False, True, False],
        "index_day": 0,
        "weight": [1.0, 0.5, 0.5, 1.0, 1.0],
        "py_pre": [0.5, 0.5, 0.5, 0.5, 0.5],
        "py_post": [0.5, 0.5, 0.5, 0.25, 0.5],
        "pre_bed_days": [20.0, 10.0, 30.0, 10.0, 10.0],
        "post_bed_days": [4.0, 8.0, 4.0, 2.0, 6.0],
    })
    if design == "pre_post":
        units = units[units["treated"]].reset_index(drop=True)
    est = pd.DataFrame({"estimate": [np.nan]}, index=pd.Index(["bed_days"], name="outcome"))
    return EvaluationResult(estimates=est, balance=pd.DataFrame(), event_study=pd.DataFrame(),
                            matching=pd.DataFrame(), deaths=pd.DataFrame(), design=design,
                            intervention="mobile_team", outcomes=("bed_days",), window_months=6,
                            units=units)


def test_value_by_hand_matched():
    v = value_effects(_result(), {"bed_days": 1000.0, "team_cost_per_person_year": 500.0}, n_bootstrap=0)
    # cases: pre 30 bed days / 1.0 PY, post 6 / 0.75 PY -> post rate 8 per PY, ratio 8/30
    # controls (weighted): pre (5 + 15 + 10) / (0.25 + 0.25 + 0.5) = 30 per PY,
    #                      post (4 + 2 + 6) / 1.0 = 12 per PY -> ratio 12/30
    # RR = (8/30)/(12/30) = 2/3; avoided = 8 * (1/RR - 1) = 8 * 0.5 = 4 bed days per PY
    assert v.loc["bed_days", "avoided_per_person_year"] == pytest.approx(4.0)
    assert v.loc["bed_days", "kronor_per_person_year"] == pytest.approx(4000.0)
    assert v.loc["total", "kronor_total"] == pytest.approx(4000.0 * 0.75)
    assert v.loc["net", "kronor_per_person_year"] == pytest.approx(3500.0)
    assert v.loc["team_cost", "kronor_total"] == pytest.approx(-500 * 0.75)
    assert np.isnan(v.loc["bed_days", "lower"])


def test_value_by_hand_pre_post_and_bootstrap():
    v = value_effects(_result("pre_post"), {"bed_days": 1000.0}, n_bootstrap=0)
    # naive RR = 8/30; avoided = 8 * (30/8 - 1) = 22 bed days per PY
    assert v.loc["bed_days", "kronor_per_person_year"] == pytest.approx(22_000.0)
    b1 = value_effects(_result(), {"bed_days": 1000.0}, n_bootstrap=300, seed=1)
    b2 = value_effects(_result(), {"bed_days": 1000.0}, n_bootstrap=300, seed=1)
    pd.testing.assert_frame_equal(b1, b2)
    assert b1.loc["total", "lower"] <= 4000.0 <= b1.loc["total", "upper"]
    assert b1.loc["total", "lower"] < b1.loc["total", "upper"]


def test_errors():
    r = _result()
    with pytest.raises(ParameterError, match="no default unit costs"):
        value_effects(r, {})
    with pytest.raises(ParameterError, match="unknown key"):
        value_effects(r, {"ed_visits": 100})
    with pytest.raises(ParameterError, match=">= 0"):
        value_effects(r, {"bed_days": -1})
    with pytest.raises(ParameterError, match="at least one outcome"):
        value_effects(r, {"team_cost_per_person_year": 1})
    with pytest.raises(ParameterError, match="n_bootstrap"):
        value_effects(r, {"bed_days": 1}, n_bootstrap=-1)


def _trial_result() -> EvaluationResult:
    # persons 0 and 1 treated; person 2 a control twice (two monthly trials, weights 1 and 0.5),
    # person 3 a control once; post columns are already censoring-weighted, ``weight`` is the
    # sampling weight
    units = pd.DataFrame({
        "set_id": [0, 1, 0, 1, 0],
        "code": [0, 1, 2, 2, 3],
        "treated": [True, True, False, False, False],
        "index_day": 0,
        "weight": [1.0, 1.0, 1.0, 0.5, 1.0],
        "py_post": [0.5, 0.5, 0.5, 0.5, 0.25],
        "post_bed_days": [3.0, 1.0, 4.0, 8.0, 1.0],
    })
    est = pd.DataFrame({"estimate": [0.5]}, index=pd.Index(["bed_days"], name="outcome"))
    return EvaluationResult(estimates=est, balance=pd.DataFrame(), event_study=pd.DataFrame(),
                            matching=pd.DataFrame(), deaths=pd.DataFrame(), design="trial",
                            intervention="mobile_team", outcomes=("bed_days",), window_months=6,
                            units=units)


def test_value_by_hand_trial():
    v = value_effects(_trial_result(), {"bed_days": 1000.0, "team_cost_per_person_year": 500.0},
                      n_bootstrap=0)
    # treated: 4 bed days / 1.0 PY = 4 per PY; controls: (4 + 0.5*8 + 1) / (0.5 + 0.25 + 0.25) = 9
    # RR = 4/9; avoided = 4 * (9/4 - 1) = 5 bed days per PY (= 9 - 4)
    assert v.loc["bed_days", "avoided_per_person_year"] == pytest.approx(5.0)
    assert v.loc["total", "kronor_total"] == pytest.approx(5000.0 * 1.0)
    assert v.loc["net", "kronor_per_person_year"] == pytest.approx(4500.0)
    b = value_effects(_trial_result(), {"bed_days": 1000.0}, n_bootstrap=200, seed=3)
    assert b.loc["total", "lower"] <= b.loc["total", "upper"]
    assert "persons" in b.attrs["note"]


def test_value_errors_name_the_design():
    r = _trial_result()
    r.design = "poisson"
    with pytest.raises(ParameterError, match="design"):
        value_effects(r, {"bed_days": 1.0}, n_bootstrap=0)
    r = _trial_result()
    r.units = r.units.drop(columns="py_post")
    with pytest.raises(ParameterError, match="py_post"):
        value_effects(r, {"bed_days": 1.0}, n_bootstrap=0)


@pytest.mark.filterwarnings("ignore")
def test_value_trial_result_of_evaluate_enrolments():
    from naravard_analysis.data.synthetic import make_world
    from naravard_analysis.methods.evaluation import evaluate_enrolments

    world = make_world("demo", n_persons=8_000, seed=2)
    res = evaluate_enrolments(world, outcomes=("unplanned_admissions", "bed_days"))
    assert res.design == "trial"
    v = value_effects(res, {"unplanned_admissions": 40_000.0, "bed_days": 9_000.0}, n_bootstrap=50)
    # the valuation's ratio is the estimate's per-protocol, censoring-weighted ratio
    e = res.estimates
    r_t = e.loc["bed_days", "rate_post_cases"]
    avoided = v.loc["bed_days", "avoided_per_person_year"]
    assert avoided == pytest.approx(r_t * (1 / e.loc["bed_days", "estimate"] - 1), rel=1e-9)
    assert np.isfinite(v.loc["total", "kronor_total"])
