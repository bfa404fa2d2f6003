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
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from naravard_analysis.data.codelists import load_codelist, validate_codelist
from naravard_analysis.errors import ParameterError, SchemaError
from naravard_analysis.indicators.episodes import build_episodes
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


def _main_match(codes: np.ndarray, uniques: np.ndarray, prefixes: Sequence[str]) -> np.ndarray:
    """Main-diagnosis prefix match, evaluated once per distinct code (fast at 10^7 rows)."""
    if not prefixes:
        return np.zeros(len(codes), dtype=bool)
    pt = tuple(prefixes)
    hit = np.fromiter((u.startswith(pt) for u in uniques), dtype=bool, count=len(uniques))
    hit = np.append(hit, False)  # code -1 (missing) -> last element
    return hit[codes]


def _age_years(birth: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Completed years between two datetime64 arrays (NaT -> -1)."""
    b = pd.DatetimeIndex(birth)
    a = pd.DatetimeIndex(at)
    years = a.year.to_numpy() - b.year.to_numpy()
    before = (a.month.to_numpy() * 100 + a.day.to_numpy()) < (
        b.month.to_numpy() * 100 + b.day.to_numpy()
    )
    out = (years - before).astype(float)
    out[np.isnan(b.year.to_numpy(dtype=float)) | np.isnan(a.year.to_numpy(dtype=float))] = np.nan
    return out


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
        rows = build_episodes(admissions, merge_gap_days=merge_gap_days)
    else:
        # Discharge level: keep the input order (row i of the result is input row i).
        rows = admissions.reset_index(drop=True)
    n = len(rows)

    # --- person attributes (age at admission, residence) by an index lookup, not a merge.
    pidx = pd.Index(persons["person_id"])
    if not pidx.is_unique:
        dup = np.flatnonzero(pidx.duplicated())
        raise SchemaError("persons", "person_id", "duplicate person_id", dup.size, dup)
    loc = pidx.get_indexer(rows["person_id"])
    known = loc >= 0
    take = np.where(known, loc, 0)

    def person_col(name: str) -> np.ndarray | None:
        if name not in persons.columns or len(persons) == 0:
            return None
        v = persons[name].to_numpy()[take]
        if not known.all():
            v = pd.Series(v, dtype=persons[name].dtype).where(known).to_numpy()
        return v

    adm_dates = rows["admission_date"].to_numpy(dtype="datetime64[ns]")
    dis_dates = rows["discharge_date"].to_numpy(dtype="datetime64[ns]")
    birth = person_col("birth_date")
    birth = (
        np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
        if birth is None
        else pd.to_datetime(birth).to_numpy(dtype="datetime64[ns]")
    )
    age = _age_years(birth, adm_dates)
    out = pd.DataFrame(
        {
            "person_id": rows["person_id"].to_numpy(),
            "admission_date": adm_dates,
            "discharge_date": dis_dates,
            "year": pd.DatetimeIndex(
                dis_dates if year_of == "discharge" else adm_dates
            ).year.astype("int64"),
            "age": pd.array(np.where(np.isnan(age), 0, age).astype(np.int64), dtype="Int64"),
        }
    )
    out.loc[np.isnan(age), "age"] = pd.NA
    for col in ("sex", "region_code", "municipality_code"):
        v = person_col(col)
        out[col] = pd.Series(v, dtype=persons[col].dtype) if v is not None else pd.NA
    if unit == "episode":
        out["episode_id"] = rows["episode_id"].to_numpy()
        out["n_stays"] = rows["n_stays"].to_numpy()

    # --- condition groups by main-diagnosis prefix.
    # Normalise codes once per distinct value (fast at 10^7 rows); other diagnoses and procedures
    # are normalised only on the candidate rows that a rule needs.
    codes, uniques = pd.factorize(rows["main_diagnosis"])
    uniques = np.asarray(_norm_codes(pd.Series(np.asarray(uniques, dtype=object))), dtype=object)
    codes = np.where(codes < 0, len(uniques), codes)
    main_u = np.append(uniques, "")
    empty = pd.Series([""] * n, dtype=object)
    other_raw = rows["other_diagnoses"] if "other_diagnoses" in rows.columns else empty
    procs_raw = rows["procedures"] if "procedures" in rows.columns else empty

    def main_at(idx: np.ndarray) -> pd.Series:
        return pd.Series(main_u[codes[idx]], dtype=object)

    def other_at(idx: np.ndarray) -> pd.Series:
        return _norm_codes(other_raw.iloc[idx]).reset_index(drop=True)

    def procs_at(idx: np.ndarray) -> pd.Series:
        return _norm_codes(procs_raw.iloc[idx]).reset_index(drop=True)

    groups = list(dict.fromkeys(cl["condition_group"]))
    flags: dict[str, np.ndarray] = {}
    reason_masks = {r: np.zeros(n, dtype=bool) for r in EXCLUSION_REASONS}
    any_match = np.zeros(n, dtype=bool)
    age_ok_global = ~np.isnan(age) & (age >= min_age)
    if max_age is not None:
        age_ok_global &= age <= max_age
    windows: dict[str, tuple[int | None, int | None]] = {}

    planned = (
        rows["planned"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        if "planned" in rows.columns
        else np.zeros(n, dtype=bool)
    )
    transfer_in = (
        (rows["admitted_from"].astype(object) == "hospital").to_numpy(dtype=bool)
        if "admitted_from" in rows.columns
        else np.zeros(n, dtype=bool)
    )
    day_case = adm_dates.astype("datetime64[D]") == dis_dates.astype("datetime64[D]")

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
        m = _main_match(codes, uniques, plain.tolist())
        sec_missing = np.zeros(n, dtype=bool)
        if len(needs_sec):
            cand = _main_match(codes, uniques, needs_sec.tolist()) & ~m
            idx = np.flatnonzero(cand)
            ok = _any_code_matches(other_at(idx), secondary)
            m[idx[ok]] = True
            sec_missing[idx[~ok]] = True
        proc_req = rules.loc[role == "procedure_required", "icd10_prefix"].tolist()
        if proc_req:
            has_proc = np.flatnonzero(
                procs_raw.notna().to_numpy() & (procs_raw.astype(object) != "").to_numpy()
            )
            hit = _any_code_matches(procs_at(has_proc), proc_req)
            idx = has_proc[hit]
            anyreq = rules.loc[role == "any_required", "icd10_prefix"].tolist()
            if anyreq:
                txt = main_at(idx) + " " + other_at(idx)
                idx = idx[_any_code_matches(txt, anyreq)]
            m[idx] = True
        matched = m | sec_missing
        any_match |= matched
        keep = m.copy()
        # Group age window (PQI 05: 40+, PQI 15: 18-39) intersected with the definition's window.
        amin = rules["age_min"].dropna()
        amax = rules["age_max"].dropna()
        gmin = max(min_age, int(amin.max())) if len(amin) else min_age
        gmax_cands = [int(amax.min())] if len(amax) else []
        if max_age is not None:
            gmax_cands.append(int(max_age))
        gmax = min(gmax_cands) if gmax_cands else None
        windows[g] = (gmin, gmax)
        age_ok = ~np.isnan(age) & (age >= gmin)
        if gmax is not None:
            age_ok &= age <= gmax
        steps = [
            ("person_unknown", ~known),
            ("age", ~age_ok),
            ("planned", planned if unplanned_only else None),
            ("transfer_in", transfer_in if excl_tr else None),
            ("day_case", day_case if excl_day else None),
        ]
        for reason, mask in steps:
            if mask is None:
                continue
            hit = matched & mask
            reason_masks[reason] |= hit
            keep &= ~mask
        reason_masks["secondary_missing"] |= sec_missing
        excl_any = rules.loc[role == "exclude_any", "icd10_prefix"].tolist()
        if excl_any:
            idx = np.flatnonzero(keep)
            txt = main_at(idx) + " " + other_at(idx)
            bad = idx[_any_code_matches(txt, excl_any)]
            keep[bad] = False
            reason_masks["exclusion_diagnosis"][bad] = True
        proc_ex = (
            list(procedure_exclusions[g])
            if procedure_exclusions is not None and g in procedure_exclusions
            else rules.loc[role == "exclude_procedure", "icd10_prefix"].tolist()
        )
        if proc_ex:
            idx = np.flatnonzero(keep)
            bad = idx[_any_code_matches(procs_at(idx), proc_ex)]
            keep[bad] = False
            reason_masks["procedure"][bad] = True
        flags[g] = keep
    for g in groups:
        out[g] = flags[g]
    for comp, members in d.composites.items():
        present = [flags[mm] for mm in members if mm in flags]
        out[comp] = np.logical_or.reduce(present) if present else np.zeros(n, dtype=bool)
    union = np.logical_or.reduce([flags[g] for g in groups]) if groups else np.zeros(n, dtype=bool)
    out["avoidable"] = union
    reason = np.full(n, -1, dtype=np.int64)
    todo = any_match & ~union
    for i, r in enumerate(EXCLUSION_REASONS):
        sel = todo & (reason < 0) & reason_masks[r]
        reason[sel] = i
    out["excluded_reason"] = pd.Categorical.from_codes(reason, categories=list(EXCLUSION_REASONS))
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
