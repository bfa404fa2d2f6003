"""Area-by-period panels for comparative case studies (synthetic control, synthetic DiD).

Two builders give the long, balanced panel that :func:`naravard_analysis.methods.synth.synth_did`
takes (one row per area and period, an outcome, and a 0/1 column that is 1 for a treated area in
its treated periods):

:func:`region_panel`
    One Öppna jämförelser indicator (Socialstyrelsen) for the 21 regions, from the shipped data list
    (:func:`naravard_analysis.data.official.oppna_jamforelser`). Regions with an unpublished value in
    any period are left out, counted in ``panel.attrs["excluded"]`` and announced by a
    :class:`~naravard_analysis.errors.DataWarning` (a balanced panel is required).
:func:`municipality_panel`
    Unplanned admissions of residents at or above an age per 1 000 residents of that age, by
    municipality and calendar year, from a register bundle (real or synthetic), with each
    municipality's mobile-team start taken from the enrolments table (the first enrolment of a
    resident of the municipality).

Definition (municipality panel): ``rate[m, y] = 1000 * A[m, y] / N[m, y]`` where ``A`` counts
unplanned admissions (``planned`` false) in year ``y`` of persons whose ``municipality_code`` is
``m`` and who were ``min_age`` or older on the admission date, and ``N`` is the population table's
residents of ``m`` aged ``min_age`` or older in ``y``. A municipality-year is treated from the
calendar year in which the municipality's first enrolment starts (the start year is counted as
treated although the team worked only part of it: the estimate is diluted, not shifted). Unit of
analysis: the municipality-year.

Examples
--------
>>> p = region_panel(330, treated_regions=["14"], first_treated=2014)  # doctest: +SKIP
>>> p.groupby("treated")["region_code"].nunique().to_dict()  # doctest: +SKIP
{0: 20, 1: 1}
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from naravard_analysis.data import official
from naravard_analysis.errors import DataWarning, ParameterError, SchemaError

__all__ = ["region_panel", "municipality_panel"]


def region_panel(
    indicator: int,
    *,
    treated_regions: Iterable[str],
    first_treated: int,
    sex: str = "all",
    exclude: Iterable[str] = (),
    path: Any = None,
) -> pd.DataFrame:
    """Öppna jämförelser indicator by region and period, with a treatment column.

    Parameters
    ----------
    indicator
        Indicator id (e.g. 330 unplanned readmissions 65+, per cent; 526 påverkbar slutenvård per
        100 000, age-standardised, three multi-year periods).
    treated_regions
        Region codes (``"14"``) that are treated from ``first_treated`` on.
    first_treated
        First treated period, compared with each period's first year (``period_start``); for 526
        ``2015`` makes 2015-2017 the only treated period.
    sex
        ``"all"`` (default), ``"F"`` or ``"M"``.
    exclude
        Region codes to leave out of the panel (e.g. regions that also introduced the intervention).
    path
        Another copy of the data list (passed to :func:`~naravard_analysis.data.official.oppna_jamforelser`).

    Returns
    -------
    DataFrame
        ``region_code``, ``region_name``, ``period``, ``time`` (= ``period_start``), ``value``, ``n``,
        ``treated`` (0/1), sorted by region and time. ``attrs["excluded"]`` maps each region left
        out for a missing value to the periods it lacks; ``attrs["source"]`` names the indicator.
    """
    treated = [str(c).zfill(2) for c in treated_regions]
    if not treated:
        raise ParameterError("region_panel: treated_regions is empty")
    kwargs = {} if path is None else {"path": path}
    oj = official.oppna_jamforelser(indicator, **kwargs)
    d = oj[oj["level"].eq("county") & oj["sex"].eq(sex)]
    if d.empty:
        raise ParameterError(f"region_panel: indicator {indicator} has no county rows for sex {sex!r}")
    left_out = [str(c).zfill(2) for c in exclude]
    unknown = sorted(set(treated) - set(d["region_code"]))
    if unknown:
        raise ParameterError(f"region_panel: treated regions {unknown} are not in indicator {indicator}")
    d = d[~d["region_code"].isin(left_out)]
    periods = sorted(d["period"].unique(), key=lambda p: d.loc[d["period"].eq(p), "period_start"].iloc[0])
    wide = d.pivot(index="region_code", columns="period", values="value").reindex(columns=periods)
    missing = wide.isna()
    bad = missing.any(axis=1)
    excluded = {code: [p for p in periods if missing.loc[code, p]] for code in wide.index[bad]}
    if set(excluded) & set(treated):
        raise SchemaError("oppna_jamforelser", "value",
                          f"treated region(s) {sorted(set(excluded) & set(treated))} lack a value in "
                          f"some period of indicator {indicator}", int(missing.loc[treated].sum().sum()))
    if excluded:
        warnings.warn(f"region_panel: {len(excluded)} region(s) left out of indicator {indicator} for "
                      f"an unpublished value: {excluded}", DataWarning, stacklevel=2)
    out = d[~d["region_code"].isin(list(excluded))]
    out = out.assign(time=out["period_start"],
                     treated=(out["region_code"].isin(treated)
                              & (out["period_start"] >= first_treated)).astype("int64"))
    out = out[["region_code", "region_name", "period", "time", "value", "n", "treated"]]
    out = out.sort_values(["region_code", "time"], ignore_index=True)
    out.attrs["excluded"] = excluded
    out.attrs["source"] = f"Öppna jämförelser indicator {indicator} (Källa: Socialstyrelsen)"
    return out


def municipality_panel(
    data: Any,
    *,
    min_age: int = 65,
    intervention: str = "mobile_team",
    years: Iterable[int] | None = None,
    min_pre_years: int = 2,
) -> pd.DataFrame:
    """Unplanned admissions per 1 000 residents aged ``min_age`` or older, by municipality and year.

    Parameters
    ----------
    data
        A :class:`~naravard_analysis.data.bundle.RegisterData` with ``persons``, ``population``,
        ``admissions`` and ``enrolments``.
    min_age
        Age on the admission date (events) and in the population table (residents).
    intervention
        Enrolments of this intervention date each municipality's start.
    years
        Calendar years to keep (default: every year of the population table).
    min_pre_years
        Municipalities whose first treated year leaves fewer untreated years in the panel are left
        out (synthetic DiD needs at least two; a team that started in the first year has none), with
        a :class:`~naravard_analysis.errors.DataWarning` and their codes in ``attrs``.

    Returns
    -------
    DataFrame
        ``municipality_code``, ``year``, ``admissions``, ``population``, ``rate`` (per 1 000),
        ``team_start`` (first enrolment date, NaT if none), ``first_year`` (its year, ``<NA>`` if
        none) and ``treated`` (0/1: ``year >= first_year``). One row per municipality and year,
        zero admissions included. ``attrs["excluded"]`` counts admissions left out (below the age,
        outside the years, person without a municipality) and lists the municipalities left out
        for too few pre-treatment years (``too_few_pre_years``).
    """
    for name in ("persons", "population", "admissions", "enrolments"):
        if getattr(data, name, None) is None:
            raise ParameterError(f"municipality_panel: the bundle has no {name} table")
    persons = data.persons.set_index("person_id")[["municipality_code", "birth_date"]]
    pop = data.population
    pop = pop[pop["age"] >= min_age].groupby(["municipality_code", "year"])["population"].sum()
    all_years = sorted(pop.index.get_level_values("year").unique().tolist())
    keep_years = all_years if years is None else sorted(int(y) for y in years)
    absent = sorted(set(keep_years) - set(all_years))
    if absent:
        raise ParameterError(f"municipality_panel: years {absent} are not in the population table")

    adm = data.admissions
    adm = adm.loc[~adm["planned"].astype(bool), ["person_id", "admission_date"]]
    adm = adm.join(persons, on="person_id")
    no_muni = adm["municipality_code"].isna()
    age = _age_on(adm["birth_date"], adm["admission_date"])
    young = ~no_muni & (age < min_age)
    year = adm["admission_date"].dt.year
    outside = ~no_muni & ~young & ~year.isin(keep_years)
    use = ~(no_muni | young | outside)
    counts = adm[use].groupby([adm.loc[use, "municipality_code"], year[use]]).size()
    counts.index.names = ["municipality_code", "year"]

    munis = sorted(pop.index.get_level_values("municipality_code").unique().tolist())
    grid = pd.MultiIndex.from_product([munis, keep_years], names=["municipality_code", "year"])
    out = pd.DataFrame({"admissions": counts.reindex(grid, fill_value=0).astype("int64"),
                        "population": pop.reindex(grid).astype("float64")}).reset_index()
    if out["population"].isna().any() or (out["population"] <= 0).any():
        bad = np.flatnonzero((out["population"].isna() | (out["population"] <= 0)).to_numpy())
        raise SchemaError("population", "population", f"no residents aged {min_age}+ in some "
                          "municipality-year", bad.size, bad)
    out["rate"] = 1000 * out["admissions"] / out["population"]

    enr = data.enrolments
    enr = enr[enr["intervention"].eq(intervention)].join(persons["municipality_code"], on="person_id")
    start = enr.groupby("municipality_code")["start_date"].min()
    out["team_start"] = out["municipality_code"].map(start)
    out["first_year"] = out["team_start"].dt.year.astype("Int64")
    out["treated"] = (out["year"] >= out["first_year"]).fillna(False).astype("int64")
    pre = out.groupby("municipality_code")["treated"].agg(lambda t: int((t == 0).sum()))
    short = sorted(pre.index[pre < min_pre_years].tolist())
    if short:
        warnings.warn(f"municipality_panel: {len(short)} municipalities left out with fewer than "
                      f"{min_pre_years} years before their start: {short}", DataWarning, stacklevel=2)
        out = out[~out["municipality_code"].isin(short)].reset_index(drop=True)
    out.attrs["excluded"] = {"no_municipality": int(no_muni.sum()), "below_min_age": int(young.sum()),
                             "outside_years": int(outside.sum()), "too_few_pre_years": short}
    return out


def _age_on(birth: pd.Series, day: pd.Series) -> np.ndarray:
    """Completed years of age on ``day`` (birthday counted on the day itself)."""
    b, d = pd.to_datetime(birth), pd.to_datetime(day)
    years = d.dt.year - b.dt.year
    before = (d.dt.month < b.dt.month) | ((d.dt.month == b.dt.month) & (d.dt.day < b.dt.day))
    return (years - before.astype(int)).to_numpy()
