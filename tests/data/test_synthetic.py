"""Tests of the synthetic register world (naravard_analysis.data.synthetic).

Bands are the ones documented in data/README.md with their Swedish sources; every indicator here
is recomputed independently with plain pandas (not with the package's indicator functions), so a
bug in either side shows up.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from naravard_analysis.data import official
from naravard_analysis.data.bundle import RegisterData, sha256_file
from naravard_analysis.data.identifiers import identifier_report
from naravard_analysis.data.schema import ICD10_PATTERN
from naravard_analysis.data.synthetic import DEFAULT_EFFECTS, NO_EFFECTS, PRESETS, make_world
from naravard_analysis.data.synthetic.presets import resolve_effects
from naravard_analysis.errors import ParameterError

WINDOW = 182


@pytest.fixture(scope="module")
def demo() -> RegisterData:
    return make_world("demo", seed=0)


@pytest.fixture(scope="module")
def coupled() -> tuple[RegisterData, RegisterData]:
    """Same seed: mobile-team effect only vs no effect at all (named-doctor effect switched off in
    both so that enrolment triggers are identical)."""
    kw = dict(n_persons=8_000, seed=3)
    with_mt = make_world("demo", effects={"named_doctor_avoidable_rr": 1.0}, **kw)
    none = make_world("demo", effects="none", **kw)
    return with_mt, none


def _age(d: pd.Series, b: pd.Series) -> pd.Series:
    return (d - b).dt.days / 365.25


# --------------------------------------------------------------------------- structure
def test_tables_meta_and_json(demo: RegisterData) -> None:
    assert set(demo.tables) == {"persons", "population", "admissions", "contacts", "listings",
                                "enrolments"}
    m = demo.meta
    assert m["source"] == "synthetic" and m["preset"] == "demo" and m["seed"] == 0
    assert m["region"] == "14" and m["period"] == ["2016-01-01", "2023-12-31"]
    json.dumps(m)  # JSON-serialisable, no default= needed
    assert m["truth"]["effects"] == DEFAULT_EFFECTS
    assert 15_000 <= (demo.persons["birth_date"] <= "2016-01-01").sum() <= 25_000


def test_codes_ids_and_dates(demo: RegisterData) -> None:
    p, a, c = demo.persons, demo.admissions, demo.contacts
    assert p["person_id"].between(1, len(p)).all() and p["person_id"].is_unique
    assert p["municipality_code"].str.fullmatch(r"14[0-9]{2}").all()
    real = set(official.municipalities()["municipality_code"])
    assert set(p["municipality_code"]) <= real and p["municipality_code"].nunique() == 8
    assert a["main_diagnosis"].str.fullmatch(ICD10_PATTERN).all()
    od = a["other_diagnoses"].str.split(" ").explode()
    assert od[od != ""].str.fullmatch(ICD10_PATTERN).all()
    assert (a["discharge_date"] >= a["admission_date"]).all()
    for df in demo.tables.values():
        assert not df.duplicated().any()
        assert sum(identifier_report(df).values()) == 0  # no personnummer-like values
    # no event after death or before birth
    d = a.merge(p, on="person_id")
    assert (d["admission_date"] >= d["birth_date"]).all()
    assert (d["discharge_date"] <= d["death_date"].fillna(pd.Timestamp("2100-01-01"))).all()
    k = c.merge(p, on="person_id")
    assert (k["contact_date"] <= k["death_date"].fillna(pd.Timestamp("2100-01-01"))).all()
    assert set(c["care_level"]) == {"primary", "specialist", "emergency", "municipal"}


def test_transfers_are_chained(demo: RegisterData) -> None:
    a = demo.admissions.sort_values(["person_id", "admission_date"]).reset_index(drop=True)
    nxt_same = a["person_id"].eq(a["person_id"].shift(-1))
    gap = (a["admission_date"].shift(-1) - a["discharge_date"]).dt.days
    tr = a["discharge_to"] == "hospital"
    assert tr.sum() > 50
    assert (nxt_same[tr] & gap[tr].between(0, 1)).all()
    assert (a["admitted_from"].shift(-1)[tr] == "hospital").all()
    assert (a.loc[tr, "hospital_id"].to_numpy() != a["hospital_id"].shift(-1)[tr].to_numpy()).all()
    # stays of one person never overlap (start >= previous discharge)
    prev_dis = a.groupby("person_id")["discharge_date"].shift(1)
    assert (prev_dis.isna() | (a["admission_date"] >= prev_dis)).all()


def test_listings_consistent(demo: RegisterData) -> None:
    li = demo.listings.sort_values(["person_id", "start_date"])
    nxt = li.groupby("person_id")["start_date"].shift(-1)
    closed = li["end_date"].notna() & nxt.notna()
    # consecutive, non-overlapping rows
    assert ((nxt[closed] - li.loc[closed, "end_date"]).dt.days == 1).all()
    assert li["doctor_id"].dropna().str.fullmatch(r"L[0-9]{6}").all()


def test_population_equals_persons_alive_and_resident(demo: RegisterData) -> None:
    """Recount residents on 31 Dec from persons + listings (listing spans residence)."""
    p, li = demo.persons, demo.listings
    span = li.groupby("person_id").agg(start=("start_date", "min"), end=("end_date", "max"),
                                       open=("end_date", lambda s: s.isna().any()))
    d = p.set_index("person_id").join(span)
    rows = []
    for y in range(2016, 2024):
        dec31 = pd.Timestamp(f"{y}-12-31")
        alive = (d["start"] <= dec31) & (d["open"] | (d["end"] > dec31)) & (d["birth_date"] <= dec31)
        x = d[alive]
        age = np.minimum(y - x["birth_date"].dt.year, 100)
        rows.append(pd.DataFrame({"year": y, "municipality_code": x["municipality_code"].to_numpy(),
                                  "sex": x["sex"].to_numpy(), "age": age.to_numpy()}))
    mine = pd.concat(rows).value_counts().rename("population").reset_index()
    got = demo.population.merge(mine, on=["year", "municipality_code", "sex", "age"], how="outer",
                                suffixes=("", "_recount"))
    assert got["population"].fillna(0).eq(got["population_recount"].fillna(0)).all()
    assert len(demo.population) > 1000


# --------------------------------------------------------------------------- Swedish bands
def test_age_structure_matches_scb_cells(demo: RegisterData) -> None:
    """2016 age mix within 2 points of SCB's 2019 cells of the 8 municipalities, weighted as the
    preset weights them (sqrt of population)."""
    scb = official.population("municipality", years=2019)
    codes = demo.meta["params"]["municipalities"]
    scb = scb[scb["municipality_code"].isin(codes)]
    tot = scb.groupby("municipality_code")["population"].transform("sum")
    scb = scb.assign(w=scb["population"] / tot * np.sqrt(tot))
    band = pd.cut(scb["age"], [0, 20, 40, 65, 80, 200], right=False)
    expected = scb.groupby(band, observed=True)["w"].sum() / scb["w"].sum()
    pop = demo.population[demo.population["year"] == 2016]
    got = pop.groupby(pd.cut(pop["age"], [0, 20, 40, 65, 80, 200], right=False),
                      observed=True)["population"].sum() / pop["population"].sum()
    assert np.abs(got.to_numpy() - expected.to_numpy()).max() < 0.02


def test_share_65_and_mortality(demo: RegisterData) -> None:
    pop = demo.population
    tot = pop.groupby("year")["population"].sum()
    share65 = pop[pop["age"] >= 65].groupby("year")["population"].sum() / tot
    assert share65.between(0.17, 0.26).all()  # VG 2019 18.6 % (SCB); rural-weighted demo older
    deaths = demo.persons["death_date"].dt.year.value_counts()
    rate = deaths.reindex(tot.index) / tot
    assert rate.between(0.006, 0.014).all()  # Sweden about 0.9 % a year (SCB)


def test_readmission_65_band(demo: RegisterData) -> None:
    """Unplanned 1-30 day readmission after unplanned episodes of people 65+ (DEFINITIONS 4.2),
    recomputed with plain pandas by the calibration module (independent of the generator)."""
    from naravard_analysis.data.synthetic.calibration import _readmission_65

    rate = _readmission_65(demo, pd.Timestamp("2023-12-31"))
    assert 0.12 <= rate <= 0.22, rate


def test_avoidable_and_ed_bands(demo: RegisterData) -> None:
    pop = demo.population
    a = demo.admissions.merge(demo.persons[["person_id", "birth_date"]], on="person_id")
    a = a[_age(a["admission_date"], a["birth_date"]) >= 20]
    pref = ("I50", "I110", "J81", "J45", "J46", "J41", "J42", "J43", "J44", "J47") + tuple(
        f"E1{i}{j}" for i in "01234" for j in "012345678")
    av = a[a["main_diagnosis"].str.startswith(pref)]
    pop20 = pop[pop["age"] >= 20].groupby("year")["population"].sum()
    rate = av.groupby(av["admission_date"].dt.year).size() / pop20 * 1e5
    # Öppna jämförelser indicator 526: 2015-2017 Sweden 710, VG 664 per 100 000 aged 20+
    assert rate.between(400, 950).all(), rate
    assert rate.loc[2021:2023].mean() < rate.loc[2016:2018].mean()  # declining, as in figure 6
    c = demo.contacts.merge(demo.persons[["person_id", "birth_date"]], on="person_id")
    ed = c[(c["care_level"] == "emergency") & (_age(c["contact_date"], c["birth_date"]) >= 80)]
    pop80 = pop[pop["age"] >= 80].groupby("year")["population"].sum()
    ed_rate = ed.groupby(ed["contact_date"].dt.year).size() / pop80 * 1e3
    assert ed_rate.between(450, 1000).all(), ed_rate


def test_named_doctor_share_and_continuity(demo: RegisterData) -> None:
    li = demo.listings
    pop = demo.population.groupby("year")["population"].sum()
    share = {}
    for y in (2016, 2019, 2022):
        d = pd.Timestamp(f"{y}-12-31")
        on = li["doctor_id"].notna() & (li["start_date"] <= d) & (li["end_date"].isna() | (li["end_date"] > d))
        share[y] = li.loc[on, "person_id"].nunique() / pop[y]
    assert share[2016] < share[2019] < share[2022]
    assert 0.45 <= share[2022] <= 0.68  # target 55 % by end 2022 (Socialstyrelsen 2022)
    c = demo.contacts
    ph = c[(c["care_level"] == "primary") & (c["profession"] == "physician")]
    g = ph.groupby([ph["contact_date"].dt.year, "person_id", "provider_id"]).size().rename("n")
    s = g.groupby(level=[0, 1]).agg(N="sum", S=lambda x: int((x**2).sum()))
    s = s[s["N"] >= 2]
    coc = ((s["S"] - s["N"]) / (s["N"] * (s["N"] - 1))).groupby(level=0).mean()
    assert coc.between(0.15, 0.6).all() and coc[2023] > coc[2016] + 0.05


def test_time_patterns(demo: RegisterData) -> None:
    a = demo.admissions
    un = a[~a["planned"]]
    by_m = un.groupby(un["admission_date"].dt.month).size()
    assert by_m[1] > 1.1 * by_m[7]  # winter seasonality
    pl = a[a["planned"]]
    spring = pl[pl["admission_date"].dt.month.isin([4, 5])]
    n = spring.groupby(spring["admission_date"].dt.year).size()
    assert n[2020] < 0.8 * n[2019]  # COVID-19: fewer planned admissions
    pc = demo.contacts[demo.contacts["care_level"] == "primary"]
    video = pc.groupby(pc["contact_date"].dt.year)["mode"].apply(lambda m: (m == "video").mean())
    assert video[2019] < 0.02 and video[2021] > 0.04
    assert (a["main_diagnosis"] == "U071").sum() > 0


# --------------------------------------------------------------------------- truth and oracle
def _window_counts(data: RegisterData, enr: pd.DataFrame) -> pd.DataFrame:
    """Unplanned admissions (not transfers) + ED visits in the 182 days before/after enrolment."""
    a = data.admissions
    a = a[~a["planned"] & (a["admitted_from"] != "hospital")][["person_id", "admission_date"]]
    a = a.rename(columns={"admission_date": "day"}).assign(kind="adm")
    c = data.contacts
    e = c[c["care_level"] == "emergency"][["person_id", "contact_date"]]
    e = e.rename(columns={"contact_date": "day"}).assign(kind="ed")
    ev = pd.concat([a, e]).merge(enr[["person_id", "start_date"]], on="person_id")
    rel = (ev["day"] - ev["start_date"]).dt.days
    ev["when"] = np.where(rel.between(0, WINDOW - 1), "post",
                          np.where(rel.between(-WINDOW, -1), "pre", "out"))
    return ev[ev["when"] != "out"].groupby(["kind", "when"]).size().unstack()


def test_coupled_worlds_share_enrolments(coupled) -> None:
    with_mt, none = coupled
    pd.testing.assert_frame_equal(with_mt.enrolments, none.enrolments)
    assert len(none.enrolments) >= 60


def test_oracle_counterfactual_equals_no_effect_world(coupled) -> None:
    """The oracle's counterfactual counts are the no-effect world's observed counts, exactly."""
    with_mt, none = coupled
    enr = none.enrolments
    cf = _window_counts(none, enr)
    oracle = with_mt.meta["truth"]["mobile_team"]["oracle"]
    assert oracle["unplanned_admissions"]["counterfactual_post"] == cf.loc["adm", "post"]
    assert oracle["ed_visits"]["counterfactual_post"] == cf.loc["ed", "post"]
    obs = _window_counts(with_mt, enr)
    assert oracle["ed_visits"]["observed_post"] == obs.loc["ed", "post"]
    # injected effect 0.8: recovered by the oracle ratio (sampling noise of ~150 events)
    ratio = (obs.loc["adm", "post"] + obs.loc["ed", "post"]) / (cf.loc["adm", "post"] + cf.loc["ed", "post"])
    assert 0.65 <= ratio <= 0.92, ratio
    # pre-enrolment counts are identical in both worlds (the effect starts at enrolment)
    assert obs.loc["adm", "pre"] == cf.loc["adm", "pre"] and obs.loc["ed", "pre"] == cf.loc["ed", "pre"]


def test_no_effect_world_shows_naive_drop(coupled) -> None:
    """Regression to the mean: with no effect at all, post/pre - 1 is below -40 % (observed about
    -70 % to -80 %, documented in data/README.md)."""
    _, none = coupled
    counts = _window_counts(none, none.enrolments)
    change = counts["post"] / counts["pre"] - 1
    assert (change < -0.40).all(), change
    assert none.meta["truth"]["effects"] == NO_EFFECTS


def test_demo_oracle_recovers_truth(demo: RegisterData) -> None:
    o = demo.meta["truth"]["mobile_team"]["oracle"]
    assert 0.65 <= o["unplanned_admissions"]["oracle_rate_ratio"] <= 0.95
    assert 0.65 <= o["ed_visits"]["oracle_rate_ratio"] <= 0.95
    assert o["bed_days"]["oracle_rate_ratio"] < o["unplanned_admissions"]["oracle_rate_ratio"] + 0.1
    assert 150 <= demo.meta["truth"]["mobile_team"]["n_enrolled"] <= 1000
    assert len(demo.enrolments) == demo.meta["truth"]["mobile_team"]["n_enrolled"]
    age = _age(demo.enrolments["start_date"],
               demo.enrolments.merge(demo.persons, on="person_id")["birth_date"])
    assert (age >= 65).all()


# --------------------------------------------------------------------------- determinism, errors
def test_same_seed_byte_identical_files(tmp_path) -> None:
    kw = dict(n_persons=1500, start="2019-01-01", end="2020-12-31")
    d1 = make_world("demo", seed=7, **kw).to_dir(tmp_path / "a")
    d2 = make_world("demo", seed=7, **kw).to_dir(tmp_path / "b")
    d3 = make_world("demo", seed=8, **kw).to_dir(tmp_path / "c")
    names = sorted(p.name for p in d1.glob("*.parquet"))
    assert len(names) == 6
    assert all(sha256_file(d1 / n) == sha256_file(d2 / n) for n in names)
    assert sha256_file(d1 / "contacts.parquet") != sha256_file(d3 / "contacts.parquet")
    back = RegisterData.from_dir(d1)
    assert back.meta["truth"]["effects"] == DEFAULT_EFFECTS
    assert (d1 / "truth.json").is_file()


def test_other_region_and_errors() -> None:
    w = make_world("demo", region="01", n_persons=1000, start="2021-01-01", end="2022-12-31")
    assert w.persons["municipality_code"].str.startswith("01").all()
    with pytest.raises(ParameterError, match="region"):
        make_world("demo", region="02", n_persons=1000)
    with pytest.raises(ParameterError, match="unknown preset"):
        make_world("huge")
    with pytest.raises(ParameterError, match="unknown effect keys"):
        make_world("demo", effects={"mobile_team_rr": 0.5})
    with pytest.raises(ParameterError, match="at least one year"):
        make_world("demo", start="2020-01-01", end="2020-03-01")
    assert {"demo", "region", "scale", "coverage"} <= set(PRESETS)


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(DEFAULT_EFFECTS)),
                       st.floats(0.05, 1.0, allow_nan=False), max_size=4))
def test_resolve_effects_overrides_only_given_keys(over: dict) -> None:
    eff = resolve_effects(over)
    for k, v in DEFAULT_EFFECTS.items():
        want = over.get(k, v)
        if k == "named_doctor_selection":
            continue
        assert eff[k] == pytest.approx(want)


# --------------------------------------------------------------------------- residence, calibration
def test_moves_recoverable_from_listings(demo: RegisterData) -> None:
    """Move-in and move-out days are recoverable from listings (documented in data/README.md and
    truth notes); the counts match the truth's counts."""
    p, li = demo.persons.set_index("person_id"), demo.listings
    span = li.groupby("person_id").agg(first=("start_date", "min"), last=("end_date", "max"),
                                       open=("end_date", lambda s: s.isna().any()))
    d = p.join(span)
    assert d["first"].notna().all()  # everybody is listed
    counts = demo.meta["truth"]["counts"]
    died = d["death_date"].notna()
    assert (d.loc[died, "last"] == d.loc[died, "death_date"]).all() and not d.loc[died, "open"].any()
    moved_out = ~died & ~d["open"]
    assert moved_out.sum() == counts["moved_out"] > 500
    start = pd.Timestamp(demo.meta["period"][0])
    born = d["first"].eq(d["birth_date"]) & (d["first"] > start)
    assert born.sum() == counts["born"]
    moved_in = (d["first"] > start) & ~born
    # an in-migrant arriving on the period's first day looks like an initial resident
    assert 0 <= counts["moved_in"] - moved_in.sum() <= 5 and moved_in.sum() > 1000
    # initial residents are listed from before the period start
    assert (d.loc[d["first"] <= start, "first"] <= start).all()


def test_calibration_table_matches_bands(demo: RegisterData) -> None:
    from naravard_analysis.data.synthetic.calibration import calibration_table

    tab = calibration_table(demo).set_index(["quantity", "source"])
    readme = tab.xs("README", level="source")
    assert readme["ok"].all(), readme[~readme["ok"]]
    assert len(readme) == 19  # every README band except the no-effect world's naive drop
    # same numbers as the independent recount above (share 65+ in every year)
    pop = demo.population
    share65 = pop[pop["age"] >= 65].groupby("year")["population"].sum() / pop.groupby("year")[
        "population"].sum()
    row = tab.loc[("share_65plus", "README")]
    assert row["min"] == pytest.approx(share65.min()) and row["max"] == pytest.approx(share65.max())
    # indicator 330's band is for selected diagnoses; the world's all-cause rate lies above it
    # (documented in data/README.md)
    assert not tab.loc[("readmission_65plus_all_causes", "CALIBRATION"), "ok"]
