"""Counts of care events per calendar period: the simplest utilisation indicator.

Definition
----------
``n[p, g]`` = number of events (rows of an event table: admissions, contacts, enrolments) whose
date falls in calendar period ``p`` (month, quarter or year) for the group ``g`` (e.g. sex,
municipality). Every period between the first and last event and every group appear, with 0 where
there were no events, so a figure never hides an empty month. Group columns missing from the event
table are taken from ``persons`` by ``person_id``.

Unit of analysis: the event. Source: none needed (a count); used by the walking-skeleton notebook.

Examples
--------
>>> import pandas as pd
>>> adm = pd.DataFrame({"person_id": [1, 1, 2],
...     "admission_date": pd.to_datetime(["2020-01-05", "2020-03-01", "2020-01-20"])})
>>> persons = pd.DataFrame({"person_id": [1, 2], "sex": ["F", "M"]})
>>> events_per_period(adm, persons, date="admission_date", by=["sex"]).to_dict("list")["n"]
[1, 1, 0, 0, 1, 0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from naravard_analysis.core.dates import NAT_DAY, completed_years, day_numbers, ymd
from naravard_analysis.core.defaults import as_columns
from naravard_analysis.data.schema import require_columns
from naravard_analysis.errors import ParameterError, SchemaError
from naravard_analysis.indicators.standardise import event_rates

__all__ = ["ed_visit_rates", "events_per_period"]

_FREQS = {"MS": "M", "M": "M", "QS": "Q", "Q": "Q", "YS": "Y", "Y": "Y", "A": "Y"}


def events_per_period(
    events: pd.DataFrame,
    persons: pd.DataFrame | None = None,
    *,
    date: str,
    freq: str = "MS",
    by: str | Sequence[str] | None = None,
    name: str = "n",
    table: str = "events",
) -> pd.DataFrame:
    """Number of events per calendar period (and group), zeros included.

    Parameters
    ----------
    events
        An event table with ``person_id`` and the ``date`` column.
    persons
        The persons table, used for group columns the event table lacks (e.g. ``sex``).
    date
        Date column, e.g. ``"admission_date"``.
    freq
        ``"MS"`` (months), ``"QS"`` (quarters) or ``"YS"`` (years).
    by
        Group columns.
    name
        Name of the count column.

    Returns
    -------
    DataFrame
        Columns ``period`` (first day of the period), the ``by`` columns and ``name``.
    """
    if freq not in _FREQS:
        raise ParameterError(f"freq must be one of {sorted(_FREQS)}, got {freq!r}")
    by = as_columns(by)
    require_columns(events, table, ["person_id", date])
    df = events[["person_id", date, *[c for c in by if c in events.columns]]]
    need = [c for c in by if c not in events.columns]
    if need:
        if persons is None:
            raise ParameterError(f"group column(s) {need} not in {table}; pass persons")
        require_columns(persons, "persons", ["person_id", *need])
        df = df.merge(persons[["person_id", *need]], on="person_id", how="left", validate="m:1")
    period = df[date].dt.to_period(_FREQS[freq]).dt.start_time
    counts = df.assign(period=period).groupby(["period", *by], observed=True).size().rename(name)
    if counts.empty:
        return pd.DataFrame(columns=["period", *by, name])
    grid_periods = pd.period_range(period.min(), period.max(), freq=_FREQS[freq]).start_time
    levels = [grid_periods] + [sorted(df[c].dropna().unique()) for c in by]
    index = pd.MultiIndex.from_product(levels, names=["period", *by])
    return counts.reindex(index, fill_value=0).reset_index()


def _age_or_nan(birth: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Completed years between day numbers as float, NaN where either date is missing."""
    age = completed_years(ymd(at), ymd(birth)).astype(float)
    age[(birth == NAT_DAY) | (at == NAT_DAY)] = np.nan
    return age


def ed_visit_rates(
    contacts: pd.DataFrame,
    population: pd.DataFrame,
    *,
    by: str | Sequence[str] = ("year",),
    min_age: int | None = 80,
    standard: str | pd.DataFrame | Mapping[str, float] | None = None,
    persons: pd.DataFrame | None = None,
    per: float = 1000,
    level: float = 0.95,
    max_age: int | None = None,
    top_age: int | None = None,
) -> pd.DataFrame:
    """Emergency-department visits per 1 000 inhabitants (Socialstyrelsen's figure 8 follows 80+).

    Parameters
    ----------
    contacts : DataFrame
        Canonical contacts; rows with ``care_level == "emergency"`` are counted (every visit counts).
        Needs ``person_id`` and ``contact_date``; age, sex and residence come from ``persons``
        (or from ``age``/``sex``/``region_code``/``municipality_code`` columns already present).
    population : DataFrame
        Canonical population table (single-year ages).
    by : columns
        ``year`` (of the contact date) and any of ``region_code``, ``municipality_code``, ``sex``.
    min_age : int
        Lower age limit (default 80).
    standard : optional
        ``None`` (default): crude rate with an exact Poisson interval; or a standard population for
        a directly standardised rate (e.g. ``"esp2013"``).
    persons : DataFrame, optional
        Canonical persons table (required unless contacts carry ``age``).

    Returns
    -------
    DataFrame
        As :func:`~naravard_analysis.indicators.avoidable_rates.avoidable_rates`, with ``indicator == "ed_visits"`` and rates per 1 000.
    """
    for col in ("person_id", "contact_date", "care_level"):
        if col not in contacts.columns:
            raise SchemaError("contacts", col, "required column missing")
    ed = contacts.loc[(contacts["care_level"].astype(object) == "emergency").to_numpy(dtype=bool)]
    dates = ed["contact_date"].to_numpy(dtype="datetime64[ns]")
    ev = pd.DataFrame({"year": pd.DatetimeIndex(dates).year.astype("int64")})
    need = [c for c in ("age", "sex", "region_code", "municipality_code") if c not in ed.columns]
    if need:
        if persons is None:
            raise ParameterError("ed_visit_rates needs persons= (birth date, sex, residence)")
        pidx = pd.Index(persons["person_id"])
        loc = pidx.get_indexer(ed["person_id"])
        unknown = np.flatnonzero(loc < 0)
        if unknown.size:
            raise SchemaError(
                "contacts", "person_id", "person not in persons", unknown.size, unknown
            )
        if "age" in need:
            birth = day_numbers(pd.to_datetime(persons["birth_date"]))[loc]
            ev["age"] = _age_or_nan(birth, day_numbers(dates))
        for c in ("sex", "region_code", "municipality_code"):
            if c in need and c in persons.columns:
                ev[c] = persons[c].to_numpy()[loc]
    for c in ("age", "sex", "region_code", "municipality_code"):
        if c not in need:
            ev[c] = ed[c].to_numpy()
    ev["ed_visits"] = True
    return event_rates(
        ev, population, indicators=["ed_visits"], by=by, standard=standard, min_age=min_age,
        max_age=max_age, per=per, level=level, top_age=top_age, method="fay_feuer",
    )  # fmt: skip
