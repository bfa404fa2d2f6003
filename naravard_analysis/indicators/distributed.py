"""The per-person indicators on Dask DataFrames partitioned by person.

Reached through ``engine="dask"`` (or a Dask table) on the public functions
:func:`~naravard_analysis.indicators.continuity.continuity_indices`,
:func:`~naravard_analysis.indicators.episodes.build_episodes` /
:func:`~naravard_analysis.indicators.episodes.assign_episodes`,
:func:`~naravard_analysis.indicators.avoidable.flag_avoidable` and
:func:`~naravard_analysis.indicators.readmission.flag_readmissions`; not called directly.

Each runs the pandas function inside every partition (:func:`naravard_analysis.engine.map_persons`);
what the pandas function derives from *all* persons is computed once beforehand or afterwards:

* ``flag_readmissions``: the default ``end_date`` (latest admission or discharge date of the whole
  table) is one reduction over two date columns, passed to every partition;
* ``continuity_indices`` with ``by``/``period``: a group in which nobody has a counted contact is
  left out of the pandas result. Inside one partition a group can be empty although other partitions
  count contacts in it, so every partition also returns its persons' units of such locally empty
  groups (all with ``n_visits = 0``), and the ones whose group is counted elsewhere are kept;
* ``episode_id`` is numbered within each partition and made unique as
  ``partition << 40 | local id`` (:data:`naravard_analysis.engine.EPISODE_ID_SHIFT`): ids are labels,
  the episodes themselves are the pandas ones.

Results are lazy Dask DataFrames with one partition per input partition; ``.compute()`` gives the
pandas result's rows (in partition order rather than sorted by person) with equal values. The
pandas result's ``attrs`` (settings, exclusion counts) are not carried by a Dask DataFrame, and
data warnings raised inside workers do not reach the caller on a distributed cluster: count
exclusions from the returned columns (``eligible``, ``n_visits``, ``exclusion``,
``excluded_reason``), or run the pandas function on one partition to see its warnings.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import numpy as np
import pandas as pd

from naravard_analysis.engine import aligned, empty_meta, map_persons
from naravard_analysis.errors import DataWarning

__all__ = [
    "continuity_indices_dask",
    "build_episodes_dask",
    "assign_episodes_dask",
    "flag_avoidable_dask",
    "flag_readmissions_dask",
]

_CANDIDATE = "_empty_group_candidate"


def _kwargs(args: dict[str, Any], func: Any, *drop: str) -> dict[str, Any]:
    """The keyword-only settings of ``func`` among the caller's ``locals()`` (no tables, engine)."""
    params = inspect.signature(func).parameters
    keep = {n for n, p in params.items() if p.kind is p.KEYWORD_ONLY} - {*drop, "engine"}
    # a parameter left at its default is not passed: the pandas function applies it (some
    # defaults are private sentinels that Dask could not hash into a task name)
    return {k: v for k, v in args.items() if k in keep and v is not params[k].default}


# --------------------------------------------------------------------------------------- continuity


def _group_keys(contacts: pd.DataFrame, by: tuple[str, ...], period: Any) -> list[str]:
    from naravard_analysis.indicators.continuity_core import _resolve_period

    kind, _ = _resolve_period(period)
    return [*by, *({"year": ["year"], "freq": ["period"]}.get(kind or "", []))]


def _unit_frame(contacts: pd.DataFrame, by: tuple[str, ...], period: Any) -> pd.DataFrame:
    """Distinct (person, by groups, period) units of a partition, as the pandas kernel forms them."""
    from naravard_analysis.indicators.continuity_core import _resolve_period

    kind, pval = _resolve_period(period)
    dates = pd.to_datetime(contacts["contact_date"])
    keys = {"person_id": contacts["person_id"].to_numpy()}
    for col in by:
        keys[col] = contacts[col].to_numpy() if not isinstance(
            contacts[col].dtype, pd.CategoricalDtype) else contacts[col].array
    if kind == "year":
        keys["year"] = (dates.to_numpy().astype("datetime64[Y]").view(np.int64) + 1970)
    elif kind == "freq":
        keys["period"] = dates.dt.to_period(pval).array
    return pd.DataFrame(keys).drop_duplicates()


def _continuity_partition(contacts: pd.DataFrame, **kw: Any) -> pd.DataFrame:
    from naravard_analysis.indicators.continuity_core import INDEX_COLUMNS, continuity_indices

    with warnings.catch_warnings():
        # "nothing left to count" holds for a partition, not for the data: not repeated per part
        warnings.simplefilter("ignore", DataWarning)
        out = continuity_indices(contacts, **kw)
    by = tuple([kw["by"]] if isinstance(kw.get("by"), str) else kw.get("by") or ())
    groups = _group_keys(contacts, by, kw.get("period"))
    out[_CANDIDATE] = False
    if not groups or not len(contacts) or out.attrs.get("n_groups_without_counted_contacts", 0) == 0:
        return out
    units = _unit_frame(contacts, by, kw.get("period"))
    keys = ["person_id", *groups]
    merged = units.merge(out[keys], on=keys, how="left", indicator=True)
    lost = merged.loc[merged["_merge"] == "left_only", keys].reset_index(drop=True)
    extra = pd.DataFrame({k: lost[k] for k in keys})
    extra["n_visits"] = np.zeros(len(lost), np.int64)
    extra["n_providers"] = np.zeros(len(lost), np.int64)
    for name in INDEX_COLUMNS:
        extra[name] = np.nan
    extra["eligible"] = False
    extra[_CANDIDATE] = True
    extra = extra.astype(out.dtypes.to_dict())
    return pd.concat([out, extra], ignore_index=True)


def _keep_counted(part: pd.DataFrame, counted: pd.DataFrame, groups: list[str]) -> pd.DataFrame:
    cand = part[_CANDIDATE].to_numpy(bool)
    if cand.any():
        key = pd.MultiIndex.from_frame(part.loc[cand, groups].astype(object))
        ok = key.isin(pd.MultiIndex.from_frame(counted[groups].astype(object)))
        keep = ~cand
        keep[np.flatnonzero(cand)[ok]] = True
        part = part.loc[keep]
    return part.drop(columns=_CANDIDATE).reset_index(drop=True)


def continuity_indices_dask(contacts: Any, **args: Any) -> Any:
    """Dask path of :func:`~naravard_analysis.indicators.continuity_core.continuity_indices`."""
    from naravard_analysis.indicators.continuity_core import continuity_indices

    kw = _kwargs(args, continuity_indices)
    (contacts,) = aligned([contacts])
    # parameter errors are raised at once, on the empty schema, not inside a worker
    empty = continuity_indices(contacts._meta, **kw)
    by = tuple([kw["by"]] if isinstance(kw.get("by"), str) else kw.get("by") or ())
    groups = _group_keys(contacts._meta, by, kw.get("period"))
    meta = empty.copy()
    meta[_CANDIDATE] = pd.Series(dtype=bool)
    out = map_persons(_continuity_partition, [contacts], meta=empty_meta(meta), **kw)
    if not groups:
        return out.map_partitions(lambda p: p.drop(columns=_CANDIDATE), meta=empty_meta(empty))
    counted = out.loc[~out[_CANDIDATE], groups].drop_duplicates(split_out=1)
    import dask.dataframe as dd

    return dd.map_partitions(_keep_counted, out, counted.to_delayed()[0], groups,
                             meta=empty_meta(empty), align_dataframes=False)


# ----------------------------------------------------------------------------------------- episodes


def build_episodes_dask(admissions: Any, **args: Any) -> Any:
    """Dask path of :func:`~naravard_analysis.indicators.episodes.build_episodes`."""
    from naravard_analysis.indicators.episodes import build_episodes

    (admissions,) = aligned([admissions])
    return map_persons(build_episodes, [admissions], renumber="episode_id",
                       **_kwargs(args, build_episodes))


def assign_episodes_dask(admissions: Any, **args: Any) -> Any:
    """Dask path of :func:`~naravard_analysis.indicators.episodes.assign_episodes`."""
    from naravard_analysis.indicators.episodes import assign_episodes

    (admissions,) = aligned([admissions])
    return map_persons(assign_episodes, [admissions], renumber="episode_id",
                       **_kwargs(args, assign_episodes))


# ------------------------------------------------------------------------------------------- flags


def _avoidable_partition(admissions: pd.DataFrame, persons: pd.DataFrame,
                         episodes: pd.DataFrame | None = None, **kw: Any) -> pd.DataFrame:
    from naravard_analysis.indicators.avoidable import flag_avoidable

    if episodes is not None:
        episodes = episodes.copy()
        episodes.attrs["merge_gap_days"] = kw.get("merge_gap_days", 0)
    return flag_avoidable(admissions, persons, episodes=episodes, **kw)


def flag_avoidable_dask(admissions: Any, persons: Any, **args: Any) -> Any:
    """Dask path of :func:`~naravard_analysis.indicators.avoidable.flag_avoidable`."""
    from naravard_analysis.indicators.avoidable import flag_avoidable

    kw = _kwargs(args, flag_avoidable, "episodes")
    episodes = args.get("episodes")
    frames = aligned([admissions, persons] + ([episodes] if episodes is not None else []))
    # ids of given episodes are kept (a Dask build_episodes already made them unique)
    renumber = "episode_id" if episodes is None else None
    return map_persons(_avoidable_partition, frames, renumber=renumber, **kw)


def flag_readmissions_dask(admissions: Any, persons: Any, **args: Any) -> Any:
    """Dask path of :func:`~naravard_analysis.indicators.readmission.flag_readmissions`."""
    import dask

    from naravard_analysis.indicators.readmission import flag_readmissions

    kw = _kwargs(args, flag_readmissions)
    admissions, persons = aligned([admissions, persons])
    if kw.get("end_date") is None:
        # the pandas default is the latest date of the *whole* table: one reduction, not per part
        last = dask.compute(admissions["admission_date"].max(), admissions["discharge_date"].max())
        valid = [pd.Timestamp(x) for x in last if not pd.isna(x)]
        kw["end_date"] = max(valid) if valid else None
    meta = empty_meta(flag_readmissions(admissions._meta, persons._meta, **kw))
    return map_persons(flag_readmissions, [admissions, persons], meta=meta,
                       renumber="episode_id", **kw)
