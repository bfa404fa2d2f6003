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
import pyarrow as pa
import pyarrow.compute as pc

from naravard_analysis.data.schema import STRING_DTYPE
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
    if isinstance(s.dtype, np.dtype) and s.dtype.kind == "M":
        v = s.to_numpy()  # canonical datetime64: no parsing
    else:
        try:
            v = pd.to_datetime(s).to_numpy(dtype="datetime64[ns]")
        except (ValueError, TypeError) as exc:
            raise SchemaError("admissions", column, f"not parseable as dates ({exc})") from None
    return v.astype("datetime64[D]").astype(np.int64)


def _equals(s: pd.Series, value: str) -> np.ndarray:
    """``s == value`` as a numpy bool array (missing -> False) without Python objects per row.

    Arrow-backed strings compare in C++; other dtypes are compared once per distinct value.
    """
    if isinstance(s.dtype, pd.StringDtype) or isinstance(s.dtype, pd.ArrowDtype):
        return (s == value).to_numpy(dtype=bool, na_value=False)
    codes, uniques = pd.factorize(s)
    hit = np.append(np.asarray(uniques, dtype=object) == value, False)
    return hit[codes]


def _text_arrow(s: pd.Series) -> pa.ChunkedArray:
    """Text column as an arrow ``large_string`` array, ``''`` for missing.

    Same values as ``s.fillna("").astype(str)``, but arrow-backed strings are used as they are and
    any other dtype is converted once per distinct value, not once per row.
    """
    is_text = (
        isinstance(s.dtype, pd.StringDtype)
        or (isinstance(s.dtype, pd.ArrowDtype) and pa.types.is_string(s.dtype.pyarrow_dtype))
        or (isinstance(s.dtype, pd.ArrowDtype) and pa.types.is_large_string(s.dtype.pyarrow_dtype))
    )
    if is_text:
        arr = pa.chunked_array(s.array.__arrow_array__()).cast(pa.large_string())
        return pc.fill_null(arr, "")
    codes, uniques = pd.factorize(s)
    labels = pa.array([str(u) for u in uniques] + [""], type=pa.large_string())
    idx = np.where(codes < 0, len(labels) - 1, codes)
    return pa.chunked_array([labels.take(pa.array(idx))])


def _to_string_series(arr: pa.ChunkedArray | pa.Array) -> pd.Series:
    """Arrow strings as a pandas Series of the canonical text dtype (no copy per row)."""
    return pd.Series(STRING_DTYPE.__from_arrow__(arr))


def _sort_order(
    pcode: np.ndarray, adm_d: np.ndarray, dis_d: np.ndarray, *, fallback: bool = True
) -> np.ndarray | None:
    """Stable order by (person, admission, discharge): one argsort of a packed int64 key.

    When the three ranges do not fit in 62 bits: ``np.lexsort`` (``fallback``) or None.
    """
    n = len(pcode)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    p0, a0, d0 = int(pcode.min()), int(adm_d.min()), int(dis_d.min())
    ra = int(adm_d.max()) - a0 + 1
    rd = int(dis_d.max()) - d0 + 1
    rp = int(pcode.max()) - p0 + 1
    if rp * ra * rd < 2**62:
        key = (pcode - p0).astype(np.int64) * (ra * rd) + (adm_d - a0) * rd + (dis_d - d0)
        return np.argsort(key, kind="stable")
    return np.lexsort((dis_d, adm_d, pcode)) if fallback else None


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
    pid = admissions["person_id"]
    order = None
    if pid.dtype.kind == "i":
        # Integer ids sort as themselves (no hashing) when the packed key fits in 63 bits.
        order = _sort_order(pid.to_numpy().astype(np.int64), adm_d, dis_d, fallback=False)
    if order is None:
        pcode, _ = pd.factorize(pid, sort=True)
        order = _sort_order(pcode, adm_d, dis_d)
    # Dense person rank in sorted order (persons are contiguous), so that keys below stay small.
    pcode = pid.to_numpy()[order] if pid.dtype.kind == "i" else pcode[order]
    a = adm_d[order]
    reach = dis_d[order]
    if merge_gap_days:
        reach = reach + merge_gap_days
    if "discharge_to" in admissions.columns:
        # A transfer reaches at least one day past its discharge whatever merge_gap_days.
        transfer = _equals(admissions["discharge_to"], "hospital")[order]
        if not merge_gap_days:
            reach = reach + transfer
    new_person = np.ones(n, dtype=bool)
    new_person[1:] = pcode[1:] != pcode[:-1]
    p = np.cumsum(new_person) - 1
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
    # Stay with the latest discharge per episode (ties: the later-sorted stay). Stays of an episode
    # are contiguous in sorted order: take the episode's maximum, then its last position attaining it.
    dis_s = dis_days[order]
    first_o = order[first_pos]  # original row positions of first stays
    if n:
        ep_max = np.maximum.reduceat(dis_s, first_pos)
        at_max = np.flatnonzero(dis_s == np.repeat(ep_max, n_stays))
        e = ep[at_max]
        last_o = order[at_max[np.append(e[1:] != e[:-1], True)]]
    else:
        last_o = first_o

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
        pl = _bool_values(admissions["planned"])[order]
        out["n_planned_stays"] = (
            np.add.reduceat(pl.astype(np.int64), first_pos) if n else np.zeros(0, dtype=np.int64)
        )
    for name in ("other_diagnoses", "procedures"):
        if name in admissions.columns:
            prefix = "main_diagnosis" if name == "other_diagnoses" else None
            out[name] = _episode_codes(admissions, name, prefix, order, first_pos, n_stays)
    out.attrs["merge_gap_days"] = merge_gap_days  # lets flag_avoidable(episodes=...) check reuse
    return out


def _bool_values(s: pd.Series) -> np.ndarray:
    """Boolean column as numpy bool, missing -> False (no copy for plain ``bool``)."""
    if s.dtype == bool:
        return s.to_numpy()
    return s.astype("boolean").fillna(False).to_numpy(dtype=bool)


#: Whitespace as Python's ``str.split()``/``re`` ``\s`` see it, written for arrow's RE2.
_WS = r"[\t\n\x0b\f\r\x1c-\x1f\x85\p{Z}]+"


def _episode_codes(
    admissions: pd.DataFrame,
    name: str,
    prefix: str | None,
    order: np.ndarray,
    first_pos: np.ndarray,
    n_stays: np.ndarray,
) -> pd.Series:
    """Codes of each episode: the first stay's text, or for multi-stay episodes every stay's codes.

    For a multi-stay episode the value is the whitespace-separated codes of its stays in stay
    order, single-space-joined; with ``prefix`` (``main_diagnosis``) the later stays' main
    diagnoses come before their own codes. A single-stay episode keeps its text as it is
    (``''`` when missing). Built column-wise with arrow: stays are contiguous per episode in the
    sorted order, so one list array over the episode offsets and one join give every episode.
    """
    first_o = order[first_pos]
    text = _text_arrow(admissions[name])
    vals = text.take(pa.array(first_o))
    multi = n_stays > 1
    if multi.any():
        in_multi = np.repeat(multi, n_stays)
        multi_o = order[in_multi]
        part = text.take(pa.array(multi_o))
        if prefix is not None and prefix in admissions.columns:
            later = np.ones(multi_o.size, dtype=bool)
            m_first = np.cumsum(n_stays[multi]) - n_stays[multi]
            later[m_first] = False  # the first stay's main diagnosis is the episode's own
            md = _text_arrow(admissions[prefix]).take(pa.array(multi_o))
            md = pc.if_else(pa.array(later), md, pa.scalar("", pa.large_string()))
            part = pc.binary_join_element_wise(md, part, pa.scalar(" ", pa.large_string()))
        offsets = np.zeros(int(multi.sum()) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum(n_stays[multi])
        lists = pa.LargeListArray.from_arrays(pa.array(offsets), part.combine_chunks())
        joined = pc.binary_join(lists, pa.scalar(" ", pa.large_string()))
        joined = pc.utf8_trim(pc.replace_substring_regex(joined, _WS, " "), " ")
        # Scatter: episode i takes joined[rank of i among multi-stay episodes] when multi.
        rank = np.cumsum(multi) - 1
        idx = pa.array(np.where(multi, rank, 0))
        vals = pc.if_else(pa.array(multi), joined.take(idx), vals)
    return _to_string_series(vals)
