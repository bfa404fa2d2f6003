"""Calibration of the synthetic world against the documented Swedish bands.

:func:`calibration_table` recomputes, with plain pandas on the canonical tables (not with the
package's indicator functions, so that a bug in either shows up), every quantity for which
``data/README.md`` documents a band (``source="README"``), and the bands of
``naravard_analysis/naravard_analysis/data/reference/CALIBRATION.md`` (``source="CALIBRATION"``), which were written for real
regions. Each row holds the lowest and highest value over the years (or a single value), the band,
and whether every value lies inside it. ``python -m naravard_analysis.data.synthetic.calibration
--seeds 0 1 2 3 4`` runs the bands over several seeds of a preset and prints the spread.

Definitions (unit of analysis in brackets):

* age shares [residents on 31 December, ``population`` table]; ``age_mix_vs_scb`` is the largest
  absolute difference of the shares 0-19, 20-39, 40-64, 65-79, 80+ in the first year against SCB's
  2019 cells of the same municipalities, weighted as the preset weights them;
* crude death rate = deaths in the year / residents on 31 December [persons];
* readmission 65+ = share of unplanned inpatient episodes (stays linked when the next starts on or
  before the discharge day, or is a transfer next day; methods reference §2.4) of persons 65+ at
  admission, not ending in death and discharged at least 30 days before the end, followed by an
  unplanned episode 1-30 days after discharge (methods reference §4.2, all causes);
* avoidable = admissions aged 20+ whose main diagnosis is heart failure, diabetes, asthma or COPD
  (indicator 526 groups, methods reference §3.1) per 100 000 residents aged 20+, crude, per year;
* ED 80+ = emergency-department contacts of persons 80+ per 1 000 residents 80+, per year;
* named-doctor share = persons with a listing row with a doctor on 31 December / residents;
* COC = Bice-Boxerman continuity over primary-care physician contacts of persons with >= 2 such
  contacts in the year, mean over persons (methods reference §1.2, 1.8);
* video share, COVID-19 drop of planned admissions (April-May 2020 / April-May 2019), winter ratio
  of unplanned admissions (January / July, all years), mobile-team enrolment and the oracle's
  rate ratios and naive before/after change from ``meta["truth"]``.

Examples
--------
>>> from naravard_analysis.data.synthetic import make_world
>>> from naravard_analysis.data.synthetic.calibration import calibration_table
>>> tab = calibration_table(make_world("demo", seed=1))  # doctest: +SKIP
>>> tab.loc[~tab["ok"], ["quantity", "min", "max", "low", "high"]]  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable

import numpy as np
import pandas as pd

from naravard_analysis.data import official
from naravard_analysis.data.bundle import RegisterData

__all__ = ["calibration_table", "calibration_over_seeds", "AVOIDABLE_PREFIXES"]

#: Main-diagnosis prefixes of the indicator-526 groups (heart failure, diabetes, asthma, COPD).
AVOIDABLE_PREFIXES = ("I50", "I110", "J81", "J45", "J46", "J41", "J42", "J43", "J44", "J47") + tuple(
    f"E1{i}{j}" for i in "01234" for j in "012345678")

_AGE_EDGES = [0, 20, 40, 65, 80, 200]


def _age(day: pd.Series, birth: pd.Series) -> pd.Series:
    return (day - birth).dt.days / 365.25


def _row(quantity: str, values, low: float, high: float, source: str, note: str = "") -> dict:
    v = pd.Series(values, dtype=float).dropna()
    lo_v, hi_v = (float(v.min()), float(v.max())) if len(v) else (np.nan, np.nan)
    ok = bool(len(v)) and bool(((v >= low) & (v <= high)).all())
    return {"quantity": quantity, "min": lo_v, "max": hi_v, "low": low, "high": high, "ok": ok,
            "source": source, "note": note}


def _readmission_65(world: RegisterData, end: pd.Timestamp) -> float:
    a = world.admissions.merge(world.persons[["person_id", "birth_date"]], on="person_id")
    a = a.sort_values(["person_id", "admission_date", "discharge_date"]).reset_index(drop=True)
    same = a["person_id"].eq(a["person_id"].shift(-1))
    gap = (a["admission_date"].shift(-1) - a["discharge_date"]).dt.days
    cont = same & (((a["discharge_to"] == "hospital") & (gap <= 1)) | (gap <= 0))
    ep = (~cont.shift(1, fill_value=False)).cumsum()
    e = a.groupby(ep).agg(pid=("person_id", "first"), adm=("admission_date", "first"),
                          dis=("discharge_date", "last"), planned=("planned", "first"),
                          to=("discharge_to", "last"), birth=("birth_date", "first"))
    nxt_pid, nxt_adm, nxt_pl = e["pid"].shift(-1), e["adm"].shift(-1), e["planned"].shift(-1)
    d = (nxt_adm - e["dis"]).dt.days
    readm = (nxt_pid == e["pid"]) & d.between(1, 30) & (nxt_pl == False)  # noqa: E712
    idx = (_age(e["adm"], e["birth"]) >= 65) & (e["to"] != "died") & ~e["planned"].astype(bool)
    idx &= e["dis"] <= end - pd.Timedelta(days=30)
    return float(readm[idx].mean())


def _coc(world: RegisterData) -> pd.Series:
    c = world.contacts
    ph = c[(c["care_level"] == "primary") & (c["profession"] == "physician")]
    g = ph.groupby([ph["contact_date"].dt.year, "person_id", "provider_id"]).size().rename("n")
    n = g.groupby(level=[0, 1]).sum()
    s = (g.astype(np.int64) ** 2).groupby(level=[0, 1]).sum()
    keep = n >= 2
    coc = (s[keep] - n[keep]) / (n[keep] * (n[keep] - 1))
    return coc.groupby(level=0).mean()


def calibration_table(world: RegisterData) -> pd.DataFrame:
    """Every documented calibration quantity of ``world`` with its band (see module docstring).

    Returns
    -------
    DataFrame
        One row per quantity: ``quantity``, ``min``, ``max`` (over years, or the single value),
        ``low``, ``high`` (the band), ``ok`` (all values inside), ``source`` ("README" =
        data/README.md, "CALIBRATION" = naravard_analysis/data/reference/CALIBRATION.md), ``note``.
    """
    pop, persons = world.population, world.persons
    a, c, li = world.admissions, world.contacts, world.listings
    truth = world.meta["truth"]
    start, end = (pd.Timestamp(x) for x in world.meta["period"])
    tot = pop.groupby("year")["population"].sum()
    years = tot.index
    rows = []

    # -- age structure
    scb = official.population("municipality", years=2019)
    scb = scb[scb["municipality_code"].astype(str).isin(world.meta["params"]["municipalities"])]
    mtot = scb.groupby("municipality_code")["population"].transform("sum")
    weight = np.sqrt(mtot) if world.meta["params"]["municipality_weighting"] == "sqrt" else mtot
    scb = scb.assign(w=scb["population"] / mtot * weight)
    band = pd.cut(scb["age"], _AGE_EDGES, right=False)
    expected = scb.groupby(band, observed=True)["w"].sum() / scb["w"].sum()
    first = pop[pop["year"] == years.min()]
    got = first.groupby(pd.cut(first["age"], _AGE_EDGES, right=False), observed=True)[
        "population"].sum() / first["population"].sum()
    rows.append(_row("age_mix_vs_scb", [np.abs(got.to_numpy() - expected.to_numpy()).max()],
                     0.0, 0.02, "README", f"first year ({years.min()}) vs SCB 2019 cells"))

    def share(lo: int, hi: int) -> pd.Series:
        return pop[(pop["age"] >= lo) & (pop["age"] < hi)].groupby("year")["population"].sum() / tot

    s65 = share(65, 999)
    rows.append(_row("share_65plus", s65, 0.17, 0.26, "README"))
    rows.append(_row("share_65plus", s65, 0.15, 0.25, "CALIBRATION", "region-level band"))
    rows.append(_row("share_80plus", share(80, 999), 0.035, 0.07, "CALIBRATION"))
    rows.append(_row("share_0_19", share(0, 20), 0.19, 0.25, "CALIBRATION"))
    deaths = persons["death_date"].dt.year.value_counts()
    rows.append(_row("crude_death_rate", deaths.reindex(years).fillna(0) / tot, 0.006, 0.014,
                     "README"))

    # -- hospital care
    readm = _readmission_65(world, end)
    rows.append(_row("readmission_65plus_all_causes", [readm], 0.12, 0.22, "README"))
    rows.append(_row("readmission_65plus_all_causes", [readm], 0.04, 0.15, "CALIBRATION",
                     "band is for indicator 330 (selected diagnoses); the world's rate is all-cause"))
    aa = a.merge(persons[["person_id", "birth_date"]], on="person_id")
    aa = aa[_age(aa["admission_date"], aa["birth_date"]) >= 20]
    av = aa[aa["main_diagnosis"].str.startswith(AVOIDABLE_PREFIXES)]
    pop20 = pop[pop["age"] >= 20].groupby("year")["population"].sum()
    av_rate = (av.groupby(av["admission_date"].dt.year).size().reindex(years).fillna(0)
               / pop20 * 1e5)
    rows.append(_row("avoidable_per_100k_20plus", av_rate, 400, 950, "README", "crude, per year"))
    rows.append(_row("avoidable_per_100k_20plus", av_rate, 450, 1100, "CALIBRATION",
                     "band assumes >= 50 000 residents 20+"))
    early = av_rate.loc[av_rate.index <= years.min() + 2].mean()
    late = av_rate.loc[av_rate.index >= years.max() - 2].mean()
    rows.append(_row("avoidable_last3_over_first3", [late / early], 0.0, 0.9999, "README",
                     "declining"))
    cc = c.merge(persons[["person_id", "birth_date"]], on="person_id")
    ed = cc[(cc["care_level"] == "emergency") & (_age(cc["contact_date"], cc["birth_date"]) >= 80)]
    pop80 = pop[pop["age"] >= 80].groupby("year")["population"].sum()
    ed_rate = ed.groupby(ed["contact_date"].dt.year).size().reindex(years).fillna(0) / pop80 * 1e3
    rows.append(_row("ed_visits_80plus_per_1000", ed_rate, 450, 1000, "README"))

    # -- primary care
    nd = {}
    for y in years:
        d = pd.Timestamp(f"{y}-12-31")
        on = li["doctor_id"].notna() & (li["start_date"] <= d) & (
            li["end_date"].isna() | (li["end_date"] > d))
        nd[int(y)] = li.loc[on, "person_id"].nunique() / tot[y]
    nd = pd.Series(nd)
    if 2022 in nd.index:
        rows.append(_row("named_doctor_share_end_2022", [nd[2022]], 0.45, 0.68, "README"))
    steps = [y for y in (int(years.min()), 2019, 2022) if y in nd.index]
    rows.append(_row("named_doctor_share_rising", [float(nd[steps].is_monotonic_increasing)], 1, 1,
                     "README", f"first year < 2019 < 2022: {nd[steps].round(3).to_dict()}"))
    # not a Swedish band: how far the share may fall from one year to the next before the
    # roll-out (named doctors of early-adopting units leave; reassignment takes months)
    rows.append(_row("named_doctor_share_largest_yearly_fall", [-nd.diff().min()], -1.0, 0.03,
                     "README", "design check, not a Swedish figure"))
    coc = _coc(world)
    rows.append(_row("continuity_coc_physicians", coc, 0.15, 0.6, "README"))
    rows.append(_row("continuity_coc_rise", [coc.iloc[-1] - coc.iloc[0]], 0.05, 1.0, "README",
                     "last year minus first year"))
    pc = c[c["care_level"] == "primary"]
    video = (pc["mode"] == "video").groupby(pc["contact_date"].dt.year).mean()
    if 2019 in video.index:
        rows.append(_row("video_share_2019", [video[2019]], 0.0, 0.02, "README"))
    if 2021 in video.index:
        rows.append(_row("video_share_2021", [video[2021]], 0.04, 1.0, "README"))

    # -- time patterns
    pl = a[a["planned"]]
    spring = pl[pl["admission_date"].dt.month.isin([4, 5])]
    n_sp = spring.groupby(spring["admission_date"].dt.year).size()
    if 2019 in n_sp.index and 2020 in n_sp.index:
        rows.append(_row("covid_planned_spring2020_over_2019", [n_sp[2020] / n_sp[2019]], 0.0, 0.8,
                         "README"))
    un = a[~a["planned"]]
    by_m = un.groupby(un["admission_date"].dt.month).size()
    rows.append(_row("winter_january_over_july", [by_m.get(1, 0) / by_m.get(7, np.nan)], 1.1, 10,
                     "README"))

    # -- mobile teams and truth
    mt = truth["mobile_team"]
    # the band is the demo's (20 000 residents at start); other sizes are scaled to it
    per = mt["n_enrolled"] * 20_000 / world.meta["params"]["n_persons"]
    rows.append(_row("mobile_team_enrolled_per_20000", [per], 150, 1000, "README",
                     f"{mt['n_enrolled']} enrolled, scaled to 20 000 residents at start"))
    o = mt["oracle"]
    for name in ("unplanned_admissions", "ed_visits"):
        rows.append(_row(f"oracle_rr_{name}", [o[name]["oracle_rate_ratio"]], 0.65, 0.95, "README",
                         "true 0.80 by default"))
    return pd.DataFrame(rows)


def calibration_over_seeds(preset: str = "demo", seeds: Iterable[int] = range(5), *,
                           with_no_effect: bool = True, **kwargs) -> pd.DataFrame:
    """:func:`calibration_table` for several seeds of one preset, stacked with a ``seed`` column.

    With ``with_no_effect`` the no-effect world of each seed is generated too and its naive
    six-month before/after change among the enrolled (oracle ``naive_change``; band: below -40 %,
    README) is added for unplanned admissions, ED visits and bed days.
    """
    from naravard_analysis.data.synthetic.world import make_world

    out = []
    for seed in seeds:
        tab = calibration_table(make_world(preset, seed=seed, **kwargs))
        if with_no_effect:
            o = make_world(preset, seed=seed, effects="none", **kwargs).meta["truth"][
                "mobile_team"]["oracle"]
            extra = [_row(f"no_effect_naive_change_{k}", [o[k]["naive_change"]], -1.0, -0.40,
                          "README", "regression to the mean") for k in
                     ("unplanned_admissions", "ed_visits", "bed_days")]
            tab = pd.concat([tab, pd.DataFrame(extra)], ignore_index=True)
        out.append(tab.assign(seed=seed))
    return pd.concat(out, ignore_index=True)


def _main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Calibration bands over several seeds")
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--no-effect", action="store_true", help="also the no-effect world per seed")
    args = ap.parse_args(argv)
    res = calibration_over_seeds(args.preset, args.seeds, with_no_effect=args.no_effect)
    key = ["quantity", "source", "low", "high"]
    spread = res.groupby(key, sort=False).agg(min=("min", "min"), max=("max", "max"),
                                              seeds_failing=("ok", lambda s: int((~s).sum())))
    failing = res.loc[~res["ok"], key + ["seed", "min", "max"]]
    with pd.option_context("display.width", 200, "display.max_rows", 200,
                           "display.float_format", "{:.4g}".format):
        print(spread.reset_index().to_string(index=False))
        print("\nfailing (quantity, seed):")
        print(failing.to_string(index=False) if len(failing) else "none")


if __name__ == "__main__":
    _main()
