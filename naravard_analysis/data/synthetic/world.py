"""`make_world`: assemble the synthetic register world and its truth."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from naravard_analysis.data.bundle import RegisterData
from naravard_analysis.data.synthetic.calendar import MonthGrid
from naravard_analysis.data.synthetic.contacts import contacts_table
from naravard_analysis.data.synthetic.geography import region_geography
from naravard_analysis.data.synthetic.hospital import admissions_table, build_stays, finalise_stays
from naravard_analysis.data.synthetic.listings import (
    N_GENERATIONS,
    assign_units,
    listing_table,
    named_doctor_periods,
)
from naravard_analysis.data.synthetic.population import draw_persons, population_table
from naravard_analysis.data.synthetic.presets import resolve_effects, resolve_preset
from naravard_analysis.data.synthetic.rng import stream
from naravard_analysis.data.synthetic.scenarios import (
    ASSIGNMENT,
    area_log_rates,
    history_counts,
    named_doctor_assignment,
    resolve_scenario,
    rollout_order,
    scenario_effects,
    staggered_months,
    team_enrolments,
)
from naravard_analysis.data.synthetic.simulate import (
    ENROLMENT_RULE,
    HEALTH_PARAMS,
    initial_health,
    simulate,
)
from naravard_analysis.data.synthetic.staff import build_clinicians, build_units
from naravard_analysis.data.synthetic.truth import mobile_team_oracle, team_rate_ratios
from naravard_analysis.errors import ParameterError

__all__ = ["make_world"]

BIG = np.iinfo(np.int64).max // 4
ORACLE_WINDOW_DAYS = 182


def _iso(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


def _team_starts(seed: int, n_muni: int, grid: MonthGrid) -> np.ndarray:
    """Month index at which each municipality's mobile team starts (BIG = never in the period).

    About 75 % of municipalities start a team, staggered uniformly between month 12 (or a sixth of
    the period when it is short) and 12 months before the end; at least one never starts, so that
    a never-treated comparison group exists (design choice; Västra Götaland established mobile
    teams in all municipalities 2014-2019, Skåne hardly at all -- seed 001).
    """
    rng = stream(seed, "teams")
    lo = min(12, grid.n // 6)
    hi = max(lo + 1, grid.n - 12 if grid.n > 36 else grid.n - 6)
    start = rng.integers(lo, hi, size=n_muni).astype(np.int64)
    never = rng.random(n_muni) < 0.25
    if n_muni > 1 and not never.any():
        never[rng.integers(n_muni)] = True
    if never.all():
        never[rng.integers(n_muni)] = False
    return np.where(never, BIG, start)


def _scenario_setup(scn: dict, seed: int, persons: dict, health: dict, unit_of: np.ndarray,
                    units: pd.DataFrame, clinicians: pd.DataFrame, muni: pd.DataFrame,
                    grid: MonthGrid, eff: dict, hosp_of_person: np.ndarray,
                    hospital_ids: list[str]) -> tuple:
    """Roll-out, area baselines and the truth record of a scenario (see :mod:`.scenarios`).

    Who is treated, and when, is decided from the tables of a first pass of the world in which
    nobody is treated: the treatment changes nothing before it starts (effects thin events only
    while treated, from independent random streams), so the history a first pass shows up to a
    person's start is exactly the history in the final tables -- the drivers of assignment are
    in the tables, not approximations of them.

    Returns the named-doctor periods, the team start months, the simulation's scenario settings
    and ``meta["truth"]["scenario"]``.
    """
    codes = muni["municipality_code"].to_numpy()
    P = len(unit_of)
    teams = scn["intervention"] == "mobile_team"
    area_ids = codes if teams else units["unit_id"].to_numpy()
    lr = area_log_rates(seed, len(area_ids), scn["log_rate_spread"])
    rank = rollout_order(seed, lr, scn["targeting"])
    months = staggered_months(rank, scn["never_share"], grid)
    runtime: dict = {"rate_mult": np.exp(lr)[persons["muni"] if teams else unit_of]}
    if scn["trend_per_year"] is not None:
        runtime["trend"] = 1.0 + scn["trend_per_year"]

    def untreated_history(named_: dict, team_start_: np.ndarray, enrolment) -> tuple[dict, np.ndarray]:
        sim = simulate(seed, persons, health, named_, team_start_, grid, eff,
                       scenario={**runtime, "enrolment": enrolment})
        stays = build_stays(seed, persons, sim, grid, eff, hosp_of_person, len(hospital_ids))
        act = finalise_stays(stays, stays["act"].to_numpy(), "los", sim["exit_day"], sim["exit_kind"], grid)
        adm = admissions_table(act, persons, sim, hospital_ids, grid)
        return history_counts(adm, act, sim, P, grid), sim["exit_day"]

    truth = dict(scn)
    truth["area_log_rate"] = {str(a): round(float(v), 6) for a, v in zip(area_ids, lr, strict=True)}
    truth["rollout_rank"] = {str(a): int(r) for a, r in zip(area_ids, rank, strict=True)}
    truth["rollout_start"] = {str(a): (_iso(grid.first_day[m]) if m < BIG else None)
                              for a, m in zip(area_ids, months, strict=True)}
    if teams:
        named = named_doctor_periods(seed, persons, unit_of, health["cond"].sum(1), units,
                                     clinicians, grid, eff["named_doctor_selection"])
        team_start = months
        hist, exit_day = untreated_history(named, team_start, "none")
        runtime["enrolment"] = team_enrolments(seed, persons, team_start, hist, exit_day, grid, scn)
        same = eff["mobile_team_unplanned_rr"] == eff["mobile_team_ed_rr"]
        truth["true_rate_ratio"] = {
            "unplanned_admissions": eff["mobile_team_unplanned_rr"],
            "ed_visits": eff["mobile_team_unplanned_rr"] if same else None,
            "ed_visits_without_admission": eff["mobile_team_ed_rr"],
            "bed_days": eff["mobile_team_unplanned_rr"] * eff["mobile_team_los_rr"],
        }
        truth["enrolment_rule"] = (
            "resident aged 65+ on the first day of month t+1, in a municipality whose team starts "
            "by month t+1, with >= 2 unplanned admissions (admitted_from not 'hospital'), or >= 3 "
            "such admissions + ED visits without admission (care_level 'emergency' contacts with no "
            "such admission of the person on the same or the next day), in calendar months t-5..t; "
            "referred with probability 0.5; enrolled on a uniform day of month t+1; lasts "
            f"{scn['enrolment_min_months'] - 1} + Geometric months (mean "
            f"{scn['enrolment_mean_months']}), ended by death or moving out")
        truth["estimand"] = ("rate ratio while enrolled (enrolled vs the same persons without a "
                             "team); every enrolment lasts at least seven months, so it is also "
                             "the ratio over the six months after enrolment (death and moving out "
                             "end follow-up)")
    else:
        adopt = np.where(months < BIG, grid.first_day[np.minimum(months, grid.n - 1)], BIG)
        team_start = _team_starts(seed, len(muni), grid)
        hist, exit_day = None, np.full(P, BIG, np.int64)
        if scn["targeting"]:
            none = {"start": np.full((N_GENERATIONS, P), BIG, np.int64),
                    "end": np.full((N_GENERATIONS, P), BIG, np.int64),
                    "doctor": np.full((N_GENERATIONS, P), -1, np.int64)}
            hist, exit_day = untreated_history(none, team_start, None)
        named = named_doctor_assignment(seed, persons, unit_of, adopt.astype(np.int64), hist,
                                        exit_day, clinicians, len(units), grid, scn["targeting"])
        truth["assignment_hazard"] = dict(ASSIGNMENT["targeted" if scn["targeting"] else "random"])
        truth["assignment_rule"] = (
            "each month t, in units that have adopted (rollout_start), a person without a named "
            "doctor gets one with probability 1 - exp(-h), h = base_monthly_hazard * exp("
            "per_10_years_of_age * (age - age_centre)/10 [age on the first day of t, clipped] + "
            "per_recorded_condition * min(groups, max_conditions) + per_recent_admission * "
            "min(recent, max_recent)); groups = chronic avoidable groups (heart failure, COPD, "
            "asthma, diabetes, angina, hypertension) that were the cause (main diagnosis) of an "
            "admission before month t; recent = unplanned admissions (admitted_from not "
            "'hospital') in months t-3..t-1; the day is uniform in the month from adoption or "
            "move-in; a named doctor who leaves is replaced the same day")
        truth["true_rate_ratio"] = {"avoidable_admissions": eff["named_doctor_avoidable_rr"]}
        truth["estimand"] = ("rate ratio of the chronic avoidable admissions while a named doctor "
                             "is assigned (listings.doctor_id present) vs not (per protocol)")
    return named, team_start, runtime, truth


def make_world(
    preset: str = "demo",
    *,
    region: str = "14",
    n_persons: int | None = None,
    start: str | None = None,
    end: str | None = None,
    seed: int = 0,
    effects: str | Mapping[str, float] | None = None,
    scenario: str | None = None,
) -> RegisterData:
    """Generate a synthetic Swedish register world with known truth.

    Parameters
    ----------
    preset
        ``"demo"`` (20 000 residents, 2016-2023, 8 municipalities, seconds), ``"region"`` (300 000
        residents, 2015-2023, all municipalities of the region, about a minute) or ``"scale"``
        (1 000 000 residents, 2022-2023, for benchmarks); see :data:`PRESETS`.
    region
        Two-digit region code; one of the 21 regions of :func:`naravard_analysis.data.official.regions`.
    n_persons, start, end
        Override the preset's number of residents on the start date and its period (ISO dates).
    seed
        Seed of every random stream; the same arguments give byte-identical tables.
    effects
        ``None`` = the preset's known effects (:data:`DEFAULT_EFFECTS`), ``"none"`` = the no-effect
        world, or a dict overriding individual keys (documented in :mod:`.presets`). With a
        ``scenario``, ``None`` is the scenario's known effect and a dict overrides it.
    scenario
        ``None`` (the preset's world, unchanged) or a targeted roll-out with known truth:
        ``"teams_targeted"``, ``"teams_random"``, ``"named_doctor_targeted"``,
        ``"named_doctor_random"`` (:mod:`.scenarios`; truth in ``meta["truth"]["scenario"]``).
        The ``"coverage"`` preset is their small size.

    Returns
    -------
    RegisterData
        Tables persons, population, admissions, contacts, listings and enrolments; ``meta`` holds
        region, period, source ``"synthetic"``, preset, seed, params and truth (true effects, the
        enrolment rule, the oracle's counterfactual counts for the enrolled).

    Examples
    --------
    >>> from naravard_analysis.data.synthetic import make_world
    >>> world = make_world("demo", n_persons=2000, seed=1)  # doctest: +SKIP
    >>> world.meta["truth"]["effects"]["mobile_team_ed_rr"]  # doctest: +SKIP
    0.8
    """
    cfg = resolve_preset(preset)
    if cfg["n_persons"] is None and n_persons is None:
        raise ParameterError(f"preset {preset!r} spans every region at its real size: build it "
                             "with make_national (naravard synth --preset national --partitions N)")
    scn = resolve_scenario(scenario)
    eff = scenario_effects(scn, effects) if scn is not None else resolve_effects(effects)
    if n_persons is not None:
        if int(n_persons) < 200:
            raise ParameterError(f"n_persons must be at least 200, got {n_persons}")
        cfg["n_persons"] = int(n_persons)
    cfg["start"] = start or cfg["start"]
    cfg["end"] = end or cfg["end"]
    try:
        s_day = np.datetime64(cfg["start"], "D")
        e_day = np.datetime64(cfg["end"], "D")
    except ValueError as exc:
        raise ParameterError(f"start/end must be ISO dates (YYYY-MM-DD): {exc}") from exc
    if e_day - s_day < np.timedelta64(364, "D"):
        raise ParameterError(f"the period must cover at least one year, got {cfg['start']}..{cfg['end']}")
    if s_day < np.datetime64("2000-01-01") or e_day > np.datetime64("2030-12-31"):
        raise ParameterError("start and end must lie between 2000-01-01 and 2030-12-31")
    seed = int(seed)
    region = str(region).zfill(2)
    grid = MonthGrid(str(s_day), str(e_day))

    progress_bar = None
    if cfg["progress"]:
        from tqdm.auto import tqdm

        progress_bar = tqdm(total=grid.n + 4, desc=f"synthetic world ({preset})", unit="step")
    tick = progress_bar.update if progress_bar is not None else None

    muni, cells = region_geography(region, cfg["n_municipalities"])
    persons = draw_persons(seed, muni, cells, cfg["n_persons"], cfg["municipality_weighting"], grid,
                           min_age=cfg.get("min_age", 0))
    P = len(persons["sex"])
    units = build_units(seed, muni, persons["muni"], cfg["persons_per_unit"], region)
    clinicians = build_clinicians(seed, units, grid)
    unit_of = assign_units(seed, persons["muni"], units)
    hosp_of_muni = units.attrs["hospital_of_muni"]
    hospital_ids = units.attrs["hospital_ids"]
    hosp_of_person = hosp_of_muni[persons["muni"]].astype(np.int64)
    health = initial_health(seed, persons, grid)
    runtime, scn_truth = None, None
    if scn is None:
        named = named_doctor_periods(seed, persons, unit_of, health["cond"].sum(1), units,
                                     clinicians, grid, eff["named_doctor_selection"])
        team_start = _team_starts(seed, len(muni), grid)
    else:
        named, team_start, runtime, scn_truth = _scenario_setup(
            scn, seed, persons, health, unit_of, units, clinicians, muni, grid, eff,
            hosp_of_person, hospital_ids)
    sim = simulate(seed, persons, health, named, team_start, grid, eff, progress=tick,
                   scenario=runtime)

    exit_day, exit_kind = sim["exit_day"], sim["exit_kind"]
    stays = build_stays(seed, persons, sim, grid, eff, hosp_of_person, len(hospital_ids))
    act = finalise_stays(stays, stays["act"].to_numpy(), "los", exit_day, exit_kind, grid)
    cf = finalise_stays(stays, stays["cf_mt"].to_numpy(), "los_cf", exit_day, exit_kind, grid)
    admissions = admissions_table(act, persons, sim, hospital_ids, grid)
    if tick:
        tick(1)
    contacts, n_dup = contacts_table(seed, sim, act, unit_of, named, units, clinicians,
                                     muni["municipality_code"].to_numpy(), persons["muni"],
                                     hospital_ids, hosp_of_person, grid, eff)
    if tick:
        tick(1)

    # enrolments (start within the period and before exit)
    es, ee = sim["enrol_start"], sim["enrol_end"]
    enrolled = (es < BIG) & (es <= grid.end_day) & (es <= exit_day)
    ep = np.flatnonzero(enrolled)
    codes = muni["municipality_code"].to_numpy()
    e_end = ee[ep]
    end_dates = pd.Series(np.minimum(e_end, grid.end_day).astype("datetime64[D]").astype("datetime64[ns]"))
    end_dates[e_end > grid.end_day] = pd.NaT
    enrolments = pd.DataFrame({
        "person_id": ep.astype(np.int64) + 1,
        "intervention": "mobile_team",
        "team_id": "MT" + pd.Series(codes[persons["muni"][ep]]).astype(str).to_numpy(),
        "start_date": es[ep].astype("datetime64[D]").astype("datetime64[ns]"),
        "end_date": end_dates.to_numpy(),
    })

    death = pd.Series(exit_day.clip(max=grid.end_day + 1).astype("datetime64[D]").astype("datetime64[ns]"))
    death[exit_kind != 1] = pd.NaT
    persons_df = pd.DataFrame({
        "person_id": np.arange(1, P + 1, dtype=np.int64),
        "sex": np.where(persons["sex"] == 1, "M", "F"),
        "birth_date": persons["birth_day"].astype("datetime64[D]").astype("datetime64[ns]"),
        "region_code": region,
        "municipality_code": codes[persons["muni"]],
        "death_date": death.to_numpy(),
    })
    population = population_table(persons, exit_day, muni, region, grid)
    clin_ids = np.array([f"{'LSFAO'[p]}{c:06d}" for c, p in
                         zip(clinicians["clinician"], clinicians["prof"], strict=True)], dtype=object)
    listings = listing_table(persons, unit_of, named, exit_day, units, clin_ids, grid, seed)
    if tick:
        tick(1)

    # ---- truth
    ed_act = (contacts.loc[contacts["care_level"] == "emergency", "person_id"].to_numpy() - 1,
              contacts.loc[contacts["care_level"] == "emergency", "contact_date"].to_numpy()
              .astype("datetime64[D]").astype(np.int64))
    cf_ed_only = sim["e_cfmt"]
    ed_cf = (np.concatenate([sim["e_pid"][cf_ed_only], cf.loc[cf["ed"], "pid"].to_numpy()]),
             np.concatenate([sim["e_day"][cf_ed_only], cf.loc[cf["ed"], "adm"].to_numpy()]))
    oracle = mobile_team_oracle(enrolled, es, act, cf, ed_act, ed_cf, P, ORACLE_WINDOW_DAYS)
    if scn_truth is not None and "enrolment_rule" in scn_truth:
        # the team spares hip fractures (the negative control): the ratios on all admissions, bed
        # days and ED visits mix the effect with the hip fractures' share (expected, not realised)
        ratios = team_rate_ratios(eff["mobile_team_unplanned_rr"], eff["mobile_team_ed_rr"],
                                  eff["mobile_team_los_rr"], enrolled, es, cf,
                                  (sim["e_pid"][cf_ed_only], sim["e_day"][cf_ed_only]), P, ORACLE_WINDOW_DAYS)
        # the truth is the realised effect on the enrolled (actual vs counterfactual events in the
        # window, the oracle): in the simulation a prevented event also removes events coupled to
        # it, so the realised ratio is stronger than the expected mix (about 3 % on admissions)
        expected = {k: ratios[k] for k in scn_truth["true_rate_ratio"]}
        realised = {k: oracle[k]["oracle_rate_ratio"] for k in ("unplanned_admissions", "ed_visits", "bed_days")
                    if oracle.get(k, {}).get("oracle_rate_ratio") is not None}
        scn_truth["expected_rate_ratio"] = expected
        scn_truth["true_rate_ratio"] = {k: realised.get(k, v) for k, v in expected.items()}
        scn_truth["true_rate_ratio"]["hip_fractures"] = 1.0
        scn_truth["hip_fracture_share"] = ratios["hip_fracture_share"]
    resident_end = {}
    for y in np.unique(grid.year):
        d = int(np.datetime64(f"{int(y)}-12-31", "D").astype(np.int64))
        if d > grid.end_day:
            continue
        alive = (persons["entry_day"] <= d) & (exit_day > d)
        has = ((named["start"] <= d) & (d < named["end"])).any(0)
        resident_end[int(y)] = round(float(has[alive].mean()), 4)
    truth = {
        "effects": eff,
        "mobile_team": {
            "rate_ratios": {
                "unplanned_admissions": eff["mobile_team_unplanned_rr"],
                "ed_visits_without_admission": eff["mobile_team_ed_rr"],
                "length_of_stay": eff["mobile_team_los_rr"],
                "bed_days_approx": eff["mobile_team_unplanned_rr"] * eff["mobile_team_los_rr"],
            },
            "applies": "while enrolled (start_date <= day < end_date or exit); not to hip "
                       "fractures (S72, the negative control)",
            "enrolment_rule": ENROLMENT_RULE,
            "team_start": {
                str(c): (_iso(grid.first_day[m]) if m < BIG else None)
                for c, m in zip(codes, team_start, strict=True)
            },
            "n_enrolled": int(enrolled.sum()),
            "oracle_window_days": ORACLE_WINDOW_DAYS,
            "oracle": oracle,
        },
        "named_doctor": {
            "avoidable_rr": eff["named_doctor_avoidable_rr"],
            "avoidable_groups": ["heart_failure", "copd", "asthma", "diabetes", "angina",
                                 "hypertension"],
            "visit_share": eff["named_doctor_visit_share"],
            "usual_clinician_share": {"physician": 0.35, "other": 0.45},
            "selection_per_condition": eff["named_doctor_selection"],
            "assignment": "unit adoption date and ceiling; hazard rises 2 % per year of age",
            "share_of_residents_31dec": resident_end,
        },
        "health": HEALTH_PARAMS,
        "counts": {
            "persons": int(P),
            "moved_out": int((exit_kind == 2).sum()),
            "moved_in": int((persons["entrant"] == 2).sum()),
            "born": int((persons["entrant"] == 1).sum()),
            "died": int((exit_kind == 1).sum()),
            "contacts_duplicates_removed": n_dup,
            "units": int(len(units)),
            "clinicians": int(len(clinicians)),
        },
        "notes": [
            "Moving out of the region ends the listing (listings.end_date = move-out day); "
            "persons has no move-out column in the canonical schema.",
            "The population table counts persons alive and resident on 31 December.",
            "Residence from listings: a person is resident from the first listing start_date "
            "(initial residents: the period start; births: birth_date; in-migrants: the move-in "
            "day) up to, not including, the last listing end_date (the day of death or of moving "
            "out); an open last end_date means resident at the period end. Moved out = last "
            "end_date present and death_date missing. Person-time [start, end) in days matches "
            "the population table (resident on 31 December iff start <= 31 Dec < end).",
        ],
    }
    if scn_truth is not None:
        truth["scenario"] = scn_truth
        if "enrolment_rule" in scn_truth:  # the scenario's rule replaces the preset's
            truth["mobile_team"]["enrolment_rule"] = {
                **ENROLMENT_RULE,
                "counts": "unplanned admissions not transferred in and ED visits without admission "
                          "(no such admission of the person on the same or the next day), as the "
                          "admissions and contacts tables show them",
                "enrolled_from": "a uniformly drawn day of the month after the trigger month; "
                                 "65+ on its first day",
                "duration_months": f"{scn['enrolment_min_months'] - 1} + geometric, mean "
                                   f"{scn['enrolment_mean_months']}; ends earlier at death or "
                                   "moving out",
                "rule": scn_truth["enrolment_rule"],
            }
        truth["named_doctor"]["assignment"] = scn_truth.get("assignment_rule",
                                                            truth["named_doctor"]["assignment"])
    params = {
        "n_persons": cfg["n_persons"],
        "start": str(s_day),
        "end": str(e_day),
        "municipalities": [str(c) for c in codes],
        "municipality_weighting": cfg["municipality_weighting"],
        "persons_per_unit": cfg["persons_per_unit"],
        "hospitals": list(hospital_ids),
        "geography_source": "naravard_analysis.data.official.population('municipality', 2019) (SCB)",
    }
    meta = {
        "region": region,
        "period": [str(s_day), str(e_day)],
        "source": "synthetic",
        "preset": preset,
        **({"scenario": scn["name"]} if scn is not None else {}),
        "seed": seed,
        "params": params,
        "truth": truth,
    }
    data = RegisterData(
        persons=persons_df,
        population=population,
        admissions=admissions,
        contacts=contacts,
        listings=listings,
        enrolments=enrolments,
        meta=meta,
    )
    if progress_bar is not None:
        progress_bar.update(1)
        progress_bar.close()
    return data
