"""30-day readmission: Socialstyrelsen's återinskrivning inom 1–30 dagar, the CMS variant, Norway's.

:func:`flag_readmissions` turns inpatient stays into index care episodes and flags whether each was
followed by a readmission in the window; :func:`readmission_rates` turns the flags into rates with
Wilson intervals and counts every exclusion by reason. Risk adjustment
(:func:`risk_adjusted_readmission`) and the competing-risk cumulative incidence
(:func:`readmission_cumulative_incidence`) live in their own modules and are re-exported here.

Definitions (DEFINITIONS.md §4; episode linking §2.4)
-----------------------------------------------------
d = INDATUM(readmission) − UTDATUM(index) in whole calendar days (§4.1).

=================  ================================  ===================================  ==============
rule               ``socialstyrelsen`` (default)     ``cms``                              ``norway``
=================  ================================  ===================================  ==============
window             1 ≤ d ≤ 30 (§4.1, §4.2 checked)   0 ≤ d ≤ 30 (§4.1, §4.5 Tuva)         1 ≤ d ≤ 30 (a)
linking            ``build_episodes`` rules, §2.4:   overlaps and transfers chain; a      as Swedish
                   same-day re-entry, overlaps and   same-day return after a non-transfer
                   transfers are one episode         discharge is a day-0 readmission
readmissions       any unplanned one in the window   only the first; if it is planned a   as Swedish
                   counts                            later unplanned one does not (§4.3)
min age            65 (§4.2)                         65 (§4.3)                            67 (§4.6)
unplanned only     True: PVARD = 2 on the            True                                 True (acute)
                   readmission's first stay
=================  ================================  ===================================  ==============

(a) FHI counts acute readmissions 8 hours to 30 days after discharge; register dates carry no time of
day, so day 0 is left out and the rule is approximated by the day window (§4.6 design choice).

Which rules are checked and which are recalled (§4.2, marked **unverified** there) — the unverified
ones are parameters with these defaults:

* checked: window 1–30 for the Swedish 65+ indicator; unplanned readmissions only (2014-2-12);
  CMS: one readmission per index, a planned first readmission blocks a later unplanned one.
* unverified (parameters): denominator excludes episodes ending in death (``discharge_to ==
  "died"``, UTSATT 4) — always applied, reason ``"died"``; age at the index **admission**
  (``age_at``); ``merge_gap_days=0``; follow-up rule: the index counts only if
  ``discharge_date + window_end <= end_date`` (reason ``"incomplete_followup"``; ``end_date``
  defaults to the last admission or discharge date in the data, as the issue specifies — pass the
  extract's true end date when known); index diagnoses all causes unless ``index_diagnoses``;
  death after discharge: index kept, counted as not readmitted, deaths reported
  (``death_after_discharge="keep"``); a readmission episode can itself be an index (always, §4.2
  ``readmission_as_index=True``; not a parameter here).

Exclusion reasons are assigned in this order (one per index, design choice): ``"age"`` (younger than
``min_age`` or unknown birth date), ``"diagnosis"`` (main diagnosis not in ``index_diagnoses``),
``"died"`` (discharged dead), ``"incomplete_followup"``, and with ``death_after_discharge="exclude"``
``"died_after_discharge"``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats

from naravard_analysis.data.schema import STRING_DTYPE
from naravard_analysis.engine import use_dask
from naravard_analysis.errors import DataWarning, ParameterError, SchemaError

__all__ = [
    "EXCLUSION_REASONS",
    "VARIANTS",
    "Variant",
    "flag_readmissions",
    "index_groups_from_codelist",
    "link_episodes_cms",
    "readmission_cumulative_incidence",
    "readmission_rates",
    "risk_adjusted_readmission",
    "validate_readmission_parameters",
    "wilson_interval",
]


@dataclass(frozen=True)
class Variant:
    """Defaults of one readmission definition (each overridable in :func:`flag_readmissions`)."""

    window: tuple[int, int]
    min_age: int
    unplanned_only: bool
    planned_blocks_later: bool
    linking: str  # "episodes" (DEFINITIONS §2.4 via build/assign_episodes) or "cms"
    note: str


#: Registered variants (DEFINITIONS.md §4.2, §4.3/§4.5, §4.6).
VARIANTS: dict[str, Variant] = {
    "socialstyrelsen": Variant(
        (1, 30), 65, True, False, "episodes",
        "återinskrivning inom 1–30 dagar, 65+, oplanerad (DEFINITIONS.md §4.2)",
    ),
    "cms": Variant(
        (0, 30), 65, True, True, "cms",
        "CMS-style: day 0–30, first readmission only, planned blocks later (DEFINITIONS.md §4.3)",
    ),
    "norway": Variant(
        (1, 30), 67, True, False, "episodes",
        "FHI 67+, acute readmission 8 h–30 days approximated by days 1–30 (DEFINITIONS.md §4.6)",
    ),
}  # fmt: skip

#: Exclusion reasons, in the order they are assigned.
EXCLUSION_REASONS = ("age", "diagnosis", "died", "incomplete_followup", "died_after_discharge")

_DEFAULT = object()  # "use the variant's default" (min_age differs between variants)
_DAY_NS = 86_400 * 10**9


def _as_datetime(days: np.ndarray) -> np.ndarray:
    """int64 days since the epoch -> datetime64[ns] (integer multiply, no unit conversion)."""
    return (days.astype(np.int64) * _DAY_NS).view("datetime64[ns]")


def _civil(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month, day of int64 days since 1970-01-01 (proleptic Gregorian; H. Hinnant's
    days-to-civil algorithm, vectorised in integers)."""
    z = days.astype(np.int64) + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = np.where(mp < 10, mp + 3, mp - 9)
    y = yoe + era * 400 + (m <= 2)
    return y, m, d


# --------------------------------------------------------------------------------------------
# input checks and small helpers
# --------------------------------------------------------------------------------------------
def _days(s: pd.Series, table: str, column: str) -> np.ndarray:
    """Dates as int64 days since the epoch (NaT -> int64 min; callers check missingness)."""
    if s.dtype.kind == "M":  # already datetime64: integer arithmetic, no per-value conversion
        ns = s.to_numpy(dtype="datetime64[ns]").view(np.int64)
        return np.where(ns == np.iinfo(np.int64).min, ns, np.floor_divide(ns, _DAY_NS))
    try:
        d = pd.to_datetime(s)
    except (ValueError, TypeError) as exc:
        raise SchemaError(table, column, f"not parseable as dates ({exc})") from None
    return d.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)


def _require(df: object, table: str, columns: Sequence[str]) -> None:
    if not isinstance(df, pd.DataFrame):
        raise SchemaError(table, None, "expected a pandas DataFrame")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise SchemaError(table, missing[0], f"required column missing (missing: {missing})")


def _window(variant: Variant, window: object) -> tuple[int, int]:
    if window is None:
        return variant.window
    if isinstance(window, (int, np.integer)) and not isinstance(window, bool):
        lo, hi = variant.window[0], int(window)
    elif isinstance(window, Sequence) and len(window) == 2:
        lo, hi = (int(w) for w in window)
    else:
        raise ParameterError(
            f"window must be the last day (int) or (first_day, last_day), got {window!r}"
        )
    if not 0 <= lo <= hi:
        raise ParameterError(f"window must satisfy 0 <= first_day <= last_day, got {(lo, hi)}")
    return lo, hi


def _prefix_pattern(prefixes: Sequence[str]) -> str:
    clean = [str(p).strip().upper().replace(".", "") for p in prefixes]
    bad = [p for p in clean if not re.fullmatch(r"[A-Z][0-9A-Z]{0,5}", p)]
    if bad or not clean:
        raise ParameterError(
            f"index_diagnoses must be dotless ICD-10 prefixes such as 'I50', got {bad or prefixes!r}"
        )
    return "^(?:" + "|".join(sorted(clean, key=len, reverse=True)) + ")"


def index_groups_from_codelist(
    codelist: pd.DataFrame, groups: Sequence[str] | None = None
) -> dict[str, list[str]]:
    """Turn a code list into ``index_diagnoses`` for :func:`flag_readmissions`.

    Takes the ``role == "main"`` prefixes of each ``condition_group``, leaving out rows that need a
    qualifying secondary diagnosis (``extra_rule == "requires_secondary"``) (e.g. heart failure,
    pneumonia and COPD from ``load_codelist("socialstyrelsen_undvikbar")``, whose rows are all
    unverified, DEFINITIONS.md §3.1). Returns ``{group: [prefix, ...]}`` in code-list order.

    Examples
    --------
    >>> import pandas as pd
    >>> cl = pd.DataFrame({"condition_group": ["hf", "hf", "copd"], "icd10_prefix": ["I50", "I110",
    ...     "J44"], "role": ["main", "main", "main"]})
    >>> index_groups_from_codelist(cl, ["copd", "hf"])
    {'copd': ['J44'], 'hf': ['I50', 'I110']}
    """
    _require(codelist, "codelist", ("condition_group", "icd10_prefix"))
    cl = codelist
    if "role" in cl.columns:
        cl = cl[cl["role"].astype(str) == "main"]
    if "extra_rule" in cl.columns:  # e.g. J20 counts as COPD only with a COPD secondary diagnosis
        cl = cl[cl["extra_rule"].fillna("").astype(str) != "requires_secondary"]
    names = list(dict.fromkeys(cl["condition_group"].astype(str))) if groups is None else groups
    out: dict[str, list[str]] = {}
    for g in names:
        prefixes = cl.loc[cl["condition_group"].astype(str) == g, "icd10_prefix"].astype(str)
        if prefixes.empty:
            raise ParameterError(f"condition group {g!r} has no main-diagnosis codes in the list")
        out[str(g)] = list(dict.fromkeys(prefixes))
    return out


def validate_readmission_parameters(
    *, variant: str, min_age: int | None = 65, index_groups: Sequence[str] | None = None
) -> None:
    """Check notebook parameters of the readmission notebook before any work starts.

    Raises :class:`~naravard_analysis.errors.ParameterError` naming the parameter: ``variant`` must
    be one of :data:`VARIANTS`, ``min_age`` an integer 0–120 or None, ``index_groups`` a list of
    condition-group names (text).
    """
    if variant not in VARIANTS:
        raise ParameterError(f"variant must be one of {sorted(VARIANTS)}, got {variant!r}")
    if min_age is not None and (
        isinstance(min_age, bool) or not isinstance(min_age, (int, np.integer)) or not 0 <= min_age <= 120
    ):
        raise ParameterError(f"min_age must be an integer 0-120 or None, got {min_age!r}")
    if index_groups is not None and (
        isinstance(index_groups, str) or not all(isinstance(g, str) for g in index_groups)
    ):
        raise ParameterError(f"index_groups must be a list of group names, got {index_groups!r}")


# --------------------------------------------------------------------------------------------
# episode linking (CMS variant) and episode attributes
# --------------------------------------------------------------------------------------------
def link_episodes_cms(admissions: pd.DataFrame) -> pd.DataFrame:
    """Label stays with CMS-style episodes: overlaps and transfers chain, same-day returns do not.

    Parameters
    ----------
    admissions : DataFrame
        ``person_id``, ``admission_date``, ``discharge_date``, optionally ``discharge_to``
        (``"hospital"`` = UTSATT 1, transfer).

    Returns
    -------
    DataFrame
        Like :func:`~naravard_analysis.indicators.episodes.assign_episodes`: the input rows sorted
        by person, admission, discharge (stable), plus ``episode_id`` and ``stay_seq``.

    Notes
    -----
    reach_j = discharge_j + 1 for a transfer and discharge_j − 1 otherwise; stay k starts a new
    episode iff it is the person's first or admission_k > max_{j<k} reach_j. So a stay starting
    *before* an earlier discharge (overlap, Tuva collapses these, DEFINITIONS.md §4.5) or on the day
    after / the day of a transfer joins the episode (§2.4 design choice), while an admission on the
    day of an ordinary discharge begins a new episode — a day-0 readmission (CMS/Tuva window 0–30,
    §4.1). Vectorised: sort, running max of reach within person (one accumulate on a person-offset
    key), new-episode flag, cumulative sum.
    """
    _require(admissions, "admissions", ("person_id", "admission_date", "discharge_date"))
    n = len(admissions)
    adm = _days(admissions["admission_date"], "admissions", "admission_date")
    dis = _days(admissions["discharge_date"], "admissions", "discharge_date")
    for col, arr in (("admission_date", adm), ("discharge_date", dis)):
        bad = np.flatnonzero(arr == np.iinfo(np.int64).min)
        if bad.size:
            raise SchemaError("admissions", col, "must not be missing", bad.size, bad)
    bad = np.flatnonzero(admissions["person_id"].isna().to_numpy())
    if bad.size:
        raise SchemaError("admissions", "person_id", "must not be missing", bad.size, bad)
    bad = np.flatnonzero(dis < adm)
    if bad.size:
        raise SchemaError("admissions", "discharge_date", "discharge before admission", bad.size, bad)
    pcode, _ = pd.factorize(admissions["person_id"], sort=True)
    order = np.lexsort((dis, adm, pcode))
    p = pcode[order].astype(np.int64)
    if "discharge_to" in admissions.columns:
        transfer = (admissions["discharge_to"].astype(object) == "hospital").to_numpy(dtype=bool)
    else:
        transfer = np.zeros(n, dtype=bool)
    reach = (dis + np.where(transfer, 1, -1))[order]
    new_episode = _new_episodes(p, adm[order], reach)
    episode = np.cumsum(new_episode) - 1
    start = np.flatnonzero(new_episode)
    stay_seq = np.arange(n) - np.repeat(start, np.diff(np.append(start, n))) + 1
    out = admissions.iloc[order].copy()
    out["episode_id"] = episode.astype(np.int64)
    out["stay_seq"] = stay_seq.astype(np.int64)
    return out


_TEXT = ("main_diagnosis", "hospital_id", "department", "admitted_from", "discharge_to")
# Tie rule for stays with the same person, admission and discharge date (design choice, see
# flag_readmissions Notes): unplanned first, a stay ending in death last, then text order.
_TIE_TEXT = ("discharge_to", "main_diagnosis", "hospital_id", "department", "admitted_from")


@dataclass
class _Coded:
    """A text column as int32 codes (−1 = missing) into a pyarrow string dictionary.

    Episode attributes are gathered as integer codes and decoded once at the end: random-access
    takes of millions of strings are the slow part otherwise.
    """

    codes: np.ndarray
    dictionary: pa.Array

    @classmethod
    def of(cls, s: pd.Series) -> _Coded:
        if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
            enc = pc.dictionary_encode(pa.array(s))
            if isinstance(enc, pa.ChunkedArray):
                enc = enc.combine_chunks()
            codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
            return cls(codes, enc.dictionary.cast(pa.string()))
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        return cls(codes.astype(np.int32), pa.array([str(u) for u in uniques], type=pa.string()))

    def values(self) -> np.ndarray:
        return np.asarray(self.dictionary.to_pylist(), dtype=object)

    def rank(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Codes (of ``rows``, default all) replaced by the text order of their value (independent
        of row order); missing -> −1."""
        codes = self.codes if rows is None else self.codes[rows]
        vals = self.values()
        if vals.size == 0:
            return np.full(codes.size, -1, dtype=np.int64)
        r = np.empty(vals.size + 1, dtype=np.int64)
        r[np.argsort(vals.astype(str), kind="stable")] = np.arange(vals.size)
        r[-1] = -1  # code −1 (missing) indexes the last slot
        return r[codes]

    def lookup(self, hit: np.ndarray) -> np.ndarray:
        """Boolean per row from a boolean per dictionary value (missing -> False)."""
        return np.append(np.asarray(hit, dtype=bool), False)[self.codes]

    def equals(self, value: str) -> np.ndarray:
        return self.lookup(self.values() == value)

    def decode(self, pos: np.ndarray, valid: np.ndarray | None = None) -> pd.Series:
        """Categorical (categories in text order, so output order never depends on row order):
        at 10^6–10^7 index episodes materialising strings costs seconds and gigabytes."""
        vals = self.values().astype(str)
        srt = np.argsort(vals, kind="stable")
        # Codes in the width pandas keeps for this many categories (no conversion copy later).
        width = np.int8 if vals.size < 127 else np.int16 if vals.size < 32_767 else np.int32
        remap = np.full(vals.size + 1, -1, dtype=width)  # last slot: code −1 (missing)
        remap[srt] = np.arange(vals.size, dtype=width)
        new = remap[self.codes[pos]]
        if valid is not None:
            new[~valid] = -1
        cats = pd.Index(vals[srt], dtype=STRING_DTYPE)
        return pd.Series(pd.Categorical.from_codes(new, categories=cats))


def _decode_labels(codes: np.ndarray, labels: Sequence[str]) -> pd.Series:
    """Categorical with the given labels in the given order (codes −1 = missing)."""
    cats = pd.Index(list(labels), dtype=STRING_DTYPE)
    return pd.Series(pd.Categorical.from_codes(codes.astype(np.int32), categories=cats))


def _int_array(values: np.ndarray, valid: np.ndarray) -> pd.arrays.IntegerArray:
    return pd.arrays.IntegerArray(np.where(valid, values, 0).astype(np.int64), ~valid)


def _sort_stays(
    pcode: np.ndarray,
    adm: np.ndarray,
    dis: np.ndarray,
    tie_keys: Callable[[np.ndarray], Sequence[np.ndarray]] | None,
) -> np.ndarray:
    """Order of stays by person, admission, discharge, then ``tie_keys(rows)`` among exact ties.

    The key (person, admission, length of stay) and the row position are packed into one int64
    whose values are sorted in place (much faster than an argsort; the position in the low bits
    keeps input order among ties, i.e. a stable sort). ``tie_keys`` is called with the tied rows
    only, so no full-length tie-key arrays are built.
    """
    n = pcode.size
    if n == 0:
        return np.arange(0)
    a0 = int(adm.min())
    ra = int(adm.max()) - a0 + 1
    los = dis - adm  # >= 0, checked by the caller; sorting by it equals sorting by discharge
    rl = int(los.max()) + 1
    width = (int(pcode.max()) + 1) * ra * rl
    pos_bits = max(n - 1, 1).bit_length()
    if width < 2**62 and width << pos_bits < 2**63:
        key = pcode.astype(np.int64)
        key *= ra
        key += adm
        key -= a0
        key *= rl
        key += los
        del los
        key <<= pos_bits
        key |= np.arange(n, dtype=np.int64)
        key.sort()
        order = key & ((1 << pos_bits) - 1)
        key >>= pos_bits
        same = key[1:] == key[:-1]
        del key
    else:
        del los
        order = np.lexsort((dis, adm, pcode))
        ps, as_, ds = pcode[order], adm[order], dis[order]
        same = (ps[1:] == ps[:-1]) & (as_[1:] == as_[:-1]) & (ds[1:] == ds[:-1])
        del ps, as_, ds
    if tie_keys is None or not same.any():
        return order
    # Re-sort only the tied blocks by the tie keys (a small share of rows).
    pos = np.flatnonzero(np.append(same, False) | np.append(False, same))
    block = np.cumsum(np.append(True, ~same))[pos]  # block number per tied sorted position
    rows = order[pos]
    sub = np.lexsort(tuple(reversed(tie_keys(rows))) + (block,))
    order[pos] = rows[sub]
    return order


def _tie_keys(
    planned: np.ndarray, died: np.ndarray, text: Mapping[str, _Coded], rows: np.ndarray
) -> list[np.ndarray]:
    """Tie-break keys of ``rows`` (flag_readmissions Notes): unplanned first, death last, text."""
    keys = [planned[rows].astype(np.int8), died[rows].astype(np.int8)]
    return keys + [text[c].rank(rows) for c in _TIE_TEXT if c in text]


def _new_episodes(
    p: np.ndarray, adm: np.ndarray, reach: np.ndarray
) -> np.ndarray:
    """New-episode flag over sorted stays: first of the person or admission > running max reach."""
    n = p.size
    if n == 0:
        return np.zeros(0, dtype=bool)
    base = int(min(reach.min(), adm.min()))
    span = int(max(reach.max(), adm.max()) - base + 1)
    runmax = np.maximum.accumulate(p * span + (reach - base))
    prev = np.empty(n, dtype=np.int64)
    prev[0] = np.iinfo(np.int64).min
    prev[1:] = runmax[:-1]
    new_person = np.ones(n, dtype=bool)
    new_person[1:] = p[1:] != p[:-1]
    return new_person | (p * span + (adm - base) > prev)


# --------------------------------------------------------------------------------------------
# flags
# --------------------------------------------------------------------------------------------
def _ymd(days: np.ndarray) -> np.ndarray:
    """int64 ``year * 10000 + month * 100 + day`` of int day numbers.

    Registers span a few thousand distinct days, so the calendar is computed once per day of the
    range and gathered (millions of rows cost one take instead of ~20 integer passes).
    """
    if days.size == 0:
        return np.zeros(0, dtype=np.int64)
    d0, d1 = int(days.min()), int(days.max())
    if d1 - d0 < max(days.size, 1 << 16):
        y, m, d = _civil(np.arange(d0, d1 + 1, dtype=np.int64))
        table = y * 10000 + m * 100 + d
        return table[days - d0]
    y, m, d = _civil(days)
    return y * 10000 + m * 100 + d


def _age_years(birth: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Completed years between int day numbers (birthday reached on the same month and day; a
    29 February birthday is reached on 1 March in other years).

    floor((ymd(at) − ymd(birth)) / 10000) = Δyear − [(month, day) of ``at`` before the birthday],
    since |Δ(month·100 + day)| < 10000.
    """
    return (_ymd(at) - _ymd(birth)) // 10000


def flag_readmissions(
    admissions: pd.DataFrame,
    persons: pd.DataFrame,
    *,
    variant: str = "socialstyrelsen",
    window: int | tuple[int, int] | None = None,
    min_age: int | None = _DEFAULT,  # type: ignore[assignment]
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
        Canonical admissions (one row per stay, DESIGN.md): ``person_id``, ``admission_date``,
        ``discharge_date``; ``planned`` (PVARD = 1) when ``unplanned_only``; ``discharge_to``
        (``"died"`` = UTSATT 4, ``"hospital"`` = transfer); ``main_diagnosis`` when
        ``index_diagnoses`` is given; ``hospital_id``, ``department`` carried when present.
    persons : DataFrame
        ``person_id``, ``birth_date`` (needed unless ``min_age=None``), optional ``sex``,
        ``municipality_code``, ``region_code``, ``death_date``.
    variant : {"socialstyrelsen", "cms", "norway"}
        Defaults of the definition (module docstring table, DEFINITIONS.md §4.2/§4.3/§4.6).
    window : int or (int, int), optional
        Last day, or (first day, last day), of the window in days after the index discharge;
        default (1, 30) Swedish and Norwegian, (0, 30) CMS.
    min_age : int or None
        Minimum age at the index (default 65; 67 for ``norway``); ``None`` = no age limit.
    unplanned_only : bool
        Count only unplanned readmissions (``planned`` of the readmission episode's first stay is
        False). ``planned`` missing counts as unplanned (counted in a ``DataWarning``).
    merge_gap_days : {0, 1}
        Episode linking gap for the Swedish/Norwegian linking (DEFINITIONS.md §2.4; with 1 a day-1
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
        ``discharge_to, discharge_hospital_id`` when present, ``sex, municipality_code`` from
        ``persons``, ``age`` (Int64), ``index_group`` (with a mapping), ``eligible`` (bool),
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
    if variant not in VARIANTS:
        raise ParameterError(f"unknown variant {variant!r}; available: {sorted(VARIANTS)}")
    v = VARIANTS[variant]
    lo, hi = _window(v, window)
    min_age = v.min_age if min_age is _DEFAULT else min_age
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
        raise ParameterError(f"merge_gap_days must be 0 or 1 (DEFINITIONS.md §2.4), got {merge_gap_days!r}")

    need = ["person_id", "admission_date", "discharge_date"]
    if unplanned_only:
        need.append("planned")
    if index_diagnoses is not None:
        need.append("main_diagnosis")
    _require(admissions, "admissions", need)
    _require(persons, "persons", ["person_id"] + (["birth_date"] if min_age is not None else []))

    # ---- stays as arrays ------------------------------------------------------------------------
    pid = admissions["person_id"]
    bad = np.flatnonzero(pid.isna().to_numpy())
    if bad.size:
        raise SchemaError("admissions", "person_id", "must not be missing", bad.size, bad)
    adm_row = _days(admissions["admission_date"], "admissions", "admission_date")
    dis_row = _days(admissions["discharge_date"], "admissions", "discharge_date")
    nat = np.iinfo(np.int64).min
    for col, arr in (("admission_date", adm_row), ("discharge_date", dis_row)):
        bad = np.flatnonzero(arr == nat)
        if bad.size:
            raise SchemaError("admissions", col, "must not be missing", bad.size, bad)
    bad = np.flatnonzero(dis_row < adm_row)
    if bad.size:
        raise SchemaError("admissions", "discharge_date", "discharge before admission", bad.size, bad)
    text = {c: _Coded.of(admissions[c]) for c in _TEXT if c in admissions.columns}
    n_rows = len(admissions)
    if "planned" in admissions.columns:
        pl = admissions["planned"].astype("boolean")
        n_na = int(pl.isna().sum())
        if n_na:
            warnings.warn(
                f"admissions.planned: {n_na} stay(s) with missing planned status counted as "
                "unplanned",
                DataWarning,
                stacklevel=2,
            )
        planned_row = pl.fillna(False).to_numpy(dtype=bool)
    else:
        planned_row = np.zeros(n_rows, dtype=bool)
    if "discharge_to" in text:
        transfer_row = text["discharge_to"].equals("hospital")
        died_row = text["discharge_to"].equals("died")
    else:
        transfer_row = died_row = np.zeros(n_rows, dtype=bool)
    # Day numbers fit int32 (±5.8 million years); halves the memory of every day array below.
    adm_row = adm_row.astype(np.int32)
    dis_row = dis_row.astype(np.int32)
    if pid.dtype.kind in "iu" and n_rows and int(pid.max()) - int(pid.min()) < 2**40:
        # Integer ids sort as themselves (no hashing); dense codes come from the sorted order.
        pid_np = pid.to_numpy()
        pcode_row = pid_np.astype(np.int64) - int(pid_np.min())
        dense = False
    else:
        pcode_row, person_ids = pd.factorize(pid, sort=True)
        dense = True

    # ---- episodes (DEFINITIONS.md §2.4) -----------------------------------------------------------
    order = _sort_stays(pcode_row, adm_row, dis_row, partial(_tie_keys, planned_row, died_row, text))
    p_s = pcode_row[order]
    del pcode_row
    new_person = np.ones(n_rows, dtype=bool)
    new_person[1:] = p_s[1:] != p_s[:-1]
    if not dense:
        person_ids = pd.Index(pid_np[order[new_person]])
        del pid_np
    p_s = np.cumsum(new_person, dtype=np.int64) - 1  # dense person number in sorted order
    adm_s, dis_s = adm_row[order], dis_row[order]
    # reach_j: a stay k starts a new episode iff admission_k > max_{j<k} reach_j within the person.
    if v.linking == "cms":
        reach = dis_s + np.where(transfer_row[order], 1, -1).astype(np.int32)
    else:
        # The rule of episodes.assign_episodes (DEFINITIONS.md §2.4), applied to the stays already
        # in the tie-broken order: reach = discharge + max(merge_gap_days, 1 if transfer else 0).
        # (tests/indicators/test_readmission.py checks agreement with build_episodes.)
        reach = dis_s + np.maximum(transfer_row[order], merge_gap_days).astype(np.int32)
    episode = np.cumsum(_new_episodes(p_s, adm_s, reach)) - 1
    del reach, new_person
    first = np.flatnonzero(np.diff(np.append(-1, episode)) != 0) if n_rows else np.arange(0)
    n = first.size
    n_stays = np.diff(np.append(first, n_rows))
    e_dis = np.maximum.reduceat(dis_s, first) if n else dis_s[:0]
    # The stay with the latest discharge (ties: the later-sorted one, as build_episodes).
    cand = np.where(dis_s == np.repeat(e_dis, n_stays), np.arange(n_rows), -1)
    last = np.maximum.reduceat(cand, first) if n else first
    row_first, row_last = order[first], order[last]
    p = p_s[first]
    adm_d, dis_d = adm_s[first], e_dis
    planned = planned_row[row_first]
    died_last = died_row[row_last]
    qualifying = ~planned if unplanned_only else np.ones(n, dtype=bool)
    end_data = int(max(adm_row.max(), dis_row.max())) if n_rows else 0
    # Stay-level arrays are no longer needed: free them before the episode-level work (peak memory).
    del p_s, adm_s, dis_s, cand, last, episode, order, planned_row, died_row, transfer_row
    del adm_row, dis_row

    if end_date is None:
        end_d = np.int64(end_data)
        end_inferred = True
    else:
        end_d = np.int64(pd.Timestamp(end_date).to_datetime64().astype("datetime64[D]").astype(np.int64))
        end_inferred = False
    end = pd.Timestamp(np.datetime64(int(end_d), "D"))

    # ---- the readmission search (vectorised) --------------------------------------------------
    idx = np.arange(n)
    if n:
        base = int(min(adm_d.min(), dis_d.min()))
        span = int(max(adm_d.max(), dis_d.max()) - base + hi + 2)
        key_adm = p * span + (adm_d - base)  # non-decreasing: episodes sorted by person, admission
        first_cand = np.searchsorted(key_adm, p * span + (dis_d + lo - base), side="left")
        np.maximum(first_cand, idx + 1, out=first_cand)  # a later episode, never the index itself
        del key_adm
    else:
        first_cand = idx
    p_ext = np.append(p, -1)
    adm_ext = np.append(adm_d, 0)
    q_ext = np.append(qualifying, False)
    if blocks:
        j = first_cand  # only the first episode in the window can count (CMS)
        any_next = p_ext[j] == p
        event = any_next & q_ext[j]
        blocked = any_next & ~q_ext[j]
    else:
        nxt = np.where(qualifying, idx, n)
        nxt = np.minimum.accumulate(nxt[::-1])[::-1] if n else nxt
        j = np.append(nxt, n)[first_cand]  # next qualifying episode from the window's first day
        del nxt
        event = p_ext[j] == p
        blocked = np.zeros(n, dtype=bool)
    d_next = adm_ext[j] - dis_d
    readm_any = event & (d_next <= hi)
    followup = end_d - dis_d
    followup = np.where(blocked, np.minimum(followup, d_next), followup)
    del first_cand, p_ext, q_ext, blocked

    # ---- persons: age, death, sex, municipality ----------------------------------------------------
    dup = persons["person_id"].duplicated().to_numpy()
    if dup.any():
        pos = np.flatnonzero(dup)
        raise SchemaError("persons", "person_id", "duplicate person", pos.size, pos)
    ppos = pd.Index(persons["person_id"]).get_indexer(person_ids)[p] if n else p
    found = ppos >= 0
    n_missing = int((~found).sum())
    if n_missing:
        warnings.warn(
            f"persons: {n_missing} index episode(s) of persons missing from the persons table "
            "(age unknown; excluded as 'age' when min_age is set)",
            DataWarning,
            stacklevel=2,
        )
    safe = np.where(found, ppos, 0)
    age_known = np.zeros(n, dtype=bool)
    years = np.zeros(n, dtype=np.int64)
    if "birth_date" in persons.columns and len(persons):
        birth_p = _days(persons["birth_date"], "persons", "birth_date")
        known_p = birth_p != nat
        # Calendar of each person's birth date once (persons, not episodes), then gathered.
        birth_ymd = np.zeros(birth_p.size, dtype=np.int64)
        birth_ymd[known_p] = _ymd(birth_p[known_p])
        age_known = found & known_p[safe]
        ref = adm_d if age_at == "admission" else dis_d
        years = _ymd(ref) - birth_ymd[safe]
        years //= 10000  # = _age_years: floor division of the ymd difference
        years[~age_known] = 0
    death_days = np.full(n, np.nan)
    if "death_date" in persons.columns and len(persons):
        death = _days(persons["death_date"], "persons", "death_date")[safe]
        has = found & (death != nat)
        death_days[has] = death[has] - dis_d[has]

    # ---- exclusions (codes into EXCLUSION_REASONS; −1 = eligible) ---------------------------------
    excl = np.full(n, -1, dtype=np.int8)

    def mark(mask: np.ndarray, reason: str) -> None:
        excl[mask & (excl < 0)] = EXCLUSION_REASONS.index(reason)

    if min_age is not None:
        mark(~age_known | (years < min_age), "age")
    group_codes = None
    group_names: list[str] = []
    if index_diagnoses is not None:
        md = text["main_diagnosis"]
        vals = pd.Series(md.values(), dtype=object).astype(str).str.strip().str.upper()
        vals = vals.str.replace(".", "", regex=False)
        if isinstance(index_diagnoses, Mapping):
            gdict = np.full(vals.size, -1, dtype=np.int32)
            for k, (g, prefixes) in enumerate(index_diagnoses.items()):
                hit = vals.str.contains(_prefix_pattern(list(prefixes)), regex=True).to_numpy(bool)
                gdict[(gdict < 0) & hit] = k
                group_names.append(str(g))
            group_codes = np.append(gdict, -1)[md.codes[row_first]]
            matched = group_codes >= 0
        else:
            if isinstance(index_diagnoses, str):
                index_diagnoses = [index_diagnoses]
            hit = vals.str.contains(_prefix_pattern(list(index_diagnoses)), regex=True).to_numpy(bool)
            matched = md.lookup(hit)[row_first]
        mark(~matched, "diagnosis")
    mark(died_last, "died")
    # Follow-up must reach the window's last day (a blocking planned readmission is not missing
    # follow-up: the CMS rule has already decided the index).
    mark(end_d - dis_d < hi, "incomplete_followup")
    died_in_window = (death_days >= 0) & (death_days <= hi)
    if death_after_discharge == "exclude":
        before = readm_any & (d_next <= np.where(np.isnan(death_days), np.inf, death_days))
        mark(died_in_window & ~before, "died_after_discharge")
    eligible = excl < 0
    readmitted = readm_any & eligible

    # ---- assemble ------------------------------------------------------------------------------
    if isinstance(person_ids, pd.Index) and person_ids.dtype.kind in "iu":
        person_col = person_ids.to_numpy()[p]
    else:
        person_col = pd.Series(person_ids.take(p)).reset_index(drop=True)
    out = pd.DataFrame({"person_id": person_col})
    out["episode_id"] = idx.astype(np.int64, copy=False)
    out["admission_date"] = _as_datetime(adm_d)
    out["discharge_date"] = _as_datetime(dis_d)
    out["n_stays"] = n_stays.astype(np.int64, copy=False)
    if "planned" in admissions.columns:
        out["planned"] = planned
    for col in ("main_diagnosis", "hospital_id", "department", "admitted_from"):
        if col in text:
            out[col] = text[col].decode(row_first)
    if "discharge_to" in text:
        out["discharge_to"] = text["discharge_to"].decode(row_last)
    if "hospital_id" in text:
        out["discharge_hospital_id"] = text["hospital_id"].decode(row_last)
    for col in ("sex", "municipality_code", "region_code"):
        if col in persons.columns:
            out[col] = _Coded.of(persons[col]).decode(safe, found)
    out["age"] = _int_array(years, age_known)
    if group_codes is not None:
        out["index_group"] = _decode_labels(group_codes, group_names)
    out["eligible"] = eligible
    out["exclusion"] = _decode_labels(excl, EXCLUSION_REASONS)
    out["readmitted"] = readmitted
    out["days_to_readmission"] = _int_array(d_next, readmitted)
    j_row = row_first[np.minimum(j, max(n - 1, 0))] if n else j
    rdate = _as_datetime(np.where(readmitted, adm_ext[j], 0))
    rdate[~readmitted] = np.datetime64("NaT")
    out["readmission_date"] = rdate
    if "main_diagnosis" in text:
        out["readmission_diagnosis"] = text["main_diagnosis"].decode(j_row, readmitted)
    if "hospital_id" in text:
        out["readmission_hospital_id"] = text["hospital_id"].decode(j_row, readmitted)
    out["died_in_window"] = died_in_window & (excl != EXCLUSION_REASONS.index("died"))
    has_death = ~np.isnan(death_days)
    out["days_to_death"] = _int_array(np.nan_to_num(death_days).astype(np.int64), has_death)
    out["next_readmission_days"] = _int_array(d_next, event)
    out["followup_days"] = followup.astype(np.int64, copy=False)
    out.attrs.update(
        {
            "variant": variant,
            "definition": v.note,
            "window": (lo, hi),
            "min_age": min_age,
            "unplanned_only": unplanned_only,
            "planned_blocks_later": blocks,
            "merge_gap_days": merge_gap_days,
            "end_date": str(end.date()),
            "end_date_inferred": end_inferred,
            "age_at": age_at,
            "death_after_discharge": death_after_discharge,
        }
    )
    return out


# --------------------------------------------------------------------------------------------
# rates
# --------------------------------------------------------------------------------------------
def wilson_interval(
    successes: np.ndarray | int, n: np.ndarray | int, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion (Wilson 1927).

    With p̂ = x/n and z the (1 + level)/2 normal quantile::

        centre = (p̂ + z²/(2n)) / (1 + z²/n)
        half   = z / (1 + z²/n) · sqrt(p̂(1 − p̂)/n + z²/(4n²))

    Returns (lower, upper), NaN where n = 0. Stays inside [0, 1], unlike the Wald interval.

    Examples
    --------
    >>> lo, up = wilson_interval(0, 10)
    >>> float(lo), round(float(up), 4)
    (0.0, 0.2775)
    """
    if not 0 < level < 1:
        raise ParameterError(f"level must lie strictly between 0 and 1, got {level!r}")
    x = np.asarray(successes, dtype="float64")
    m = np.asarray(n, dtype="float64")
    z = stats.norm.ppf(0.5 + level / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        ph = x / m
        denom = 1 + z**2 / m
        centre = (ph + z**2 / (2 * m)) / denom
        half = z / denom * np.sqrt(ph * (1 - ph) / m + z**2 / (4 * m**2))
        lower = np.where(m > 0, np.clip(centre - half, 0, 1), np.nan)
        upper = np.where(m > 0, np.clip(centre + half, 0, 1), np.nan)
    # Exact ends: x = 0 gives lower 0 and x = n gives upper 1 (float rounding otherwise).
    lower = np.where((m > 0) & (x == 0), 0.0, lower)
    upper = np.where((m > 0) & (x == m), 1.0, upper)
    return lower, upper


def readmission_rates(
    flags: pd.DataFrame, *, by: str | Sequence[str] | None = None, level: float = 0.95
) -> pd.DataFrame:
    """Readmission rate = readmitted / eligible index episodes, with a Wilson interval.

    Parameters
    ----------
    flags : DataFrame
        Output of :func:`flag_readmissions`.
    by : str or list of str, optional
        Grouping columns of ``flags`` (e.g. ``"hospital_id"``, ``"municipality_code"``,
        ``"index_group"``). ``"year"`` is derived from the index ``discharge_date`` when ``flags``
        has no such column (Socialstyrelsen counts discharges in the period).
    level : float
        Confidence level of the Wilson interval (default 0.95).

    Returns
    -------
    DataFrame
        One row per group (one row in total when ``by`` is None): ``n_index`` (all index episodes),
        ``eligible``, ``readmitted``, ``rate``, ``ci_lower``, ``ci_upper``, then
        ``excluded_<reason>`` for every reason of :data:`EXCLUSION_REASONS` and
        ``died_in_window`` (eligible indexes followed by death in the window, counted as not
        readmitted, §4.2). ``rate`` is NaN when ``eligible`` is 0.

    Notes
    -----
    Unit: index care episode. Wilson score interval (see :func:`wilson_interval`). Counts are not
    suppressed: pass the table through ``report.disclosure.suppress`` before publishing.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"eligible": [True, True, True, False], "readmitted": [True, False, False,
    ...     False], "exclusion": [None, None, None, "age"], "died_in_window": [False] * 4})
    >>> r = readmission_rates(f)
    >>> r[["eligible", "readmitted", "excluded_age"]].iloc[0].tolist(), round(float(r.rate[0]), 4)
    ([3, 1, 1], 0.3333)
    """
    _require(flags, "flags", ("eligible", "readmitted", "exclusion"))
    by_cols = [by] if isinstance(by, str) else list(by or [])
    df = flags
    if "year" in by_cols and "year" not in df.columns:
        _require(df, "flags", ("discharge_date",))
        dd = df["discharge_date"]
        days = _days(dd, "flags", "discharge_date") if dd.dtype.kind == "M" else None
        year = _civil(days)[0] if days is not None else pd.to_datetime(dd).dt.year.to_numpy()
        df = df.assign(year=np.asarray(year, dtype=np.int64))
    _require(df, "flags", by_cols)
    def as_bool(col: str) -> np.ndarray:
        x = df[col]
        return x.to_numpy() if x.dtype == bool else x.astype("boolean").fillna(False).to_numpy(bool)

    el = as_bool("eligible")
    work = pd.DataFrame(
        {
            "n_index": np.ones(len(df), dtype=np.int64),
            "eligible": el.astype(np.int64),
            "readmitted": (as_bool("readmitted") & el).astype(np.int64),
        },
        index=df.index,
    )
    excl = df["exclusion"]
    for reason in EXCLUSION_REASONS:
        work[f"excluded_{reason}"] = (excl == reason).fillna(False).to_numpy(dtype=np.int64)
    if "died_in_window" in df.columns:
        work["died_in_window"] = (df["died_in_window"].to_numpy(dtype=bool) & el).astype(np.int64)
    if by_cols:
        for c in by_cols:
            work[c] = df[c].to_numpy()
        out = work.groupby(by_cols, sort=True, dropna=False, observed=True).sum().reset_index()
    else:
        out = work.sum().to_frame().T.astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = out["readmitted"] / out["eligible"].where(out["eligible"] > 0)
    lower, upper = wilson_interval(out["readmitted"].to_numpy(), out["eligible"].to_numpy(), level)
    cols = [*by_cols, "n_index", "eligible", "readmitted"]
    rest = [c for c in out.columns if c not in cols]
    out = out[cols].assign(rate=rate.astype("float64"), ci_lower=lower, ci_upper=upper).join(out[rest])
    out.attrs.update({k: v for k, v in flags.attrs.items()} | {"level": level})
    return out


# Risk adjustment and competing risks: separate modules, public here (issue 6 contract).
from naravard_analysis.indicators.readmission_incidence import (  # noqa: E402
    readmission_cumulative_incidence,
)
from naravard_analysis.indicators.readmission_risk import risk_adjusted_readmission  # noqa: E402
