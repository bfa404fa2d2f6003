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

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from naravard_analysis.data.schema import STRING_DTYPE
from naravard_analysis.engine import use_dask
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
    if v.dtype == np.dtype("datetime64[ns]"):
        return v.view(np.int64) // _DAY_NS  # floor division, as the datetime64[D] cast
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
    """Stable order by (person, admission, discharge) as positions.

    The key (person, admission day, length of stay) and the row position are packed into one
    int64 and the values sorted (an order of magnitude faster than an argsort); the position in
    the low bits makes ties keep input order. When the key is too wide: a stable argsort of the
    key, then ``np.lexsort`` (``fallback``) or None.
    """
    n = len(pcode)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    los = dis_d - adm_d  # >= 0, checked before
    p0, a0 = int(pcode.min()), int(adm_d.min())
    rp = int(pcode.max()) - p0 + 1
    ra = int(adm_d.max()) - a0 + 1
    rl = int(los.max()) + 1
    width = rp * ra * rl
    if width < 2**62:
        # In-place arithmetic: one 8-byte temporary per row instead of five.
        key = pcode.astype(np.int64)  # a copy
        key -= p0
        key *= ra
        key += adm_d
        key -= a0
        key *= rl
        key += los
        del los
        pos_bits = max(n - 1, 1).bit_length()
        if width << pos_bits < 2**63:
            key <<= pos_bits
            key |= np.arange(n, dtype=np.int64)
            key.sort()
            return key & ((1 << pos_bits) - 1)
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
    reach = dis_d[order]
    if merge_gap_days:
        reach += merge_gap_days
    if "discharge_to" in admissions.columns:
        # A transfer reaches at least one day past its discharge whatever merge_gap_days.
        transfer = _equals(admissions["discharge_to"], "hospital")[order]
        if not merge_gap_days:
            reach += transfer
        del transfer
    new_person = np.ones(n, dtype=bool)
    new_person[1:] = pcode[1:] != pcode[:-1]
    del pcode
    # Running max of reach within person: groupby-cummax done as one global accumulate on a key that
    # is monotone in the person rank (persons are contiguous after sorting). In-place arithmetic
    # keeps the 8-byte temporaries per row few.
    r0 = int(reach.min()) if n else 0
    span = int(reach.max()) - r0 + 1 if n else 1
    base = np.cumsum(new_person, dtype=np.int64)  # person rank + 1
    base -= 1
    base *= span
    base -= r0
    reach += base  # the running-max key
    prev = np.empty(n, dtype=np.int64)
    if n:
        np.maximum.accumulate(reach, out=reach)
        prev[0] = -1
        prev[1:] = reach[:-1]
    del reach
    base += adm_d[order]  # the admission key
    new_episode = base > prev
    new_episode |= new_person
    del base, prev
    episode = np.cumsum(new_episode, dtype=np.int64)
    episode -= 1
    start_pos = np.flatnonzero(new_episode)
    stay_seq = np.arange(1, n + 1, dtype=np.int64)
    stay_seq -= np.repeat(start_pos, np.diff(np.append(start_pos, n)))
    return order, episode, stay_seq, dis_d


def assign_episodes(admissions: pd.DataFrame, *, merge_gap_days: int = 0, engine: str | None = None
) -> pd.DataFrame:
    """Label every inpatient stay with the care episode it belongs to.

    Parameters
    ----------
    admissions : DataFrame
        Canonical admissions table (one row per stay): ``person_id``, ``admission_date``,
        ``discharge_date`` and optionally ``discharge_to`` (``"hospital"`` = UTSATT 1, a transfer).
    merge_gap_days : {0, 1}
        Days allowed between the episode's latest discharge and the next admission (§2.4).
    engine : {None, "pandas", "dask"}
        ``None`` follows the input (a Dask DataFrame partitioned by person runs on Dask); ``"dask"``
        also splits pandas tables by person. The Dask path returns a lazy Dask DataFrame with the
        same rows and values (see :mod:`naravard_analysis.indicators.distributed`).

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
    if use_dask(engine, admissions):  # the same computation per person partition
        from naravard_analysis.indicators import distributed

        return distributed.assign_episodes_dask(**locals())
    order, episode, stay_seq, _ = _link(admissions, merge_gap_days)
    out = admissions.iloc[order].copy()
    out["episode_id"] = episode
    out["stay_seq"] = stay_seq
    return out


def build_episodes(admissions: pd.DataFrame, *, merge_gap_days: int = 0, engine: str | None = None
) -> pd.DataFrame:
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
    engine : {None, "pandas", "dask"}
        ``None`` follows the input (a Dask DataFrame partitioned by person runs on Dask); ``"dask"``
        also splits pandas tables by person. The Dask path returns a lazy Dask DataFrame with the
        same rows and values (see :mod:`naravard_analysis.indicators.distributed`).

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
    if use_dask(engine, admissions):  # the same computation per person partition
        from naravard_analysis.indicators import distributed

        return distributed.build_episodes_dask(**locals())
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

    def date_col(name: str, pos: np.ndarray) -> np.ndarray:
        v = admissions[name]
        if v.dtype == np.dtype("datetime64[ns]"):
            return v.to_numpy()[pos]
        return pd.to_datetime(col(name, pos)).astype("datetime64[ns]").to_numpy()

    coded = {}
    if "main_diagnosis" in admissions.columns:
        coded["main_diagnosis"] = _Coded(admissions["main_diagnosis"])
    # The concatenated code columns are the largest piece of work and run in arrow, which
    # releases the GIL: they are built in a worker thread while the other columns are assembled.
    # One worker, not two: two overlapping text builds raise the peak memory by ~0.5 GB at 5 M.
    texts = [c for c in ("other_diagnoses", "procedures") if c in admissions.columns]
    pool = ThreadPoolExecutor(max_workers=1) if texts and n >= _THREADS_FROM else None
    try:
        jobs = {}
        for name in texts:
            prefix = coded.get("main_diagnosis") if name == "other_diagnoses" else None
            args = (admissions[name], prefix, order, first_pos, n_stays)
            jobs[name] = pool.submit(_episode_codes, *args) if pool else _episode_codes(*args)
        for c in _CODED:
            if c in admissions.columns and c not in coded:
                coded[c] = _Coded(admissions[c])
        out = pd.DataFrame({"person_id": col("person_id", first_o)})
        out["episode_id"] = np.arange(n_ep, dtype=np.int64)
        out["admission_date"] = date_col("admission_date", first_o)
        out["discharge_date"] = date_col("discharge_date", last_o)
        out["n_stays"] = n_stays.astype(np.int64)
        for name in ("planned", "main_diagnosis", "admitted_from", "hospital_id", "department"):
            if name in coded:
                out[name] = coded[name].take(first_o)
            elif name in admissions.columns:
                out[name] = col(name, first_o)
        if "planned" not in out.columns:
            out["planned"] = pd.array([pd.NA] * n_ep, dtype="boolean")
        if "main_diagnosis" not in out.columns:
            out["main_diagnosis"] = pd.Series([None] * n_ep, dtype=object)
        if "discharge_to" in coded:
            out["discharge_to"] = coded["discharge_to"].take(last_o)
        elif "discharge_to" in admissions.columns:
            out["discharge_to"] = col("discharge_to", last_o)
        else:
            out["discharge_to"] = pd.Series([None] * n_ep, dtype=object)
        # Whole days between the datetimes, floored as Timedelta.days; a same-day episode counts 1.
        span = (
            out["discharge_date"].to_numpy().view(np.int64)
            - out["admission_date"].to_numpy().view(np.int64)
        ) // _DAY_NS
        out["bed_days"] = np.maximum(span, 1).astype(np.int64)
        if "planned" in admissions.columns:
            pl = _bool_values(admissions["planned"])[order]
            out["n_planned_stays"] = (
                np.add.reduceat(pl.astype(np.int64), first_pos)
                if n
                else np.zeros(0, dtype=np.int64)
            )
        for name in texts:
            out[name] = jobs[name].result() if pool else jobs[name]
    finally:
        if pool:
            pool.shutdown()
    out.attrs["merge_gap_days"] = merge_gap_days  # lets flag_avoidable(episodes=...) check reuse
    return out


def _bool_values(s: pd.Series) -> np.ndarray:
    """Boolean column as numpy bool, missing -> False (no copy for plain ``bool``)."""
    if s.dtype == bool:
        return s.to_numpy()
    return s.astype("boolean").fillna(False).to_numpy(dtype=bool)


#: Whitespace as Python's ``str.split()``/``re`` ``\s`` see it, written for arrow's RE2.
_WS = r"[\t\n\x0b\f\r\x1c-\x1f\x85\p{Z}]+"


#: Inputs from this many stays build their concatenated code columns in worker threads.
_THREADS_FROM = 100_000

#: Low-cardinality text columns taken through their dictionary (see :class:`_Coded`).
_CODED = ("main_diagnosis", "admitted_from", "discharge_to", "hospital_id", "department")


class _Coded:
    """A low-cardinality text column, dictionary-encoded once for fast takes.

    Gathering millions of arrow strings at random positions is slow (each string is copied from
    a random place); gathering their int32 dictionary indices and decoding from the small
    dictionary is two to four times faster. Non-arrow columns are taken as they are.
    """

    def __init__(self, s: pd.Series):
        self.s = s
        self.arrow = isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow"
        if self.arrow:
            enc = pc.dictionary_encode(pa.chunked_array(s.array.__arrow_array__()).combine_chunks())
            # Missing values get code -1 (numpy indices; the dictionary has no nulls).
            self.codes = np.asarray(pc.fill_null(enc.indices, -1), dtype=np.int32)
            self.dictionary = enc.dictionary
            self.has_missing = enc.indices.null_count > 0

    def take(self, pos: np.ndarray, *, allow_missing: bool = False) -> pd.Series:
        """Values at positions ``pos`` with the column's dtype (missing stays missing).

        With ``allow_missing``, ``pos == -1`` gives a missing value (a person not found).
        """
        if not self.arrow:
            if allow_missing:
                return pd.Series(self.s.array.take(pos, allow_fill=True))
            return self.s.take(pos).reset_index(drop=True)
        return pd.Series(self.s.dtype.__from_arrow__(self.take_arrow(pos)))

    def take_arrow(self, pos: np.ndarray) -> pa.Array:
        if not self.arrow:
            return _text_arrow(self.s.take(pos))
        codes = self.codes[pos]
        outside = pos.size > 0 and pos.min() < 0
        if outside:
            codes[pos < 0] = -1
        if self.has_missing or outside:
            return self.dictionary.take(pa.array(codes, mask=codes < 0))
        return self.dictionary.take(pa.array(codes))


def _episode_codes(
    text_col: pd.Series,
    prefix: _Coded | None,
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
    text = _text_arrow(text_col).combine_chunks()
    multi = n_stays > 1
    first_o = order[first_pos]
    if not multi.any():
        return _to_string_series(text.take(pa.array(first_o)))
    in_multi = np.repeat(multi, n_stays)
    part = text.take(pa.array(order[in_multi]))  # stays of multi-stay episodes, in stay order
    if prefix is not None:
        later = np.ones(len(part), dtype=bool)
        m_first = np.cumsum(n_stays[multi]) - n_stays[multi]
        later[m_first] = False  # the first stay's main diagnosis is the episode's own
        md = pc.fill_null(prefix.take_arrow(order[in_multi]), "").cast(pa.large_string())
        md = pc.if_else(pa.array(later), md, pa.scalar("", pa.large_string()))
        part = pc.binary_join_element_wise(md, part, pa.scalar(" ", pa.large_string()))
    if isinstance(part, pa.ChunkedArray):
        part = part.combine_chunks()
    offsets = np.zeros(int(multi.sum()) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(n_stays[multi])
    lists = pa.LargeListArray.from_arrays(pa.array(offsets), part)
    joined = pc.binary_join(lists, pa.scalar(" ", pa.large_string()))
    joined = pc.utf8_trim(pc.replace_substring_regex(joined, _WS, " "), " ")
    # One gather for every episode from [input text, joined texts]: a single-stay episode takes
    # its stay's text, a multi-stay episode its joined text.
    both = pa.concat_arrays([text, joined.cast(pa.large_string())])
    idx = np.where(multi, len(text) + np.cumsum(multi) - 1, first_o)
    vals = both.take(pa.array(idx))
    return _to_string_series(vals)
