"""Tests of continuity_indices (methods reference §1.2, §1.4-§1.6).

Expected numbers are hand calculations written out beside each assertion, or come from
``_reference_indices`` below: a slow, obviously-correct per-person loop in exact rational arithmetic
(``fractions.Fraction``) that follows the §1.2 formulas and §1.6 preparation rules literally.
"""

from __future__ import annotations

import itertools
import warnings
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from naravard_analysis.errors import DataWarning, ParameterError, SchemaError
from naravard_analysis.indicators.continuity import INDEX_COLUMNS, continuity_indices

D0 = pd.Timestamp("2023-01-02")


def make_contacts(rows, **extra):
    """rows: (person, day offset, provider) -> canonical contacts (primary care physician)."""
    df = pd.DataFrame(rows, columns=["person_id", "day", "provider_id"])
    df["contact_date"] = D0 + pd.to_timedelta(df.pop("day"), unit="D")
    df["profession"] = "physician"
    df["unit_id"] = "U1"
    df["care_level"] = "primary"
    df["mode"] = "physical"
    for k, v in extra.items():
        df[k] = v
    return df


def seq(person, providers, start=0):
    """One contact per day for ``person`` with the providers in order."""
    return [(person, start + i, p) for i, p in enumerate(providers)]


def one(out, person):
    return out.loc[out["person_id"] == person].iloc[0]


# --------------------------------------------------------------------------------------------------
# Hand-computed sequences
# --------------------------------------------------------------------------------------------------


def test_hand_computed_aaba():
    out = continuity_indices(make_contacts(seq(1, "AABA")))
    r = one(out, 1)
    # N=4, M=2, n=(3,1), m=3, c=(1,0,0)
    assert (r.n_visits, r.n_providers) == (4, 2)
    assert r.coc == pytest.approx((9 + 1 - 4) / (4 * 3))  # 0.5
    assert r.upc == pytest.approx(3 / 4)
    assert r.secon == pytest.approx(1 / 3)
    assert r.mci == pytest.approx(1 - 2 / 4.1)  # 0.51219...
    assert r.mmci == pytest.approx((1 - 2 / 4.1) / (1 - 1 / 4.1))  # 2.1/3.1 = 0.677419...
    assert r.mmci == pytest.approx(2.1 / 3.1)
    assert r.hhi == pytest.approx((9 + 1) / 16)  # 0.625
    assert bool(r.eligible)


def test_hand_computed_alternation_and_all_distinct():
    out = continuity_indices(make_contacts(seq(1, "ABAB") + seq(2, "ABC")))
    r = one(out, 1)
    assert r.coc == pytest.approx((4 + 4 - 4) / 12)  # 1/3
    assert r.secon == 0.0  # strict alternation: SECON 0 while COC > 0 (§1.4)
    assert r.upc == pytest.approx(0.5)
    r = one(out, 2)
    assert r.coc == 0.0  # M = N
    assert r.secon == 0.0
    assert r.upc == pytest.approx(1 / 3)
    assert r.mmci == pytest.approx((1 - 3 / 3.1) / (1 - 1 / 3.1))  # = 0.1/2.1 = 1/21
    assert r.mmci == pytest.approx(1 / 21)
    assert r.hhi == pytest.approx(1 / 3)


def test_one_provider_many_visits():
    out = continuity_indices(make_contacts(seq(1, "AAAAA")))
    r = one(out, 1)
    assert (r.coc, r.upc, r.secon, r.mmci, r.hhi) == (1.0, 1.0, 1.0, 1.0, 1.0)
    assert r.mci == pytest.approx(1 - 1 / 5.1)  # MCI < 1 even when M = 1 (§1.2)


def test_zero_one_two_visits_stay_with_nan_indices():
    rows = seq(1, "A") + seq(2, "AA") + seq(3, "AB") + [(4, 0, "A")]
    c = make_contacts(rows)
    c.loc[c["person_id"] == 4, "care_level"] = "specialist"  # person 4 has 0 primary-care visits
    out = continuity_indices(c)
    assert list(out["person_id"]) == [1, 2, 3, 4]
    assert list(out["n_visits"]) == [1, 2, 2, 0]
    assert list(out["eligible"]) == [False, True, True, False]
    # N < 2: every index missing, not 1 or 0 (§1.5)
    assert out.loc[out["n_visits"] < 2, list(INDEX_COLUMNS)].isna().all().all()
    # N = 2, same provider: COC = (4 - 2)/2 = 1, SECON = 1/1; different: COC = (1+1-2)/2 = 0
    assert one(out, 2)[["coc", "secon", "upc"]].tolist() == [1.0, 1.0, 1.0]
    assert one(out, 3)[["coc", "secon", "upc"]].tolist() == [0.0, 0.0, 0.5]
    assert out.attrs["n_eligible"] == 2 and out.attrs["n_ineligible"] == 2
    assert out.attrs["n_filtered_out"] == 1


def test_min_visits_threshold_and_refusal_below_two():
    c = make_contacts(seq(1, "AB") + seq(2, "ABA"))
    out = continuity_indices(c, min_visits=3)
    assert list(out["eligible"]) == [False, True]
    assert np.isnan(one(out, 1).coc) and one(out, 2).coc == pytest.approx((4 + 1 - 3) / 6)
    with pytest.raises(ParameterError, match="below 2"):
        continuity_indices(c, min_visits=1)
    with pytest.raises(ParameterError, match="integer"):
        continuity_indices(c, min_visits=2.5)


# --------------------------------------------------------------------------------------------------
# Same-day contacts: dedupe and the SECON tie-break
# --------------------------------------------------------------------------------------------------


def test_same_day_same_provider_dedupe():
    rows = [(1, 0, "A"), (1, 0, "A"), (1, 1, "B")]
    out = continuity_indices(make_contacts(rows))
    r = one(out, 1)
    assert r.n_visits == 2 and r.coc == 0.0 and r.secon == 0.0  # A, B after dedupe
    assert out.attrs["n_duplicates_removed"] == 1
    raw = one(continuity_indices(make_contacts(rows), dedupe=False), 1)
    # A, A, B: COC = (4 + 1 - 3)/(3*2) = 1/3; SECON = (1 + 0)/2
    assert raw.n_visits == 3
    assert raw.coc == pytest.approx(1 / 3) and raw.secon == pytest.approx(0.5)


def test_same_day_different_providers_tie_break_by_provider_is_row_order_free():
    # day 0: B and A; day 1: A.  Ordered (date, provider): A, B, A -> SECON 0/2.
    rows = [(1, 0, "B"), (1, 0, "A"), (1, 1, "A")]
    c = make_contacts(rows)
    a = continuity_indices(c)
    b = continuity_indices(c.iloc[::-1].reset_index(drop=True))
    assert one(a, 1).secon == 0.0 and one(b, 1).secon == 0.0
    assert a.attrs["n_same_day_multi_provider"] == 1
    assert a.attrs["tie_break"] == ("contact_date", "provider_id")


def test_tie_break_uses_contact_time_when_present():
    rows = [(1, 0, "B"), (1, 0, "A"), (1, 1, "A")]
    c = make_contacts(
        rows, contact_time=pd.to_datetime(["08:00", "09:00", "10:00"], format="%H:%M")
    )
    # B 08:00, A 09:00, A next day -> c = (0, 1): SECON 1/2
    out = continuity_indices(c)
    assert one(out, 1).secon == pytest.approx(0.5)
    assert out.attrs["tie_break"] == ("contact_date", "contact_time", "provider_id")
    # explicit tie_break=() ignores the time column and falls back to provider order
    assert one(continuity_indices(c, tie_break=()), 1).secon == 0.0


# --------------------------------------------------------------------------------------------------
# Missing provider ids: documented, counted exclusion (§1.6)
# --------------------------------------------------------------------------------------------------


def test_missing_and_empty_provider_rows_are_excluded_and_counted():
    rows = seq(1, "AAB") + [(1, 10, None), (1, 11, ""), (2, 0, None), (2, 1, " ")]
    c = make_contacts(rows)
    with pytest.warns(DataWarning, match="4 rows with a missing or empty provider id"):
        out = continuity_indices(c)
    assert out.attrs["n_missing_provider"] == 4
    # person 1 keeps A, A, B: COC = (4+1-3)/6 = 1/3; person 2 stays with N = 0
    assert one(out, 1).n_visits == 3 and one(out, 1).coc == pytest.approx(1 / 3)
    assert one(out, 2).n_visits == 0 and not one(out, 2).eligible
    # a missing provider between two A visits does not break the SECON sequence
    c2 = make_contacts([(1, 0, "A"), (1, 1, None), (1, 2, "A")])
    with pytest.warns(DataWarning):
        assert one(continuity_indices(c2), 1).secon == 1.0


# --------------------------------------------------------------------------------------------------
# Filters, by, period
# --------------------------------------------------------------------------------------------------


def test_filters_profession_mode_care_level():
    c = make_contacts(seq(1, "AABC"))
    c["profession"] = ["physician", "physician", "nurse", "physician"]
    c["mode"] = ["physical", "video", "physical", "physical"]
    c["care_level"] = ["primary", "primary", "primary", "specialist"]
    assert one(continuity_indices(c), 1).n_visits == 3  # default: primary care, all staff
    assert one(continuity_indices(c, professions="physician"), 1).n_visits == 2
    phys = continuity_indices(c, professions="physician", modes="physical")
    assert one(phys, 1).n_visits == 1 and phys.attrs["n_filtered_out"] == 3
    allc = continuity_indices(c, care_levels=None)
    assert one(allc, 1).n_visits == 4 and one(allc, 1).coc == pytest.approx((4 + 1 + 1 - 4) / 12)


def test_unknown_filter_values_are_errors_listing_the_valid_ones():
    c = make_contacts(seq(1, "AABC"))
    with pytest.raises(ParameterError, match=r"professions: unknown value\(s\) \['doctor'\].*'physician'"):
        continuity_indices(c, professions="doctor")
    with pytest.raises(ParameterError, match=r"care_levels: unknown value.*'primary', 'specialist'"):
        continuity_indices(c, care_levels=("primär",))
    with pytest.raises(ParameterError, match=r"modes: unknown value.*'phone'"):
        continuity_indices(c, modes="telefon")


def test_valid_filter_that_matches_nothing_warns_why():
    c = make_contacts(seq(1, "AABC"))  # all physicians in primary care
    with pytest.warns(DataWarning, match=r"none of the 4 rows is left to count.*professions=\('nurse',\)"):
        out = continuity_indices(c, professions="nurse")
    assert not out["eligible"].any() and out.attrs["n_filtered_out"] == 4


def test_period_year_and_by_unit():
    rows = [(1, 0, "A"), (1, 1, "A"), (1, 400, "A"), (1, 401, "B")]  # 2023: AA, 2024: AB
    c = make_contacts(rows)
    out = continuity_indices(c, period="year")
    assert list(out["year"]) == [2023, 2024]
    assert list(out["coc"]) == [1.0, 0.0]
    c["unit_id"] = ["U2", "U1", "U1", "U2"]
    byu = continuity_indices(c, by="unit_id")
    assert list(byu["unit_id"]) == ["U1", "U2"]  # sorted
    assert list(byu["n_visits"]) == [2, 2]
    # U1: A (day 1), A (day 400) -> 1; U2: A, B -> 0
    assert list(byu["coc"]) == [1.0, 0.0]
    both = continuity_indices(c, by="unit_id", period="year")
    assert both.shape == (4, 12) and list(both["n_visits"]) == [1, 1, 1, 1]


def test_by_group_without_counted_contacts_is_left_out_and_counted():
    c = make_contacts(seq(1, "AB") + seq(2, "A"))
    c["unit_id"] = ["U1", "U1", "ED"]
    c["care_level"] = ["primary", "primary", "emergency"]
    out = continuity_indices(c, by="unit_id")
    # ED has no primary-care contact at all: outside the analysis, counted
    assert list(out["unit_id"]) == ["U1"] and out.attrs["n_groups_without_counted_contacts"] == 1
    c.loc[2, "unit_id"] = "U1"  # person 2 now has 0 counted contacts in U1, which has some
    out = continuity_indices(c, by="unit_id")
    assert list(out["person_id"]) == [1, 2] and list(out["eligible"]) == [True, False]
    assert out.attrs["n_groups_without_counted_contacts"] == 0


def test_period_quarter_and_window():
    rows = [(1, 0, "A"), (1, 1, "B"), (1, 100, "A"), (1, 101, "A")]
    c = make_contacts(rows)
    q = continuity_indices(c, period="quarter")
    assert [str(p) for p in q["period"]] == ["2023Q1", "2023Q2"]
    assert list(q["coc"]) == [0.0, 1.0]
    w = continuity_indices(c, period=("2023-04-01", "2023-12-31"))
    assert w.attrs["n_outside_window"] == 2 and list(w["n_visits"]) == [2]
    with pytest.raises(ParameterError, match="not supported"):
        continuity_indices(c, period="fortnight")


def test_string_person_ids_and_categoricals_give_same_result():
    c = make_contacts(seq(1, "AABAC") + seq(2, "BB") + seq(3, "C"))
    c["person_id"] = c["person_id"].map({1: "p1", 2: "p2", 3: "p3"})
    a = continuity_indices(c)
    cat = c.astype({k: "category" for k in ("provider_id", "profession", "care_level", "mode")})
    b = continuity_indices(cat)
    assert list(a["person_id"]) == ["p1", "p2", "p3"]
    pd.testing.assert_frame_equal(a, b)
    # A,A,B,A,C: n = (3,1,1): COC = (9+1+1-5)/20 = 0.3
    assert a["coc"].iloc[0] == pytest.approx(0.3)


def test_provider_col_unit_level():
    c = make_contacts(seq(1, "ABCD"))
    c["unit_id"] = ["U1", "U1", "U1", "U2"]
    r = one(continuity_indices(c, provider_col="unit_id"), 1)
    assert r.coc == pytest.approx((9 + 1 - 4) / 12) and r.n_providers == 2


def test_schema_errors():
    c = make_contacts(seq(1, "AB"))
    with pytest.raises(SchemaError, match="contacts.provider_id: missing required column"):
        continuity_indices(c.drop(columns="provider_id"))
    bad = c.copy()
    bad["contact_date"] = [pd.NaT, D0]
    with pytest.raises(
        SchemaError, match="contacts.contact_date: missing contact date.*1 row breaks it"
    ):
        continuity_indices(bad)
    bad = c.astype({"person_id": "float"})
    bad.loc[1, "person_id"] = np.nan
    with pytest.raises(
        SchemaError, match=r"person_id: missing person id -- 1 row breaks it \(row 1\)"
    ):
        continuity_indices(bad)


def test_empty_input_returns_empty_frame_with_columns():
    c = make_contacts([]).astype({"person_id": "int64"})
    out = continuity_indices(c)
    assert len(out) == 0
    assert list(out.columns) == ["person_id", "n_visits", "n_providers", *INDEX_COLUMNS, "eligible"]


# --------------------------------------------------------------------------------------------------
# Slow, obviously-correct reference (exact fractions) and equality on random data
# --------------------------------------------------------------------------------------------------


def _reference_indices(c: pd.DataFrame, min_visits: int = 2, dedupe: bool = True) -> dict:
    """Per person: literal §1.2 formulas on the contacts sorted by (date, provider), in Fractions."""
    res = {}
    for pid in sorted(set(c["person_id"])):
        visits = []
        for _, row in c[c["person_id"] == pid].iterrows():
            if row["care_level"] != "primary":
                continue
            if row["provider_id"] is None or row["provider_id"] == "":
                continue
            visits.append((row["contact_date"], row["provider_id"]))
        if dedupe:
            visits = sorted(set(visits))
        else:
            visits = sorted(visits)
        seqp = [p for _, p in visits]
        n = len(seqp)
        if n < min_visits:
            res[pid] = (n, None)
            continue
        counts = {}
        for p in seqp:
            counts[p] = counts.get(p, 0) + 1
        big_m = len(counts)
        m = max(counts.values())
        ssq = sum(v * v for v in counts.values())
        same = sum(1 for i in range(n - 1) if seqp[i] == seqp[i + 1])
        nn = Fraction(n)
        mci = 1 - Fraction(big_m) / (nn + Fraction(1, 10))
        res[pid] = (
            n,
            {
                "coc": Fraction(ssq - n, n * (n - 1)),
                "upc": Fraction(m, n),
                "secon": Fraction(same, n - 1),
                "mci": mci,
                "mmci": mci / (1 - 1 / (nn + Fraction(1, 10))),
                "hhi": Fraction(ssq, n * n),
                "n_providers": big_m,
            },
        )
    return res


def _random_contacts(rng: np.random.Generator, n: int, n_person: int, n_prov: int, n_days: int):
    rows = pd.DataFrame(
        {
            "person_id": rng.integers(0, n_person, n),
            "day": rng.integers(0, n_days, n),
            "provider_id": [f"P{x}" for x in rng.integers(0, n_prov, n)],
        }
    )
    c = make_contacts(rows.itertuples(index=False, name=None))
    c["care_level"] = rng.choice(["primary", "primary", "specialist"], n)
    prov = c["provider_id"].astype(object)
    prov[rng.random(n) < 0.03] = None
    c["provider_id"] = prov
    return c


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("dedupe", [True, False])
def test_equals_reference_on_random_data(seed, dedupe):
    rng = np.random.default_rng(seed)
    c = _random_contacts(rng, 600, 60, 6, 40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        out = continuity_indices(c, dedupe=dedupe).set_index("person_id")
    ref = _reference_indices(c, dedupe=dedupe)
    assert sorted(ref) == list(out.index)
    n_checked = 0
    for pid, (n, vals) in ref.items():
        row = out.loc[pid]
        assert row["n_visits"] == n
        if vals is None:
            assert not row["eligible"] and row[list(INDEX_COLUMNS)].isna().all()
            continue
        n_checked += 1
        assert row["n_providers"] == vals["n_providers"]
        for name in INDEX_COLUMNS:
            assert row[name] == pytest.approx(float(vals[name]), abs=1e-12), (pid, name)
    assert n_checked > 30


# --------------------------------------------------------------------------------------------------
# Property tests (§1.4)
# --------------------------------------------------------------------------------------------------

visit_lists = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 30), st.sampled_from("ABCDEFG")),
    min_size=0,
    max_size=60,
)


def _frame(rows):
    if not rows:
        return make_contacts([]).astype({"person_id": "int64"})
    return make_contacts(rows)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(visit_lists)
def test_property_bounds_and_identities(rows):
    out = continuity_indices(_frame(rows))
    e = out.loc[out["eligible"]]
    n = e["n_visits"].to_numpy(float)
    big_m = e["n_providers"].to_numpy()
    for name in ("coc", "upc", "secon", "mmci", "hhi"):
        assert ((e[name] >= -1e-12) & (e[name] <= 1 + 1e-12)).all(), name
    assert (e["mci"] < 1).all()
    coc, upc, hhi = e["coc"].to_numpy(), e["upc"].to_numpy(), e["hhi"].to_numpy()
    # COC = 1 <=> M = 1; COC = 0 <=> M = N; MMCI = 1 <=> M = 1; SECON = 1 <=> M = 1
    assert np.array_equal(np.isclose(coc, 1), big_m == 1)
    assert np.array_equal(np.isclose(coc, 0), big_m == n)
    assert np.array_equal(np.isclose(e["mmci"], 1), big_m == 1)
    assert np.array_equal(np.isclose(e["secon"], 1), big_m == 1)
    # m(m-1)/(N(N-1)) <= COC <= (m-1)/(N-1) <= UPC, with m = UPC * N
    m = np.round(upc * n)
    tol = 1e-12
    assert (m * (m - 1) / (n * (n - 1)) <= coc + tol).all()
    assert (coc <= (m - 1) / (n - 1) + tol).all()
    assert ((m - 1) / (n - 1) <= upc + tol).all()
    # COC = (N*HHI - 1)/(N - 1); HHI >= 1/M; UPC >= 1/M
    np.testing.assert_allclose(coc, (n * hhi - 1) / (n - 1), atol=1e-12)
    assert (hhi >= 1 / big_m - tol).all() and (upc >= 1 / big_m - tol).all()
    # ineligible rows: all indices missing
    assert out.loc[~out["eligible"], list(INDEX_COLUMNS)].isna().all().all()
    assert (out.loc[~out["eligible"], "n_visits"] < 2).all()


@settings(max_examples=50, deadline=None)
@given(visit_lists, st.randoms(use_true_random=False))
def test_property_invariance_to_row_order_and_relabelling(rows, rnd):
    c = _frame(rows)
    base = continuity_indices(c)
    # row order (SECON included: the tie-break never uses row order)
    perm = list(range(len(c)))
    rnd.shuffle(perm)
    shuffled = continuity_indices(c.iloc[perm].reset_index(drop=True))
    pd.testing.assert_frame_equal(base, shuffled)
    # relabel persons (bijection) -> same rows after mapping back
    pids = sorted(set(c["person_id"]))
    new = dict(zip(pids, rnd.sample(range(100, 200), len(pids)), strict=True))
    back = {v: k for k, v in new.items()}
    rel = continuity_indices(c.assign(person_id=c["person_id"].map(new)))
    rel["person_id"] = rel["person_id"].map(back)
    rel = rel.sort_values("person_id", ignore_index=True)
    pd.testing.assert_frame_equal(base, rel, check_dtype=False)
    # relabel providers (any bijection): order-free indices unchanged; SECON unchanged when
    # no day has two different providers (otherwise the provider-id tie-break is relabelled too)
    provs = sorted(set(c["provider_id"]))
    newp = dict(zip(provs, rnd.sample([f"Q{i}" for i in range(20)], len(provs)), strict=True))
    relp = continuity_indices(c.assign(provider_id=c["provider_id"].map(newp)))
    cols = ["n_visits", "n_providers", "coc", "upc", "mci", "mmci", "hhi", "eligible"]
    pd.testing.assert_frame_equal(base[cols], relp[cols])
    if base.attrs.get("n_same_day_multi_provider", 0) == 0:
        pd.testing.assert_series_equal(base["secon"], relp["secon"])


def test_mean_secon_over_all_orderings_equals_coc():
    # §1.4: the mean of SECON over all distinct orderings of a multiset equals COC exactly.
    multiset = "AAABBC"
    orders = sorted(set(itertools.permutations(multiset)))
    rows = []
    for pid, order in enumerate(orders):
        rows += seq(pid, order)
    out = continuity_indices(make_contacts(rows))
    # COC = (9 + 4 + 1 - 6)/(6*5) = 8/30
    assert out["coc"].nunique() == 1 and out["coc"].iloc[0] == pytest.approx(8 / 30)
    assert out["secon"].mean() == pytest.approx(8 / 30, abs=1e-12)
    assert len(out) == 60  # 6!/(3!2!1!)


def test_int64_sum_of_squares_for_long_histories():
    # n_j in the thousands: sum n_j^2 stays exact (int64, §1.12)
    rows = seq(1, "A" * 3000 + "B" * 1000)
    r = one(continuity_indices(make_contacts(rows)), 1)
    assert r.coc == pytest.approx((3000**2 + 1000**2 - 4000) / (4000 * 3999))
    assert r.secon == pytest.approx(3998 / 3999)
