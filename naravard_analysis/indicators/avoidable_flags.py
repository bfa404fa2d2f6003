"""Avoidable hospitalisation flags, one row per admission or care episode, in named stages.

:func:`flag_avoidable` runs: settings (the definition's defaults and their overrides) → units
(admissions, or care episodes from :func:`~naravard_analysis.indicators.episodes.build_episodes`)
→ person columns (age at admission, year, residence) → per condition group: the candidates (main
diagnosis, secondary-diagnosis and procedure rules) and their exclusions (age window, planned,
transfer in, day case, exclusion diagnoses, procedures) → the output table with the exclusion
reason of every candidate that is not counted. The definitions are in
:mod:`naravard_analysis.indicators.avoidable_definitions`; a per-unit reference implementation
written from them is :func:`naravard_analysis.indicators.avoidable_reference.reference_avoidable`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from naravard_analysis.core.dates import NAT_DAY, completed_years, day_numbers, ymd
from naravard_analysis.core.defaults import as_columns
from naravard_analysis.core.icd import CodeColumn, match_distinct, normalise_codes
from naravard_analysis.core.text import CodedText, bool_values, equals_text
from naravard_analysis.engine import use_dask
from naravard_analysis.errors import ParameterError, SchemaError
from naravard_analysis.indicators.avoidable_definitions import (
    EXCLUSION_REASONS,
    Definition,
    definition_of,
    select_codelist,
)
from naravard_analysis.indicators.episodes import EPISODE_COLUMNS, build_episodes

__all__ = ["exclusion_summary", "flag_avoidable"]

#: Inputs from this many units gather the residence columns in a worker thread.
_THREADS_FROM = 100_000


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


@dataclass(frozen=True)
class _Settings:
    """The definition in force: its defaults with the caller's overrides."""

    name: str
    d: Definition
    unit: str
    year_of: str
    min_age: int
    max_age: int | None
    unplanned_only: bool
    exclude_transfers_in: bool
    exclude_day_cases: bool
    procedure_exclusions: Mapping[str, Sequence[str]] | None
    codelist: pd.DataFrame


def _settings(admissions, persons, definition, unplanned_only, unit, min_age, max_age,
              exclude_transfers_in, exclude_day_cases, procedure_exclusions, include_optional,
              codelist, year_of) -> _Settings:  # fmt: skip
    """Check the parameters and the required columns; resolve the definition's defaults."""
    d = definition_of(definition)
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
    return _Settings(
        definition, d, unit, year_of, d.min_age if min_age is None else int(min_age), max_age,
        unplanned_only,
        d.exclude_transfers_in if exclude_transfers_in is None else bool(exclude_transfers_in),
        d.exclude_day_cases if exclude_day_cases is None else bool(exclude_day_cases),
        procedure_exclusions, select_codelist(d, codelist, include_optional),
    )  # fmt: skip


def _units(admissions: pd.DataFrame, s: _Settings, episodes: pd.DataFrame | None,
           merge_gap_days: int) -> pd.DataFrame:  # fmt: skip
    """The units of analysis: care episodes, or the admissions in input order."""
    if s.unit == "episode":
        if episodes is None:
            return build_episodes(admissions, merge_gap_days=merge_gap_days)
        return _check_episodes(episodes, admissions, merge_gap_days)
    # Discharge level: row i of the result is input row i. Columns are read by position below,
    # so the input index does not matter and nothing is copied.
    return admissions


@dataclass
class _Persons:
    """Each unit's person: found in the persons table, row there, age at admission."""

    known: np.ndarray
    loc: np.ndarray
    age: np.ndarray  # completed years (0 where unknown)
    age_valid: np.ndarray


def _person_ages(persons: pd.DataFrame, rows: pd.DataFrame, adm_key: np.ndarray) -> _Persons:
    """Age in completed years at admission from yyyymmdd keys (the birth key per person)."""
    pid = persons["person_id"]
    pidx = pd.Index(pid)
    if not pidx.is_unique:
        dup = np.flatnonzero(pidx.duplicated())
        raise SchemaError("persons", "person_id", "duplicate person_id", dup.size, dup)
    loc = _person_index(pid, rows["person_id"])
    known = loc >= 0
    if not len(persons):
        n = len(rows)
        return _Persons(known, loc, np.zeros(n, dtype=np.int32), np.zeros(n, dtype=bool))
    birth = day_numbers(pd.to_datetime(persons["birth_date"]).to_numpy(dtype="datetime64[ns]"))
    safe = np.where(known, loc, 0)
    age_valid = known & (birth != NAT_DAY)[safe]
    age = completed_years(adm_key, ymd(birth, np.int32)[safe])
    age[~age_valid] = 0
    return _Persons(known, loc, age, age_valid)


def _residence(persons: pd.DataFrame, loc: np.ndarray) -> dict[str, object]:
    """Sex and residence of each unit's person (missing when the person is unknown)."""
    res: dict[str, object] = {}
    for col in ("sex", "region_code", "municipality_code"):
        has = col in persons.columns and len(persons) > 0
        res[col] = CodedText(persons[col]).take(loc, allow_missing=True) if has else pd.NA
    return res


@dataclass
class _Codes:
    """The units' codes, matched by prefix per distinct value."""

    main_codes: np.ndarray  # factorised normalised main diagnosis (missing = len(uniques))
    main_uniques: pa.Array
    main: CodeColumn
    other: CodeColumn
    procedures: CodeColumn

    @classmethod
    def of(cls, rows: pd.DataFrame) -> _Codes:
        codes, uniques = pd.factorize(rows["main_diagnosis"])
        uniques = np.asarray(normalise_codes(pd.Series(np.asarray(uniques, dtype=object))), dtype=object)
        codes[codes < 0] = len(uniques)
        return cls(
            codes, pa.array(list(uniques), type=pa.large_string()),
            CodeColumn(rows["main_diagnosis"], codes=codes, uniques=uniques),
            CodeColumn(rows["other_diagnoses"] if "other_diagnoses" in rows.columns else None),
            CodeColumn(rows["procedures"] if "procedures" in rows.columns else None),
        )  # fmt: skip

    def main_starts_with(self, prefixes: Sequence[str]) -> np.ndarray:
        return match_distinct(self.main_codes, self.main_uniques, list(prefixes))


def _prefixes(rules: pd.DataFrame, mask: pd.Series | np.ndarray) -> list[str]:
    return rules.loc[mask, "icd10_prefix"].tolist()


def _group_candidates(rules: pd.DataFrame, c: _Codes, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Units whose codes put them in the group: (matched, secondary diagnosis missing).

    A main-diagnosis prefix matches; a ``requires_secondary`` main code counts only with one of
    the group's ``secondary`` codes among the other diagnoses; a ``procedure_required`` group
    (PQI 16) needs the procedure and, when listed, an ``any_required`` diagnosis in any position.
    """
    role, extra = rules["role"], rules["extra_rule"]
    m = c.main_starts_with(_prefixes(rules, (role == "main") & (extra != "requires_secondary")))
    sec_missing = np.zeros(0, dtype=np.int64)
    needs_sec = _prefixes(rules, (role == "main") & (extra == "requires_secondary"))
    if needs_sec:
        idx = np.flatnonzero(c.main_starts_with(needs_sec) & ~m)
        ok = c.other.matches(idx, _prefixes(rules, role == "secondary"))
        m[idx[ok]] = True
        sec_missing = idx[~ok]
    proc_req = _prefixes(rules, role == "procedure_required")
    if proc_req:
        idx = np.flatnonzero(c.procedures.matches(None, proc_req))
        anyreq = _prefixes(rules, role == "any_required")
        if anyreq:
            idx = idx[c.main.matches(idx, anyreq) | c.other.matches(idx, anyreq)]
        m[idx] = True
    return m, sec_missing


def _age_window(rules: pd.DataFrame, s: _Settings) -> tuple[int, int | None]:
    """The group's age window (PQI 05: 40+, PQI 15: 18-39) intersected with the definition's."""
    amin = rules["age_min"].dropna()
    amax = rules["age_max"].dropna()
    gmin = max(s.min_age, int(amin.max())) if len(amin) else s.min_age
    gmax_cands = [int(amax.min())] if len(amax) else []
    if s.max_age is not None:
        gmax_cands.append(int(s.max_age))
    return gmin, (min(gmax_cands) if gmax_cands else None)


def _row_rules(rows: pd.DataFrame, persons: _Persons, s: _Settings, adm_dates: np.ndarray,
               dis_dates: np.ndarray) -> list[tuple[str, Callable[[], np.ndarray] | None]]:  # fmt: skip
    """The unit-level exclusion rules in force, in reason order; each mask computed once, lazily."""
    n = len(rows)
    cache: dict[str, np.ndarray] = {}

    def once(reason: str, fn: Callable[[], np.ndarray]) -> Callable[[], np.ndarray]:
        return lambda: cache[reason] if reason in cache else cache.setdefault(reason, fn())

    def planned() -> np.ndarray:
        if "planned" not in rows.columns:
            return np.zeros(n, dtype=bool)
        return bool_values(rows["planned"])

    def transfer_in() -> np.ndarray:
        if "admitted_from" not in rows.columns:
            return np.zeros(n, dtype=bool)
        return equals_text(rows["admitted_from"], "hospital")

    def day_case() -> np.ndarray:
        return day_numbers(adm_dates) == day_numbers(dis_dates)

    return [
        ("person_unknown", once("person_unknown", lambda: ~persons.known)),
        ("age", None),  # per group window
        ("planned", once("planned", planned) if s.unplanned_only else None),
        ("transfer_in", once("transfer_in", transfer_in) if s.exclude_transfers_in else None),
        ("day_case", once("day_case", day_case) if s.exclude_day_cases else None),
    ]


@dataclass
class _Reasons:
    """Per reason, the units it removed from a group they matched; and every candidate."""

    masks: dict[str, np.ndarray]
    any_match: np.ndarray
    windows: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)

    @classmethod
    def empty(cls, n: int) -> _Reasons:
        return cls({r: np.zeros(n, dtype=bool) for r in EXCLUSION_REASONS}, np.zeros(n, dtype=bool))

    def remove(self, reason: str, rows_g: np.ndarray, keep: np.ndarray, bad: np.ndarray) -> None:
        """Among the kept candidates ``rows_g[keep]``, drop those where ``bad`` (same length)."""
        idx = rows_g[keep]
        keep[np.flatnonzero(keep)[bad]] = False
        self.masks[reason][idx[bad]] = True


def _flag_group(g: str, rules: pd.DataFrame, c: _Codes, persons: _Persons,
                row_rules: list, reasons: _Reasons, s: _Settings) -> np.ndarray:  # fmt: skip
    """The group's flag: candidates less every exclusion, each recorded with its reason."""
    n = persons.known.size
    m, sec_missing = _group_candidates(rules, c, n)
    # From here on only the units that matched the group (a small share) are visited.
    m[sec_missing] = True  # temporarily: matched = counted candidates | secondary missing
    rows_g = np.flatnonzero(m)
    m[sec_missing] = False
    reasons.any_match[rows_g] = True
    keep = m[rows_g]
    gmin, gmax = reasons.windows[g] = _age_window(rules, s)
    for reason, mask_of in row_rules:
        if reason == "age":
            a_g = persons.age[rows_g]
            ok = persons.age_valid[rows_g] & (a_g >= gmin)
            if gmax is not None:
                ok &= a_g <= gmax
            mask = ~ok
        elif mask_of is None:
            continue
        else:
            mask = mask_of()[rows_g]
        reasons.masks[reason][rows_g[mask]] = True
        keep &= ~mask
    reasons.masks["secondary_missing"][sec_missing] = True
    role = rules["role"]
    excl_any = _prefixes(rules, role == "exclude_any")
    if excl_any:
        idx = rows_g[keep]
        reasons.remove("exclusion_diagnosis", rows_g, keep,
                       c.main.matches(idx, excl_any) | c.other.matches(idx, excl_any))  # fmt: skip
    pe = s.procedure_exclusions
    proc_ex = list(pe[g]) if pe is not None and g in pe else _prefixes(rules, role == "exclude_procedure")
    if proc_ex:
        reasons.remove("procedure", rows_g, keep, c.procedures.matches(rows_g[keep], proc_ex))
    flag = np.zeros(n, dtype=bool)
    flag[rows_g[keep]] = True
    return flag


def _excluded_reason(reasons: _Reasons, union: np.ndarray) -> pd.Categorical:
    """The first reason (in EXCLUSION_REASONS order) of every candidate that is not counted."""
    n = union.size
    reason = np.full(n, -1, dtype=np.int64)
    todo = np.flatnonzero(reasons.any_match & ~union)
    r_todo = np.full(todo.size, -1, dtype=np.int64)
    for i, r in enumerate(EXCLUSION_REASONS):
        r_todo[(r_todo < 0) & reasons.masks[r][todo]] = i
    reason[todo] = r_todo
    return pd.Categorical.from_codes(reason, categories=list(EXCLUSION_REASONS))


def _group_flags(rows: pd.DataFrame, persons: _Persons, s: _Settings, adm_dates: np.ndarray,
                 dis_dates: np.ndarray) -> tuple[dict[str, np.ndarray], _Reasons, list[str]]:  # fmt: skip
    """Flag every condition group of the code list; composites and the union are added."""
    n = len(rows)
    cl = s.codelist
    groups = list(dict.fromkeys(cl["condition_group"]))
    codes = _Codes.of(rows)
    row_rules = _row_rules(rows, persons, s, adm_dates, dis_dates)
    reasons = _Reasons.empty(n)
    flags = {g: _flag_group(g, cl[cl["condition_group"] == g], codes, persons, row_rules, reasons, s)
             for g in groups}  # fmt: skip
    cols = dict(flags)
    for comp, members in s.d.composites.items():
        present = [flags[mm] for mm in members if mm in flags]
        cols[comp] = np.logical_or.reduce(present) if present else np.zeros(n, dtype=bool)
    union = np.logical_or.reduce([flags[g] for g in groups]) if groups else np.zeros(n, dtype=bool)
    cols["avoidable"] = union
    cols["excluded_reason"] = _excluded_reason(reasons, union)
    return cols, reasons, groups


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
        Canonical admissions (:mod:`naravard_analysis.data.schema`): ``person_id``, ``admission_date``, ``discharge_date``,
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
    s = _settings(admissions, persons, definition, unplanned_only, unit, min_age, max_age,
                  exclude_transfers_in, exclude_day_cases, procedure_exclusions, include_optional,
                  codelist, year_of)  # fmt: skip
    rows = _units(admissions, s, episodes, merge_gap_days)
    n = len(rows)
    adm_dates = _dates(rows["admission_date"], "admission_date")
    dis_dates = _dates(rows["discharge_date"], "discharge_date")
    adm_key = ymd(day_numbers(adm_dates), np.int32)
    who = _person_ages(persons, rows, adm_key)
    # Residence and sex are gathered (arrow, GIL released) in a worker thread meanwhile.
    pool = ThreadPoolExecutor(max_workers=1) if n >= _THREADS_FROM else None
    residence_job = pool.submit(_residence, persons, who.loc) if pool else None
    year_key = ymd(day_numbers(dis_dates), np.int32) if s.year_of == "discharge" else adm_key
    year_key //= 10000
    # Columns are collected and the frame is built once without consolidating them into 2-D
    # blocks (a copy of every column); arrays that view the input are copied here instead.
    cols: dict[str, object] = {
        "person_id": rows["person_id"].array.copy(),
        "admission_date": adm_dates.copy(),
        "discharge_date": dis_dates.copy(),
        "year": year_key.astype(np.int64),
        "age": pd.arrays.IntegerArray(who.age.astype(np.int64), ~who.age_valid),
    }
    unit_cols = {}
    if s.unit == "episode":
        unit_cols = {c: rows[c].to_numpy().copy() for c in ("episode_id", "n_stays")}
    group_cols, reasons, groups = _group_flags(rows, who, s, adm_dates, dis_dates)
    if pool:
        res = residence_job.result()
        pool.shutdown()
    else:
        res = _residence(persons, who.loc)
    cols = cols | res | unit_cols | group_cols
    out = pd.DataFrame(cols, copy=False)
    cl = s.codelist
    out.attrs.update(
        {
            "definition": definition,
            "unit": s.unit,
            "min_age": s.min_age,
            "max_age": max_age,
            "unplanned_only": bool(unplanned_only),
            "exclude_transfers_in": s.exclude_transfers_in,
            "exclude_day_cases": s.exclude_day_cases,
            "age_windows": reasons.windows,
            "groups": groups,
            "composites": list(s.d.composites),
            "codelist_version": ";".join(sorted(set(cl["version"]))),
            "codelist_verified": bool(cl["verified"].all()) if len(cl) else False,
        }
    )
    return out


def exclusion_summary(flags: pd.DataFrame, *, by: str | Sequence[str] = ()) -> pd.DataFrame:
    """Count units by exclusion reason (and ``by``): rows an indicator excludes are reported.

    Returns columns ``by`` + ``excluded_reason`` + ``n`` including reasons with zero rows, plus a
    row ``counted`` (units flagged avoidable).
    """
    by = as_columns(by)
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


