"""30-day readmission flags, one row per index care episode, in named stages.

:func:`flag_readmissions` runs: settings (the variant's defaults and their overrides) → stays as
arrays → link stays into care episodes (the kernel shared with
:func:`~naravard_analysis.indicators.episodes.build_episodes`) → find each index episode's next
readmission → person attributes (age, death) → exclusions → the output table. The definitions
(windows, variants, exclusion order) are in :mod:`naravard_analysis.indicators.readmission`; a
per-person reference implementation written from them is
:func:`naravard_analysis.indicators.readmission_reference.reference_readmissions`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from naravard_analysis.core.dates import NAT_DAY, as_datetime, completed_years, day_numbers, ymd
from naravard_analysis.core.defaults import DEFINITION_DEFAULT, DefinitionDefault, resolve
from naravard_analysis.core.icd import clean_prefixes, normalise_codes, starts_with_any
from naravard_analysis.core.stays import latest_discharge, link_stays
from naravard_analysis.core.text import CodedText, text_arrow
from naravard_analysis.data.schema import STRING_DTYPE
from naravard_analysis.engine import use_dask
from naravard_analysis.errors import DataWarning, ParameterError, SchemaError
from naravard_analysis.indicators.readmission_definitions import (
    EXCLUSION_REASONS,
    VARIANTS,
    require_table,
    window_days,
)

__all__ = ["flag_readmissions"]


_TEXT = ("main_diagnosis", "hospital_id", "department", "admitted_from", "discharge_to")
# Tie rule for stays with the same person, admission and discharge date (design choice, see
# flag_readmissions Notes): unplanned first, a stay ending in death last, then text order.
_TIE_TEXT = ("discharge_to", "main_diagnosis", "hospital_id", "department", "admitted_from")


@dataclass(frozen=True)
class _Settings:
    """The definition in force: the variant's defaults with the caller's overrides."""

    variant: str
    note: str
    linking: str
    lo: int
    hi: int
    min_age: int | None
    unplanned_only: bool
    age_at: str
    death_after_discharge: str
    blocks: bool
    merge_gap_days: int


def _settings(
    variant, window, min_age, unplanned_only, age_at, death_after_discharge, planned_blocks_later,
    merge_gap_days,
) -> _Settings:  # fmt: skip
    """Check the parameters and resolve the variant's defaults."""
    if variant not in VARIANTS:
        raise ParameterError(f"unknown variant {variant!r}; available: {sorted(VARIANTS)}")
    v = VARIANTS[variant]
    lo, hi = window_days(v, window)
    min_age = resolve(min_age, v.min_age)  # the variant's own limit differs (65, 67 for norway)
    if min_age is not None and (
        isinstance(min_age, bool) or not isinstance(min_age, (int, np.integer))
    ):
        raise ParameterError(f"min_age must be an integer or None, got {min_age!r}")
    if not isinstance(unplanned_only, bool):
        raise ParameterError(f"unplanned_only must be True or False, got {unplanned_only!r}")
    if age_at not in ("admission", "discharge"):
        raise ParameterError(f"age_at must be 'admission' or 'discharge', got {age_at!r}")
    if death_after_discharge not in ("keep", "exclude"):
        raise ParameterError(
            f"death_after_discharge must be 'keep' or 'exclude', got {death_after_discharge!r}"
        )
    blocks = v.planned_blocks_later if planned_blocks_later is None else bool(planned_blocks_later)
    if v.linking == "cms" and merge_gap_days != 0:
        raise ParameterError("merge_gap_days applies to Swedish episode linking; use 0 with 'cms'")
    if merge_gap_days not in (0, 1) or isinstance(merge_gap_days, bool):
        raise ParameterError(f"merge_gap_days must be 0 or 1 (methods reference §2.4), got {merge_gap_days!r}")
    linking = "cms" if v.linking == "cms" else "swedish"
    return _Settings(variant, v.note, linking, lo, hi, min_age, unplanned_only, age_at,
                     death_after_discharge, blocks, merge_gap_days)  # fmt: skip


@dataclass
class _Stays:
    """The stays as arrays, in input order (day numbers int32: ±5.8 million years)."""

    person_id: pd.Series
    adm: np.ndarray
    dis: np.ndarray
    planned: np.ndarray
    transfer: np.ndarray
    died: np.ndarray
    text: dict[str, CodedText]


def _planned(admissions: pd.DataFrame) -> np.ndarray:
    """PVARD = 1 per stay; a missing status counts as unplanned (counted in a warning)."""
    if "planned" not in admissions.columns:
        return np.zeros(len(admissions), dtype=bool)
    pl = admissions["planned"].astype("boolean")
    n_na = int(pl.isna().sum())
    if n_na:
        warnings.warn(
            f"admissions.planned: {n_na} stay(s) with missing planned status counted as unplanned",
            DataWarning,
            stacklevel=4,
        )
    return pl.fillna(False).to_numpy(dtype=bool)


def _stays(admissions: pd.DataFrame) -> _Stays:
    """Check the stays and turn them into arrays (dates as days, text as dictionary codes)."""
    pid = admissions["person_id"]
    bad = np.flatnonzero(pid.isna().to_numpy())
    if bad.size:
        raise SchemaError("admissions", "person_id", "must not be missing", bad.size, bad)
    adm = day_numbers(admissions["admission_date"], "admissions", "admission_date")
    dis = day_numbers(admissions["discharge_date"], "admissions", "discharge_date")
    for col, arr in (("admission_date", adm), ("discharge_date", dis)):
        bad = np.flatnonzero(arr == NAT_DAY)
        if bad.size:
            raise SchemaError("admissions", col, "must not be missing", bad.size, bad)
    bad = np.flatnonzero(dis < adm)
    if bad.size:
        raise SchemaError("admissions", "discharge_date", "discharge before admission", bad.size, bad)
    text = {c: CodedText(admissions[c]) for c in _TEXT if c in admissions.columns}
    if "discharge_to" in text:
        transfer = text["discharge_to"].equals("hospital")
        died = text["discharge_to"].equals("died")
    else:
        transfer = died = np.zeros(len(admissions), dtype=bool)
    return _Stays(pid, adm.astype(np.int32), dis.astype(np.int32), _planned(admissions),
                  transfer, died, text)  # fmt: skip


def _tie_keys(stays: _Stays, rows: np.ndarray) -> list[np.ndarray]:
    """Tie-break keys of ``rows`` (flag_readmissions Notes): unplanned first, death last, text."""
    keys = [stays.planned[rows].astype(np.int8), stays.died[rows].astype(np.int8)]
    return keys + [stays.text[c].rank(rows) for c in _TIE_TEXT if c in stays.text]


@dataclass
class _Episodes:
    """Care episodes sorted by person and admission (every one a potential index)."""

    person: np.ndarray  # dense person number
    person_ids: pd.Index
    adm: np.ndarray
    dis: np.ndarray
    n_stays: np.ndarray
    row_first: np.ndarray  # input row of the first stay
    row_last: np.ndarray  # input row of the stay with the latest discharge
    planned: np.ndarray  # of the first stay
    died: np.ndarray  # the last stay ended in death
    end_data: int  # latest admission or discharge day of the data
    text: dict[str, CodedText]

    def __len__(self) -> int:
        return self.adm.size


def _link_episodes(stays: _Stays, s: _Settings) -> _Episodes:
    """Chain the stays into care episodes with the variant's linking rule."""
    sorted_, new_episode = link_stays(
        stays.person_id, stays.adm, stays.dis, stays.transfer, rule=s.linking,
        merge_gap_days=s.merge_gap_days, tie_keys=partial(_tie_keys, stays),
    )  # fmt: skip
    order = sorted_.order
    n_rows = order.size
    first = np.flatnonzero(new_episode)
    n_stays = np.diff(np.append(first, n_rows))
    e_dis, last = latest_discharge(stays.dis[order], first)  # as build_episodes
    row_first, row_last = order[first], order[last]
    end_data = int(max(stays.adm.max(), stays.dis.max())) if n_rows else 0
    return _Episodes(
        sorted_.person_number()[first], sorted_.person_ids, stays.adm[row_first], e_dis, n_stays,
        row_first, row_last, stays.planned[row_first], stays.died[row_last], end_data, stays.text,
    )  # fmt: skip


@dataclass
class _NextReadmission:
    """For each index episode: the episode that decides it and the days to it."""

    j: np.ndarray  # position of that episode (n = none)
    event: np.ndarray  # a qualifying readmission exists (any distance)
    d_next: np.ndarray  # days from the index discharge to its admission
    in_window: np.ndarray  # the readmission falls in the window
    followup: np.ndarray  # days of follow-up (to the end of data or a blocking readmission)


def _next_readmission(ep: _Episodes, s: _Settings, end_d: int) -> _NextReadmission:
    """Find each index episode's next qualifying episode ``lo`` days or more after discharge.

    The first candidate per index is one ``searchsorted`` on a person-offset admission key (a
    later episode, never the index itself). Swedish rule: the next *qualifying* (unplanned) episode
    from there, by a reverse cumulative minimum of qualifying positions. CMS rule
    (``planned_blocks_later``): only the first candidate counts, and a planned one blocks.
    """
    n = len(ep)
    p, adm_d, dis_d = ep.person, ep.adm, ep.dis
    qualifying = ~ep.planned if s.unplanned_only else np.ones(n, dtype=bool)
    idx = np.arange(n)
    first_cand = idx
    if n:
        base = int(min(adm_d.min(), dis_d.min()))
        span = int(max(adm_d.max(), dis_d.max()) - base + s.hi + 2)
        key_adm = p * span + (adm_d - base)  # non-decreasing: episodes sorted by person, admission
        first_cand = np.searchsorted(key_adm, p * span + (dis_d + s.lo - base), side="left")
        np.maximum(first_cand, idx + 1, out=first_cand)  # a later episode, never the index itself
        del key_adm
    p_ext = np.append(p, -1)
    q_ext = np.append(qualifying, False)
    if s.blocks:
        j = first_cand  # only the first episode in the window can count (CMS)
        any_next = p_ext[j] == p
        event = any_next & q_ext[j]
        blocked = any_next & ~q_ext[j]
    else:
        nxt = np.where(qualifying, idx, n)
        nxt = np.minimum.accumulate(nxt[::-1])[::-1] if n else nxt
        j = np.append(nxt, n)[first_cand]  # next qualifying episode from the window's first day
        event = p_ext[j] == p
        blocked = np.zeros(n, dtype=bool)
    d_next = np.append(adm_d, 0)[j] - dis_d
    followup = end_d - dis_d
    followup = np.where(blocked, np.minimum(followup, d_next), followup)
    return _NextReadmission(j, event, d_next, event & (d_next <= s.hi), followup)


@dataclass
class _PersonAttributes:
    found: np.ndarray  # the index person is in the persons table
    row: np.ndarray  # row of the persons table (0 where not found)
    age_known: np.ndarray
    age: np.ndarray  # completed years (0 where unknown)
    death_days: np.ndarray  # days from index discharge to death (NaN: none known)


def _person_attributes(
    persons: pd.DataFrame, ep: _Episodes, s: _Settings, admissions: pd.DataFrame
) -> _PersonAttributes:
    """Age at the index (completed years) and days to death, from the persons table.

    Age from ``persons.birth_date`` where known; else the ``age`` delivered with the stay in
    ``admissions`` (Patientregistret ALDER): the episode's first stay for ``age_at="admission"``,
    its last stay for ``"discharge"``.
    """
    n = len(ep)
    dup = persons["person_id"].duplicated().to_numpy()
    if dup.any():
        pos = np.flatnonzero(dup)
        raise SchemaError("persons", "person_id", "duplicate person", pos.size, pos)
    ppos = pd.Index(persons["person_id"]).get_indexer(ep.person_ids)[ep.person] if n else ep.person
    found = ppos >= 0
    safe = np.where(found, ppos, 0)
    age_known = np.zeros(n, dtype=bool)
    years = np.zeros(n, dtype=np.int64)
    if "birth_date" in persons.columns and len(persons):
        birth_p = day_numbers(persons["birth_date"], "persons", "birth_date")
        # Calendar of each person's birth date once (persons, not episodes), then gathered.
        birth_ymd = ymd(birth_p)
        age_known = found & (birth_p != NAT_DAY)[safe]
        years = completed_years(ymd(ep.adm if s.age_at == "admission" else ep.dis), birth_ymd[safe])
        years[~age_known] = 0
    if "age" in admissions.columns and n:
        row = ep.row_first if s.age_at == "admission" else ep.row_last
        delivered = pd.to_numeric(admissions["age"], errors="coerce").to_numpy(dtype=float)[row]
        fill = ~age_known & ~np.isnan(delivered)
        years[fill] = delivered[fill].astype(np.int64)
        age_known |= fill
    n_missing = int((~found & ~age_known).sum())
    if n_missing:
        warnings.warn(
            f"persons: {n_missing} index episode(s) of persons missing from the persons table "
            "(age unknown; excluded as 'age' when min_age is set)",
            DataWarning,
            stacklevel=3,
        )
    death_days = np.full(n, np.nan)
    if "death_date" in persons.columns and len(persons):
        death = day_numbers(persons["death_date"], "persons", "death_date")[safe]
        has = found & (death != NAT_DAY)
        death_days[has] = death[has] - ep.dis[has]
    return _PersonAttributes(found, safe, age_known, years, death_days)


def _index_groups(
    ep: _Episodes, index_diagnoses: Sequence[str] | Mapping[str, Sequence[str]]
) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Does the index's main diagnosis start with one of the prefixes (and with which group)?

    Matched once per distinct normalised code. Returns (matched, group code or None, group names).
    """
    md = ep.text["main_diagnosis"]
    vals = text_arrow(normalise_codes(pd.Series(md.values(), dtype=object)))
    if isinstance(index_diagnoses, Mapping):
        gdict = np.full(len(vals), -1, dtype=np.int32)
        names = []
        for k, (g, prefixes) in enumerate(index_diagnoses.items()):
            hit = starts_with_any(vals, clean_prefixes(list(prefixes), "index_diagnoses"))
            gdict[(gdict < 0) & hit] = k
            names.append(str(g))
        group_codes = np.append(gdict, -1)[md.codes[ep.row_first]]
        return group_codes >= 0, group_codes, names
    if isinstance(index_diagnoses, str):
        index_diagnoses = [index_diagnoses]
    hit = starts_with_any(vals, clean_prefixes(list(index_diagnoses), "index_diagnoses"))
    return md.lookup(hit)[ep.row_first], None, []


def _exclusions(
    ep: _Episodes, nr: _NextReadmission, pa_: _PersonAttributes, s: _Settings, end_d: np.int64,
    matched: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Exclusion code per index (into EXCLUSION_REASONS, −1 = eligible), first reason wins; and
    death in the window after a live discharge."""
    excl = np.full(len(ep), -1, dtype=np.int8)

    def mark(mask: np.ndarray, reason: str) -> None:
        excl[mask & (excl < 0)] = EXCLUSION_REASONS.index(reason)

    if s.min_age is not None:
        mark(~pa_.age_known | (pa_.age < s.min_age), "age")
    if matched is not None:
        mark(~matched, "diagnosis")
    mark(ep.died, "died")
    # Follow-up must reach the window's last day (a blocking planned readmission is not missing
    # follow-up: the CMS rule has already decided the index).
    mark(end_d - ep.dis < s.hi, "incomplete_followup")
    death = pa_.death_days
    died_in_window = (death >= 0) & (death <= s.hi)
    if s.death_after_discharge == "exclude":
        before = nr.in_window & (nr.d_next <= np.where(np.isnan(death), np.inf, death))
        mark(died_in_window & ~before, "died_after_discharge")
    return excl, died_in_window


def _decode_labels(codes: np.ndarray, labels: Sequence[str]) -> pd.Series:
    """Categorical with the given labels in the given order (codes −1 = missing)."""
    cats = pd.Index(list(labels), dtype=STRING_DTYPE)
    return pd.Series(pd.Categorical.from_codes(codes.astype(np.int32), categories=cats))


def _int_array(values: np.ndarray, valid: np.ndarray) -> pd.arrays.IntegerArray:
    return pd.arrays.IntegerArray(np.where(valid, values, 0).astype(np.int64), ~valid)


def _episode_columns(ep: _Episodes, admissions: pd.DataFrame, persons: pd.DataFrame,
                     pa_: _PersonAttributes) -> pd.DataFrame:  # fmt: skip
    """The index episodes and their persons: ids, dates, first/last-stay text, residence, age."""
    p = ep.person
    ids = ep.person_ids
    if isinstance(ids, pd.Index) and ids.dtype.kind in "iu":
        person_col = ids.to_numpy()[p]
    else:
        person_col = pd.Series(ids.take(p)).reset_index(drop=True)
    out = pd.DataFrame({"person_id": person_col})
    out["episode_id"] = np.arange(len(ep), dtype=np.int64)
    out["admission_date"] = as_datetime(ep.adm)
    out["discharge_date"] = as_datetime(ep.dis)
    out["n_stays"] = ep.n_stays.astype(np.int64, copy=False)
    if "planned" in admissions.columns:
        out["planned"] = ep.planned
    text = ep.text
    for col in ("main_diagnosis", "hospital_id", "department", "admitted_from"):
        if col in text:
            out[col] = text[col].decode(ep.row_first)
    if "discharge_to" in text:
        out["discharge_to"] = text["discharge_to"].decode(ep.row_last)
    if "hospital_id" in text:
        out["discharge_hospital_id"] = text["hospital_id"].decode(ep.row_last)
    for col in ("sex", "municipality_code", "region_code"):
        if col in persons.columns:
            out[col] = CodedText(persons[col]).decode(pa_.row, pa_.found)
        elif col in admissions.columns:  # as delivered with the stay (Patientregistret KON, LAN, KOMMUN)
            out[col] = CodedText(admissions[col]).decode(ep.row_first)
    out["age"] = _int_array(pa_.age, pa_.age_known)
    return out


def _outcome_columns(out: pd.DataFrame, ep: _Episodes, nr: _NextReadmission, excl: np.ndarray,
                     died_in_window: np.ndarray, death_days: np.ndarray) -> None:  # fmt: skip
    """Eligibility, exclusion, readmission and survival columns, added to ``out``."""
    n = len(ep)
    eligible = excl < 0
    readmitted = nr.in_window & eligible
    out["eligible"] = eligible
    out["exclusion"] = _decode_labels(excl, EXCLUSION_REASONS)
    out["readmitted"] = readmitted
    out["days_to_readmission"] = _int_array(nr.d_next, readmitted)
    j_row = ep.row_first[np.minimum(nr.j, max(n - 1, 0))] if n else nr.j
    rdate = as_datetime(np.where(readmitted, np.append(ep.adm, 0)[nr.j], 0))
    rdate[~readmitted] = np.datetime64("NaT")
    out["readmission_date"] = rdate
    if "main_diagnosis" in ep.text:
        out["readmission_diagnosis"] = ep.text["main_diagnosis"].decode(j_row, readmitted)
    if "hospital_id" in ep.text:
        out["readmission_hospital_id"] = ep.text["hospital_id"].decode(j_row, readmitted)
    out["died_in_window"] = died_in_window & (excl != EXCLUSION_REASONS.index("died"))
    has_death = ~np.isnan(death_days)
    out["days_to_death"] = _int_array(np.nan_to_num(death_days).astype(np.int64), has_death)
    out["next_readmission_days"] = _int_array(nr.d_next, nr.event)
    out["followup_days"] = nr.followup.astype(np.int64, copy=False)


def flag_readmissions(
    admissions: pd.DataFrame,
    persons: pd.DataFrame,
    *,
    variant: str = "socialstyrelsen",
    window: int | tuple[int, int] | None = None,
    min_age: int | None | DefinitionDefault = DEFINITION_DEFAULT,
    unplanned_only: bool = True,
    merge_gap_days: int = 0,
    index_diagnoses: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    end_date: str | pd.Timestamp | None = None,
    age_at: str = "admission",
    planned_blocks_later: bool | None = None,
    death_after_discharge: str = "keep",
    engine: str | None = None,
) -> pd.DataFrame:
    """Flag 30-day readmissions, one row per index care episode.

    Parameters
    ----------
    admissions : DataFrame
        Canonical admissions (one row per stay, :mod:`naravard_analysis.data.schema`): ``person_id``, ``admission_date``,
        ``discharge_date``; ``planned`` (PVARD = 1) when ``unplanned_only``; ``discharge_to``
        (``"died"`` = UTSATT 4, ``"hospital"`` = transfer); ``main_diagnosis`` when
        ``index_diagnoses`` is given; ``hospital_id``, ``department`` carried when present.
    persons : DataFrame
        ``person_id``; ``birth_date`` (needed for the age limit unless ``admissions`` has ``age``
        or ``min_age=None``), optional ``sex``, ``municipality_code``, ``region_code``,
        ``death_date``.

        Age at the index: from ``birth_date`` (completed years at ``age_at``) where known, which
        wins when both exist (exact to the day). Else ``admissions.age``, the age delivered with
        each stay (Patientregistret ALDER, read by ``read_table(source="patientregistret")``): the
        episode's first stay's for ``age_at="admission"``, its last stay's for ``"discharge"``. So
        an extract with ALDER and no birth dates needs only ``person_id`` here.
    variant : {"socialstyrelsen", "cms", "norway"}
        Defaults of the definition (module docstring table, methods reference §4.2/§4.3/§4.6).
    window : int or (int, int), optional
        Last day, or (first day, last day), of the window in days after the index discharge;
        default (1, 30) Swedish and Norwegian, (0, 30) CMS.
    min_age : int or None
        Minimum age at the index. Default ``DEFINITION_DEFAULT``: the variant's (65; 67 for
        ``norway``); ``None`` = no age limit.
    unplanned_only : bool
        Count only unplanned readmissions (``planned`` of the readmission episode's first stay is
        False). ``planned`` missing counts as unplanned (counted in a ``DataWarning``).
    merge_gap_days : {0, 1}
        Episode linking gap for the Swedish/Norwegian linking (methods reference §2.4; with 1 a day-1
        readmission cannot occur). Must be 0 for ``cms``.
    index_diagnoses : sequence of prefixes or mapping group -> prefixes, optional
        Restrict index episodes to these main-diagnosis prefixes (dotless ICD-10, e.g. heart failure
        ``["I50", "I110"]``); a mapping also adds ``index_group`` (first matching group). Others are
        excluded with reason ``"diagnosis"``.
    end_date : date, optional
        Last day of the data; default the latest admission or discharge date in ``admissions``.
    age_at : {"admission", "discharge"}
        Reference date for age (§4.2 design choice, Swedish rule unverified).
    planned_blocks_later : bool, optional
        Override the variant: ``True`` counts only the first episode in the window (CMS), ``False``
        any qualifying one (Swedish).
    death_after_discharge : {"keep", "exclude"}
        Index followed by death in the window: kept and counted as not readmitted (default, §4.2), or
        excluded with reason ``"died_after_discharge"`` unless readmitted before death.
    engine : {None, "pandas", "dask"}
        ``None`` follows the input (a Dask DataFrame partitioned by person runs on Dask); ``"dask"``
        also splits pandas tables by person. The Dask path returns a lazy Dask DataFrame with the
        same rows and values (see :mod:`naravard_analysis.indicators.distributed`).

    Returns
    -------
    DataFrame
        One row per care episode (every episode is a potential index), sorted by person and
        admission: ``person_id, episode_id, admission_date, discharge_date, n_stays`` and the first
        stay's ``planned, main_diagnosis, hospital_id, department`` and the last stay's
        ``discharge_to, discharge_hospital_id`` when present, ``sex, municipality_code, region_code`` from
        ``persons`` (else the first stay's, when ``admissions`` has them), ``age`` (Int64), ``index_group`` (with a mapping), ``eligible`` (bool),
        ``exclusion`` (str, missing when eligible), ``readmitted`` (bool, False when not
        eligible), ``days_to_readmission`` (Int64), ``readmission_date``,
        ``readmission_diagnosis`` and ``readmission_hospital_id`` (when readmitted and eligible),
        ``died_in_window`` (death 0…window end days after a live discharge), ``days_to_death``,
        and for survival analysis ``next_readmission_days`` (days to the next qualifying
        readmission by the variant's rule, no upper limit) and ``followup_days`` (days to the end
        of the data or, CMS, to a blocking planned readmission). ``attrs`` records the parameters.
        Text columns are categoricals with text-ordered string categories (memory and speed at
        10^7 rows; compare with ``==``/``isin`` as usual).

    Notes
    -----
    Unit of analysis: inpatient care episode (stays linked per §2.4). Readmissions are searched
    among *all* later episodes of the person (any age, any diagnosis, any hospital); the window and
    days use whole calendar days (§4.1). Vectorised: episodes are sorted by person and admission, the
    first candidate episode per index is found with one ``searchsorted`` on a person-offset key, and
    the next qualifying (unplanned) episode by a reverse cumulative minimum.

    Examples
    --------
    >>> import pandas as pd
    >>> adm = pd.DataFrame({"person_id": [1, 1], "admission_date": pd.to_datetime(["2020-01-01",
    ...     "2020-01-20"]), "discharge_date": pd.to_datetime(["2020-01-05", "2020-01-22"]),
    ...     "planned": [False, False], "discharge_to": ["home", "home"]})
    >>> per = pd.DataFrame({"person_id": [1], "birth_date": pd.to_datetime(["1940-01-01"])})
    >>> f = flag_readmissions(adm, per, end_date="2020-12-31")
    >>> bool(f.readmitted.iloc[0]), int(f.days_to_readmission.iloc[0]), bool(f.readmitted.iloc[1])
    (True, 15, False)
    """
    if use_dask(engine, admissions, persons):  # the same computation per person partition
        from naravard_analysis.indicators import distributed

        return distributed.flag_readmissions_dask(**locals())
    s = _settings(variant, window, min_age, unplanned_only, age_at, death_after_discharge,
                  planned_blocks_later, merge_gap_days)  # fmt: skip
    need = ["person_id", "admission_date", "discharge_date"]
    if unplanned_only:
        need.append("planned")
    if index_diagnoses is not None:
        need.append("main_diagnosis")
    require_table(admissions, "admissions", need)
    need_birth = s.min_age is not None and "age" not in admissions.columns
    require_table(persons, "persons", ["person_id"] + (["birth_date"] if need_birth else []))
    # The stay arrays live only inside this call: freed before the episode-level work (memory).
    ep = _link_episodes(_stays(admissions), s)
    if end_date is None:
        end_d, end_inferred = np.int64(ep.end_data), True
    else:
        end_d = np.int64(pd.Timestamp(end_date).to_datetime64().astype("datetime64[D]").astype(np.int64))
        end_inferred = False
    nr = _next_readmission(ep, s, end_d)
    pa_ = _person_attributes(persons, ep, s, admissions)
    matched, group_codes, group_names = (None, None, [])
    if index_diagnoses is not None:
        matched, group_codes, group_names = _index_groups(ep, index_diagnoses)
    excl, died_in_window = _exclusions(ep, nr, pa_, s, end_d, matched)
    out = _episode_columns(ep, admissions, persons, pa_)
    if group_codes is not None:
        out["index_group"] = _decode_labels(group_codes, group_names)
    _outcome_columns(out, ep, nr, excl, died_in_window, pa_.death_days)
    out.attrs.update(
        {
            "variant": s.variant,
            "definition": s.note,
            "window": (s.lo, s.hi),
            "min_age": s.min_age,
            "unplanned_only": s.unplanned_only,
            "planned_blocks_later": s.blocks,
            "merge_gap_days": s.merge_gap_days,
            "end_date": str(pd.Timestamp(np.datetime64(int(end_d), "D")).date()),
            "end_date_inferred": end_inferred,
            "age_at": s.age_at,
            "death_after_discharge": s.death_after_discharge,
        }
    )
    return out
