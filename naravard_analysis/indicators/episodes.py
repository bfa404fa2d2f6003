"""Care episodes (vårdepisoder): chain inpatient stays (vårdtillfällen) of one person.

Adjacent or overlapping stays of one person form one episode, so that one illness counts once when
avoidable hospitalisation and readmission are measured. Rules follow DEFINITIONS.md §2.4:

* stay k+1 joins the current episode when ``admission_date[k+1] <= max(discharge_date) + merge_gap_days``,
  the maximum running over *all* earlier stays of the episode (nested stays), ``merge_gap_days`` in {0, 1}
  (gap 0: KIHeartFailure/shfdb4dm ``munge/11-prep_nprdata.R``; gap 1: KIHeartFailure/shfdb3dm
  ``munge/08-prep_sosdata.R``);
* a stay that ended with a transfer to another hospital/department (``discharge_to == "hospital"``,
  UTSATT 1) is joined by a stay starting the same **or the next** day whatever ``merge_gap_days``
  (design choice of §2.4, so that the episode ends at the final discharge);
* the episode keeps min(admission_date), max(discharge_date), the main diagnosis and planned status of
  its first stay, and the discharge mode of the stay with the latest discharge (§2.4 design choices).

The computation is vectorised: sort by person and admission date, take the running maximum of each
stay's "reach" (discharge date plus the allowed gap) within the person, start a new episode where a
stay begins after the reach of all earlier stays, and number episodes by a cumulative sum.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from naravard_analysis.errors import SchemaError

__all__ = ["assign_episodes", "build_episodes", "EPISODE_COLUMNS"]

_REQUIRED = ("person_id", "admission_date", "discharge_date")

#: Columns of :func:`build_episodes` output that are always present (more are carried when available).
EPISODE_COLUMNS = (
    "person_id",
    "episode_id",
    "admission_date",
    "discharge_date",
    "n_stays",
    "planned",
    "main_diagnosis",
    "discharge_to",
    "bed_days",
)

_DAY_NS = 86_400 * 10**9


def _check(admissions: pd.DataFrame, merge_gap_days: int) -> None:
    if not isinstance(admissions, pd.DataFrame):
        raise SchemaError("admissions", None, "expected a pandas DataFrame")
    missing = [c for c in _REQUIRED if c not in admissions.columns]
    if missing:
        raise SchemaError("admissions", missing[0], f"required column missing (missing: {missing})")
    if merge_gap_days not in (0, 1) or isinstance(merge_gap_days, bool):
        from naravard_analysis.errors import ParameterError

        raise ParameterError(
            f"merge_gap_days must be 0 or 1 (DEFINITIONS.md §2.4), got {merge_gap_days!r}"
        )
    for col in ("person_id", "admission_date", "discharge_date"):
        bad = np.flatnonzero(admissions[col].isna().to_numpy())
        if bad.size:
            raise SchemaError("admissions", col, "must not be missing", bad.size, bad)


def _days(s: pd.Series, column: str) -> np.ndarray:
    """Dates as int64 days since the epoch (vectorised; time of day is ignored)."""
    try:
        d = pd.to_datetime(s)
    except (ValueError, TypeError) as exc:
        raise SchemaError("admissions", column, f"not parseable as dates ({exc})") from None
    return d.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)


def _link(admissions: pd.DataFrame, merge_gap_days: int):
    """Sort order, episode number and stay sequence (sorted positions) — the vectorised core."""
    _check(admissions, merge_gap_days)
    n = len(admissions)
    adm_d = _days(admissions["admission_date"], "admission_date")
    dis_d = _days(admissions["discharge_date"], "discharge_date")
    bad = np.flatnonzero(dis_d < adm_d)
    if bad.size:
        raise SchemaError(
            "admissions", "discharge_date", "discharge before admission", bad.size, bad
        )
    pcode, _ = pd.factorize(admissions["person_id"], sort=True)
    # Sort by person, admission, discharge; lexsort is stable so ties keep input order.
    order = np.lexsort((dis_d, adm_d, pcode))
    p = pcode[order]
    a = adm_d[order]
    gap = np.full(n, merge_gap_days, dtype=np.int64)
    if "discharge_to" in admissions.columns:
        transfer = (admissions["discharge_to"].astype(object) == "hospital").to_numpy(dtype=bool)
        gap[transfer] = max(merge_gap_days, 1)
    reach = dis_d[order] + gap[order]
    new_person = np.ones(n, dtype=bool)
    new_person[1:] = p[1:] != p[:-1]
    # Running max of reach within person: groupby-cummax done as one global accumulate on a key that
    # is monotone in the person code (persons are contiguous after sorting).
    span = int(reach.max() - reach.min() + 1) if n else 1
    key = p.astype(np.int64) * span + (reach - (reach.min() if n else 0))
    runmax = np.maximum.accumulate(key) if n else key
    prev = np.empty(n, dtype=np.int64)
    if n:
        prev[0] = -1
        prev[1:] = runmax[:-1]
    a_key = p.astype(np.int64) * span + (a - (reach.min() if n else 0))
    new_episode = new_person | (a_key > prev)
    episode = np.cumsum(new_episode) - 1
    start_pos = np.flatnonzero(new_episode)
    stay_seq = np.arange(n) - np.repeat(start_pos, np.diff(np.append(start_pos, n))) + 1
    return order, episode.astype(np.int64), stay_seq.astype(np.int64), dis_d


def assign_episodes(admissions: pd.DataFrame, *, merge_gap_days: int = 0) -> pd.DataFrame:
    """Label every inpatient stay with the care episode it belongs to.

    Parameters
    ----------
    admissions : DataFrame
        Canonical admissions table (one row per stay): ``person_id``, ``admission_date``,
        ``discharge_date`` and optionally ``discharge_to`` (``"hospital"`` = UTSATT 1, a transfer).
    merge_gap_days : {0, 1}
        Days allowed between the episode's latest discharge and the next admission (§2.4).

    Returns
    -------
    DataFrame
        The input rows, sorted by ``person_id``, ``admission_date``, ``discharge_date`` (ties keep input
        order), with two added columns: ``episode_id`` (int64, 0 … n_episodes − 1 in sorted order) and
        ``stay_seq`` (int64, 1 for the first stay of its episode). The original index is kept, so
        ``result.loc[i]`` is input row ``i``. This is the list of stays of each episode.

    Notes
    -----
    Unit: inpatient stay. Rule: with reach_j = discharge_j + g_j, where g_j = max(merge_gap_days, 1)
    for a transfer (``discharge_to == "hospital"``) and ``merge_gap_days`` otherwise, stay k starts
    a new episode iff it is the person's first stay or admission_k > max_{j<k} reach_j (running max over
    the person's earlier stays; stays of earlier episodes all reach before the current episode starts, so
    a per-person running max equals the per-episode one). Source: DEFINITIONS.md §2.4.

    Examples
    --------
    >>> import pandas as pd
    >>> adm = pd.DataFrame({"person_id": [1, 1], "admission_date": pd.to_datetime(["2024-01-01",
    ...     "2024-01-05"]), "discharge_date": pd.to_datetime(["2024-01-05", "2024-01-09"])})
    >>> assign_episodes(adm)["episode_id"].tolist()
    [0, 0]
    """
    order, episode, stay_seq, _ = _link(admissions, merge_gap_days)
    out = admissions.iloc[order].copy()
    out["episode_id"] = episode
    out["stay_seq"] = stay_seq
    return out


def _join_codes(parts: list[pd.Series]) -> pd.Series:
    """Space-join code strings row-wise, skipping empty parts (vectorised string ops)."""
    joined = parts[0].fillna("").astype(str)
    for s in parts[1:]:
        s = s.fillna("").astype(str)
        joined = (joined + " " + s).str.strip()
    return joined.str.replace(r"\s+", " ", regex=True)


def build_episodes(admissions: pd.DataFrame, *, merge_gap_days: int = 0) -> pd.DataFrame:
    """Chain inpatient stays into care episodes (vårdepisoder), one row per episode.

    Parameters
    ----------
    admissions : DataFrame
        Canonical admissions table (DESIGN.md): ``person_id``, ``admission_date``, ``discharge_date``
        required; ``main_diagnosis``, ``other_diagnoses``, ``procedures``, ``planned``,
        ``admitted_from``, ``discharge_to``, ``hospital_id``, ``department`` used when present.
    merge_gap_days : {0, 1}
        0 links same-day re-entry and overlaps only; 1 also links next-day re-entry (§2.4).
        Transfers (``discharge_to == "hospital"``) link same or next day in both variants.

    Returns
    -------
    DataFrame
        One row per episode, sorted by ``person_id`` and ``admission_date``:
        ``person_id``, ``episode_id`` (int64, 0 …), ``admission_date`` (min), ``discharge_date`` (max),
        ``n_stays``, ``planned`` (of the first stay), ``main_diagnosis`` (of the first stay),
        ``discharge_to`` (of the stay with the latest discharge; ties: the later-sorted stay),
        ``bed_days`` (episode span discharge − admission in days, a same-day episode counted as 1 as
        for VTID, Ludvigsson 2011 Tab 1; gap days inside an episode are counted), and when the
        input has them: ``admitted_from``/``hospital_id``/``department`` (first stay),
        ``other_diagnoses`` (every diagnosis of the episode except the episode's main diagnosis field
        of the first stay, space-joined in stay order: the "concatenated diagnoses" of §2.4),
        ``procedures`` (concatenated), ``n_planned_stays``.

    Notes
    -----
    Unit of analysis: care episode. Every input stay belongs to exactly one episode
    (``result.n_stays.sum() == len(admissions)``); use :func:`assign_episodes` for the stay → episode
    map. First stay = earliest admission, ties broken by earlier discharge, then input order.
    Source: DEFINITIONS.md §2.4 (KIHeartFailure/shfdb3dm, shfdb4dm; transfer rule and first/last-stay
    attributes are design choices stated there). Missing dates or discharge before admission raise
    :class:`~naravard_analysis.errors.SchemaError`.

    Examples
    --------
    >>> import pandas as pd
    >>> adm = pd.DataFrame({
    ...     "person_id": [1, 1, 1],
    ...     "admission_date": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-02-01"]),
    ...     "discharge_date": pd.to_datetime(["2024-01-05", "2024-01-09", "2024-02-02"])})
    >>> build_episodes(adm)[["episode_id", "n_stays", "bed_days"]].values.tolist()
    [[0, 2, 8], [1, 1, 1]]
    """
    order, ep, stay_seq, dis_days = _link(admissions, merge_gap_days)
    n = len(order)
    first_pos = np.flatnonzero(stay_seq == 1)
    n_ep = first_pos.size
    n_stays = np.diff(np.append(first_pos, n))
    # Latest discharge per episode: sort sorted-positions by (episode, discharge, position), take last.
    last_order = np.lexsort((np.arange(n), dis_days[order], ep))
    ends = np.cumsum(n_stays) - 1
    first_o = order[first_pos]  # original row positions of first stays
    last_o = order[last_order[ends]] if n else first_o  # ... of the stays with the latest discharge

    def col(name: str, pos: np.ndarray) -> pd.Series:
        return admissions[name].take(pos).reset_index(drop=True)

    out = pd.DataFrame({"person_id": col("person_id", first_o)})
    out["episode_id"] = np.arange(n_ep, dtype=np.int64)
    out["admission_date"] = pd.to_datetime(col("admission_date", first_o)).astype("datetime64[ns]")
    out["discharge_date"] = pd.to_datetime(col("discharge_date", last_o)).astype("datetime64[ns]")
    out["n_stays"] = n_stays.astype(np.int64)
    for name in ("planned", "main_diagnosis", "admitted_from", "hospital_id", "department"):
        if name in admissions.columns:
            out[name] = col(name, first_o)
    if "planned" not in out.columns:
        out["planned"] = pd.array([pd.NA] * n_ep, dtype="boolean")
    if "main_diagnosis" not in out.columns:
        out["main_diagnosis"] = pd.Series([None] * n_ep, dtype=object)
    if "discharge_to" in admissions.columns:
        out["discharge_to"] = col("discharge_to", last_o)
    else:
        out["discharge_to"] = pd.Series([None] * n_ep, dtype=object)
    span = (out["discharge_date"] - out["admission_date"]).dt.days.to_numpy()
    out["bed_days"] = np.maximum(span, 1).astype(np.int64)
    if "planned" in admissions.columns:
        pl = admissions["planned"].astype("boolean").fillna(False).to_numpy(dtype=bool)[order]
        out["n_planned_stays"] = (
            np.add.reduceat(pl.astype(np.int64), first_pos) if n else np.zeros(0, dtype=np.int64)
        )
    multi = n_stays > 1
    in_multi = np.repeat(multi, n_stays)
    multi_o = order[in_multi]  # original positions of stays in multi-stay episodes, sorted order
    for name in ("other_diagnoses", "procedures"):
        if name not in admissions.columns:
            continue
        vals = col(name, first_o).fillna("").astype(str)
        if multi.any():
            # Only multi-stay episodes need a join; they are a small share, so the groupby is cheap.
            sub = pd.DataFrame({"episode_id": ep[in_multi], name: col(name, multi_o)})
            if name == "other_diagnoses" and "main_diagnosis" in admissions.columns:
                md = col("main_diagnosis", multi_o).fillna("").astype(str)
                md = md.where(stay_seq[in_multi] > 1, "")
                sub[name] = _join_codes([md, sub[name]])
            sub[name] = sub[name].fillna("").astype(str)
            joined = sub.groupby("episode_id", sort=True)[name].agg(" ".join)
            joined = joined.str.replace(r"\s+", " ", regex=True).str.strip()
            vals = vals.astype(object)
            vals.iloc[joined.index.to_numpy()] = joined.to_numpy()
        out[name] = vals.astype(str)
    return out
