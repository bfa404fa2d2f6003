"""Fast läkarkontakt: share of the population listed with a named doctor (register proxy, §1.11).

Visit registers cannot observe a *named* fast läkarkontakt, and the official target is measured by
surveys and the regions' listing systems (methods reference §1.11).  A share computed from a listings
extract is therefore returned and labelled as a **proxy** -- in the column name
(``share_named_doctor_proxy``), in ``attrs["measure"]`` and in captions -- never as "fast
läkarkontakt" itself.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from naravard_analysis.data.schema import require_columns
from naravard_analysis.errors import DataWarning, ParameterError
from naravard_analysis.indicators.targets import TARGETS

__all__ = ["AGE_BINS", "RESIDENCE_RULES", "fast_lakarkontakt_share", "residence_spans"]

#: Default age groups (lower bounds, years completed at the reference date).
AGE_BINS: tuple[int, ...] = (0, 20, 40, 65, 80)

#: ``by`` values that come from the population table when ``population`` is given.
_POPULATION_BY = ("region_code", "municipality_code", "sex", "age_group")

_MEASURE = (
    "proxy: share of the resident population with an active listing that names a doctor "
    "(listing register), not the survey-based official measure of fast läkarkontakt"
)


def _age_labels(bins: Sequence[int]) -> list[str]:
    b = list(bins)
    return [f"{lo}-{hi - 1}" for lo, hi in zip(b[:-1], b[1:], strict=True)] + [f"{b[-1]}+"]


def _age_group(age: np.ndarray, bins: Sequence[int]) -> pd.Categorical:
    labels = _age_labels(bins)
    idx = np.searchsorted(np.asarray(bins), age, side="right") - 1
    codes = np.where(idx < 0, -1, idx)
    return pd.Categorical.from_codes(codes, categories=labels, ordered=True)


def _age_at(birth: pd.Series, at: pd.Timestamp) -> np.ndarray:
    """Completed years at ``at`` (birthday on ``at`` counts)."""
    b = pd.to_datetime(birth)
    before = (b.dt.month > at.month) | ((b.dt.month == at.month) & (b.dt.day > at.day))
    return (at.year - b.dt.year - before.astype(int)).to_numpy()


def _active_listings(listings: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    """One row per person with an active listing at ``at``: named doctor yes/no, unit.

    Active: ``start_date <= at`` and (``end_date`` missing or ``end_date >= at``; the end date is
    the last listed day).  With several active listings a person counts once: named if any of them
    names a doctor; the unit is the one of the most recent start (ties: last unit id).
    """
    start = pd.to_datetime(listings["start_date"])
    end = pd.to_datetime(listings["end_date"])
    act = listings.loc[np.asarray((start <= at) & (end.isna() | (end >= at)))]
    doc = act["doctor_id"]
    named = doc.notna() & (doc.astype("string").str.strip() != "").fillna(False)
    act = act.assign(_named=np.asarray(named, dtype=bool), _start=pd.to_datetime(act["start_date"]))
    act = act.sort_values(["person_id", "_start", "unit_id"], kind="stable")
    per = act.groupby("person_id", sort=False).agg(
        named=("_named", "any"), unit_id=("unit_id", "last"), n_active=("_named", "size")
    )
    return per.reset_index()


#: How the denominator decides who is resident at the reference date (see
#: :func:`resident_at`).
RESIDENCE_RULES: tuple[str, ...] = ("listings", "alive")


def residence_spans(persons: pd.DataFrame, listings: pd.DataFrame) -> pd.DataFrame:
    """First resident day and first non-resident day of every person (``[move_in, move_out)``).

    Rule, in order of precedence:

    1. ``persons.move_in_date`` / ``persons.move_out_date`` when the persons table carries them
       (optional columns; the move-out day is the first day *not* resident);
    2. otherwise the listing history in the region: a person is resident from the first listing's
       ``start_date`` and stops being resident on the last listing's ``end_date`` when that last
       listing is closed and the person has not died (a closed listing history without a death
       means the person left the region's lists, i.e. moved out); an open listing means resident;
    3. persons with no listing and no move columns are resident from birth until death (their
       residence cannot be told from the extract; :func:`fast_lakarkontakt_share` counts them in
       ``attrs["n_resident_unlisted"]``).

    Every resident in a Swedish region is assigned to a vårdcentral under vårdval (Hälso- och
    sjukvårdslagen 2017:30, 7 kap. 3 §), so the listing history is the register's own record of
    residence when no population-register move dates are delivered.

    Returns
    -------
    DataFrame indexed like ``persons`` with ``move_in`` and ``move_out`` (NaT = open) and
    ``listed`` (bool: had any listing).

    Examples
    --------
    >>> persons = pd.DataFrame({"person_id": [1, 2], "birth_date": pd.to_datetime(["1950-01-01"] * 2),
    ...                         "death_date": pd.NaT})
    >>> listings = pd.DataFrame({"person_id": [1], "doctor_id": ["D"], "unit_id": ["U"],
    ...     "start_date": pd.to_datetime(["2016-01-01"]), "end_date": pd.to_datetime(["2020-06-30"])})
    >>> residence_spans(persons, listings)["move_out"].dt.date.tolist()
    [datetime.date(2020, 6, 30), NaT]
    """
    birth = pd.to_datetime(persons["birth_date"])
    death = (
        pd.to_datetime(persons["death_date"])
        if "death_date" in persons.columns
        else pd.Series(pd.NaT, index=persons.index)
    )
    if {"move_in_date", "move_out_date"} & set(persons.columns):
        move_in = pd.to_datetime(persons.get("move_in_date", pd.Series(pd.NaT, index=persons.index)))
        move_out = pd.to_datetime(
            persons.get("move_out_date", pd.Series(pd.NaT, index=persons.index))
        )
        return pd.DataFrame(
            {"move_in": move_in.fillna(birth), "move_out": move_out, "listed": True},
            index=persons.index,
        )
    start = pd.to_datetime(listings["start_date"])
    end = pd.to_datetime(listings["end_date"])
    per = pd.DataFrame(
        {"person_id": listings["person_id"].to_numpy(), "start": start.to_numpy(),
         "end": end.to_numpy(), "open": end.isna().to_numpy()}
    ).groupby("person_id", sort=False).agg(
        first_start=("start", "min"), last_end=("end", "max"), any_open=("open", "any")
    )
    hist = per.reindex(persons["person_id"].to_numpy())
    listed = hist["first_start"].notna().to_numpy()
    closed = listed & ~hist["any_open"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    moved_out = closed & death.isna().to_numpy()
    move_out = pd.Series(
        np.where(moved_out, hist["last_end"].to_numpy(), np.datetime64("NaT")),
        index=persons.index,
        dtype="datetime64[ns]",
    )
    move_in = pd.Series(
        np.where(listed, hist["first_start"].to_numpy(), birth.to_numpy()),
        index=persons.index,
        dtype="datetime64[ns]",
    )
    return pd.DataFrame({"move_in": move_in, "move_out": move_out, "listed": listed},
                        index=persons.index)


def fast_lakarkontakt_share(
    listings: pd.DataFrame,
    persons: pd.DataFrame,
    at: Any,
    *,
    by: str | Sequence[str] | None = None,
    population: pd.DataFrame | None = None,
    age_bins: Sequence[int] = AGE_BINS,
    target: float | None = None,
    residence: str = "listings",
) -> pd.DataFrame:
    """Share of the resident population listed with a named doctor at one or more dates (proxy).

    Definition (register proxy, methods reference §1.11): at date ``t``

        share = #(persons alive at t with an active listing naming a doctor) / #(population at t)

    against the target "55 % of the population shall have a named fast läkarkontakt in primary care
    before the end of 2022" (Vårdanalys PM 2022:5; ``TARGETS["named_doctor"]``, verified).  Rows for
    people in special housing (``by`` containing ``"special_housing"``, a boolean column of
    ``persons``) are compared with the 80 % target, which is unverified
    (``TARGETS["named_doctor_special_housing"]``); ``target_verified`` says which.

    Unit of analysis: person at date ``t``.  Inclusion: the denominator is everyone in ``persons``
    born on or before ``t``, not dead before ``t`` (``death_date`` missing or after ``t``) and
    **resident** at ``t`` (``residence="listings"``, the default: not yet moved in and already moved
    out persons are excluded, see :func:`residence_spans`; ``residence="alive"`` keeps everybody
    alive, the behaviour before residence was checked) --
    or, with ``population``, the official population of year ``t.year`` (SCB, 31 December);
    the numerator is the subset with an active listing (``start_date <= t <= end_date``, missing
    end = open) whose ``doctor_id`` is neither missing nor empty.  A listing without a doctor id
    means "listed at the unit without a named doctor" (the canonical listings table, :mod:`naravard_analysis.data.schema`).  Listings of persons absent
    from ``persons`` are excluded and counted (``attrs["n_listed_unknown_person"]``, with a
    :class:`DataWarning`).

    Parameters
    ----------
    listings
        Canonical listings table (person_id, doctor_id, unit_id, start_date, end_date).
    persons
        Canonical persons table (person_id, birth_date, death_date, region_code, ...); may carry a
        boolean ``special_housing`` column.
    at
        One date or a sequence of dates.
    by
        Any of the ``persons`` columns, ``"age_group"`` (from ``age_bins``) and ``"unit_id"`` (the
        unit of the active listing; unlisted persons form a group with a missing unit).  With
        ``population`` only region_code, municipality_code, sex and age_group are possible.
    population
        Canonical population table used as denominator instead of counting ``persons``.
    residence
        ``"listings"`` (default) or ``"alive"``: how residence at ``t`` is decided (see above).
    age_bins
        Lower bounds of the age groups.
    target
        Override the target share (default from :data:`TARGETS`).

    Returns
    -------
    DataFrame
        ``date``, the ``by`` columns, ``n_population``, ``n_listed``, ``n_named_doctor``,
        ``share_listed``, ``share_named_doctor_proxy``, ``target``, ``target_verified``,
        ``meets_target`` (NA when the share is undefined).

    Examples
    --------
    >>> import pandas as pd
    >>> persons = pd.DataFrame({"person_id": [1, 2, 3, 4],
    ...     "birth_date": pd.to_datetime(["1950-01-01"] * 4), "death_date": pd.NaT})
    >>> listings = pd.DataFrame({"person_id": [1, 2, 3], "doctor_id": ["D1", None, "D2"],
    ...     "unit_id": "U1", "start_date": pd.Timestamp("2022-01-01"), "end_date": pd.NaT})
    >>> out = fast_lakarkontakt_share(listings, persons, "2022-12-31")
    >>> out[["n_population", "n_named_doctor", "share_named_doctor_proxy", "meets_target"]].to_dict("records")
    [{'n_population': 4, 'n_named_doctor': 2, 'share_named_doctor_proxy': 0.5, 'meets_target': False}]
    """
    require_columns(
        listings, "listings", ("person_id", "doctor_id", "unit_id", "start_date", "end_date")
    )
    require_columns(persons, "persons", ("person_id", "birth_date"))
    if residence not in RESIDENCE_RULES:
        raise ParameterError(f"residence must be one of {RESIDENCE_RULES}, got {residence!r}")
    by_t: tuple[str, ...] = (by,) if isinstance(by, str) else tuple(by or ())
    dates = [
        pd.Timestamp(a)
        for a in (at if isinstance(at, list | tuple | pd.Index | np.ndarray | pd.Series) else [at])
    ]
    if not dates:
        raise ParameterError("at must name at least one date")
    if list(age_bins) != sorted(set(age_bins)) or len(age_bins) < 1:
        raise ParameterError(f"age_bins must be strictly increasing, got {age_bins!r}")
    for col in by_t:
        if col not in ("age_group", "unit_id") and col not in persons.columns:
            raise ParameterError(
                f"by column {col!r} is neither a persons column, 'age_group' nor 'unit_id'"
            )
    if population is not None:
        bad = [c for c in by_t if c not in _POPULATION_BY]
        if bad:
            raise ParameterError(
                f"with population=..., by can only use {_POPULATION_BY}; got {bad}"
            )
        require_columns(
            population,
            "population",
            ("year", "age", "population", *[c for c in by_t if c != "age_group"]),
        )

    unknown = ~listings["person_id"].isin(persons["person_id"])
    n_unknown = int(unknown.sum())
    if n_unknown:
        warnings.warn(
            f"listings: {n_unknown} rows belong to persons absent from the persons table; excluded",
            DataWarning,
            stacklevel=2,
        )
    listings = listings.loc[~unknown.to_numpy()]

    death = (
        pd.to_datetime(persons["death_date"])
        if "death_date" in persons.columns
        else pd.Series(pd.NaT, index=persons.index)
    )
    birth = pd.to_datetime(persons["birth_date"])
    spans = residence_spans(persons, listings) if residence == "listings" else None
    n_not_resident: dict[str, int] = {}
    default_target = TARGETS["named_doctor"]
    sh_target = TARGETS["named_doctor_special_housing"]

    parts = []
    for t in dates:
        alive = np.asarray((birth <= t) & (death.isna() | (death > t)))
        if spans is not None:
            resident = np.asarray(
                (spans["move_in"] <= t) & (spans["move_out"].isna() | (spans["move_out"] > t))
            )
            n_not_resident[str(t.date())] = int((alive & ~resident).sum())
            alive &= resident
        pop = persons.loc[alive, ["person_id", *[c for c in by_t if c in persons.columns]]]
        pop = pop.assign(age_group=_age_group(_age_at(birth[alive], t), age_bins))
        act = _active_listings(listings, t)
        pop = pop.merge(act, on="person_id", how="left")
        pop["listed"] = pop["n_active"].notna()
        pop["named"] = pop["named"].astype("boolean").fillna(False).astype(bool)
        keys = list(by_t)
        agg = (
            pop.groupby(keys, sort=True, dropna=False, observed=True)
            .agg(
                n_population=("person_id", "size"),
                n_listed=("listed", "sum"),
                n_named_doctor=("named", "sum"),
            )
            .reset_index()
            if keys
            else pd.DataFrame(
                {
                    "n_population": [len(pop)],
                    "n_listed": [int(pop["listed"].sum())],
                    "n_named_doctor": [int(pop["named"].sum())],
                }
            )
        )
        if population is not None:
            agg = (
                agg.drop(columns="n_population").merge(
                    _population_denominator(population, t, by_t, age_bins),
                    on=keys or None,
                    how="outer",
                )
                if keys
                else agg.assign(
                    n_population=int(
                        _population_denominator(population, t, by_t, age_bins)["n_population"].sum()
                    )
                )
            )
            agg[["n_listed", "n_named_doctor"]] = agg[["n_listed", "n_named_doctor"]].fillna(0)
        agg.insert(0, "date", t)
        parts.append(agg)
    out = pd.concat(parts, ignore_index=True)
    for c in ("n_population", "n_listed", "n_named_doctor"):
        out[c] = out[c].fillna(0).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        den = out["n_population"].where(out["n_population"] > 0)
        out["share_listed"] = out["n_listed"] / den
        out["share_named_doctor_proxy"] = out["n_named_doctor"] / den
    if "special_housing" in by_t:
        sh = out["special_housing"].fillna(False).astype(bool)
        out["target"] = np.where(sh, sh_target.value, default_target.value)
        out["target_verified"] = np.where(sh, sh_target.verified, default_target.verified)
    else:
        out["target"] = default_target.value
        out["target_verified"] = default_target.verified
    if target is not None:
        out["target"] = float(target)
    met = pd.array(out["share_named_doctor_proxy"] >= out["target"], dtype="boolean")
    met[out["share_named_doctor_proxy"].isna().to_numpy()] = pd.NA
    out["meets_target"] = met
    out.attrs = {
        "measure": _MEASURE,
        "proxy": True,
        "denominator": (
            "population table"
            if population is not None
            else "persons resident at date"
            if spans is not None
            else "persons alive at date"
        ),
        "residence": residence,
        "n_alive_not_resident": n_not_resident,
        "n_resident_unlisted": int((~spans["listed"]).sum()) if spans is not None else None,
        "n_listed_unknown_person": n_unknown,
        "target_source": default_target.source,
        "age_bins": tuple(age_bins),
        "source": "methods reference §1.11",
    }
    return out


def _population_denominator(
    population: pd.DataFrame, t: pd.Timestamp, by: tuple[str, ...], age_bins: Sequence[int]
) -> pd.DataFrame:
    """Official population of year ``t.year`` summed to the ``by`` groups.

    Rows with a missing municipality are region totals: they are used when municipality is not a
    ``by`` column and such rows exist, otherwise municipality rows are summed (no double counting).
    """
    pop = population.loc[population["year"].astype(int) == t.year]
    if pop.empty:
        raise ParameterError(f"population has no rows for year {t.year}")
    if "municipality_code" in pop.columns:
        region_rows = pop["municipality_code"].isna()
        if "municipality_code" in by or not region_rows.any():
            pop = pop.loc[~region_rows.to_numpy()]
        else:
            pop = pop.loc[region_rows.to_numpy()]
    pop = pop.assign(age_group=_age_group(pop["age"].to_numpy(dtype=np.int64), age_bins))
    if not by:
        return pd.DataFrame({"n_population": [int(pop["population"].sum())]})
    return (
        pop.groupby(list(by), sort=True, observed=True)["population"]
        .sum()
        .rename("n_population")
        .reset_index()
    )
