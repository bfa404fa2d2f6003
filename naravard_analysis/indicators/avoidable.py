"""Avoidable hospitalisation: Swedish undvikbar/påverkbar slutenvård, AHRQ PQI and OECD HCQI.

Flags inpatient stays (or care episodes) whose main diagnosis is in a condition group of a versioned
code list (``naravard_analysis/data/codelists``), applies the definition's rules (age windows,
secondary-diagnosis rules, exclusion diagnoses, procedure exclusions, transfers in, day cases,
unplanned only) and counts every exclusion by reason; then turns flags into crude and directly
age-standardised rates per 100 000 inhabitants.

Sources: DEFINITIONS.md §3.1 (Socialstyrelsen; list **unverified**), §3.2 (AHRQ PQI v2024, ICD-10-CM
mapped to ICD-10-SE prefixes as an adaptation), §3.3 (OECD HCQI; COPD checked, the other conditions
unverified), §3.4 (cross-cutting rules), §2.3 (dotless prefix matching), §2.4 (episodes), §5
(standardisation).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from naravard_analysis.data.codelists import load_codelist, validate_codelist
from naravard_analysis.engine import use_dask
from naravard_analysis.errors import ParameterError, SchemaError
from naravard_analysis.indicators.episodes import (
    _THREADS_FROM,
    _WS,
    EPISODE_COLUMNS,
    _bool_values,
    _Coded,
    _equals,
    _text_arrow,
    build_episodes,
)
from naravard_analysis.indicators.standardise import (
    band_ages,
    direct_standardise,
    standard_population,
)

__all__ = [
    "DEFINITIONS",
    "EXCLUSION_REASONS",
    "Definition",
    "avoidable_rates",
    "ed_visit_rates",
    "exclusion_summary",
    "flag_avoidable",
    "group_columns",
]


@dataclass(frozen=True)
class Definition:
    """Defaults of one indicator definition (each overridable in :func:`flag_avoidable`)."""

    codelist: str
    condition_types: tuple[str, ...]
    min_age: int
    unit: str  # "episode" or "admission"
    exclude_transfers_in: bool
    exclude_day_cases: bool
    composites: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    union: str = "avoidable"
    note: str = ""


_SOS_CHRONIC = ("anemia", "asthma", "diabetes", "heart_failure", "hypertension", "angina", "copd")
_SOS_ACUTE = (
    "bleeding_ulcer",
    "gastroenteritis",
    "pneumonia",
    "pyelonephritis",
    "ent_infection",
    "pelvic_inflammatory_disease",
    "convulsions_epilepsy",
)
_PQI_ACUTE = ("pqi11", "pqi12")
_PQI_CHRONIC = ("pqi01", "pqi03", "pqi05", "pqi07", "pqi08", "pqi14", "pqi15", "pqi16")

#: Registered definitions. Swedish: §3.1 (unit = episode per §3.4 so that transfers count once;
#: chronic 20+, total 0+, both unverified -> parameters). PQI: §3.2 (18+, transfers in excluded,
#: composites 90-93 are discharge-level unions). OECD: §3.3 (15+, transfers in and day cases excluded).
DEFINITIONS: dict[str, Definition] = {
    "socialstyrelsen_chronic": Definition(
        "socialstyrelsen_undvikbar", ("chronic",), 20, "episode", False, False,
        note="påverkbar slutenvård vid kronisk sjukdom, 20+ (unverified, §3.1)",
    ),
    "socialstyrelsen_acute": Definition(
        "socialstyrelsen_undvikbar", ("acute",), 0, "episode", False, False,
        note="acute groups (unverified, lower confidence, §3.1)",
    ),
    "socialstyrelsen": Definition(
        "socialstyrelsen_undvikbar", ("chronic", "acute"), 0, "episode", False, False,
        composites={"chronic": _SOS_CHRONIC, "acute": _SOS_ACUTE},
        note="undvikbar slutenvård, chronic + acute, all ages (unverified, §3.1)",
    ),
    "pqi": Definition(
        "ahrq_pqi", ("chronic", "acute"), 18, "admission", True, False,
        composites={
            "pqi90": _PQI_CHRONIC[:] + _PQI_ACUTE,
            "pqi91": _PQI_ACUTE,
            "pqi92": _PQI_CHRONIC,
            "pqi93": ("pqi01", "pqi03", "pqi14", "pqi16"),
        },
        union="pqi90",
        note="AHRQ PQI v2024 adapted to ICD-10-SE (§3.2)",
    ),
    "oecd": Definition(
        "oecd_hcqi", ("chronic",), 15, "admission", True, True,
        note="OECD HCQI avoidable admissions, 15+ (§3.3)",
    ),
}  # fmt: skip

#: Exclusion reasons in priority order: a row that matched a condition group but is not counted gets
#: the first reason that removed it from a group it matched.
EXCLUSION_REASONS = (
    "person_unknown",
    "age",
    "planned",
    "transfer_in",
    "day_case",
    "secondary_missing",
    "exclusion_diagnosis",
    "procedure",
)


def _definition(definition: str) -> Definition:
    if definition not in DEFINITIONS:
        raise ParameterError(f"unknown definition {definition!r}; available: {sorted(DEFINITIONS)}")
    return DEFINITIONS[definition]


def group_columns(
    definition: str = "socialstyrelsen_chronic", codelist: pd.DataFrame | None = None
) -> list[str]:
    """Names of the boolean condition-group columns :func:`flag_avoidable` adds, in list order."""
    d = _definition(definition)
    cl = _select_codelist(d, codelist, include_optional=True)
    groups = list(dict.fromkeys(cl["condition_group"]))
    return groups + [c for c in d.composites if c not in groups]


def _select_codelist(
    d: Definition, codelist: pd.DataFrame | None, include_optional: bool
) -> pd.DataFrame:
    cl = load_codelist(d.codelist) if codelist is None else validate_codelist(codelist, "codelist")
    if codelist is None or "condition_type" in codelist.columns:
        cl = cl[cl["condition_type"].isin(d.condition_types) | (cl["condition_type"] == "")]
    if not include_optional:
        cl = cl[cl["extra_rule"] != "optional"]
    return cl.reset_index(drop=True)


def _norm_codes(s: pd.Series) -> pd.Series:
    """Upper-case, dotless, stripped code strings ('' for missing) — §2.3 normalisation."""
    return (
        s.astype(object)
        .where(s.notna(), "")
        .astype(str)
        .str.upper()
        .str.replace(".", "", regex=False)
        .str.strip()
    )


def _prefix_regex(prefixes: Sequence[str]) -> str:
    """Regex matching any space-separated code that starts with one of ``prefixes`` (§2.3)."""
    alt = "|".join(sorted({re.escape(p) for p in prefixes}, key=len, reverse=True))
    return rf"(?:^|\s)(?:{alt})"


def _any_code_matches(text: pd.Series, prefixes: Sequence[str]) -> np.ndarray:
    if len(text) == 0 or not prefixes:
        return np.zeros(len(text), dtype=bool)
    return text.str.contains(_prefix_regex(prefixes), regex=True).fillna(False).to_numpy(dtype=bool)


def _starts_with_any(strings: pa.Array, prefixes: Sequence[str]) -> np.ndarray:
    """``s.startswith(tuple(prefixes))`` for every string, as arrow kernels (one per prefix)."""
    hit = np.zeros(len(strings), dtype=bool)
    for p in dict.fromkeys(prefixes):
        hit |= pc.starts_with(strings, p).to_numpy(zero_copy_only=False)
    return hit


def _main_match(codes: np.ndarray, uniques: pa.Array, prefixes: Sequence[str]) -> np.ndarray:
    """Main-diagnosis prefix match, evaluated once per distinct code (fast at 10^7 rows).

    ``codes`` index ``uniques`` (the normalised distinct codes); ``len(uniques)`` = missing.
    """
    if not prefixes:
        return np.zeros(len(codes), dtype=bool)
    hit = np.append(_starts_with_any(uniques, prefixes), False)  # missing -> last element
    return hit[codes]


def _day_numbers(dates: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of a datetime64 array (floored, as the datetime64[D] cast)."""
    if dates.dtype == np.dtype("datetime64[ns]"):
        return dates.view(np.int64) // (86_400 * 10**9)
    return dates.astype("datetime64[D]").astype(np.int64)


def _ymd_key(days: np.ndarray) -> np.ndarray:
    """``year * 10000 + month * 100 + day`` of int64 days since 1970-01-01 (numpy calendar casts)."""
    d = days.astype("datetime64[D]")
    y = d.astype("datetime64[Y]")
    m = d.astype("datetime64[M]")
    month = m.astype(np.int64) - y.astype("datetime64[M]").astype(np.int64) + 1
    day = (d - m.astype("datetime64[D]")).astype(np.int64) + 1
    return (y.astype(np.int64) + 1970) * 10000 + month * 100 + day


def _date_keys(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(yyyymmdd int32 key, valid mask) of a datetime64 array; NaT -> invalid.

    Register dates take a few thousand distinct days, so the calendar is computed once per day of
    the covered range and looked up by integer indexing. int32 keys (and in-place arithmetic)
    keep the 10^7-row temporaries small.
    """
    days = _day_numbers(dates)
    valid = ~np.isnat(dates)
    all_valid = bool(valid.all())
    v = days if all_valid else days[valid]
    if v.size == 0:
        return np.zeros(len(days), dtype=np.int32), valid
    lo, hi = int(v.min()), int(v.max())
    if hi - lo < 4 * v.size + 1000:
        v -= lo  # in place: days (or its valid copy) is ours
        k = _ymd_key(np.arange(lo, hi + 1, dtype=np.int64)).astype(np.int32)[v]
    else:
        k = _ymd_key(v).astype(np.int32)
    if all_valid:
        return k, valid
    key = np.zeros(len(days), dtype=np.int32)
    key[valid] = k
    return key, valid


def _age_years(birth: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Completed years between two datetime64 arrays (NaT -> NaN), as float."""
    bk, bv = _date_keys(np.asarray(birth, dtype="datetime64[ns]"))
    ak, av = _date_keys(np.asarray(at, dtype="datetime64[ns]"))
    # (yyyymmdd_at - yyyymmdd_birth) // 10000 = year difference minus one before the birthday.
    out = ((ak - bk) // 10000).astype(float)
    out[~(bv & av)] = np.nan
    return out


def _person_index(persons_id: pd.Series, ids: pd.Series) -> np.ndarray:
    """Position of each id in ``persons_id`` (-1 when absent); a dense table for integer ids."""
    if persons_id.dtype.kind == "i" and ids.dtype.kind == "i" and len(persons_id):
        pv = persons_id.to_numpy()
        lo, hi = int(pv.min()), int(pv.max())
        if hi - lo < 4 * len(pv) + 1000:
            table = np.full(hi - lo + 1, -1, dtype=np.int64)
            table[pv - lo] = np.arange(len(pv))
            iv = ids.to_numpy()
            inside = (iv >= lo) & (iv <= hi)
            loc = np.full(len(iv), -1, dtype=np.int64)
            loc[inside] = table[iv[inside] - lo]
            return loc
    return pd.Index(persons_id).get_indexer(ids)


class _CodeColumn:
    """Dotless prefix matching on a column of space-separated codes, per distinct value.

    A row matches when any of its whitespace-separated codes, normalised as in §2.3 (upper case,
    dots removed), starts with one of the prefixes -- the rule of ``(?:^|\\s)prefix`` on the
    normalised text. The work is done on the distinct strings of the rows asked about: they are
    split into codes with arrow, the few thousand distinct codes are normalised and matched in
    Python, and the answer is mapped back by integer indexing.
    """

    def __init__(
        self,
        s: pd.Series | None,
        *,
        codes: np.ndarray | None = None,
        uniques: np.ndarray | None = None,
    ):
        # With ``codes``/``uniques`` (a factorisation, missing = len(uniques)) rows are answered
        # from the distinct values alone.
        self.s = s
        self.codes, self.uniques = codes, uniques
        self._norm: dict[str, str] = {}
        self._raw: pa.ChunkedArray | None = None
        self._ascii = self._dots = False

    def matches(self, idx: np.ndarray | None, prefixes: Sequence[str]) -> np.ndarray:
        """Bool per row of ``idx`` (all rows when None)."""
        m = (len(self.s) if self.s is not None else 0) if idx is None else len(idx)
        prefixes = list(prefixes)
        if m == 0 or not prefixes:
            return np.zeros(m, dtype=bool)
        if any(p == "" for p in prefixes):
            return np.ones(m, dtype=bool)  # an empty prefix matches every text, even ''
        if self.s is None:
            return np.zeros(m, dtype=bool)  # '' has no code
        if idx is None and self.codes is None:
            cand = self._candidates(prefixes)
            if cand is not None:
                # Exact test on the few rows whose text can hold such a code.
                out = np.zeros(m, dtype=bool)
                idx = np.flatnonzero(cand)
                out[idx] = self.matches(idx, prefixes)
                return out
        if self.codes is not None:
            codes = self.codes if idx is None else self.codes[idx]
            u = pd.Series(self.uniques, dtype=object)
        else:
            codes, uniques = pd.factorize(self.s if idx is None else self.s.take(idx))
            u = pd.Series(uniques)
        if any(ch.isspace() for p in prefixes for ch in p):
            hit_u = _any_code_matches(_norm_codes(u), prefixes)  # regex on whole strings
        else:
            hit_u = self._token_hits(_text_arrow(u), tuple(prefixes))
        return np.append(hit_u, False)[codes]

    def _candidates(self, prefixes: Sequence[str]) -> np.ndarray | None:
        """Rows whose raw text may hold a code starting with a prefix (a superset), or None.

        For ASCII text a normalised code starts with ``P1 P2 ... Pk`` only if the upper-cased
        raw text contains ``P1``, ``P2``, ... ``Pk`` in that order, separated by dots at most:
        one arrow substring scan per prefix, instead of splitting every row. Used for rules that
        look at every row (the PQI 16 amputation procedures).
        """
        s = self.s
        if not (isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow"):
            return None
        if not all(p.isascii() for p in prefixes):
            return None
        if self._raw is None:
            raw = pa.chunked_array(s.array.__arrow_array__())
            self._ascii = pc.all(pc.string_is_ascii(raw)).as_py() is not False
            self._raw = pc.ascii_upper(raw)  # ASCII upper case is Python's for ASCII text
            self._dots = pc.any(pc.match_substring(raw, ".")).as_py() is True
        if not self._ascii:
            return None
        hit = np.zeros(len(s), dtype=bool)
        for p in dict.fromkeys(q.upper() for q in prefixes):
            if self._dots:
                pattern = r"\.*".join(re.escape(ch) for ch in p)
                h = pc.match_substring_regex(self._raw, pattern)
            else:
                h = pc.match_substring(self._raw, p)
            hit |= pc.fill_null(h, False).to_numpy()
        return hit

    def _token_hits(self, text: pa.ChunkedArray, prefixes: tuple[str, ...]) -> np.ndarray:
        lists = pc.split_pattern_regex(text, _WS).combine_chunks()
        offsets = np.asarray(lists.offsets)
        enc = pc.dictionary_encode(lists.values)
        tokens = enc.dictionary
        if pc.all(pc.string_is_ascii(tokens)).as_py() is not False:
            # ASCII: arrow's upper case is Python's; remove dots as §2.3.
            normed = pc.replace_substring(pc.ascii_upper(tokens), ".", "")
        else:
            norm = self._norm
            normed = pa.array(
                [norm.setdefault(t, t.upper().replace(".", "")) for t in tokens.to_pylist()],
                type=pa.large_string(),
            )
        hit_tok = _starts_with_any(normed, prefixes)
        c = np.zeros(len(enc) + 1, dtype=np.int64)
        if len(enc):
            np.cumsum(hit_tok[np.asarray(enc.indices)], out=c[1:])
        return c[offsets[1:]] > c[offsets[:-1]]


def _dates(s: pd.Series, column: str) -> np.ndarray:
    """A date column as datetime64[ns]; missing dates raise (they have no age or year)."""
    v = s.to_numpy() if s.dtype.kind == "M" else s.to_numpy(dtype="datetime64[ns]")
    v = v.astype("datetime64[ns]", copy=False)
    bad = np.flatnonzero(np.isnat(v))
    if bad.size:
        raise SchemaError("admissions", column, "must not be missing", bad.size, bad)
    return v


def _check_episodes(
    episodes: pd.DataFrame, admissions: pd.DataFrame, merge_gap_days: int
) -> pd.DataFrame:
    """Prebuilt episodes passed to :func:`flag_avoidable`: the right columns and stay count."""
    if not isinstance(episodes, pd.DataFrame):
        raise ParameterError("episodes must be the DataFrame returned by build_episodes")
    missing = [c for c in EPISODE_COLUMNS if c not in episodes.columns]
    if missing:
        raise ParameterError(f"episodes lack build_episodes columns {missing}")
    n_stays = int(episodes["n_stays"].sum())
    if n_stays != len(admissions):
        raise ParameterError(
            f"episodes hold {n_stays} stays but admissions has {len(admissions)} rows: "
            "pass the episodes built from these admissions"
        )
    gap = episodes.attrs.get("merge_gap_days", merge_gap_days)
    if gap != merge_gap_days:
        raise ParameterError(f"episodes were built with merge_gap_days={gap}, not {merge_gap_days}")
    return episodes


def flag_avoidable(
    admissions: pd.DataFrame,
    persons: pd.DataFrame,
    *,
    definition: str = "socialstyrelsen_chronic",
    unplanned_only: bool = False,
    unit: str | None = None,
    merge_gap_days: int = 0,
    min_age: int | None = None,
    max_age: int | None = None,
    exclude_transfers_in: bool | None = None,
    exclude_day_cases: bool | None = None,
    procedure_exclusions: Mapping[str, Sequence[str]] | None = None,
    include_optional: bool = False,
    codelist: pd.DataFrame | None = None,
    year_of: str = "discharge",
    episodes: pd.DataFrame | None = None,
    engine: str | None = None,
) -> pd.DataFrame:
    """Flag avoidable hospitalisations, one row per admission or care episode.

    Parameters
    ----------
    admissions : DataFrame
        Canonical admissions (DESIGN.md): ``person_id``, ``admission_date``, ``discharge_date``,
        ``main_diagnosis``; ``other_diagnoses``, ``procedures``, ``planned``, ``admitted_from``,
        ``discharge_to`` used when present. Codes are normalised (upper case, dots removed, §2.3).
    persons : DataFrame
        ``person_id``, ``birth_date``, ``sex``, ``region_code``, ``municipality_code`` (unique ids).
    definition : str
        ``"socialstyrelsen_chronic"`` (default; 20+), ``"socialstyrelsen_acute"``,
        ``"socialstyrelsen"`` (chronic + acute, 0+; adds union columns ``chronic``, ``acute``),
        ``"pqi"`` (columns ``pqi01`` … ``pqi16`` and unions ``pqi90`` … ``pqi93``; 18+, PQI 05 40+,
        PQI 15 18–39 from the code list), ``"oecd"`` (15+; day cases and transfers in excluded).
    unplanned_only : bool
        Count only unplanned care (PVARD = 2, ``planned == False``), as in the 2014 revision for the
        most ill elderly (§3.1). Excluded rows get reason ``"planned"``.
    unit : {"episode", "admission"}, optional
        Unit of analysis. Default: episodes for the Swedish definitions (transfers merged so that one
        illness counts once, §3.4) and admissions (discharges) for PQI and OECD. With ``"episode"``
        the stays are chained by :func:`~naravard_analysis.indicators.episodes.build_episodes`
        (``merge_gap_days``) and the episode's first-stay main diagnosis, concatenated other
        diagnoses and procedures, first-stay ``planned``/``admitted_from`` are used.
    min_age, max_age : int, optional
        Age window (completed years at admission) overriding the definition's default.
    exclude_transfers_in : bool, optional
        Exclude ``admitted_from == "hospital"`` (INSATT 1): default True for PQI and OECD (§3.2–3.3).
    exclude_day_cases : bool, optional
        Exclude same-day discharges: default True for OECD (§3.3); the Swedish rule is unverified
        (§3.4) so it is False unless set.
    procedure_exclusions : mapping group -> procedure-code prefixes, optional
        Replace the code list's ``exclude_procedure`` rows (e.g. an exact KVÅ list instead of
        chapter F); an empty sequence switches the exclusion off for that group.
    include_optional : bool
        Also count code-list rows marked ``extra_rule == "optional"`` (e.g. N15.9 in the Swedish
        pyelonephritis group, which is from the UK list).
    codelist : DataFrame, optional
        A user code list with the documented columns instead of the shipped one.
    year_of : {"discharge", "admission"}
        Which date gives ``year`` (Patientregistret's AR is the discharge year, §2.2).
    episodes : DataFrame, optional
        The result of ``build_episodes(admissions, merge_gap_days=merge_gap_days)``, reused when
        the unit is ``"episode"`` instead of chaining the stays again -- so that several
        definitions flagged on the same admissions build the episodes once. Nothing is cached
        inside; the caller passes the episodes of these very admissions. A cheap check raises
        :class:`~naravard_analysis.errors.ParameterError` when they cannot be (stay count differs
        from ``len(admissions)``, or ``merge_gap_days`` recorded in ``episodes.attrs`` differs).
        Ignored when the unit is ``"admission"``.
    engine : {None, "pandas", "dask"}
        ``None`` follows the input (a Dask DataFrame partitioned by person runs on Dask); ``"dask"``
        also splits pandas tables by person. The Dask path returns a lazy Dask DataFrame with the
        same rows and values (see :mod:`naravard_analysis.indicators.distributed`).

    Returns
    -------
    DataFrame
        One row per unit (episodes sorted by person and date; admissions in input order):
        ``person_id``, ``admission_date``,
        ``discharge_date``, ``year``, ``age``, ``sex``, ``region_code``, ``municipality_code``,
        (``episode_id``, ``n_stays`` for episodes), one boolean column per condition group, union
        columns, ``avoidable`` (union of all groups: a unit counts once) and ``excluded_reason``
        (categorical, one of :data:`EXCLUSION_REASONS`; set only when the main diagnosis matched a
        group but the unit is not counted; NaN otherwise). ``attrs`` holds the settings and group age
        windows used.

    Notes
    -----
    Matching is by dotless prefix on the main diagnosis (HDIA, §2.3). A main row with
    ``extra_rule == "requires_secondary"`` counts only when a secondary diagnosis matches one of the
    group's ``secondary`` rows (J20 with COPD for the Swedish list; J40 with COPD for OECD, §3.1,
    §3.3). ``exclude_any`` rows remove the group when any diagnosis matches (sickle cell D57 for
    pneumonia, §3.1–3.2); ``exclude_procedure`` rows when any procedure matches (cardiac procedures,
    configurable, §3.4). PQI 16 requires an amputation procedure and a diabetes diagnosis in any
    position. Composites are unions, never sums (§3.4).

    Examples
    --------
    >>> import pandas as pd
    >>> adm = pd.DataFrame({"person_id": [1, 1], "main_diagnosis": ["J441", "J20"],
    ...     "other_diagnoses": ["", "E119"], "admission_date": pd.to_datetime(["2024-01-02",
    ...     "2024-03-01"]), "discharge_date": pd.to_datetime(["2024-01-05", "2024-03-03"])})
    >>> per = pd.DataFrame({"person_id": [1], "birth_date": pd.to_datetime(["1950-01-01"]),
    ...     "sex": ["F"], "region_code": ["14"], "municipality_code": ["1480"]})
    >>> f = flag_avoidable(adm, per)
    >>> f[["copd", "avoidable"]].values.tolist(), f["excluded_reason"].tolist()
    ([[True, True], [False, False]], [nan, 'secondary_missing'])
    """
    if use_dask(engine, admissions, persons, episodes):  # the same computation per person partition
        from naravard_analysis.indicators import distributed

        return distributed.flag_avoidable_dask(**locals())
    d = _definition(definition)
    unit = unit or d.unit
    if unit not in ("episode", "admission"):
        raise ParameterError(f"unit must be 'episode' or 'admission', got {unit!r}")
    if year_of not in ("discharge", "admission"):
        raise ParameterError(f"year_of must be 'discharge' or 'admission', got {year_of!r}")
    for col in ("person_id", "admission_date", "discharge_date", "main_diagnosis"):
        if col not in admissions.columns:
            raise SchemaError("admissions", col, "required column missing")
    for col in ("person_id", "birth_date"):
        if col not in persons.columns:
            raise SchemaError("persons", col, "required column missing")
    min_age = d.min_age if min_age is None else int(min_age)
    excl_tr = d.exclude_transfers_in if exclude_transfers_in is None else bool(exclude_transfers_in)
    excl_day = d.exclude_day_cases if exclude_day_cases is None else bool(exclude_day_cases)
    cl = _select_codelist(d, codelist, include_optional)

    if unit == "episode":
        rows = (
            build_episodes(admissions, merge_gap_days=merge_gap_days)
            if episodes is None
            else _check_episodes(episodes, admissions, merge_gap_days)
        )
    else:
        # Discharge level: keep the input order (row i of the result is input row i). Columns are
        # read by position below, so the input index does not matter and nothing is copied.
        rows = admissions
    n = len(rows)

    # --- person attributes (age at admission, residence) by an index lookup, not a merge.
    pid = persons["person_id"]
    pidx = pd.Index(pid)
    if not pidx.is_unique:
        dup = np.flatnonzero(pidx.duplicated())
        raise SchemaError("persons", "person_id", "duplicate person_id", dup.size, dup)
    loc = _person_index(pid, rows["person_id"])
    known = loc >= 0

    # Residence and sex are gathered (arrow, GIL released) in a worker thread meanwhile.
    def residence() -> dict[str, object]:
        res: dict[str, object] = {}
        for col in ("sex", "region_code", "municipality_code"):
            has = col in persons.columns and len(persons) > 0
            res[col] = _Coded(persons[col]).take(loc, allow_missing=True) if has else pd.NA
        return res

    pool = ThreadPoolExecutor(max_workers=1) if n >= _THREADS_FROM else None
    residence_job = pool.submit(residence) if pool else None

    adm_dates = _dates(rows["admission_date"], "admission_date")
    dis_dates = _dates(rows["discharge_date"], "discharge_date")
    # Age in completed years from yyyymmdd keys: the birth key per person, the admission key per
    # distinct day, both gathered by integer indexing.
    adm_key, _ = _date_keys(adm_dates)
    if len(persons):
        birth_p = pd.to_datetime(persons["birth_date"]).to_numpy(dtype="datetime64[ns]")
        bkey_p, bvalid_p = _date_keys(birth_p)
        safe = np.where(known, loc, 0)
        age_valid = known & bvalid_p[safe]
        age_int = adm_key - bkey_p[safe]  # (yyyymmdd_at - yyyymmdd_birth) // 10000, in place
        age_int //= 10000
        age_int[~age_valid] = 0
        del safe
    else:
        age_valid = np.zeros(n, dtype=bool)
        age_int = np.zeros(n, dtype=np.int32)
    year_key = _date_keys(dis_dates)[0] if year_of == "discharge" else adm_key
    year_key //= 10000
    # Columns are collected and the frame is built once without consolidating them into 2-D
    # blocks (a copy of every column); arrays that view the input are copied here instead.
    cols: dict[str, object] = {
        "person_id": rows["person_id"].array.copy(),
        "admission_date": adm_dates.copy(),
        "discharge_date": dis_dates.copy(),
        "year": year_key.astype(np.int64),
        "age": pd.arrays.IntegerArray(age_int.astype(np.int64), ~age_valid),
    }
    residence_at = len(cols)  # the residence columns go here once gathered
    if unit == "episode":
        cols["episode_id"] = rows["episode_id"].to_numpy().copy()
        cols["n_stays"] = rows["n_stays"].to_numpy().copy()

    # --- condition groups by main-diagnosis prefix.
    # Normalise codes once per distinct value (fast at 10^7 rows); other diagnoses and procedures
    # are matched per distinct string, and only on the candidate rows that a rule needs.
    codes, uniques = pd.factorize(rows["main_diagnosis"])
    uniques = np.asarray(_norm_codes(pd.Series(np.asarray(uniques, dtype=object))), dtype=object)
    codes[codes < 0] = len(uniques)
    main_col = _CodeColumn(rows["main_diagnosis"], codes=codes, uniques=uniques)
    other_col = _CodeColumn(rows["other_diagnoses"] if "other_diagnoses" in rows.columns else None)
    procs_col = _CodeColumn(rows["procedures"] if "procedures" in rows.columns else None)

    groups = list(dict.fromkeys(cl["condition_group"]))
    flags: dict[str, np.ndarray] = {}
    reason_masks = {r: np.zeros(n, dtype=bool) for r in EXCLUSION_REASONS}
    any_match = np.zeros(n, dtype=bool)
    windows: dict[str, tuple[int | None, int | None]] = {}

    # Row attributes used by the exclusion steps, computed once and only when a step needs them.
    def planned() -> np.ndarray:
        if "planned" not in rows.columns:
            return np.zeros(n, dtype=bool)
        return _bool_values(rows["planned"])

    def transfer_in() -> np.ndarray:
        if "admitted_from" not in rows.columns:
            return np.zeros(n, dtype=bool)
        return _equals(rows["admitted_from"], "hospital")

    def day_case() -> np.ndarray:
        return _day_numbers(adm_dates) == _day_numbers(dis_dates)

    step_masks = [
        ("person_unknown", lambda: ~known),
        ("age", None),  # per group window, below
        ("planned", planned if unplanned_only else None),
        ("transfer_in", transfer_in if excl_tr else None),
        ("day_case", day_case if excl_day else None),
    ]
    computed: dict[str, np.ndarray] = {}

    def step_mask(reason: str, fn) -> np.ndarray:
        if reason not in computed:
            computed[reason] = fn()
        return computed[reason]

    main_arr = pa.array(list(uniques), type=pa.large_string())
    for g in groups:
        rules = cl[cl["condition_group"] == g]
        role = rules["role"]
        plain = rules.loc[
            (role == "main") & (rules["extra_rule"] != "requires_secondary"), "icd10_prefix"
        ]
        needs_sec = rules.loc[
            (role == "main") & (rules["extra_rule"] == "requires_secondary"), "icd10_prefix"
        ]
        secondary = rules.loc[role == "secondary", "icd10_prefix"].tolist()
        m = _main_match(codes, main_arr, plain.tolist())
        sec_missing = np.zeros(0, dtype=np.int64)
        if len(needs_sec):
            cand = _main_match(codes, main_arr, needs_sec.tolist()) & ~m
            idx = np.flatnonzero(cand)
            ok = other_col.matches(idx, secondary)
            m[idx[ok]] = True
            sec_missing = idx[~ok]
        proc_req = rules.loc[role == "procedure_required", "icd10_prefix"].tolist()
        if proc_req:
            idx = np.flatnonzero(procs_col.matches(None, proc_req))
            anyreq = rules.loc[role == "any_required", "icd10_prefix"].tolist()
            if anyreq:
                idx = idx[main_col.matches(idx, anyreq) | other_col.matches(idx, anyreq)]
            m[idx] = True
        # From here on only the rows that matched the group (a small share) are visited.
        m[sec_missing] = True  # temporarily: matched = counted candidates | secondary missing
        rows_g = np.flatnonzero(m)
        m[sec_missing] = False
        any_match[rows_g] = True
        keep = m[rows_g]
        # Group age window (PQI 05: 40+, PQI 15: 18-39) intersected with the definition's window.
        amin = rules["age_min"].dropna()
        amax = rules["age_max"].dropna()
        gmin = max(min_age, int(amin.max())) if len(amin) else min_age
        gmax_cands = [int(amax.min())] if len(amax) else []
        if max_age is not None:
            gmax_cands.append(int(max_age))
        gmax = min(gmax_cands) if gmax_cands else None
        windows[g] = (gmin, gmax)
        for reason, fn in step_masks:
            if reason == "age":
                a_g = age_int[rows_g]
                ok = age_valid[rows_g] & (a_g >= gmin)
                if gmax is not None:
                    ok &= a_g <= gmax
                mask = ~ok
            elif fn is None:
                continue
            else:
                mask = step_mask(reason, fn)[rows_g]
            reason_masks[reason][rows_g[mask]] = True
            keep &= ~mask
        reason_masks["secondary_missing"][sec_missing] = True
        excl_any = rules.loc[role == "exclude_any", "icd10_prefix"].tolist()
        if excl_any:
            idx = rows_g[keep]
            bad = main_col.matches(idx, excl_any) | other_col.matches(idx, excl_any)
            keep[np.flatnonzero(keep)[bad]] = False
            reason_masks["exclusion_diagnosis"][idx[bad]] = True
        proc_ex = (
            list(procedure_exclusions[g])
            if procedure_exclusions is not None and g in procedure_exclusions
            else rules.loc[role == "exclude_procedure", "icd10_prefix"].tolist()
        )
        if proc_ex:
            idx = rows_g[keep]
            bad = procs_col.matches(idx, proc_ex)
            keep[np.flatnonzero(keep)[bad]] = False
            reason_masks["procedure"][idx[bad]] = True
        flag = np.zeros(n, dtype=bool)
        flag[rows_g[keep]] = True
        flags[g] = flag
    for g in groups:
        cols[g] = flags[g]
    for comp, members in d.composites.items():
        present = [flags[mm] for mm in members if mm in flags]
        cols[comp] = np.logical_or.reduce(present) if present else np.zeros(n, dtype=bool)
    union = np.logical_or.reduce([flags[g] for g in groups]) if groups else np.zeros(n, dtype=bool)
    cols["avoidable"] = union
    reason = np.full(n, -1, dtype=np.int64)
    todo = np.flatnonzero(any_match & ~union)
    r_todo = np.full(todo.size, -1, dtype=np.int64)
    for i, r in enumerate(EXCLUSION_REASONS):
        r_todo[(r_todo < 0) & reason_masks[r][todo]] = i
    reason[todo] = r_todo
    cols["excluded_reason"] = pd.Categorical.from_codes(reason, categories=list(EXCLUSION_REASONS))
    if pool:
        res = residence_job.result()
        pool.shutdown()
    else:
        res = residence()
    items = list(cols.items())
    cols = dict(items[:residence_at] + list(res.items()) + items[residence_at:])
    out = pd.DataFrame(cols, copy=False)
    out.attrs.update(
        {
            "definition": definition,
            "unit": unit,
            "min_age": min_age,
            "max_age": max_age,
            "unplanned_only": bool(unplanned_only),
            "exclude_transfers_in": excl_tr,
            "exclude_day_cases": excl_day,
            "age_windows": windows,
            "groups": groups,
            "composites": list(d.composites),
            "codelist_version": ";".join(sorted(set(cl["version"]))),
            "codelist_verified": bool(cl["verified"].all()) if len(cl) else False,
        }
    )
    return out


def exclusion_summary(flags: pd.DataFrame, *, by: Sequence[str] = ()) -> pd.DataFrame:
    """Count units by exclusion reason (and ``by``): rows an indicator excludes are reported.

    Returns columns ``by`` + ``excluded_reason`` + ``n`` including reasons with zero rows, plus a
    row ``counted`` (units flagged avoidable).
    """
    by = list(by)
    reasons = (
        flags["excluded_reason"].astype("category").cat.set_categories(list(EXCLUSION_REASONS))
    )
    ex = (
        flags.assign(excluded_reason=reasons)
        .groupby([*by, "excluded_reason"], observed=False)
        .size()
        .rename("n")
        .reset_index()
    )
    ex["excluded_reason"] = ex["excluded_reason"].astype(str)
    counted = flags.groupby(by)["avoidable"].sum() if by else pd.Series([flags["avoidable"].sum()])
    cnt = (
        counted.rename("n").reset_index().assign(excluded_reason="counted")
        if by
        else pd.DataFrame({"excluded_reason": ["counted"], "n": [int(counted.iloc[0])]})
    )
    return pd.concat([ex, cnt[[*by, "excluded_reason", "n"]]], ignore_index=True)


def _band_edges(labels: Sequence[str]) -> list[int]:
    edges = []
    for lab in labels:
        lo = lab[:-1] if lab.endswith("+") else lab.split("-")[0]
        edges.append(int(lo))
    return edges


def _rates(
    events_df: pd.DataFrame,
    population: pd.DataFrame,
    *,
    indicators: Sequence[str],
    by: Sequence[str],
    standard,
    min_age: int | None,
    max_age: int | None,
    per: float,
    level: float,
    top_age: int | None,
    method: str,
    age_windows: Mapping[str, tuple[int | None, int | None]] | None = None,
) -> pd.DataFrame:
    """Shared engine: count events per (by, band), band the population, standardise per indicator."""
    by = list(by)
    for col in ("age", "population", *by):
        if col not in population.columns:
            raise SchemaError("population", col, "required column missing")
    for col in ("age", *by):
        if col not in events_df.columns:
            raise SchemaError("flags", col, "required column missing")
    results = []
    for ind in indicators:
        lo, hi = min_age, max_age
        if age_windows and ind in age_windows:
            wlo, whi = age_windows[ind]
            lo = wlo if lo is None else max(lo, wlo if wlo is not None else lo)
            hi = whi if hi is None else (min(hi, whi) if whi is not None else hi)
        if standard is None:
            edges = [lo or 0]
            std = None
        else:
            std = standard_population(standard, min_age=lo, max_age=hi, top_age=top_age)
            edges = _band_edges(std["age_group"])
        last = str(std["age_group"].iloc[-1]) if std is not None else ""
        open_end = last.endswith("+") if std is not None else hi is None
        if std is not None and not open_end:  # closed last band, e.g. "35-39" in an 18-39 window
            edges = [*edges, int(last.split("-")[1]) + 1]
        ev = events_df.loc[events_df[ind].to_numpy(dtype=bool), [*by, "age"]]
        ev = ev[ev["age"].notna()]
        ev_age = ev["age"].astype("int64")
        inwin = (ev_age >= (lo or 0)) & ((ev_age <= hi) if hi is not None else True)
        ev = ev[inwin.to_numpy()]
        if standard is None and hi is not None:
            edges = [lo or 0, hi + 1]
        ev_b = ev.assign(
            age_group=band_ages(ev["age"].astype("int64"), edges, open_end=open_end).array
        )
        e_cnt = (
            ev_b.groupby([*by, "age_group"], observed=True, dropna=False).size().rename("events")
        )
        pop = population
        pa = pop["age"].to_numpy()
        pmask = pa >= (lo or 0)
        if hi is not None:
            pmask &= pa <= hi
        pop = pop.loc[pmask, [*by, "age", "population"]]
        p_b = pop.assign(age_group=band_ages(pop["age"], edges, open_end=open_end).array)
        p_sum = p_b.groupby([*by, "age_group"], observed=False, dropna=False)["population"].sum()
        if by:
            # Only the by-combinations that exist in the population, with every band.
            combos = pop[by].drop_duplicates()
            full = combos.merge(
                pd.DataFrame({"age_group": p_sum.index.get_level_values("age_group").categories}),
                how="cross",
            )
            full["age_group"] = pd.Categorical(
                full["age_group"], categories=p_sum.index.get_level_values("age_group").categories
            )
            counts = full.merge(p_sum.reset_index(), on=[*by, "age_group"], how="left")
        else:
            counts = p_sum.reset_index()
        counts["population"] = counts["population"].fillna(0)
        e_df = e_cnt.reset_index()
        counts = counts.merge(e_df, on=[*by, "age_group"], how="outer", indicator=True)
        orphan = counts["_merge"] == "right_only"
        if orphan.any():
            pos = np.flatnonzero(orphan.to_numpy())
            raise SchemaError(
                "population",
                None,
                "events in a cell without population (check that population covers every "
                f"{by or 'total'} of the flags)",
                pos.size,
                pos,
            )
        counts = counts.drop(columns="_merge")
        counts["events"] = counts["events"].fillna(0).astype("int64")
        counts["age_group"] = counts["age_group"].astype(str)
        if standard is None:
            labels = counts["age_group"].unique().tolist()
            std_use = dict.fromkeys(labels, 1.0)
        else:
            std_use = std
        r = direct_standardise(counts, std_use, by=by or None, per=per, level=level, method=method)
        r.insert(0, "indicator", ind)
        r["min_age"] = lo
        r["max_age"] = hi
        if standard is None:
            r["adjusted_rate"] = r["crude_rate"]
        results.append(r)
    return pd.concat(results, ignore_index=True)


def avoidable_rates(
    flags: pd.DataFrame,
    population: pd.DataFrame,
    *,
    by: Sequence[str] = ("year",),
    standard: str | pd.DataFrame | Mapping[str, float] | None = "esp2013",
    min_age: int | None = 20,
    max_age: int | None = None,
    indicators: Sequence[str] | None = None,
    per: float = 100_000,
    level: float = 0.95,
    top_age: int | None = None,
    method: str = "fay_feuer",
    use_group_windows: bool = True,
) -> pd.DataFrame:
    """Avoidable hospitalisations per 100 000 inhabitants, crude and directly age-standardised.

    Parameters
    ----------
    flags : DataFrame
        Output of :func:`flag_avoidable` (needs ``age`` and the ``by`` columns).
    population : DataFrame
        Canonical population table: ``year``, ``region_code``, ``municipality_code``, ``sex``,
        ``age`` (single year), ``population`` (medelfolkmängd or year-end; the user's choice). It must
        not mix levels (e.g. region totals and municipality rows) — it is summed as given.
    by : columns
        Any of ``year``, ``region_code``, ``municipality_code``, ``sex`` (present in both tables).
    standard : "esp2013", DataFrame/dict, or None
        Standard population (DEFINITIONS.md §5.5–5.6); its bands define the age bands. ``None``:
        crude rate only (``adjusted_rate`` = crude, interval exact Poisson).
    min_age, max_age : int, optional
        Age window of numerator and denominator (default 20+, the Swedish chronic indicator, §3.1).
        Must fall on band edges of the standard. Group windows recorded by :func:`flag_avoidable`
        (PQI 05 40+, PQI 15 18–39) narrow it further when ``use_group_windows``.
    indicators : column names, optional
        Flag columns to rate (default ``["avoidable"]``); e.g. every group for a by-condition table.
    top_age : int, optional
        Merge the oldest bands (e.g. 85 → ``85+``) for small areas with empty bands.
    method : {"fay_feuer", "dobson"}
        Confidence interval (§5.2, §5.4).

    Returns
    -------
    DataFrame
        ``indicator``, ``by`` columns, ``events``, ``population``, ``crude_rate``, ``adjusted_rate``,
        ``lower``, ``upper`` (per ``per``), ``n_strata``, ``min_age``, ``max_age``.

    Notes
    -----
    DSR and Fay–Feuer interval: :func:`~naravard_analysis.indicators.standardise.direct_standardise`.
    Events whose ``age`` is outside the window are not counted (they were excluded by the flag's age
    rule already when the windows agree). Events in a ``by`` cell absent from the population raise.

    Examples
    --------
    >>> # rates = avoidable_rates(flags, data.population, by=("year", "municipality_code"))
    """
    indicators = list(indicators) if indicators is not None else ["avoidable"]
    missing = [c for c in indicators if c not in flags.columns]
    if missing:
        raise SchemaError("flags", missing[0], "indicator column missing")
    windows = flags.attrs.get("age_windows") if use_group_windows else None
    return _rates(
        flags, population, indicators=indicators, by=by, standard=standard, min_age=min_age,
        max_age=max_age, per=per, level=level, top_age=top_age, method=method, age_windows=windows,
    )  # fmt: skip


def ed_visit_rates(
    contacts: pd.DataFrame,
    population: pd.DataFrame,
    *,
    by: Sequence[str] = ("year",),
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
        As :func:`avoidable_rates`, with ``indicator == "ed_visits"`` and rates per 1 000.
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
            birth = pd.to_datetime(persons["birth_date"]).to_numpy(dtype="datetime64[ns]")[loc]
            ev["age"] = _age_years(birth, dates)
        for c in ("sex", "region_code", "municipality_code"):
            if c in need and c in persons.columns:
                ev[c] = persons[c].to_numpy()[loc]
    for c in ("age", "sex", "region_code", "municipality_code"):
        if c not in need:
            ev[c] = ed[c].to_numpy()
    ev["ed_visits"] = True
    return _rates(
        ev, population, indicators=["ed_visits"], by=by, standard=standard, min_age=min_age,
        max_age=max_age, per=per, level=level, top_age=top_age, method="fay_feuer",
    )  # fmt: skip
