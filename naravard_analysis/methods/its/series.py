"""monthly_series: event tables -> period counts with a population offset, ready for fit_its."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from naravard_analysis.errors import DataWarning, ParameterError, SchemaError

__all__ = ["monthly_series"]

_FREQS = {"MS": "M", "M": "M", "ME": "M", "QS": "Q", "Q": "Q", "QE": "Q", "YS": "Y", "Y": "Y", "YE": "Y",
          "AS": "Y", "A": "Y"}


def monthly_series(
    events: pd.DataFrame,
    population: pd.DataFrame,
    *,
    date: str,
    by: str | Sequence[str] | None = None,
    freq: str = "MS",
    standardise: Any = None,
    start: Any = None,
    end: Any = None,
    rate_per: float = 100_000,
    ages: tuple[int | None, int | None] | None = None,
    where: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Count events per period (and per ``by`` group) and attach the population at risk.

    Unit of analysis: a period (month by default) of one series. Every period between ``start`` and
    ``end`` (default: first and last event date) appears for every ``by`` group found in
    ``population``, with 0 events when none occurred -- a missing month is a zero count, not a gap.
    Events with a missing ``date`` or outside [start, end] are excluded and counted in a
    :class:`DataWarning`; events whose group is absent from ``population`` raise (their rate would
    have no denominator).

    Population (design choice, stated here because no source defines it for monthly series): the
    population of the period's calendar year from the canonical ``population`` table (year, ...,
    population; summed over sex and age within each ``by`` group). SCB publishes population on
    31 December, so pass mid-year or 31-December-of-the-previous-year figures in ``year`` if that is
    the denominator you want. Years missing from ``population`` take the nearest available year
    (counted in a :class:`DataWarning`).

    Parameters
    ----------
    events
        One row per event (e.g. admissions already filtered to avoidable ones, or ED contacts) with
        the ``date`` column and the ``by`` columns (e.g. region_code joined from persons).
    population
        Canonical population table with ``year``, ``population`` and the ``by`` columns.
    date
        Event date column (e.g. ``admission_date``).
    by
        Grouping column(s) present in both tables, or None for one series.
    freq
        ``"MS"`` (monthly, default), ``"QS"`` or ``"YS"``.
    standardise
        None, or a standard population for direct age standardisation (methods reference §5.1; e.g.
        ``"esp2013"`` or anything :func:`naravard_analysis.indicators.standardise.standard_population`
        accepts, restricted to the youngest age in ``population``). Needs an ``age`` column (age at the
        event, single years) in ``events`` and ``population``; ages are banded with ``band_ages``
        (ESP2013 five-year bands, 90+). Adds ``adjusted_rate`` (DSR x rate_per, from
        ``direct_standardise``) and ``std_population`` = events / DSR, the age-standardised population
        whose log is the offset of Lopez Bernal et al. 2017 (``aces/stdpop`` is their standardised
        rate). Design choice: in a period with 0 events the DSR is 0 and events/DSR undefined, so
        std_population = population x (the group's pooled std_population / population ratio);
        such periods are counted in a :class:`DataWarning`.
    start, end
        First and last period to include (dates); default from the events.
    rate_per
        Multiplier of the crude ``rate`` column.
    ages
        ``(lowest, highest)`` age in completed years at the event, both included; ``None`` on
        either side is open (``(80, None)`` = 80+). Applied to the events (``age`` column, e.g.
        from :func:`naravard_analysis.indicators.person_attributes.with_person_attributes`) and to
        the population, so numerator and denominator describe the same people.
    where
        ``{column: value or list of values}`` kept in both tables (e.g. ``{"sex": "F"}``); every
        column must exist in ``events`` and in ``population`` for the same reason.

    Returns
    -------
    DataFrame
        ``by`` columns, ``period`` (period start, datetime64), ``events`` (int64), ``population``
        (float), ``rate`` (events / population * rate_per), sorted by group and period. Use
        ``fit_its(series, outcome="events", time="period", exposure="population", ...)``.
    """
    pfreq = _FREQS.get(freq)
    if pfreq is None:
        raise ParameterError(f"freq must be one of {sorted(_FREQS)}, not {freq!r}")
    by = [] if by is None else ([by] if isinstance(by, str) else list(by))
    events, population = _subset(events, population, ages, where)
    for table, df, cols in (("events", events, [date, *by]), ("population", population, ["year", "population", *by])):
        miss = [c for c in cols if c not in df.columns]
        if miss:
            raise SchemaError(table, miss[0], f"column(s) {miss} not found")

    when = pd.to_datetime(events[date], errors="coerce")
    per = when.dt.to_period(pfreq)
    p0 = per.min() if start is None else pd.Period(pd.Timestamp(start), pfreq)
    p1 = per.max() if end is None else pd.Period(pd.Timestamp(end), pfreq)
    if pd.isna(p0) or pd.isna(p1):
        raise ParameterError("no dated events and no start/end given: the period range is unknown")
    keep = per.notna() & (per >= p0) & (per <= p1)
    n_drop = int((~keep).sum())
    if n_drop:
        warnings.warn(f"monthly_series: {n_drop} events excluded (missing {date} or outside "
                      f"{p0}..{p1})", DataWarning, stacklevel=2)

    pop = population.groupby(by + ["year"], observed=True, dropna=False)["population"].sum().reset_index()
    groups = pop[by].drop_duplicates().reset_index(drop=True) if by else pd.DataFrame(index=[0])
    periods = pd.period_range(p0, p1, freq=pfreq)
    grid = groups.merge(pd.DataFrame({"_ord": periods.asi8}), how="cross")

    ev = events.loc[keep.to_numpy(), by].copy()
    ev["_ord"] = per[keep].array.asi8
    counts = ev.groupby(by + ["_ord"], observed=True, dropna=False).size().rename("events").reset_index()
    if by:
        unknown = counts.merge(groups, on=by, how="left", indicator=True)["_merge"].eq("left_only")
        if unknown.any():
            raise SchemaError("events", ",".join(by), "group not present in population (no denominator)",
                              int(counts.loc[unknown.to_numpy(), "events"].sum()))
    out = grid.merge(counts, on=by + ["_ord"], how="left")
    out["events"] = out["events"].fillna(0).astype(np.int64)
    pidx = pd.PeriodIndex.from_ordinals(out["_ord"].to_numpy(), freq=pfreq)
    out["year"] = pidx.year.astype(np.int64)
    out = _attach_population(out, pop, by)
    out["period"] = pidx.to_timestamp(how="start")
    out["rate"] = out["events"] / out["population"] * rate_per
    cols = by + ["period", "events", "population", "rate"]
    if standardise is not None:
        out = _standardise(out, events.loc[keep.to_numpy()], ev["_ord"].to_numpy(), population, by,
                           standardise, rate_per)
        cols += ["adjusted_rate", "std_population"]
    return out[cols].sort_values(by + ["period"]).reset_index(drop=True)


def _standardise(out: pd.DataFrame, events: pd.DataFrame, ords: np.ndarray, population: pd.DataFrame,
                 by: list[str], standard: Any, rate_per: float) -> pd.DataFrame:
    """DSR per period and the equivalent standardised population (see ``monthly_series``)."""
    from naravard_analysis.indicators.standardise import (
        band_ages,
        direct_standardise,
        standard_population,
    )

    for table, df in (("events", events), ("population", population)):
        if "age" not in df.columns:
            raise SchemaError(table, "age", "age standardisation needs single-year ages")
    # restrict the standard from the lower edge of the youngest band present in the population
    first = str(band_ages([int(population["age"].min())]).astype(str).iloc[0])
    min_age = int(first.split("-")[0].rstrip("+"))
    std = standard_population(standard, min_age=min_age if min_age > 0 else None)
    ev = pd.DataFrame({**{c: events[c].to_numpy() for c in by}, "_ord": ords,
                       "age_group": band_ages(events["age"].to_numpy()).astype(str).to_numpy()})
    d = ev.groupby(by + ["_ord", "age_group"], observed=True).size().rename("events").reset_index()
    pop = population.assign(age_group=band_ages(population["age"]).astype(str).to_numpy())
    pop = pop.groupby(by + ["year", "age_group"], observed=True)["population"].sum().reset_index()
    bands = pop[["age_group"]].drop_duplicates()
    grid = out[by + ["_ord", "year"]].merge(bands, how="cross")
    grid = grid.merge(pop, on=by + ["year", "age_group"], how="left")
    grid = grid.merge(d, on=by + ["_ord", "age_group"], how="left")
    grid["events"] = grid["events"].fillna(0).astype(np.int64)
    if grid["population"].isna().any():
        raise SchemaError("population", "population", "a year x age band needed for standardisation is missing",
                          int(grid["population"].isna().sum()))
    dsr = direct_standardise(grid.drop(columns="year"), std, age="age_group", by=by + ["_ord"], per=rate_per)
    out = out.merge(dsr[by + ["_ord", "adjusted_rate"]], on=by + ["_ord"], how="left")
    with np.errstate(divide="ignore", invalid="ignore"):
        sp = out["events"] / out["adjusted_rate"] * rate_per
    pos = out["events"].to_numpy() > 0
    ratio = (pd.DataFrame({"g": out[by].astype(str).agg("|".join, axis=1) if by else 0,
                           "sp": np.where(pos, sp, 0.0), "pop": np.where(pos, out["population"], 0.0)})
             .groupby("g")[["sp", "pop"]].transform("sum"))
    fallback = out["population"] * ratio["sp"] / ratio["pop"]
    out["std_population"] = np.where(pos, sp, fallback)
    if (~pos).any():
        warnings.warn(f"monthly_series: {int((~pos).sum())} period(s) with 0 events got std_population from "
                      "the group's pooled standardised/crude population ratio", DataWarning, stacklevel=3)
    return out


def _subset(
    events: pd.DataFrame,
    population: pd.DataFrame,
    ages: tuple[int | None, int | None] | None,
    where: Mapping[str, Any] | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply the same ``ages`` / ``where`` selection to the events and the population."""
    conditions: dict[str, Any] = dict(where or {})
    if ages is not None:
        if len(ages) != 2:
            raise ParameterError(f"ages must be (lowest, highest) with None for open, got {ages!r}")
        for table, df in (("events", events), ("population", population)):
            if "age" not in df.columns:
                hint = (" (add age at the event with with_person_attributes(events, persons, "
                        "date=...))" if table == "events" else "")
                raise SchemaError(table, "age", f"ages={ages!r} needs an age column{hint}")
    for column in conditions:
        for table, df in (("events", events), ("population", population)):
            if column not in df.columns:
                raise SchemaError(
                    table, column,
                    f"where={{{column!r}: ...}} needs the column in both events and population "
                    "(numerator and denominator must describe the same people)",
                )

    def keep(df: pd.DataFrame) -> pd.DataFrame:
        mask = np.ones(len(df), dtype=bool)
        if ages is not None:
            age = pd.to_numeric(df["age"], errors="coerce")
            lo, hi = ages
            if lo is not None:
                mask &= (age >= lo).to_numpy(dtype=bool, na_value=False)
            if hi is not None:
                mask &= (age <= hi).to_numpy(dtype=bool, na_value=False)
        for column, value in conditions.items():
            values = list(value) if isinstance(value, list | tuple | set) else [value]
            mask &= df[column].isin(values).to_numpy(dtype=bool, na_value=False)
        return df.loc[mask]

    if ages is None and not conditions:
        return events, population
    return keep(events), keep(population)


def _attach_population(out: pd.DataFrame, pop: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Population of the period's year; missing years take the nearest available year (warned)."""
    pop = pop.assign(year=pop["year"].astype(np.int64))
    key = by + ["year"]
    merged = out.merge(pop, on=key, how="left")
    miss = merged["population"].isna().to_numpy()
    if miss.any():
        years = pop[by + ["year"]].rename(columns={"year": "_pyear"})
        cand = merged.loc[miss, by + ["year"]].drop_duplicates()
        cand = cand.merge(years, on=by, how="left") if by else cand.merge(years, how="cross")
        cand["_dist"] = (cand["_pyear"] - cand["year"]).abs()
        best = cand.sort_values(["_dist", "_pyear"]).drop_duplicates(key)
        best = best.merge(pop.rename(columns={"year": "_pyear"}), on=by + ["_pyear"], how="left")
        fill = merged.loc[miss, key].merge(best[key + ["population"]], on=key, how="left")
        merged.loc[miss, "population"] = fill["population"].to_numpy()
        warnings.warn(f"monthly_series: {int(miss.sum())} period(s) had no population for their year; "
                      "the nearest year's population was used", DataWarning, stacklevel=3)
    return merged
