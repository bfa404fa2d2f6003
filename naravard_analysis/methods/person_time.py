"""Person-time building blocks for patient-level evaluations: outcome events, residence spans and
windowed sums by binary search.

Every evaluation in :mod:`naravard_analysis.methods.evaluation` asks the same question many times:
*how many events (or bed days) did person p have between day a and day b, and how long was p at
risk?* Asking it row by row would be a per-person Python loop. Instead the events of one outcome
are sorted once by the composite key ``person_code * 2**32 + day`` with a running sum of their
values, and any number of windows are answered with two :func:`numpy.searchsorted` calls
(:class:`EventIndex`). Unit of analysis: the person-window.

Outcome definitions (methods reference §7.2: outcomes as rates per person-time, counted in the same
window before and after the (pseudo-)index date):

``unplanned_admissions``
    Admissions with ``planned == False`` (PVARD 2) that do not arrive by transfer
    (``admitted_from != "hospital"``), so that one illness with a transfer counts once.
``ed_visits``
    Contacts with ``care_level == "emergency"``.
``bed_days``
    ``discharge_date - admission_date`` (days) summed over unplanned stays, transfers included,
    attributed to the admission date.
``admissions``
    Every inpatient admission.
``primary_care_contacts``
    Contacts with ``care_level == "primary"``.
``avoidable_admissions``
    Unplanned admissions flagged by
    :func:`~naravard_analysis.indicators.avoidable.flag_avoidable` (Socialstyrelsen's chronic
    list, methods reference §3.1; admission level, transfers in excluded).
``hip_fractures``
    Admissions (planned or not, transfers in excluded) with a main diagnosis of fracture of the
    femur, ICD-10 S72: a *negative-control outcome* (Lipsitch, Tchetgen Tchetgen & Cohen,
    *Epidemiology* 2010;21:383) for care-organisation interventions, which cannot plausibly
    prevent a fall fracture within months but share the confounders of the evaluated outcomes.
``deaths``
    ``persons.death_date`` (one event).

Residence (at-risk time) follows methods reference §7.2 ("patients who die or emigrate are censored at
that date"): a person is at risk from the later of the start of the data period and the start of
their first listing, to the earliest of death, the end of their last listing when no listing is
open (the canonical persons table has no move-out column; in Swedish listing data a listing ends
when the person moves out of the region) and the end of the period.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from naravard_analysis.core.dates import day_numbers
from naravard_analysis.errors import ParameterError, SchemaError

__all__ = [
    "OUTCOMES",
    "EventIndex",
    "PersonFrame",
    "person_frame",
    "outcome_events",
    "days",
]

_SHIFT = np.int64(2**32)
_DAY0 = np.int64(2**31)  # days since 1970 are shifted so the key stays positive
#: Outcomes :func:`outcome_events` knows, with the table each needs.
OUTCOMES: dict[str, str] = {
    "unplanned_admissions": "admissions",
    "ed_visits": "contacts",
    "bed_days": "admissions",
    "admissions": "admissions",
    "primary_care_contacts": "contacts",
    "avoidable_admissions": "admissions",
    "hip_fractures": "admissions",
    "deaths": "persons",
}


def days(values: pd.Series | np.ndarray) -> np.ndarray:
    """Dates as int64 days since 1970-01-01 (NaT -> the int64 minimum)."""
    return day_numbers(values)


@dataclass(frozen=True)
class PersonFrame:
    """Person codes and residence spans.

    Attributes
    ----------
    ids
        ``person_id`` values; the position is the person code used everywhere else.
    entry, exit
        First day at risk and the first day *not* at risk (half-open ``[entry, exit)``), int days.
    death
        Day of death (int days) or a large sentinel when alive at the end.
    birth
        Birth day (int days).
    period
        ``(first_day, last_day + 1)`` of the data period.
    """

    ids: pd.Index
    entry: np.ndarray
    exit: np.ndarray
    death: np.ndarray
    birth: np.ndarray
    period: tuple[int, int]

    def codes(self, person_id: pd.Series | np.ndarray, table: str = "events") -> np.ndarray:
        """Person codes of ``person_id``; raise SchemaError for ids missing from persons."""
        loc = self.ids.get_indexer(pd.Index(person_id))
        bad = np.flatnonzero(loc < 0)
        if bad.size:
            raise SchemaError(table, "person_id", "must refer to a person in persons", bad.size, bad[:5])
        return loc.astype(np.int64)


_BIG = np.int64(2**40)


def _period(data) -> tuple[int, int]:
    period = (data.meta or {}).get("period")
    if period:
        lo, hi = (int(np.datetime64(p, "D").astype(np.int64)) for p in period)
        return lo, hi + 1
    dates = []
    if data.admissions is not None and len(data.admissions):
        dates.append(days(data.admissions["admission_date"]))
    if data.contacts is not None and len(data.contacts):
        dates.append(days(data.contacts["contact_date"]))
    if not dates:
        raise ParameterError("cannot tell the data period: meta['period'] is missing and there are no events")
    allv = np.concatenate(dates)
    return int(allv.min()), int(allv.max()) + 1


def person_frame(data, *, use_listings: bool = True) -> PersonFrame:
    """Residence spans of every person (see the module docstring for the rule).

    Parameters
    ----------
    data
        A :class:`~naravard_analysis.data.RegisterData` with ``persons`` (and ``listings``).
    use_listings
        Take entry and move-out from the listings (default); ``False`` = at risk from the period
        start to death or the period end.
    """
    if data.persons is None:
        raise SchemaError("persons", None, "the persons table is required for person-time")
    p = data.persons
    ids = pd.Index(p["person_id"])
    if not ids.is_unique:
        dup = np.flatnonzero(ids.duplicated())
        raise SchemaError("persons", "person_id", "duplicate person_id", dup.size, dup[:5])
    lo, hi = _period(data)
    n = len(p)
    death_raw = pd.to_datetime(p["death_date"]) if "death_date" in p else pd.Series(pd.NaT, index=p.index)
    dead = death_raw.notna().to_numpy()
    death = np.where(dead, days(death_raw.fillna(pd.Timestamp("1970-01-01"))), _BIG)
    birth = days(p["birth_date"])
    entry = np.maximum(np.full(n, lo, np.int64), birth)
    # death day itself is at risk (the death is an event on that day): exit = death + 1
    exit_ = np.minimum(np.full(n, hi, np.int64), np.where(dead, death + 1, _BIG))
    if use_listings and data.listings is not None and len(data.listings):
        ls = data.listings
        code = ids.get_indexer(pd.Index(ls["person_id"]))
        ok = code >= 0
        code = code[ok]
        st = days(ls["start_date"])[ok]
        en_raw = pd.to_datetime(ls["end_date"])[ok]
        open_ = en_raw.isna().to_numpy()
        en = np.where(open_, _BIG, days(en_raw.fillna(pd.Timestamp("1970-01-01"))))
        first = np.full(n, _BIG, np.int64)
        np.minimum.at(first, code, st)
        last = np.full(n, -_BIG, np.int64)
        np.maximum.at(last, code, en)
        has = first < _BIG
        entry = np.where(has, np.maximum(entry, first), entry)
        # A closed last listing that is not a death ends residence (moved out of the region).
        moved = has & (last < _BIG) & ~dead
        exit_ = np.where(moved, np.minimum(exit_, last + 1), exit_)
    return PersonFrame(ids=ids, entry=entry, exit=np.maximum(exit_, entry), death=death,
                       birth=birth, period=(lo, hi))


def outcome_events(data, outcome: str, persons: PersonFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(person_code, day, value)`` of the events of ``outcome`` (definitions in the module doc)."""
    if outcome not in OUTCOMES:
        raise ParameterError(f"unknown outcome {outcome!r}; choose from {sorted(OUTCOMES)}")
    table = OUTCOMES[outcome]
    df = getattr(data, table)
    if df is None:
        raise SchemaError(table, None, f"the {table} table is required for outcome {outcome!r}")
    if outcome == "deaths":
        m = persons.death < _BIG
        code = np.flatnonzero(m).astype(np.int64)
        return code, persons.death[m], np.ones(code.size)
    if table == "contacts":
        level = "emergency" if outcome == "ed_visits" else "primary"
        m = (df["care_level"] == level).to_numpy(dtype=bool)
        sub = df.loc[m]
        return persons.codes(sub["person_id"], "contacts"), days(sub["contact_date"]), np.ones(len(sub))
    if outcome == "avoidable_admissions":
        from naravard_analysis.indicators.avoidable import flag_avoidable

        flags = flag_avoidable(df, data.persons, unplanned_only=True, unit="admission",
                               exclude_transfers_in=True)
        sub = flags.loc[flags["avoidable"].to_numpy(dtype=bool)]
        return persons.codes(sub["person_id"], "admissions"), days(sub["admission_date"]), np.ones(len(sub))
    if outcome == "hip_fractures":
        m = df["main_diagnosis"].astype(str).str.startswith("S72").to_numpy(bool)
        if "admitted_from" in df:
            m &= (df["admitted_from"] != "hospital").to_numpy(dtype=bool)
        sub = df.loc[m]
        return persons.codes(sub["person_id"], "admissions"), days(sub["admission_date"]), np.ones(len(sub))
    if outcome == "admissions":
        return persons.codes(df["person_id"], "admissions"), days(df["admission_date"]), np.ones(len(df))
    unplanned = ~df["planned"].to_numpy(dtype=bool)
    if outcome == "unplanned_admissions":
        if "admitted_from" in df:
            unplanned &= (df["admitted_from"] != "hospital").to_numpy(dtype=bool)
        sub = df.loc[unplanned]
        return persons.codes(sub["person_id"], "admissions"), days(sub["admission_date"]), np.ones(len(sub))
    sub = df.loc[unplanned]
    los = (days(sub["discharge_date"]) - days(sub["admission_date"])).astype(float)
    return persons.codes(sub["person_id"], "admissions"), days(sub["admission_date"]), los


class EventIndex:
    """Sum of event values of one person in any half-open day window, by binary search.

    Parameters
    ----------
    code, day, value
        Person codes, event days (int days since 1970) and values (1 for counts, days for bed days).

    Examples
    --------
    >>> ix = EventIndex(np.array([0, 0, 1]), np.array([10, 20, 15]), np.ones(3))
    >>> ix.sum(np.array([0, 0, 1]), np.array([0, 11, 0]), np.array([21, 30, 15])).tolist()
    [2.0, 1.0, 0.0]
    """

    def __init__(self, code: np.ndarray, day: np.ndarray, value: np.ndarray) -> None:
        key = code.astype(np.int64) * _SHIFT + (day.astype(np.int64) + _DAY0)
        order = np.argsort(key, kind="stable")
        self.key = key[order]
        self.cum = np.concatenate([[0.0], np.cumsum(np.asarray(value, float)[order])])

    def days_since_last(self, code: np.ndarray, at: np.ndarray, cap: int) -> np.ndarray:
        """Days from the person's last event before day ``at`` to ``at`` (``cap`` when none within it)."""
        if self.key.size == 0:  # no events at all (e.g. a bundle without contacts)
            return np.full(np.shape(code), float(cap))
        base = code.astype(np.int64) * _SHIFT + _DAY0
        i = np.searchsorted(self.key, base + at, side="left") - 1
        prev = self.key[np.maximum(i, 0)] - base
        gap = np.where((i >= 0) & (prev >= at - cap) & (prev < at), at - prev, cap)
        return gap.astype(float)

    def sum(self, code: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
        """Sum over events with ``start <= day < stop`` for each row (vectorised)."""
        base = code.astype(np.int64) * _SHIFT + _DAY0
        stop = np.maximum(stop, start)
        i0 = np.searchsorted(self.key, base + start, side="left")
        i1 = np.searchsorted(self.key, base + stop, side="left")
        return self.cum[i1] - self.cum[i0]
