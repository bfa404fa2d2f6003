"""Listing at a vårdcentral and the roll-out of named doctors (fast läkarkontakt).

Every resident is listed at a unit of their municipality (chosen in proportion to the unit's
size). Named doctors arrive unit by unit: each unit adopts the reform on its own date (about 15 %
before the period, the rest spread over 2017-2023, most in 2020-2022) and assigns a named doctor to
a unit-specific share of its listed patients (ceiling ~ Beta(8, 1.5), mean 0.84), older patients
first. The target that drives the shape is the agreement's 55 % of the population with a named
doctor by the end of 2022 (Socialstyrelsen 2022, seed 002: "minst 55 procent ... vid utgången av
2022"; regions reported anything from 6 % to 79 %). The named doctor is a permanent physician in
post; when they leave, the listing continues without a named doctor and, with probability 0.85, a
new named doctor is assigned after a gap (mean 3 months).

Named-doctor periods are simulated before the health process (they do not depend on care use), so
the effect on avoidable admissions can be applied event by event.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from naravard_analysis.data.synthetic.calendar import MonthGrid
from naravard_analysis.data.synthetic.rng import stream
from naravard_analysis.data.synthetic.staff import Roster

__all__ = ["assign_units", "named_doctor_periods", "doctor_chain", "listing_table", "N_GENERATIONS"]

YEAR = 365.25
N_GENERATIONS = 4
BIG = np.iinfo(np.int64).max // 4


def assign_units(seed: int, persons_muni: np.ndarray, units: pd.DataFrame) -> np.ndarray:
    """Unit index of each person: a unit of their municipality, in proportion to unit weight."""
    rng = stream(seed, "listings")
    um = units["muni"].to_numpy()
    w = units["weight"].to_numpy()
    order = np.argsort(um, kind="stable")
    um_s, w_s = um[order], w[order]
    starts = np.searchsorted(um_s, np.arange(um.max() + 1), side="left")
    cum = np.cumsum(w_s)
    base = np.where(starts > 0, cum[np.maximum(starts - 1, 0)], 0.0)
    base[starts == 0] = 0.0
    ends = np.searchsorted(um_s, np.arange(um.max() + 1), side="right")
    tot = cum[ends - 1] - base
    u = rng.random(len(persons_muni))
    target = base[persons_muni] + u * tot[persons_muni]
    pos = np.searchsorted(cum, target, side="right")
    pos = np.minimum(pos, ends[persons_muni] - 1)
    return order[pos].astype(np.int32)


def named_doctor_periods(
    seed: int,
    persons: dict[str, np.ndarray],
    unit_of: np.ndarray,
    n_cond0: np.ndarray,
    units: pd.DataFrame,
    clinicians: pd.DataFrame,
    grid: MonthGrid,
    selection: float,
) -> dict[str, np.ndarray]:
    """Named-doctor periods per person: arrays (G, P) ``start``, ``end`` (half-open days; BIG =
    none) and ``doctor`` (clinician index, -1 none); plus unit adoption days and ceilings."""
    rng = stream(seed, "listings", 1)
    n_u = len(units)
    early = rng.random(n_u) < 0.20
    d_2017 = int(np.datetime64("2017-01-01", "D").astype(np.int64))
    d_2023 = int(np.datetime64("2023-06-30", "D").astype(np.int64))
    adopt = np.where(
        early,
        grid.start_day - np.floor(rng.random(n_u) * 4 * YEAR),
        d_2017 + np.floor(rng.beta(2.5, 1.6, n_u) * (d_2023 - d_2017)),
    ).astype(np.int64)
    ceiling = rng.beta(8.0, 1.5, n_u)
    speed = 8 * 30.44 * rng.gamma(4.0, 0.25, n_u)  # mean days from adoption to assignment

    P = len(unit_of)
    age_at_start = (grid.start_day - persons["birth_day"]) / YEAR
    mult = np.exp(0.02 * np.clip(age_at_start - 50, -50, 50) + selection * n_cond0)
    u_take = rng.random(P)
    takes = u_take < ceiling[unit_of] * np.minimum(1.0, 0.6 + 0.4 * mult / mult.mean())
    t0 = np.maximum(adopt[unit_of], np.maximum(persons["entry_day"], persons["birth_day"]))
    first = t0 + np.floor(rng.exponential(1.0, P) * speed[unit_of] / mult).astype(np.int64)
    roster = Roster(clinicians, n_u, grid, permanent_only=True)
    end_of = clinicians["end_day"].to_numpy()
    nxt = np.where(takes, first, BIG)
    start, end, doctor = doctor_chain(rng, nxt, unit_of, roster, end_of, grid)
    return {"start": start, "end": end, "doctor": doctor, "adopt": adopt, "ceiling": ceiling}


def doctor_chain(
    rng: np.random.Generator,
    first: np.ndarray,
    unit: np.ndarray,
    roster: Roster,
    end_of: np.ndarray,
    grid: MonthGrid,
    *,
    reassign: float = 0.85,
    gap_mean: float = 90.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Successive named doctors of persons first given one on day ``first`` (BIG = never).

    Each named doctor is a permanent physician of the person's ``unit`` in post that month, kept
    until they leave (``end_of``); then, with probability ``reassign``, a new one follows after
    ``1 + floor(Exp(gap_mean))`` days (``gap_mean=0``: on the day the previous one leaves). When no doctor is in post the assignment is retried 30 days later. Returns arrays
    ``(N_GENERATIONS, n)``: start and end days (half-open, BIG = none) and clinician index (-1).
    """
    n = len(first)
    start = np.full((N_GENERATIONS, n), BIG, np.int64)
    end = np.full((N_GENERATIONS, n), BIG, np.int64)
    doctor = np.full((N_GENERATIONS, n), -1, np.int64)
    nxt = first
    for g in range(N_GENERATIONS):
        ok = nxt <= grid.end_day
        idx = np.flatnonzero(ok)
        day = np.maximum(nxt[idx], grid.start_day)
        month = grid.month_of_day(day)
        doc = roster.pick(unit[idx], np.zeros(len(idx), np.int64), month, rng.random(len(idx)))
        good = doc >= 0
        good[good] = end_of[doc[good]] > day[good]
        i_g = idx[good]
        start[g, i_g] = nxt[i_g]
        doctor[g, i_g] = doc[good]
        end[g, i_g] = end_of[doc[good]]
        # next generation: after the doctor leaves, reassignment with probability ``reassign``
        re = rng.random(n) < reassign
        gap = np.floor(rng.exponential(gap_mean, n)).astype(np.int64) + 1 if gap_mean > 0 else \
            np.zeros(n, np.int64)
        new = np.full(n, BIG, np.int64)
        sel = np.zeros(n, bool)
        sel[i_g] = True
        sel &= re & (end[g] < BIG)
        new[sel] = end[g, sel] + gap[sel]
        failed = np.zeros(n, bool)
        failed[idx[~good]] = True
        new[failed] = nxt[failed] + 30  # no doctor in post that day: try again a month later
        nxt = new
    return start, end, doctor


def listing_table(
    persons: dict[str, np.ndarray],
    unit_of: np.ndarray,
    periods: dict[str, np.ndarray],
    exit_day: np.ndarray,
    units: pd.DataFrame,
    clinician_ids: np.ndarray,
    grid: MonthGrid,
    seed: int,
) -> pd.DataFrame:
    """Canonical listings: consecutive, non-overlapping rows per person.

    A person is listed from ``list_start`` (initial residents: up to ten years before the period;
    entrants: their entry day) to their exit (death or moving out of the region; ``end_date`` is
    that day) or open (missing) at the end of the period. Rows with a named doctor cover its
    period; rows without (doctor_id missing) fill the gaps.
    """
    rng = stream(seed, "listings", 2)
    P = len(unit_of)
    entry = persons["entry_day"]
    lst = np.where(
        persons["entrant"] == 0,
        np.maximum(persons["birth_day"], grid.start_day - np.floor(rng.random(P) * 10 * YEAR)),
        entry,
    ).astype(np.int64)
    stop = np.where(exit_day < BIG, exit_day + 1, grid.end_day + 1)  # half-open end
    G = periods["start"].shape[0]
    s = np.clip(periods["start"], lst, stop)
    e = np.clip(periods["end"], lst, stop)
    starts = []
    ends = []
    docs = []
    cur = lst.copy()
    for g in range(G):
        has = (periods["start"][g] < BIG) & (s[g] < stop)
        starts.append(cur)
        ends.append(np.where(has, s[g], cur))
        docs.append(np.full(P, -1))
        starts.append(np.where(has, s[g], cur))
        ends.append(np.where(has, e[g], cur))
        docs.append(np.where(has, periods["doctor"][g], -1))
        cur = np.where(has, e[g], cur)
    starts.append(cur)
    ends.append(stop)
    docs.append(np.full(P, -1))
    S = np.stack(starts, 1)
    E = np.stack(ends, 1)
    D = np.stack(docs, 1)
    pid = np.repeat(np.arange(P), S.shape[1])
    S, E, D = S.ravel(), E.ravel(), D.ravel()
    keep = E > S
    pid, S, E, D = pid[keep], S[keep], E[keep], D[keep]
    # Merge adjacent unnamed segments (a gap followed by a zero-length named period).
    order = np.lexsort((S, pid))
    pid, S, E, D = pid[order], S[order], E[order], D[order]
    same = np.r_[False, (pid[1:] == pid[:-1]) & (D[1:] == -1) & (D[:-1] == -1) & (S[1:] == E[:-1])]
    first = np.flatnonzero(~same)
    last = np.r_[first[1:] - 1, len(S) - 1]
    pid, S, D, E = pid[first], S[first], D[first], E[last]
    open_end = (E == grid.end_day + 1) & (exit_day[pid] >= BIG)
    end_date = (E - 1).astype("datetime64[D]").astype("datetime64[ns]")
    end_date = pd.Series(end_date)
    end_date[open_end] = pd.NaT
    doc_id = pd.Series(np.where(D >= 0, clinician_ids[np.maximum(D, 0)], None), dtype="str")
    return pd.DataFrame({
        "person_id": pid.astype(np.int64) + 1,
        "doctor_id": doc_id,
        "unit_id": units["unit_id"].to_numpy()[unit_of[pid]],
        "start_date": S.astype("datetime64[D]").astype("datetime64[ns]"),
        "end_date": end_date.to_numpy(),
    })
