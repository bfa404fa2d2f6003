"""Tests of avoidable-hospitalisation flags and rates (methods reference §3, §5).

Every rule is exercised on hand-built admissions; the expected flags follow from the rule as written
in the methods reference (the Swedish list itself is unverified, so these tests target the mechanics:
prefix matching, age windows, secondary rules, exclusions, unions — §3.1 "Design choice"). Rate
expectations are hand calculations written out beside the assertions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from naravard_analysis.data.codelists import load_codelist
from naravard_analysis.errors import DataWarning, ParameterError, SchemaError
from naravard_analysis.indicators.avoidable import (
    DEFINITIONS,
    EXCLUSION_REASONS,
    avoidable_rates,
    ed_visit_rates,
    exclusion_summary,
    flag_avoidable,
    group_columns,
)
from naravard_analysis.indicators.avoidable_reference import reference_avoidable

PERSONS = pd.DataFrame(
    {
        "person_id": [1, 2, 3, 4, 5],
        "sex": ["F", "M", "F", "M", "F"],
        # ages on 2024-06-01: 74, 19 (20 on 2024-06-02), 30, 45, 90
        "birth_date": pd.to_datetime(
            ["1950-01-01", "2004-06-02", "1994-01-01", "1979-01-01", "1934-01-01"]
        ),
        "region_code": ["14"] * 5,
        "municipality_code": ["1480", "1480", "1401", "1401", "1480"],
    }
)


def adm(*rows, **defaults):
    """rows: dicts with at least person_id and main_diagnosis; dates default 2024-06-01..03."""
    base = {
        "admission_date": "2024-06-01",
        "discharge_date": "2024-06-03",
        "other_diagnoses": "",
        "procedures": "",
        "planned": False,
        "admitted_from": "home",
        "discharge_to": "home",
    }
    base.update(defaults)
    df = pd.DataFrame([{**base, **r} for r in rows])
    df["admission_date"] = pd.to_datetime(df["admission_date"])
    df["discharge_date"] = pd.to_datetime(df["discharge_date"])
    return df


def one(row, definition="socialstyrelsen_chronic", **kw):
    f = flag_avoidable(adm(row), PERSONS, definition=definition, **kw)
    assert len(f) == 1
    return f.iloc[0]


@pytest.mark.parametrize(
    ("code", "group"),
    [
        ("I500", "heart_failure"),  # prefix I50
        ("I509", "heart_failure"),
        ("I110", "heart_failure"),
        ("I119", "hypertension"),
        ("I10", "hypertension"),
        ("E105", "diabetes"),  # enumerated E100-E108
        ("e11.5", "diabetes"),  # normalised: upper case, dot removed (§2.3)
        ("J441", "copd"),
        ("J46", "asthma"),
        ("D509", "anemia"),
        ("I249", "angina"),
    ],
)
def test_swedish_chronic_prefix_matching(code, group):
    r = one({"person_id": 1, "main_diagnosis": code})
    assert r[group] and r["avoidable"]
    assert sum(bool(r[g]) for g in group_columns("socialstyrelsen_chronic")) == 1


@pytest.mark.parametrize("code", ["E109", "E149", "D500", "I21", "I24", "J40", "J4"])
def test_swedish_chronic_non_matches(code):
    # E1x9 is outside E1x0-E1x8 (§2.3 pitfall); D500, I24 (not I240/8/9) and J40 are not listed.
    r = one({"person_id": 1, "main_diagnosis": code})
    assert not r["avoidable"] and pd.isna(r["excluded_reason"])


def test_age_window_at_birthday():
    # Person 2 turns 20 on 2024-06-02: admitted 06-01 -> 19 -> excluded; 06-02 -> 20 -> counted (20+).
    f = flag_avoidable(
        adm(
            {"person_id": 2, "main_diagnosis": "J45", "admission_date": "2024-06-01",
             "discharge_date": "2024-06-01"},
            {"person_id": 2, "main_diagnosis": "J45", "admission_date": "2024-06-10",
             "discharge_date": "2024-06-12"},
        ),
        PERSONS,
    )  # fmt: skip
    assert f["age"].tolist() == [19, 20]
    assert f["avoidable"].tolist() == [False, True]
    assert f["excluded_reason"].astype(object).tolist()[0] == "age"
    # The all-ages Swedish definition counts the 19-year-old.
    f0 = flag_avoidable(
        adm({"person_id": 2, "main_diagnosis": "J45"}), PERSONS, definition="socialstyrelsen"
    )
    assert f0["avoidable"].tolist() == [True] and f0["chronic"].tolist() == [True]


@pytest.mark.parametrize(
    ("other", "counted"),
    [("J441", True), ("I10 J47", True), ("E119", False), ("XJ44", False), ("", False)],
)
def test_j20_counts_only_with_copd_secondary(other, counted):
    r = one({"person_id": 1, "main_diagnosis": "J20", "other_diagnoses": other})
    assert bool(r["copd"]) is counted
    assert (r["excluded_reason"] == "secondary_missing") is (not counted)


def test_pneumonia_sickle_cell_exclusion_and_acute_union():
    f = flag_avoidable(
        adm(
            {"person_id": 1, "main_diagnosis": "J181", "other_diagnoses": "D570"},
            {"person_id": 3, "main_diagnosis": "J181", "admission_date": "2024-07-01",
             "discharge_date": "2024-07-02"},
        ),
        PERSONS,
        definition="socialstyrelsen",
    )  # fmt: skip
    assert f["pneumonia"].tolist() == [False, True]
    assert f["acute"].tolist() == [False, True] and not f["chronic"].any()
    assert f["excluded_reason"].astype(object).tolist()[0] == "exclusion_diagnosis"


def test_cardiac_procedure_exclusion_is_configurable():
    row = {"person_id": 1, "main_diagnosis": "I500", "procedures": "AB123 FNG05"}
    r = one(row)
    assert not r["heart_failure"] and r["excluded_reason"] == "procedure"
    # A code containing F but not starting with it is not a chapter-F procedure.
    assert one({**row, "procedures": "DF001"})["heart_failure"]
    # Switch the exclusion off, or replace the list.
    assert one(row, procedure_exclusions={"heart_failure": []})["heart_failure"]
    assert one(row, procedure_exclusions={"heart_failure": ["FNA"]})["heart_failure"]


def test_unplanned_only():
    row = {"person_id": 1, "main_diagnosis": "J441", "planned": True}
    assert one(row)["avoidable"]
    r = one(row, unplanned_only=True)
    assert not r["avoidable"] and r["excluded_reason"] == "planned"


def test_swedish_episode_unit_counts_transfer_chain_once():
    a = adm(
        {"person_id": 1, "main_diagnosis": "I500", "discharge_to": "hospital",
         "admission_date": "2024-03-01", "discharge_date": "2024-03-04"},
        {"person_id": 1, "main_diagnosis": "I500", "admitted_from": "hospital",
         "admission_date": "2024-03-05", "discharge_date": "2024-03-09"},
    )  # fmt: skip
    f = flag_avoidable(a, PERSONS)
    assert len(f) == 1 and f["n_stays"].tolist() == [2] and f["avoidable"].sum() == 1
    fa = flag_avoidable(a, PERSONS, unit="admission")
    assert fa["avoidable"].sum() == 2
    # PQI works on discharges and excludes the transfer in (§3.2).
    fp = flag_avoidable(a, PERSONS, definition="pqi")
    assert fp["pqi08"].tolist() == [True, False]
    assert fp["excluded_reason"].astype(object).tolist() == [np.nan, "transfer_in"]


def test_pqi_columns_age_windows_and_composites():
    cols = group_columns("pqi")
    assert cols == [
        "pqi01", "pqi03", "pqi05", "pqi07", "pqi08", "pqi11", "pqi12", "pqi14", "pqi15", "pqi16",
        "pqi90", "pqi91", "pqi92", "pqi93",
    ]  # fmt: skip
    a = adm(
        {"person_id": 3, "main_diagnosis": "J441"},  # COPD at 30: PQI 05 is 40+
        {"person_id": 3, "main_diagnosis": "J459", "admission_date": "2024-08-01", "discharge_date": "2024-08-02"},
        {"person_id": 4, "main_diagnosis": "J459"},  # asthma at 45 -> PQI 05, not 15
        {"person_id": 4, "main_diagnosis": "J159", "admission_date": "2024-09-01", "discharge_date": "2024-09-03"},
        {"person_id": 2, "main_diagnosis": "J159"},  # 19 -> adult (18+) pneumonia
    )  # fmt: skip
    r = flag_avoidable(a, PERSONS, definition="pqi")
    # Discharge level keeps the input order: (3,J441),(3,J459),(4,J459),(4,J159),(2,J159).
    assert r["pqi05"].tolist() == [False, False, True, False, False]
    assert r["pqi15"].tolist() == [False, True, False, False, False]
    assert r["pqi11"].tolist() == [False, False, False, True, True]
    assert r["pqi90"].tolist() == [False, True, True, True, True]
    assert r["pqi91"].tolist() == [False, False, False, True, True]
    assert r["pqi92"].tolist() == [False, True, True, False, False]
    assert not r["pqi93"].any()
    assert r["avoidable"].tolist() == r["pqi90"].tolist()
    assert r["excluded_reason"].astype(object).tolist()[0] == "age"


def test_pqi16_needs_amputation_and_diabetes_and_pqi01_prefix():
    a = adm(
        {"person_id": 4, "main_diagnosis": "T873", "procedures": "NGQ19", "other_diagnoses": "E116"},
        {"person_id": 4, "main_diagnosis": "T873", "procedures": "NGQ19", "admission_date": "2024-07-01",
         "discharge_date": "2024-07-03"},
        {"person_id": 4, "main_diagnosis": "E101", "admission_date": "2024-08-01", "discharge_date": "2024-08-03"},
    )  # fmt: skip
    f = flag_avoidable(a, PERSONS, definition="pqi")
    assert f["pqi16"].tolist() == [True, False, False]
    assert f["pqi01"].tolist() == [False, False, True]
    assert f["pqi93"].tolist() == [True, False, True]
    assert not f["pqi14"].any()  # no ICD-10-SE equivalent (code list note)


def test_oecd_day_case_j40_rule_and_union_counts_once():
    a = adm(
        {"person_id": 1, "main_diagnosis": "J441", "discharge_date": "2024-06-01"},  # same day
        {"person_id": 1, "main_diagnosis": "J40", "other_diagnoses": "J449",
         "admission_date": "2024-07-01", "discharge_date": "2024-07-02"},
        {"person_id": 1, "main_diagnosis": "J40", "other_diagnoses": "J42",  # J42 does not qualify J40
         "admission_date": "2024-08-01", "discharge_date": "2024-08-02"},
        {"person_id": 1, "main_diagnosis": "I110", "admission_date": "2024-09-01", "discharge_date": "2024-09-02"},
    )  # fmt: skip
    f = flag_avoidable(a, PERSONS, definition="oecd")
    assert f["copd"].tolist() == [False, True, False, False]
    assert f["excluded_reason"].astype(object).tolist()[:3] == [
        "day_case",
        np.nan,
        "secondary_missing",
    ]
    # I110 is in both CHF (I110) and hypertension (I11): two groups, one avoidable admission.
    assert f["chf"].iloc[3] and f["hypertension"].iloc[3]
    assert f["avoidable"].sum() == 2


def test_optional_code_and_unknown_person():
    row = {"person_id": 1, "main_diagnosis": "N159"}
    assert not one(row, definition="socialstyrelsen")["pyelonephritis"]
    assert one(row, definition="socialstyrelsen", include_optional=True)["pyelonephritis"]
    r = one({"person_id": 99, "main_diagnosis": "J441"})
    assert r["excluded_reason"] == "person_unknown" and pd.isna(r["age"])


def test_exclusion_summary_accounts_for_every_candidate():
    a = adm(
        {"person_id": 1, "main_diagnosis": "J441"},
        {"person_id": 2, "main_diagnosis": "J441", "admission_date": "2024-05-01", "discharge_date": "2024-05-02"},
        {"person_id": 1, "main_diagnosis": "I500", "procedures": "FNG05", "admission_date": "2024-08-01", "discharge_date": "2024-08-03"},
        {"person_id": 3, "main_diagnosis": "A09"},
    )  # fmt: skip
    f = flag_avoidable(a, PERSONS)
    s = exclusion_summary(f).set_index("excluded_reason")["n"]
    assert s["counted"] == 1 and s["age"] == 1 and s["procedure"] == 1
    assert s.drop("counted").sum() == 2
    assert set(s.index) == {*EXCLUSION_REASONS, "counted"}


def test_codelists_have_provenance_and_honest_flags():
    sos = load_codelist("socialstyrelsen_undvikbar")
    assert not sos["verified"].any()  # methods reference §3.1: the whole Swedish list is unverified
    assert (sos["source"].str.len() > 20).all()
    oecd = load_codelist("oecd_hcqi")
    assert oecd.loc[oecd.condition_group == "copd", "verified"].all()
    assert not oecd.loc[oecd.condition_group != "copd", "verified"].any()
    pqi = load_codelist("ahrq_pqi")
    assert pqi["note"].str.contains("CM|adapted|partial|ICD-10-SE", regex=True).all()


def test_errors():
    with pytest.raises(ParameterError, match="unknown definition 'nope'"):
        flag_avoidable(adm({"person_id": 1, "main_diagnosis": "J441"}), PERSONS, definition="nope")
    with pytest.raises(SchemaError, match="admissions.main_diagnosis: required column missing"):
        flag_avoidable(
            adm({"person_id": 1, "main_diagnosis": "J441"}).drop(columns="main_diagnosis"), PERSONS
        )
    with pytest.raises(SchemaError, match="persons.person_id: duplicate person_id"):
        flag_avoidable(
            adm({"person_id": 1, "main_diagnosis": "J441"}), pd.concat([PERSONS, PERSONS])
        )


# ----------------------------------------------------------------------------------------- rates


def _population():
    rows = []
    for muni in ("1480", "1401"):
        for age in range(0, 101):
            rows.append((2024, "14", muni, "F", age, 100 if muni == "1480" else 50))
    return pd.DataFrame(
        rows, columns=["year", "region_code", "municipality_code", "sex", "age", "population"]
    )


def test_avoidable_rates_against_hand_calculation():
    # Flags: person 1 (74, 1480) two COPD admissions, person 4 (45, 1401) one asthma, person 5 (90)
    a = adm(
        {"person_id": 1, "main_diagnosis": "J441"},
        {"person_id": 1, "main_diagnosis": "J441", "admission_date": "2024-09-01", "discharge_date": "2024-09-02"},
        {"person_id": 4, "main_diagnosis": "J45"},
        {"person_id": 5, "main_diagnosis": "I500"},
    )  # fmt: skip
    f = flag_avoidable(a, PERSONS)
    std = {"20-64": 0.7, "65+": 0.3}
    r = avoidable_rates(f, _population(), by=("year", "municipality_code"), standard=std)
    r = r.set_index("municipality_code")
    # 1401: population 20-64 = 45*50 = 2250, 65+ = 36*50 = 1800; events (1, 0)
    #   DSR = 0.7*1/2250 = 3.1111e-4 -> 31.111 per 100 000; crude = 1/4050
    assert r.loc["1401", "adjusted_rate"] == pytest.approx(1e5 * 0.7 / 2250)
    assert r.loc["1401", "crude_rate"] == pytest.approx(1e5 / 4050)
    # 1480: 20-64 = 4500, 65+ = 3600; events (0, 3)  -> DSR = 0.3*3/3600
    assert r.loc["1480", "adjusted_rate"] == pytest.approx(1e5 * 0.3 * 3 / 3600)
    assert r.loc["1480", "events"] == 3 and r.loc["1480", "population"] == 8100
    # By condition group with ESP2013 20+, restricted to 65+ (band edges).
    g = avoidable_rates(f, _population(), indicators=["copd", "heart_failure"], min_age=65)
    assert g["indicator"].tolist() == ["copd", "heart_failure"]
    assert g["events"].tolist() == [2, 1]
    # ESP 65+: 1480+1401 population per single year = 150; band 65-69 = 750 … 90+ = 11*150
    w = np.array([5500, 5000, 4000, 2500, 1500, 1000]) / 19_500
    n = np.array([750, 750, 750, 750, 750, 1650])
    d_copd = np.array([0, 1 * 2, 0, 0, 0, 0])  # age 74 -> band 70-74
    assert g["adjusted_rate"].iloc[0] == pytest.approx(1e5 * np.sum(w * d_copd / n))


def test_rates_raise_when_population_misses_a_cell_and_no_standard_gives_exact_crude():
    a = adm({"person_id": 1, "main_diagnosis": "J441"})
    f = flag_avoidable(a, PERSONS)
    pop = _population()
    with pytest.raises(SchemaError, match="events in a cell without population"):
        avoidable_rates(f, pop[pop.municipality_code == "1401"], by=("year", "municipality_code"))
    r = avoidable_rates(f, pop, standard=None)
    # 20+ population = 81 ages × 150 = 12150; 1 event; Garwood limits for 1: chi2(0.025,2)/2, chi2(0.975,4)/2
    assert r["crude_rate"].item() == pytest.approx(1e5 / 12_150)
    assert r["adjusted_rate"].item() == r["crude_rate"].item()
    assert r["lower"].item() == pytest.approx(1e5 * stats.chi2.ppf(0.025, 2) / 2 / 12_150)
    assert r["upper"].item() == pytest.approx(1e5 * stats.chi2.ppf(0.975, 4) / 2 / 12_150)


def test_ed_visit_rates_80_plus_per_1000():
    contacts = pd.DataFrame(
        {
            "person_id": [5, 5, 5, 1, 5],
            "contact_date": pd.to_datetime(["2024-01-05", "2024-02-01", "2024-03-01", "2024-01-01", "2024-04-01"]),
            "care_level": ["emergency", "emergency", "emergency", "emergency", "primary"],
        }
    )  # fmt: skip
    r = ed_visit_rates(contacts, _population(), persons=PERSONS)
    # 80+ population = 21 ages × 150 = 3150; ED visits by the 90-year-old = 3 (the 74-year-old is < 80)
    assert r["events"].item() == 3 and r["population"].item() == 3150
    assert r["crude_rate"].item() == pytest.approx(3 / 3150 * 1000)
    assert r["lower"].item() == pytest.approx(1000 * stats.chi2.ppf(0.025, 6) / 2 / 3150)
    with pytest.raises(ParameterError, match="needs persons="):
        ed_visit_rates(contacts, _population())


def test_ed_visit_rates_a_year_without_anyone_aged_80_is_an_undefined_rate_not_a_missing_year():
    """The population counts residents on 31 December, the visits every day: the only person
    aged 80+ (person 5, 90 years) visits the ED in 2024 and dies before 31 December, so the 2024
    population has younger residents and nobody aged 80+. That year is covered by the population
    (not "a cell without population"); its rate is undefined, and a year with neither visits nor
    anyone aged 80+ is not dropped silently either."""
    contacts = pd.DataFrame({"person_id": [5], "contact_date": pd.to_datetime(["2024-02-12"]),
                             "care_level": ["emergency"]})
    pop = _population()
    young = pop[pop["age"] < 80]
    with pytest.raises(SchemaError, match=r"population 0 in every age band.*aged 80\+.*year=2024"):
        ed_visit_rates(contacts, young, persons=PERSONS)
    # two covered years, 2023 without anyone aged 80+ and without visits: refused, not left out
    two = pd.concat([pop, young.assign(year=2023)], ignore_index=True)
    with pytest.raises(SchemaError, match=r"population 0 in every age band.*year=2023"):
        ed_visit_rates(contacts, two, persons=PERSONS)
    # a year the population table does not cover at all is still the coverage error
    with pytest.raises(SchemaError, match="events in a cell without population"):
        ed_visit_rates(contacts, pop.assign(year=2023), persons=PERSONS)
    # with the 2024 residents aged 80+ present the rate is defined: 1 visit / 3150 (21 ages × 150)
    r = ed_visit_rates(contacts, pop, persons=PERSONS)
    assert r["events"].item() == 1 and r["population"].item() == 3150


def test_group_window_with_closed_top_band_and_top_age():
    # PQI 15 (18-39) rated 20+ with top_age=85: bands 20-24 … 35-39 (closed), top_age ignored.
    a = adm({"person_id": 3, "main_diagnosis": "J459"})  # age 30
    f = flag_avoidable(a, PERSONS, definition="pqi")
    r = avoidable_rates(f, _population(), indicators=["pqi15"], min_age=20, top_age=85)
    assert r["n_strata"].item() == 4 and r["max_age"].item() == 39
    # population 20-39 = 20 ages × 150 = 3000; ESP weights 6000, 6000, 6500, 7000 (band 30-34 holds the event)
    assert r["population"].item() == 3000
    assert r["adjusted_rate"].item() == pytest.approx(1e5 * (6500 / 25_500) / 750)


# ---------------------------------------------------------------------------------------------------
# Fast paths: prebuilt episodes, per-distinct-code matching, threads. Each is checked against the
# plain definition it replaces (a regex over the normalised text; building the episodes inside).


def test_episodes_argument_gives_the_same_flags_and_is_checked():
    from naravard_analysis.indicators.episodes import build_episodes

    a = adm(
        {"person_id": 1, "main_diagnosis": "I500", "discharge_to": "hospital",
         "admission_date": "2024-03-01", "discharge_date": "2024-03-04"},
        {"person_id": 1, "main_diagnosis": "J20", "other_diagnoses": "J441",
         "admission_date": "2024-03-05", "discharge_date": "2024-03-09"},
        {"person_id": 4, "main_diagnosis": "J18.1", "other_diagnoses": "d57 x",
         "admission_date": "2024-04-05", "discharge_date": "2024-04-05"},
    )  # fmt: skip
    for d in ("socialstyrelsen_chronic", "socialstyrelsen"):
        inside = flag_avoidable(a, PERSONS, definition=d)
        given = flag_avoidable(a, PERSONS, definition=d, episodes=build_episodes(a))
        pd.testing.assert_frame_equal(inside, given)
    # Admission-level definitions ignore the argument.
    pd.testing.assert_frame_equal(
        flag_avoidable(a, PERSONS, definition="pqi"),
        flag_avoidable(a, PERSONS, definition="pqi", episodes=build_episodes(a)),
    )
    with pytest.raises(ParameterError, match="episodes hold 2 stays but admissions has 3 rows"):
        flag_avoidable(a, PERSONS, episodes=build_episodes(a.iloc[:2]))
    with pytest.raises(ParameterError, match="built with merge_gap_days=1, not 0"):
        flag_avoidable(a, PERSONS, episodes=build_episodes(a, merge_gap_days=1))
    with pytest.raises(ParameterError, match="lack build_episodes columns"):
        flag_avoidable(a, PERSONS, episodes=a)


_CODE_TEXT = st.lists(
    st.sampled_from(
        ["J441", "j44.1", "J4", "NFQ09", "nfq.09", "XNFQ", "E119", "e1.19", ".", "D57"]
    ),
    max_size=4,
).map(lambda codes: " ".join(codes))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(_CODE_TEXT, st.just("  J44\tE11 "), st.none()), min_size=1, max_size=30),
    st.lists(st.sampled_from(["J44", "NFQ", "E1", "D57", "j44", "J4 4"]), min_size=1, max_size=3),
    st.booleans(),
)
def test_code_matching_equals_the_regex_on_normalised_text(texts, prefixes, arrow):
    """_CodeColumn (distinct codes, arrow prefilter) == regex (?:^|\\s)prefix on §2.3-normalised text."""
    from naravard_analysis.core.icd import CodeColumn as _CodeColumn
    from naravard_analysis.core.icd import any_code_matches as _any_code_matches
    from naravard_analysis.core.icd import normalise_codes as _norm_codes
    from naravard_analysis.data.schema import STRING_DTYPE

    s = pd.Series(texts, dtype=STRING_DTYPE if arrow else object)
    expected = _any_code_matches(_norm_codes(s), prefixes)
    assert _CodeColumn(s).matches(None, prefixes).tolist() == expected.tolist()
    idx = np.arange(len(s))[::2]
    assert _CodeColumn(s).matches(idx, prefixes).tolist() == expected[idx].tolist()


def test_threaded_path_gives_the_same_flags(monkeypatch):
    import naravard_analysis.indicators.avoidable_flags as av
    import naravard_analysis.indicators.episodes as ep

    a = adm(
        {"person_id": 1, "main_diagnosis": "I500", "other_diagnoses": "E119",
         "procedures": "FNG05", "discharge_to": "hospital"},
        {"person_id": 1, "main_diagnosis": "J441", "admission_date": "2024-06-03",
         "discharge_date": "2024-06-08", "procedures": "AB123"},
        {"person_id": 9, "main_diagnosis": "J441"},
    )  # fmt: skip
    plain = {d: flag_avoidable(a, PERSONS, definition=d) for d in ("socialstyrelsen", "pqi")}
    monkeypatch.setattr(ep, "_THREADS_FROM", 0)
    monkeypatch.setattr(av, "_THREADS_FROM", 0)
    for d, f in plain.items():
        pd.testing.assert_frame_equal(flag_avoidable(a, PERSONS, definition=d), f)
    # Person 9 is unknown: residence missing, excluded as person_unknown.
    f = plain["pqi"]
    assert f["sex"].isna().tolist() == [False, False, True]
    assert f["excluded_reason"].astype(object).tolist()[2] == "person_unknown"


# ---------------------------------------------------------------------------------------------
# The fast kernel against the per-unit definition in the package (avoidable_reference)
# ---------------------------------------------------------------------------------------------
_MAIN = ["J441", "j44.1", "J20", "J209", "I509", "I10", "E119", "E101", "D571", "J13", "J181",
         "N10", "K522", "D509", "G40", "H66", "N159", "J40", "I110", "R56", "E86", "Z000"]  # fmt: skip
_OTHER = ["", "J44", "E11", "D57", "J449 E109", "e11.9 I10", "N390"]
_PROCS = ["", "FNG05", "FNA00", "NFQ19", "nfq.19", "NHQ10 FNG", "AB123"]
unit_row = st.tuples(
    st.sampled_from([1, 2, 3, 9]),  # person (9 unknown)
    st.sampled_from(_MAIN),
    st.sampled_from(_OTHER),
    st.sampled_from(_PROCS),
    st.integers(0, 60),  # admission day
    st.integers(0, 3),  # length of stay (0 = day case)
    st.booleans(),  # planned
    st.sampled_from(["home", "hospital"]),  # admitted from
    st.sampled_from(["home", "hospital"]),  # discharged to
)


def _frame(rows, births):
    base = pd.Timestamp("2024-01-01")
    cols = ["person_id", "main_diagnosis", "other_diagnoses", "procedures", "adm_day", "los",
            "planned", "admitted_from", "discharge_to"]  # fmt: skip
    a = pd.DataFrame(rows, columns=cols)
    a["admission_date"] = base + pd.to_timedelta(a.pop("adm_day"), unit="D")
    a["discharge_date"] = a["admission_date"] + pd.to_timedelta(a.pop("los"), unit="D")
    persons = pd.DataFrame(
        {"person_id": [1, 2, 3], "birth_date": pd.to_datetime([f"{y}-02-29" if y % 4 == 0 else
                                                                f"{y}-06-15" for y in births])}
    )  # fmt: skip
    return a, persons


def _assert_equal_to_reference(a, persons, **kw):
    f = flag_avoidable(a, persons, **kw)
    ref = reference_avoidable(a, persons, **kw)
    cols = list(ref.columns)
    got = f[cols].astype(object).where(f[cols].notna(), None).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, ref.astype(object))
    return ref


@settings(max_examples=30, deadline=None)  # the seeded registers below cover the bulk
@given(
    st.lists(unit_row, min_size=1, max_size=12),
    st.sampled_from(sorted(DEFINITIONS)),
    st.booleans(),
    st.sampled_from([None, "admission"]),
    st.sampled_from([None, 70]),
    st.lists(st.integers(1915, 2010), min_size=3, max_size=3),
)
def test_flags_equal_the_per_unit_reference(rows, definition, unplanned, unit, max_age, births):
    a, persons = _frame(rows, births)
    _assert_equal_to_reference(a, persons, definition=definition, unplanned_only=unplanned,
                               unit=unit, max_age=max_age)  # fmt: skip


@pytest.mark.parametrize("definition", sorted(DEFINITIONS))
def test_flags_equal_the_reference_on_a_random_register(definition):
    rng = np.random.default_rng(7)
    n = 400
    rows = list(zip(rng.choice([1, 2, 3, 9], n, p=[0.3, 0.3, 0.35, 0.05]).tolist(),
                    rng.choice(_MAIN, n).tolist(), rng.choice(_OTHER, n).tolist(),
                    rng.choice(_PROCS, n).tolist(), rng.integers(0, 300, n).tolist(),
                    rng.integers(0, 3, n).tolist(), (rng.random(n) < 0.3).tolist(),
                    rng.choice(["home", "hospital"], n, p=[0.8, 0.2]).tolist(),
                    rng.choice(["home", "hospital"], n, p=[0.8, 0.2]).tolist(), strict=True))  # fmt: skip
    a, persons = _frame(rows, [1935, 1952, 1990])
    ref = _assert_equal_to_reference(a, persons, definition=definition, unplanned_only=True)
    # The register exercises the rules: units counted and units excluded for several reasons.
    assert ref["avoidable"].sum() > 0 and ref["excluded_reason"].nunique() >= 3
    _assert_equal_to_reference(a, persons, definition=definition, unit="admission", max_age=70)


# ------------------------------------------------------- rates follow the flags' definition (issue 19)

CHILD = pd.DataFrame(
    {
        "person_id": [6],
        "sex": ["M"],
        "birth_date": pd.to_datetime(["2019-01-01"]),  # 5 years old on 2024-06-01
        "region_code": ["14"],
        "municipality_code": ["1401"],
    }
)


def test_rates_default_window_follows_the_definition_children_not_dropped():
    # "socialstyrelsen" flags every age (attrs min_age 0): the child's dehydration (E86, acute group)
    # and the 74-year-old's COPD are both events; the old fixed 20+ default counted only 1.
    a = adm({"person_id": 1, "main_diagnosis": "J441"}, {"person_id": 6, "main_diagnosis": "E86"})
    f = flag_avoidable(a, pd.concat([PERSONS, CHILD], ignore_index=True), definition="socialstyrelsen")
    assert int(f["avoidable"].sum()) == 2
    r = avoidable_rates(f, _population(), standard=None)
    assert r["events"].item() == 2
    # whole population 0-100: 101 ages x 150
    assert r["population"].item() == 101 * 150
    # the Swedish chronic definition keeps its 20+ window (unchanged default)
    fc = flag_avoidable(a, pd.concat([PERSONS, CHILD], ignore_index=True))
    rc = avoidable_rates(fc, _population(), standard=None)
    assert rc["min_age"].item() == 20 and rc["population"].item() == 81 * 150
    # an explicit limit still wins
    assert avoidable_rates(f, _population(), standard=None, min_age=20)["events"].item() == 1


def test_rates_definition_limit_off_the_band_edges_is_lifted_with_a_count():
    # PQI is 18+; ESP2013 has a 15-19 band, so the rate is 20+ and the 19-year-old's stay is
    # counted in the warning rather than silently lost.
    a = adm({"person_id": 2, "main_diagnosis": "E100"}, {"person_id": 3, "main_diagnosis": "E100"})
    f = flag_avoidable(a, PERSONS, definition="pqi")
    assert int(f["pqi01"].sum()) == 2
    with pytest.warns(DataWarning, match=r"ages 20\+ \(1 flagged event"):
        r = avoidable_rates(f, _population(), indicators=["pqi01"])
    assert r["events"].item() == 1 and r["min_age"].item() == 20
    # crude rates need no bands: the definition's own 18+
    r = avoidable_rates(f, _population(), indicators=["pqi01"], standard=None)
    assert r["events"].item() == 2 and r["min_age"].item() == 18


def test_rates_without_recorded_definition_warn():
    f = flag_avoidable(adm({"person_id": 1, "main_diagnosis": "J441"}), PERSONS)
    f.attrs = {}
    with pytest.warns(DataWarning, match="no recorded definition"):
        r = avoidable_rates(f, _population(), standard=None)
    assert r["min_age"].item() == 20
