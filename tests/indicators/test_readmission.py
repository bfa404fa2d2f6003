"""30-day readmission: hand-built fixtures for every rule of methods reference §4 / §2.4, a per-person
reference implementation, property tests, Wilson and Aalen–Johansen against independent numbers."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from naravard_analysis.errors import DataWarning, ParameterError, SchemaError
from naravard_analysis.indicators.episodes import build_episodes
from naravard_analysis.indicators.readmission import (
    flag_readmissions,
    index_groups_from_codelist,
    link_episodes_cms,
    readmission_cumulative_incidence,
    readmission_rates,
    risk_adjusted_readmission,
    wilson_interval,
)
from naravard_analysis.indicators.readmission_reference import reference_readmissions
from naravard_analysis.indicators.readmission_risk import comorbidity_covariates

END = "2021-12-31"


def make_adm(rows):
    """rows: (person, admission, discharge[, planned, discharge_to, main_diagnosis, hospital])."""
    full = []
    for r in rows:
        r = list(r) + [None] * (7 - len(r))
        pid, a, d, planned, to, dx, hosp = r
        full.append(
            (pid, a, d, bool(planned) if planned is not None else False, to or "home", dx or "I500",
             hosp or "H1")
        )
    df = pd.DataFrame(
        full,
        columns=["person_id", "admission_date", "discharge_date", "planned", "discharge_to",
                 "main_diagnosis", "hospital_id"],
    )  # fmt: skip
    df["admission_date"] = pd.to_datetime(df["admission_date"])
    df["discharge_date"] = pd.to_datetime(df["discharge_date"])
    df["other_diagnoses"] = ""
    return df


def make_persons(ids, birth="1940-01-01", **extra):
    df = pd.DataFrame({"person_id": list(ids)})
    df["birth_date"] = pd.to_datetime(birth)
    df["sex"] = "F"
    df["municipality_code"] = "1480"
    df["death_date"] = pd.NaT
    for k, v in extra.items():
        df[k] = v
    return df


def flags_for(rows, persons=None, **kw):
    adm = make_adm(rows)
    persons = make_persons(sorted(adm.person_id.unique())) if persons is None else persons
    kw.setdefault("end_date", END)
    return flag_readmissions(adm, persons, **kw)


# ---------------------------------------------------------------------------------------------
# Correctness fixtures (issue 6)
# ---------------------------------------------------------------------------------------------
def test_readmission_on_day_15():
    f = flags_for([(1, "2020-01-01", "2020-01-10"), (1, "2020-01-25", "2020-01-27", False, "home", "J189")])
    first = f.iloc[0]
    assert bool(first.eligible) and bool(first.readmitted)
    assert first.days_to_readmission == 15  # 25 − 10
    assert first.readmission_diagnosis == "J189"
    assert first.readmission_date == pd.Timestamp("2020-01-25")
    assert not bool(f.iloc[1].readmitted)  # the readmission is itself an index, not readmitted


@pytest.mark.parametrize("variant", ["socialstyrelsen", "cms"])
def test_day_30_counts_day_31_does_not(variant):
    f = flags_for(
        [(1, "2020-01-01", "2020-01-10"), (1, "2020-02-09", "2020-02-10"),  # day 30
         (2, "2020-01-01", "2020-01-10"), (2, "2020-02-10", "2020-02-11")],  # day 31
        variant=variant,
    )  # fmt: skip
    idx = f[f.admission_date == "2020-01-01"].set_index("person_id")
    assert bool(idx.loc[1, "readmitted"]) and idx.loc[1, "days_to_readmission"] == 30
    assert not bool(idx.loc[2, "readmitted"]) and pd.isna(idx.loc[2, "days_to_readmission"])
    assert idx.loc[2, "next_readmission_days"] == 31  # kept for survival analysis


def test_same_day_return_swedish_one_episode_cms_day0_readmission():
    rows = [(1, "2020-01-01", "2020-01-10"), (1, "2020-01-10", "2020-01-12")]
    sw = flags_for(rows)
    assert len(sw) == 1 and sw.n_stays.iloc[0] == 2
    assert sw.discharge_date.iloc[0] == pd.Timestamp("2020-01-12")
    assert not bool(sw.readmitted.iloc[0])
    cms = flags_for(rows, variant="cms")
    assert len(cms) == 2
    assert bool(cms.readmitted.iloc[0]) and cms.days_to_readmission.iloc[0] == 0
    # The Swedish window starts on day 1: even with CMS linking forced, day 0 would not count.
    assert flags_for(rows, variant="cms", window=(1, 30)).readmitted.sum() == 0


@pytest.mark.parametrize("variant", ["socialstyrelsen", "cms"])
def test_transfer_chain_index_ends_at_last_discharge(variant):
    f = flags_for(
        [(1, "2020-01-01", "2020-01-05", False, "hospital", "I500", "H1"),
         (1, "2020-01-06", "2020-01-09", False, "hospital", "I500", "H2"),  # next day after transfer
         (1, "2020-01-09", "2020-01-15", False, "home", "I500", "H3"),  # same day after transfer
         (1, "2020-02-01", "2020-02-03", False, "home", "N390", "H1")],
        variant=variant,
    )  # fmt: skip
    assert len(f) == 2
    idx = f.iloc[0]
    assert idx.n_stays == 3
    assert idx.admission_date == pd.Timestamp("2020-01-01")
    assert idx.discharge_date == pd.Timestamp("2020-01-15")
    assert idx.hospital_id == "H1" and idx.discharge_hospital_id == "H3"
    assert bool(idx.readmitted) and idx.days_to_readmission == 17  # 1 Feb − 15 Jan


def test_death_at_discharge_excluded_and_counted():
    f = flags_for(
        [(1, "2020-01-01", "2020-01-10", False, "died"), (2, "2020-01-01", "2020-01-10"),
         (2, "2020-01-20", "2020-01-21")]
    )  # fmt: skip
    died = f[f.person_id == 1].iloc[0]
    assert not bool(died.eligible) and died.exclusion == "died" and not bool(died.readmitted)
    r = readmission_rates(f)
    # 3 episodes: person 1 died (excluded), person 2 index readmitted, person 2 readmission as index.
    assert r[["n_index", "eligible", "readmitted", "excluded_died"]].iloc[0].tolist() == [3, 2, 1, 1]
    assert r.rate.iloc[0] == pytest.approx(0.5)


def test_planned_readmission_in_window_swedish_vs_cms():
    rows = [(1, "2020-01-01", "2020-01-10"),
            (1, "2020-01-15", "2020-01-16", True, "home", "Z511"),  # planned, day 5
            (1, "2020-01-25", "2020-01-27", False, "home", "J189")]  # unplanned, day 15
    sw = flags_for(rows).iloc[0]
    assert bool(sw.readmitted) and sw.days_to_readmission == 15 and sw.readmission_diagnosis == "J189"
    cms = flags_for(rows, variant="cms").iloc[0]
    assert not bool(cms.readmitted) and bool(cms.eligible)
    assert cms.followup_days == 5  # the planned readmission ends follow-up (competing-risk censoring)
    # All-cause (unplanned_only=False): the planned one on day 5 counts under both rules.
    assert flags_for(rows, unplanned_only=False).days_to_readmission.iloc[0] == 5
    assert flags_for(rows, variant="cms", unplanned_only=False).days_to_readmission.iloc[0] == 5
    # planned_blocks_later overrides the variant.
    assert not bool(flags_for(rows, planned_blocks_later=True).readmitted.iloc[0])


def test_only_planned_readmission_is_not_a_readmission():
    f = flags_for([(1, "2020-01-01", "2020-01-10"), (1, "2020-01-20", "2020-01-21", True)])
    assert not bool(f.readmitted.iloc[0])


def test_age_64_excluded_65_on_admission_day_included():
    persons = pd.DataFrame(
        {"person_id": [1, 2], "birth_date": pd.to_datetime(["1955-01-10", "1955-01-10"])}
    )
    f = flags_for(
        [(1, "2020-01-09", "2020-01-12"), (2, "2020-01-10", "2020-01-12")], persons=persons
    )
    assert f.age.tolist() == [64, 65]  # birthday 10 Jan: 64 the day before, 65 on the day
    assert f.exclusion.iloc[0] == "age" and bool(f.eligible.iloc[1])
    # age at discharge (§4.2 parameter): person 1 turned 65 during the stay.
    g = flags_for(
        [(1, "2020-01-09", "2020-01-12"), (2, "2020-01-10", "2020-01-12")],
        persons=persons,
        age_at="discharge",
    )
    assert g.age.tolist() == [65, 65] and g.eligible.all()
    assert flags_for([(1, "2020-01-09", "2020-01-12")], persons=persons, min_age=None).eligible.all()


def test_leap_day_birthday():
    persons = pd.DataFrame({"person_id": [1, 2], "birth_date": pd.to_datetime(["1952-02-29"] * 2)})
    f = flags_for(
        [(1, "2017-02-28", "2017-03-01"), (2, "2017-03-01", "2017-03-02")], persons=persons,
        min_age=None,
    )  # fmt: skip
    assert f.age.tolist() == [64, 65]  # in a non-leap year the birthday is reached on 1 March


def test_incomplete_followup_at_end_of_data():
    f = flags_for(
        [(1, "2021-11-25", "2021-12-01"), (2, "2021-11-25", "2021-12-02")], end_date="2021-12-31"
    )
    # 1 Dec + 30 = 31 Dec <= end: complete; 2 Dec + 30 = 1 Jan > end: incomplete.
    assert f.exclusion.isna().iloc[0] and f.exclusion.iloc[1] == "incomplete_followup"
    assert f.followup_days.tolist() == [30, 29]
    # end_date defaults to the last date in the data (here 2 Dec), recorded in attrs.
    g = flags_for([(1, "2021-11-25", "2021-12-01"), (2, "2021-11-25", "2021-12-02")], end_date=None)
    assert (g.exclusion == "incomplete_followup").all()
    assert g.attrs["end_date"] == "2021-12-02" and g.attrs["end_date_inferred"]


def test_death_after_discharge_kept_or_excluded():
    persons = make_persons([1, 2])
    persons.loc[0, "death_date"] = pd.Timestamp("2020-01-20")  # 10 days after discharge
    rows = [(1, "2020-01-01", "2020-01-10"), (2, "2020-01-01", "2020-01-10")]
    f = flags_for(rows, persons=persons)
    assert f.eligible.all() and f.died_in_window.tolist() == [True, False]
    assert f.days_to_death.iloc[0] == 10 and pd.isna(f.days_to_death.iloc[1])
    assert readmission_rates(f).died_in_window.iloc[0] == 1
    g = flags_for(rows, persons=persons, death_after_discharge="exclude")
    assert g.exclusion.tolist()[0] == "died_after_discharge" and bool(g.eligible.iloc[1])


def test_index_diagnoses_sequence_and_mapping():
    rows = [(1, "2020-01-01", "2020-01-10", False, "home", "I509"),
            (2, "2020-01-01", "2020-01-10", False, "home", "J189"),
            (3, "2020-01-01", "2020-01-10", False, "home", "S7200")]  # fmt: skip
    f = flags_for(rows, index_diagnoses=["I50", "J1"])
    assert f.exclusion.isna().tolist() == [True, True, False]
    assert f.exclusion.iloc[2] == "diagnosis"
    g = flags_for(rows, index_diagnoses={"heart_failure": ["I50"], "pneumonia": ["J12", "J18"]})
    assert g.index_group.tolist()[:2] == ["heart_failure", "pneumonia"] and pd.isna(g.index_group.iloc[2])
    groups = index_groups_from_codelist(
        pd.DataFrame({"condition_group": ["hf", "hf", "x"], "icd10_prefix": ["I50", "I110", "Z00"],
                      "role": ["main", "main", "exclude_any"]})
    )  # fmt: skip
    assert groups == {"hf": ["I50", "I110"]}
    with pytest.raises(ParameterError, match="dotless ICD-10"):
        flags_for(rows, index_diagnoses=["50"])


def test_norway_variant_67_plus_day_window():
    persons = pd.DataFrame({"person_id": [1, 2], "birth_date": pd.to_datetime(["1953-06-01", "1952-06-01"])})
    f = flags_for([(1, "2020-01-01", "2020-01-10"), (2, "2020-01-01", "2020-01-10")],
                  persons=persons, variant="norway")  # fmt: skip
    assert f.age.tolist() == [66, 67] and f.exclusion.tolist()[0] == "age" and bool(f.eligible.iloc[1])
    assert f.attrs["window"] == (1, 30) and "8 h" in f.attrs["definition"]


def test_window_override_and_merge_gap_1():
    rows = [(1, "2020-01-01", "2020-01-10"), (1, "2020-01-11", "2020-01-12")]  # next-day return
    assert flags_for(rows).days_to_readmission.iloc[0] == 1
    merged = flags_for(rows, merge_gap_days=1)  # §4.2: with gap 1 a day-1 readmission cannot occur
    assert len(merged) == 1 and not bool(merged.readmitted.iloc[0])
    assert not bool(flags_for([(1, "2020-01-01", "2020-01-10"), (1, "2020-01-20", "2020-01-21")],
                              window=7).readmitted.iloc[0])  # fmt: skip


def test_mixed_set_rate_by_hand():
    persons = make_persons(range(1, 9))
    persons.loc[persons.person_id == 6, "birth_date"] = pd.Timestamp("1960-01-01")  # 60 years old
    rows = [
        (1, "2020-03-01", "2020-03-05"), (1, "2020-03-20", "2020-03-22"),  # A: day 15 -> readmitted
        (2, "2020-03-01", "2020-03-05"), (2, "2020-04-05", "2020-04-06"),  # B: day 31 -> not
        (3, "2020-03-01", "2020-03-05", False, "died"),                     # C: died -> excluded
        (4, "2020-03-01", "2020-03-05"), (4, "2020-03-10", "2020-03-11", True),  # D: planned -> not
        (5, "2020-03-01", "2020-03-05"),                                    # E: nothing -> not
        (6, "2020-03-01", "2020-03-05"), (6, "2020-03-06", "2020-03-07"),  # F: age 60 -> excluded x2
        (7, "2021-12-20", "2021-12-22"),                                    # G: incomplete follow-up
        (8, "2020-03-01", "2020-03-05"), (8, "2020-03-05", "2020-03-08"),  # H: same-day return,
        (8, "2020-04-07", "2020-04-08"),                                    #    then day 30 -> readm.
    ]  # fmt: skip
    f = flags_for(rows, persons=persons)
    r = readmission_rates(f).iloc[0]
    # Episodes: A 2, B 2, C 1, D 2, E 1, F 2, G 1, H 2 (same-day return merged) = 13.
    # Excluded: C died (1), F age (2), G incomplete follow-up (1) -> eligible 13 − 4 = 9.
    # Readmitted: A's index (day 15) and H's index (8 Mar -> 7 Apr = day 30) = 2.
    # Rate = 2/9 = 0.2222...
    assert (r.n_index, r.eligible, r.readmitted) == (13, 9, 2)
    assert (r.excluded_died, r.excluded_age, r.excluded_incomplete_followup) == (1, 2, 1)
    assert r.rate == pytest.approx(2 / 9)


def test_rates_by_groups_and_year():
    f = flags_for([(1, "2020-01-01", "2020-01-10", False, "home", "I500", "H1"),
                   (1, "2020-01-20", "2020-01-21", False, "home", "I500", "H2"),
                   (2, "2021-01-01", "2021-01-10", False, "home", "I500", "H1")])  # fmt: skip
    r = readmission_rates(f, by=["year", "hospital_id"])
    assert r[["year", "hospital_id", "eligible", "readmitted"]].values.tolist() == [
        [2020, "H1", 1, 1], [2020, "H2", 1, 0], [2021, "H1", 1, 0]]  # fmt: skip
    assert np.isnan(readmission_rates(f.assign(eligible=False)).rate.iloc[0])


def test_errors():
    rows = [(1, "2020-01-01", "2020-01-10")]
    with pytest.raises(ParameterError, match="unknown variant"):
        flags_for(rows, variant="nhs")
    with pytest.raises(ParameterError, match="window"):
        flags_for(rows, window=(5, 2))
    with pytest.raises(ParameterError, match="merge_gap_days"):
        flags_for(rows, variant="cms", merge_gap_days=1)
    adm = make_adm(rows).drop(columns="planned")
    with pytest.raises(SchemaError, match="admissions.planned: required column missing"):
        flag_readmissions(adm, make_persons([1]))
    bad = make_adm([(1, "2020-01-10", "2020-01-01")])
    with pytest.raises(SchemaError, match="discharge before admission -- 1 row breaks it"):
        flag_readmissions(bad, make_persons([1]), variant="cms")
    with pytest.raises(SchemaError, match="persons.person_id: duplicate person"):
        flag_readmissions(make_adm(rows), make_persons([1, 1]))


def test_unknown_person_warned_and_excluded_by_age():
    with pytest.warns(DataWarning, match="1 index episode"):
        f = flags_for([(1, "2020-01-01", "2020-01-10"), (9, "2020-01-01", "2020-01-10")],
                      persons=make_persons([1]))  # fmt: skip
    assert f.exclusion.tolist()[1] == "age" and pd.isna(f.age.iloc[1])


# ---------------------------------------------------------------------------------------------
# The fast kernel against the per-person definition in the package (readmission_reference)
# ---------------------------------------------------------------------------------------------
def canonical(adm):
    """Ties (same person and dates): unplanned first, death last, then text order (the tie rule of
    flag_readmissions), written with pandas sorting."""
    keys = ["person_id", "admission_date", "discharge_date", "planned", "_died", "discharge_to",
            "main_diagnosis", "hospital_id"]  # fmt: skip
    return adm.assign(_died=adm.discharge_to == "died").sort_values(keys, kind="stable").drop(columns="_died")


stay = st.tuples(
    st.integers(1, 3),  # person
    st.integers(0, 90),  # admission day
    st.integers(0, 4),  # length of stay
    st.booleans(),  # planned
    st.sampled_from(["home", "home", "home", "hospital", "died", "special_housing"]),
)


def _frame(stays):
    base = pd.Timestamp("2021-10-01")
    rows = [(p, base + pd.Timedelta(days=a), base + pd.Timedelta(days=a + los), pl, to)
            for p, a, los, pl, to in stays]  # fmt: skip
    return make_adm(rows)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(stay, min_size=1, max_size=14), st.sampled_from(["socialstyrelsen", "cms", "norway"]),
       st.integers(1950, 1960), st.sampled_from([0, 1]))  # fmt: skip
def test_matches_per_person_reference(stays, variant, birth_year, gap):
    gap = 0 if variant == "cms" else gap
    adm = _frame(stays)
    persons = make_persons([1, 2, 3], birth=f"{birth_year}-11-15")
    f = flag_readmissions(adm, persons, variant=variant, end_date=END, merge_gap_days=gap)
    ref = reference_readmissions(adm, persons, variant=variant, end_date=END, merge_gap_days=gap)
    cols = list(ref.columns)
    def plain(df):
        return df.astype(object).where(df.notna(), None).reset_index(drop=True)

    pd.testing.assert_frame_equal(plain(f[cols]), plain(ref))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(stay, min_size=1, max_size=14), st.randoms(use_true_random=False))
def test_invariant_to_row_order_and_every_stay_in_one_episode(stays, rnd):
    adm = _frame(stays)
    persons = make_persons([1, 2, 3])
    perm = list(range(len(adm)))
    rnd.shuffle(perm)
    shuffled = adm.iloc[perm].reset_index(drop=True)
    for variant in ("socialstyrelsen", "cms"):
        a = flag_readmissions(adm, persons, variant=variant, end_date=END)
        b = flag_readmissions(shuffled, persons, variant=variant, end_date=END)
        cols = ["person_id", "admission_date", "discharge_date", "n_stays", "eligible", "exclusion",
                "readmitted", "days_to_readmission"]  # fmt: skip
        pd.testing.assert_frame_equal(a[cols], b[cols])
        assert a.n_stays.sum() == len(adm)  # each input stay in exactly one episode
        r = readmission_rates(a, by="person_id")
        ok = r.rate.dropna()
        assert ((ok >= 0) & (ok <= 1)).all()
        assert ((r.lower.dropna() <= ok) & (ok <= r.upper.dropna())).all()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(stay, min_size=1, max_size=14))
def test_swedish_episodes_agree_with_build_episodes(stays):
    adm = _frame(stays)
    f = flag_readmissions(adm, make_persons([1, 2, 3]), end_date=END)
    e = build_episodes(canonical(adm))
    cols = ["person_id", "admission_date", "discharge_date", "n_stays", "planned", "main_diagnosis",
            "discharge_to", "hospital_id"]  # fmt: skip
    pd.testing.assert_frame_equal(
        f[cols].astype(object).reset_index(drop=True), e[cols].astype(object).reset_index(drop=True)
    )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(stay, min_size=1, max_size=14), st.sampled_from([0, 1]))
def test_linking_with_gap_agrees_with_build_episodes_and_ids_only_label(stays, gap):
    # flag_readmissions links Swedish episodes itself (the assign_episodes rule on its own sort
    # order); build_episodes is the independent implementation, for both merge gaps.
    adm = _frame(stays)
    persons = make_persons([1, 2, 3])
    f = flag_readmissions(adm, persons, merge_gap_days=gap, end_date=END)
    e = build_episodes(canonical(adm), merge_gap_days=gap)
    cols = ["person_id", "admission_date", "discharge_date", "n_stays", "planned", "discharge_to"]
    pd.testing.assert_frame_equal(
        f[cols].astype(object).reset_index(drop=True), e[cols].astype(object).reset_index(drop=True)
    )
    # Person ids are labels: huge integers (too wide for the packed sort key, lexsort path),
    # negative integers and text give the same flags in the same order.
    keep = ["admission_date", "discharge_date", "n_stays", "eligible", "exclusion", "readmitted",
            "days_to_readmission", "next_readmission_days", "followup_days"]  # fmt: skip
    relabels = [(lambda x: x * 2**45, [1, 2, 3]), (lambda x: -x, [3, 2, 1]),  # -3 < -2 < -1
                (lambda x: "P" + x.astype(str), [1, 2, 3])]  # fmt: skip
    for relabel, order in relabels:
        g = flag_readmissions(
            adm.assign(person_id=relabel(adm.person_id)),
            persons.assign(person_id=relabel(persons.person_id)),
            merge_gap_days=gap,
            end_date=END,
        )
        exp = pd.concat([f[f.person_id == i] for i in order])[keep].reset_index(drop=True)
        pd.testing.assert_frame_equal(g[keep].reset_index(drop=True), exp)


def test_cms_linking_labels_every_stay_once():
    adm = make_adm([(1, "2020-01-01", "2020-01-10"), (1, "2020-01-05", "2020-01-08"),  # nested
                    (1, "2020-01-10", "2020-01-11"),  # same day as the latest discharge: new
                    (1, "2020-01-11", "2020-01-11")])  # same-day stay, admitted on discharge day
    s = link_episodes_cms(adm)
    assert s.episode_id.tolist() == [0, 0, 1, 2] and s.stay_seq.tolist() == [1, 2, 1, 1]


# ---------------------------------------------------------------------------------------------
# Wilson interval
# ---------------------------------------------------------------------------------------------
def test_wilson_against_hand_calculation_and_statsmodels():
    from statsmodels.stats.proportion import proportion_confint

    # Hand: x=3, n=10, z=1.9599640: p=0.3, z²=3.8414588, z²/n=0.3841459,
    # centre=(0.3+0.1920729)/1.3841459=0.3555072,
    # half=(1.9599640/1.3841459)*sqrt(0.021+0.0096036)=1.4160140*0.1749390=0.2477159
    # -> (0.1077913, 0.6032231).
    lo, up = wilson_interval(3, 10)
    assert (float(lo), float(up)) == pytest.approx((0.1077913, 0.6032231), abs=2e-6)
    x = np.array([0, 1, 5, 17, 50, 99, 100])
    n = np.array([10, 10, 40, 60, 100, 100, 100])
    for level in (0.9, 0.95, 0.99):
        lo, up = wilson_interval(x, n, level)
        ref_lo, ref_up = proportion_confint(x, n, alpha=1 - level, method="wilson")
        np.testing.assert_allclose(lo, ref_lo, atol=1e-12)
        np.testing.assert_allclose(up, ref_up, atol=1e-12)
    lo, up = wilson_interval(np.array([0]), np.array([0]))
    assert np.isnan(lo[0]) and np.isnan(up[0])
    with pytest.raises(ParameterError):
        wilson_interval(1, 2, level=1.5)


# ---------------------------------------------------------------------------------------------
# Aalen–Johansen
# ---------------------------------------------------------------------------------------------
def _ci_flags(readm, death, follow):
    n = len(readm)
    return pd.DataFrame(
        {
            "eligible": [True] * n,
            "discharge_date": pd.to_datetime(["2020-01-01"] * n),
            "next_readmission_days": pd.array(readm, dtype="Int64"),
            "days_to_death": pd.array(death, dtype="Int64"),
            "followup_days": follow,
            "group": ["a"] * n,
        }
    )


def test_aalen_johansen_hand_example():
    # A readmitted day 2; B dies day 3; C censored day 4; D readmitted day 5; E event-free.
    f = _ci_flags([2, None, None, 5, None], [None, 3, None, None, None], [400, 400, 4, 400, 400])
    ci = readmission_cumulative_incidence(f, by="group")
    # Hand: t=2 n=5: CIF_r=1/5=0.2, S=0.8; t=3 n=4: CIF_d=0.8*1/4=0.2, S=0.6; t=4 C leaves;
    # t=5 n=2: CIF_r += 0.6*1/2=0.3 -> 0.5, S=0.3.
    at = ci.at.set_index("horizon")
    assert at.loc[30, "readmission"] == pytest.approx(0.5)
    assert at.loc[30, "death"] == pytest.approx(0.2)
    assert (at.loc[30, "n"], at.loc[30, "n_readmissions"], at.loc[30, "n_deaths"]) == (5, 2, 1)
    curve = ci.curves.set_index("day")
    assert curve.loc[[1, 2, 4, 5], "readmission"].tolist() == pytest.approx([0, 0.2, 0.2, 0.5])
    assert curve.loc[5, "n_at_risk"] == 2
    assert 0 < at.loc[30, "readmission_lower"] < 0.5 < at.loc[30, "readmission_upper"] < 1


def test_aalen_johansen_ties_are_deterministic():
    # Same day 2: A readmitted, B dies, C censored; D event-free. Tied AJ: n=4 at day 2 ->
    # CIF_r = 1/4, CIF_d = 1/4 (C counts as at risk on its censoring day).
    f = _ci_flags([2, None, None, None], [None, 2, None, None], [400, 400, 2, 400])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no lifelines jitter warning
        a = readmission_cumulative_incidence(f).at
    b = readmission_cumulative_incidence(f).at
    assert a.readmission.tolist() == pytest.approx([0.25, 0.25])
    assert a.death.tolist() == pytest.approx([0.25, 0.25])
    pd.testing.assert_frame_equal(a, b)


def test_cumulative_incidence_with_deaths_table_and_flags():
    persons = make_persons([1, 2])
    persons.loc[1, "death_date"] = pd.Timestamp("2020-01-15")  # person 2: 5 days after discharge
    f = flags_for([(1, "2020-01-01", "2020-01-10"), (1, "2020-01-20", "2020-01-21"),
                   (2, "2020-01-01", "2020-01-10")], persons=persons)  # fmt: skip
    ci = readmission_cumulative_incidence(f, persons, horizons=[30])
    # 3 eligible indexes: person 1's first (readmitted day 10), its readmission (event-free),
    # person 2 (dies day 5). Day 5: n=3, death -> CIF_d=1/3, S=2/3; day 10: n=2 -> CIF_r=1/3.
    assert ci.at.readmission.iloc[0] == pytest.approx(1 / 3)
    assert ci.at.death.iloc[0] == pytest.approx(1 / 3)
    same = readmission_cumulative_incidence(f, None, horizons=[30])  # days_to_death from flags
    assert same.at.death.iloc[0] == pytest.approx(1 / 3)


# ---------------------------------------------------------------------------------------------
# Risk adjustment
# ---------------------------------------------------------------------------------------------
def test_comorbidity_covariates_by_hand():
    adm = make_adm([
        (1, "2019-01-01", "2019-01-03", False, "home", "E112"),  # 439 days before: outside look-back
        (1, "2019-09-01", "2019-09-03", False, "home", "I219"),  # prior stay: MI (1)
        (1, "2020-03-15", "2020-03-20", False, "home", "I500"),  # index: main I500 not counted
    ])  # fmt: skip
    adm.loc[2, "other_diagnoses"] = "C787 K259"  # metastatic (6) + ulcer (1)
    idx = pd.DataFrame({"person_id": [1, 2], "admission_date": pd.to_datetime(["2020-03-15"] * 2),
                        "discharge_date": pd.to_datetime(["2020-03-20"] * 2)})  # fmt: skip
    cov = comorbidity_covariates(idx, adm)
    assert cov.charlson.tolist() == [1 + 6 + 1, 0]
    assert cov.prior_admissions.tolist() == [1, 0]
    assert comorbidity_covariates(idx, adm, lookback_days=500).prior_admissions.tolist() == [2, 0]


def _risk_world(seed=3, n=3000):
    rng = np.random.default_rng(seed)
    persons = pd.DataFrame({"person_id": np.arange(n), "sex": rng.choice(["F", "M"], n),
                            "birth_date": pd.to_datetime("1930-01-01")
                            + pd.to_timedelta(rng.integers(0, 365 * 20, n), unit="D"),
                            "municipality_code": rng.choice(["1480", "1401", "1402"], n)})  # fmt: skip
    age = (pd.Timestamp("2020-03-01") - persons.birth_date).dt.days / 365.25
    p = 1 / (1 + np.exp(-(-2.0 + 0.05 * (age - 80))))
    readm = rng.random(n) < p
    rows = []
    for i in range(n):
        hosp = "H1" if i % 3 else "H2"
        rows.append((i, "2020-03-01", "2020-03-05", False, "home", "I500", hosp))
        if readm[i]:
            rows.append((i, "2020-03-15", "2020-03-16", False, "home", "J189", hosp))
    return make_adm(rows), persons


def test_risk_adjusted_expected_sums_to_observed_and_exact_poisson():
    adm, persons = _risk_world()
    f = flag_readmissions(adm, persons, end_date="2020-12-31", min_age=None)
    res = risk_adjusted_readmission(f, adm, persons)
    u = res.units
    # Logistic MLE with an intercept: Σ p̂ = Σ y exactly (score equation of the constant).
    assert u.expected.sum() == pytest.approx(u.observed.sum(), rel=1e-8)
    assert u.eligible.sum() == res.n_used == f.eligible.sum()
    o, e = u.observed.to_numpy(), u.expected.to_numpy()
    np.testing.assert_allclose(u.oe_ratio, o / e)
    assert (u.lower < u.oe_ratio).all() and (u.oe_ratio < u.upper).all()
    assert set(res.coefficients.term) >= {"const", "age10", "female", "prior_admissions"}
    assert 0.5 < res.c_statistic < 1
    # Funnel limits: 1 ± z·sqrt(E(1 − p̄))/E at the grid points.
    fu = res.funnel
    half = 1.959964 * np.sqrt(fu.expected * (1 - res.overall_rate)) / fu.expected
    np.testing.assert_allclose(fu.upper_95, 1 + half, rtol=1e-6)
    assert (fu.upper_998 > fu.upper_95).all()
    by_muni = risk_adjusted_readmission(f, adm, persons, by="municipality_code", covariates=("age",))
    assert sorted(by_muni.units.municipality_code) == ["1401", "1402", "1480"]


def test_garwood_interval_against_table():
    from naravard_analysis.core.intervals import garwood_limits as _garwood

    # Exact Poisson 95 % limits for 5 events: 1.6235, 11.6683 (chi-square quantiles, standard table).
    lo, up = _garwood(np.array([5.0, 0.0]), 0.95)
    assert lo[0] == pytest.approx(1.6235, abs=1e-4) and up[0] == pytest.approx(11.6683, abs=1e-4)
    assert lo[1] == 0 and up[1] == pytest.approx(3.6889, abs=1e-4)


# ---------------------------------------------------------------------------------------------
# Demo synthetic world (slow-ish end to end; the notebook test also covers it)
# ---------------------------------------------------------------------------------------------
def test_demo_world_end_to_end(demo_dir):
    from naravard_analysis.data import RegisterData

    data = RegisterData.from_dir(demo_dir)
    f = flag_readmissions(data.admissions, data.persons)
    assert f.n_stays.sum() == len(data.admissions)
    r = readmission_rates(f)
    assert r.eligible.iloc[0] + r[[c for c in r.columns if c.startswith("excluded_")]].sum(axis=1).iloc[0] == r.n_index.iloc[0]
    assert 0 < r.rate.iloc[0] < 1
    cms = readmission_rates(flag_readmissions(data.admissions, data.persons, variant="cms"))
    assert cms.n_index.iloc[0] >= r.n_index.iloc[0]  # CMS splits same-day returns


# ------------------------------------------------- age delivered with the stays (ALDER, issue 19)

PR_CSV = """LopNr;INDATUM;UTDATUM;HDIA;PVARD;UTSATT;SJUKHUS;KON;LAN;KOMMUN;ALDER
1;20200101;20200105;I500;2;1;11001;1;14;80;81
1;20200115;20200118;J189;2;1;11001;1;14;80;81
2;20200201;20200203;E119;2;1;11001;2;14;01;64
2;20200210;20200212;E119;2;1;11001;2;14;01;64
3;20200301;20200303;I500;2;1;12001;2;14;80;70
"""


def test_patientregistret_extract_with_only_alder(tmp_path):
    from naravard_analysis.data import read_table

    path = tmp_path / "par.csv"
    path.write_text(PR_CSV, encoding="utf-8")
    adm = read_table(path, "admissions", source="patientregistret")
    persons = adm[["person_id"]].drop_duplicates()  # no birth dates in the extract
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # nobody's age is unknown: no warning
        f = flag_readmissions(adm, persons, end_date="2020-12-31")
    assert f["age"].tolist() == [81, 81, 64, 64, 70]
    # person 1 (81) readmitted on day 10; person 2 is 64 (< 65): excluded for age, not readmitted
    assert f["readmitted"].tolist() == [True, False, False, False, False]
    assert f["exclusion"].tolist()[2:4] == ["age", "age"]
    # residence and sex from the stays (KON 1 = M; LAN + KOMMUN)
    assert f["municipality_code"].astype(str).tolist() == ["1480", "1480", "1401", "1401", "1480"]
    assert f["sex"].astype(str).tolist()[:3] == ["M", "M", "F"]


def test_birth_date_wins_over_delivered_age_and_fills_gaps():
    adm = make_adm([(1, "2020-01-01", "2020-01-05"), (2, "2020-02-01", "2020-02-03")])
    adm["age"] = pd.array([50, 70], dtype="Int64")
    persons = make_persons([1], birth="1940-01-01")  # person 1: 80 by birth date; 2 has none
    f = flag_readmissions(adm, persons, end_date=END)
    assert f["age"].tolist() == [80, 70]
    assert f["eligible"].tolist() == [True, True]


def test_min_age_default_is_readable_in_the_signature():
    import inspect

    shown = str(inspect.signature(flag_readmissions).parameters["min_age"])
    assert "object at 0x" not in shown and "DEFINITION_DEFAULT" in shown
