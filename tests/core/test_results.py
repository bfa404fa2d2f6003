"""Every public result class follows the one result protocol of core.results, on small real results.

The protocol: ``.table`` (DataFrame, intervals named lower/upper or <name>_lower/<name>_upper),
``.settings`` (dict, with the confidence ``level`` wherever the table holds an interval),
``.summary(language)`` in English and Swedish, ``_repr_html_`` and a short one-line repr.
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

import naravard_analysis.methods.evaluation as evaluation
from naravard_analysis.core.results import Result, ResultDisplay, check_language, interval_problems
from naravard_analysis.data import official
from naravard_analysis.data.synthetic import make_world
from naravard_analysis.errors import ParameterError
from naravard_analysis.indicators.readmission import flag_readmissions
from naravard_analysis.indicators.readmission_incidence import (
    CumulativeIncidence,
    readmission_cumulative_incidence,
)
from naravard_analysis.indicators.readmission_risk import (
    RiskAdjustedResult,
    risk_adjusted_readmission,
)
from naravard_analysis.methods.did import AggregatedEffect, StaggeredDiDResult, staggered_did
from naravard_analysis.methods.evaluation import EvaluationResult
from naravard_analysis.methods.its import ITSResult, fit_its
from naravard_analysis.methods.listing_effect import ListingEffect, listing_effect
from naravard_analysis.methods.matching import MatchResult
from naravard_analysis.methods.synth import PlaceboResult, SynthResult, synth_did

#: Every public result class of the package: a new one must be added here (see the last test).
RESULT_CLASSES = {
    ITSResult, StaggeredDiDResult, AggregatedEffect, SynthResult, PlaceboResult,
    RiskAdjustedResult, CumulativeIncidence, MatchResult, EvaluationResult, ListingEffect,
}


@pytest.fixture(scope="module")
def world():
    return make_world("demo", n_persons=3000, seed=4)


@pytest.fixture(scope="module")
def results(world) -> dict[type, object]:
    out: dict[type, object] = {}
    sicily = pd.read_csv(official.reference_dir() / "sicily" / "sicily.csv")
    out[ITSResult] = fit_its(sicily.assign(rate=sicily["aces"] / sicily["stdpop"] * 1e5),
                             outcome="rate", time="time", interruption=37, level=0.9)
    mpdta = pd.read_csv(official.reference_dir() / "did" / "mpdta.csv")
    did = staggered_did(mpdta, outcome="lemp", unit="countyreal", time="year",
                        first_treated="first.treat")
    out[StaggeredDiDResult] = did
    out[AggregatedEffect] = did.aggregate("simple")
    prop99 = pd.read_csv(official.reference_dir() / "synthdid" / "california_prop99.csv", sep=";")
    sdid = synth_did(prop99, unit="State", time="Year", outcome="PacksPerCapita", treated="treated",
                     replications=20)
    out[SynthResult] = sdid
    out[PlaceboResult] = sdid.placebo()
    flags = flag_readmissions(world.admissions, world.persons)
    out[RiskAdjustedResult] = risk_adjusted_readmission(flags, world.admissions, world.persons,
                                                        by="municipality_code", covariates=("age",))
    out[CumulativeIncidence] = readmission_cumulative_incidence(flags, world.persons)
    return out


@pytest.fixture(scope="module")
def matched(world) -> tuple[EvaluationResult, MatchResult]:
    """A real matched evaluation, and its matching taken where evaluate_enrolments makes it."""
    got = []
    mp = pytest.MonkeyPatch()
    original = evaluation.match_controls
    mp.setattr(evaluation, "match_controls", lambda *a, **k: got.append(original(*a, **k)) or got[-1])
    try:
        res = evaluation.evaluate_enrolments(world, design="matched_did", level=0.9)
    finally:
        mp.undo()
    return res, got[0]


def test_evaluation_and_listing_results_follow_the_protocol(world, matched):
    res, _ = matched
    _check_protocol(res)
    assert res.settings["level"] == 0.9 and "90% CI" in res.summary("en")
    assert "90 % KI" in res.summary("sv")
    # the 90 % interval of the matched DiD is the Wald interval exp(b ± 1.645 se) of its fit
    e = res.estimates.iloc[0]
    z90 = 1.6448536269514722  # Φ⁻¹(0.95)
    assert np.log(e["upper"] / e["estimate"]) == pytest.approx(z90 * e["se"], rel=1e-9)
    poisson = listing_effect(world, design="poisson", level=0.8)
    _check_protocol(poisson)
    assert poisson.table["upper"].iloc[0] == poisson.upper and poisson.settings["level"] == 0.8


def _check_protocol(res: object) -> None:
    assert isinstance(res, Result)
    table, settings = res.table, res.settings
    assert isinstance(table, pd.DataFrame) and len(table) > 0
    assert interval_problems(table) == [], interval_problems(table)
    assert isinstance(settings, dict) and settings
    if any(c == "lower" or str(c).endswith("_lower") for c in table.columns):
        assert 0 < settings["level"] < 1
    en, sv = res.summary(language="en"), res.summary(language="sv")
    assert isinstance(en, str) and isinstance(sv, str) and en and sv and en != sv
    with pytest.raises(ParameterError, match="language"):
        res.summary(language="de")
    html = res._repr_html_()
    assert html.startswith("<") and "<table" in html
    short = repr(res)
    assert "\n" not in short and len(short) <= 160 and type(res).__name__ in short


@pytest.mark.parametrize("cls", sorted(RESULT_CLASSES - {MatchResult, EvaluationResult, ListingEffect},
                                        key=lambda c: c.__name__),
                         ids=lambda c: c.__name__)
def test_result_classes_follow_the_protocol(results, cls):
    _check_protocol(results[cls])


def test_match_result_follows_the_protocol(matched):
    match_result = matched[1]
    _check_protocol(match_result)
    assert match_result.settings["controls_per_case"] == 5 and "seed" in match_result.settings


def test_settings_record_the_level_used(results):
    its = results[ITSResult]
    assert its.settings["level"] == 0.9 and its.settings["interruption"] == 37
    # the effects table is at the level asked for: a 90 % interval is narrower than the 95 % one
    wide = its.lincom({"level_change": 1}, level=0.95).iloc[0]
    narrow = its.table.loc["level_change"]
    assert narrow["upper"] - narrow["lower"] < wide["upper"] - wide["lower"]
    assert narrow["upper"] - narrow["lower"] == pytest.approx(
        (wide["upper"] - wide["lower"]) * its._crit(0.9) / its._crit(0.95))


def test_simple_aggregation_table_is_its_one_row(results):
    agg = results[AggregatedEffect]
    assert agg.table[["att", "se", "lower", "upper"]].iloc[0].tolist() == [
        agg.att, agg.se, agg.lower, agg.upper]


def test_interval_problems_finds_foreign_and_unpaired_names():
    assert interval_problems(pd.DataFrame(columns=["rate", "lower", "upper", "att_lower",
                                                   "att_upper", "rate_suppressed"])) == []
    bad = interval_problems(pd.DataFrame(columns=["ci_low", "rate_lcl", "x_lower"]))
    assert len(bad) == 3


def test_check_language():
    assert check_language("en") == "en"
    with pytest.raises(ParameterError):
        check_language("fi")


def test_mixin_builds_every_face_from_table_and_settings():
    class Mean(ResultDisplay):
        _TITLE = {"en": "Mean", "sv": "Medelvärde"}
        table = pd.DataFrame({"estimate": [2.0], "lower": [1.0], "upper": [3.0]})
        settings = {"level": 0.95}

    m = Mean()
    assert isinstance(m, Result)
    assert m.summary("sv").splitlines()[0] == "Medelvärde"
    assert repr(m) == "<Mean estimate=2 lower=1 upper=3>"
    assert "<table" in m._repr_html_() and "level = 0.95" in m._repr_html_()


def test_every_public_result_class_is_listed():
    """A public class named *Result / *Effect / *Incidence in the methods and indicators must be
    in RESULT_CLASSES, so that it is checked above."""
    import importlib
    import pkgutil

    import naravard_analysis

    found = set()
    for mod in pkgutil.walk_packages(naravard_analysis.__path__, "naravard_analysis."):
        if not mod.name.startswith(("naravard_analysis.methods", "naravard_analysis.indicators")):
            continue
        m = importlib.import_module(mod.name)
        for name, obj in vars(m).items():
            if (inspect.isclass(obj) and obj.__module__ == m.__name__ and not name.startswith("_")
                    and name.endswith(("Result", "Effect", "Incidence"))):
                found.add(obj)
    assert found - RESULT_CLASSES == set(), sorted(c.__name__ for c in found - RESULT_CLASSES)
    assert np.all([issubclass(c, ResultDisplay) for c in RESULT_CLASSES])
