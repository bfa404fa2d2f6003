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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from naravard_analysis.data.schema import STRING_DTYPE
from naravard_analysis.errors import DataWarning, ParameterError, SchemaError
from naravard_analysis.indicators.episodes import assign_episodes

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


# --------------------------------------------------------------------------------------------
# input checks and small helpers
# --------------------------------------------------------------------------------------------
def _days(s: pd.Series, table: str, column: str) -> np.ndarray:
    """Dates as int64 days since the epoch (NaT -> int64 min; callers check missingness)."""
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

    Takes the ``role == "main"`` prefixes of each ``condition_group`` (e.g. heart failure,
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
    names = list(dict.fromkeys(cl["condition_group"].astype(str))) if groups is None else groups
    out: dict[str, list[str]] = {}
    for g in names:
        prefixes = cl.loc[cl["condition_group"].astype(str) == g, "icd10_prefix"].astype(str)
        if prefixes.empty:
            raise ParameterError(f"condition group {g!r} has no main-diagnosis codes in the list")
        out[str(g)] = list(dict.fromkeys(prefixes))
    return out


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
    a = adm[order]
    if n:
        base = min(reach.min(), a.min())
        span = int(max(reach.max(), a.max()) - base + 1)
        runmax = np.maximum.accumulate(p * span + (reach - base))
        prev = np.empty(n, dtype=np.int64)
        prev[0] = np.iinfo(np.int64).min
        prev[1:] = runmax[:-1]
        new_person = np.ones(n, dtype=bool)
        new_person[1:] = p[1:] != p[:-1]
        new_episode = new_person | (p * span + (a - base) > prev)
    else:
        new_episode = np.zeros(0, dtype=bool)
    episode = np.cumsum(new_episode) - 1
    start = np.flatnonzero(new_episode)
    stay_seq = np.arange(n) - np.repeat(start, np.diff(np.append(start, n))) + 1
    out = admissions.iloc[order].copy()
    out["episode_id"] = episode.astype(np.int64)
    out["stay_seq"] = stay_seq.astype(np.int64)
    return out


_FIRST = ("planned", "main_diagnosis", "hospital_id", "department", "admitted_from")
_TIE_KEYS = ("planned", "discharge_to", "main_diagnosis", "hospital_id", "department", "admitted_from")


def _break_ties(adm: pd.DataFrame) -> pd.DataFrame:
    """Reorder stays so that linking does not depend on input row order.

    ``assign_episodes`` keeps input order among stays with the same person, admission and
    discharge date, and the first / last of them decides the episode's planned status, main
    diagnosis and discharge mode. Design choice: such tied stays are ordered unplanned first, a
    stay ending in death last, then by discharge mode, main diagnosis, hospital, department,
    admitted_from (text order). Without ties the frame is returned unchanged (no copy).
    """
    n = len(adm)
    if n < 2:
        return adm
    pcode, _ = pd.factorize(adm["person_id"], sort=True)
    a = _days(adm["admission_date"], "admissions", "admission_date")
    d = _days(adm["discharge_date"], "admissions", "discharge_date")
    order = np.lexsort((d, a, pcode))
    ps, as_, ds = pcode[order], a[order], d[order]
    same = (ps[1:] == ps[:-1]) & (as_[1:] == as_[:-1]) & (ds[1:] == ds[:-1])
    if not same.any():
        return adm
    tied = np.zeros(n, dtype=bool)
    tied[1:] |= same
    tied[:-1] |= same
    rows = order[tied]
    sub = adm.iloc[rows]
    keys = []
    for col in _TIE_KEYS:
        if col not in sub.columns:
            continue
        if col == "discharge_to":
            keys.append((sub[col].astype(object) == "died").to_numpy(dtype=np.int64))
        codes, _ = pd.factorize(sub[col].astype(object).where(sub[col].notna(), ""), sort=True)
        keys.append(codes.astype(np.int64))
    rank = np.empty(rows.size, dtype=np.int64)
    rank[np.lexsort(tuple(reversed(keys))) if keys else np.arange(rows.size)] = np.arange(rows.size)
    secondary = np.zeros(n, dtype=np.int64)
    secondary[rows] = rank
    return adm.iloc[np.lexsort((secondary, d, a, pcode))]




def _episode_table(stays: pd.DataFrame) -> pd.DataFrame:
    """One row per episode from sorted, labelled stays (same attributes as ``build_episodes``).

    First stay: admission date, planned, main diagnosis, hospital, department, admitted_from
    (DEFINITIONS.md §2.4); stay with the latest discharge: discharge date, discharge_to and
    ``discharge_hospital_id``.
    """
    n = len(stays)
    ep = stays["episode_id"].to_numpy()
    first = np.flatnonzero(stays["stay_seq"].to_numpy() == 1)
    n_stays = np.diff(np.append(first, n))
    dis = _days(stays["discharge_date"], "admissions", "discharge_date")
    last_order = np.lexsort((np.arange(n), dis, ep))
    last = last_order[np.cumsum(n_stays) - 1] if n else first

    def take(col: str, pos: np.ndarray) -> pd.Series:
        return stays[col].take(pos).reset_index(drop=True)

    out = pd.DataFrame({"person_id": take("person_id", first)})
    out["episode_id"] = np.arange(first.size, dtype=np.int64)
    out["admission_date"] = pd.to_datetime(take("admission_date", first)).astype("datetime64[ns]")
    out["discharge_date"] = pd.to_datetime(take("discharge_date", last)).astype("datetime64[ns]")
    out["n_stays"] = n_stays.astype(np.int64)
    for col in _FIRST:
        if col in stays.columns:
            out[col] = take(col, first)
    if "discharge_to" in stays.columns:
        out["discharge_to"] = take("discharge_to", last)
    if "hospital_id" in stays.columns:
        out["discharge_hospital_id"] = take("hospital_id", last)
    return out


# --------------------------------------------------------------------------------------------
# flags
# --------------------------------------------------------------------------------------------
def _person_lookup(persons: pd.DataFrame, ids: pd.Series) -> np.ndarray:
    dup = persons["person_id"].duplicated().to_numpy()
    if dup.any():
        pos = np.flatnonzero(dup)
        raise SchemaError("persons", "person_id", "duplicate person", pos.size, pos)
    return pd.Index(persons["person_id"]).get_indexer(ids)


def _age_years(birth: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Completed years between two datetime64[D] arrays (birthday reached on the same month-day)."""
    b = birth.astype("datetime64[D]")
    a = at.astype("datetime64[D]")
    by = b.astype("datetime64[Y]").astype(np.int64)
    ay = a.astype("datetime64[Y]").astype(np.int64)
    # Compare month and day, not day-of-year, so leap years do not shift birthdays by one day.
    bm = b.astype("datetime64[M]").astype(np.int64) % 12
    am = a.astype("datetime64[M]").astype(np.int64) % 12
    bd = (b - b.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64)
    ad = (a - a.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64)
    before = (am < bm) | ((am == bm) & (ad < bd))
    return ay - by - before.astype(np.int64)


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
    if variant not in VARIANTS:
        raise ParameterError(f"unknown variant {variant!r}; available: {sorted(VARIANTS)}")
    v = VARIANTS[variant]
    lo, hi = _window(v, window)
    min_age = v.min_age if min_age is _DEFAULT else min_age
    if min_age is not None and (isinstance(min_age, bool) or not isinstance(min_age, (int, np.integer))):
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

    need = ["person_id", "admission_date", "discharge_date"]
    if unplanned_only:
        need.append("planned")
    if index_diagnoses is not None:
        need.append("main_diagnosis")
    _require(admissions, "admissions", need)
    _require(persons, "persons", ["person_id"] + (["birth_date"] if min_age is not None else []))

    keep = [c for c in (*need, *_FIRST, "discharge_to") if c in admissions.columns]
    adm = _break_ties(admissions[list(dict.fromkeys(keep))])
    if v.linking == "cms":
        stays = link_episodes_cms(adm)
    else:
        stays = assign_episodes(adm, merge_gap_days=merge_gap_days)
    ep = _episode_table(stays)
    n = len(ep)

    if end_date is None:
        last = max(pd.to_datetime(adm["discharge_date"]).max(), pd.to_datetime(adm["admission_date"]).max())
        end = pd.Timestamp(last) if n else pd.Timestamp("1970-01-01")
        end_inferred = True
    else:
        end = pd.Timestamp(end_date)
        end_inferred = False
    end_d = np.int64(end.to_datetime64().astype("datetime64[D]").astype(np.int64))

    adm_d = _days(ep["admission_date"], "admissions", "admission_date")
    dis_d = _days(ep["discharge_date"], "admissions", "discharge_date")
    pcode, _ = pd.factorize(ep["person_id"], sort=True)
    p = pcode.astype(np.int64)

    # Planned status of each episode = PVARD of its first stay (§2.4). Missing -> unplanned.
    if "planned" in ep.columns:
        pl = ep["planned"].astype("boolean")
        n_na = int(pl.isna().sum())
        if n_na:
            warnings.warn(
                f"admissions.planned: {n_na} episode(s) with missing planned status counted as "
                "unplanned",
                DataWarning,
                stacklevel=2,
            )
        planned = pl.fillna(False).to_numpy(dtype=bool)
    else:
        planned = np.zeros(n, dtype=bool)
    qualifying = ~planned if unplanned_only else np.ones(n, dtype=bool)

    # ---- the readmission search (vectorised) --------------------------------------------------
    idx = np.arange(n)
    if n:
        base = int(min(adm_d.min(), dis_d.min()))
        span = int(max(adm_d.max(), dis_d.max()) - base + hi + 2)
        key_adm = p * span + (adm_d - base)  # non-decreasing: episodes sorted by person, admission
        first_cand = np.searchsorted(key_adm, p * span + (dis_d + lo - base), side="left")
        first_cand = np.maximum(first_cand, idx + 1)  # a later episode, never the index itself
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
        nxt_ext = np.append(nxt, n)
        j = nxt_ext[first_cand]
        event = p_ext[j] == p
        blocked = np.zeros(n, dtype=bool)
    d_next = adm_ext[j] - dis_d
    readm_any = event & (d_next <= hi)

    followup = end_d - dis_d
    followup = np.where(blocked, np.minimum(followup, d_next), followup)

    # ---- persons: age, sex, municipality, death ----------------------------------------------
    pos = _person_lookup(persons, ep["person_id"])
    found = pos >= 0
    n_missing = int((~found).sum())
    if n_missing:
        warnings.warn(
            f"persons: {n_missing} index episode(s) of persons missing from the persons table "
            "(age unknown; excluded as 'age' when min_age is set)",
            DataWarning,
            stacklevel=2,
        )
    safe = np.where(found, pos, 0)

    def person_col(col: str) -> pd.Series:
        s = persons[col].take(safe).reset_index(drop=True)
        return s.where(pd.Series(found), other=np.nan) if not found.all() else s

    age = pd.array([pd.NA] * n, dtype="Int64")
    if "birth_date" in persons.columns:
        birth = pd.to_datetime(person_col("birth_date")).to_numpy(dtype="datetime64[ns]")
        ref = ep["admission_date" if age_at == "admission" else "discharge_date"].to_numpy()
        known = ~np.isnat(birth)
        years = np.zeros(n, dtype=np.int64)
        if known.any():
            years[known] = _age_years(birth[known], ref[known])
        age = pd.array(np.where(known, years, 0), dtype="Int64")
        age[~known] = pd.NA
    death_days = np.full(n, np.nan)
    if "death_date" in persons.columns:
        death = pd.to_datetime(person_col("death_date")).to_numpy(dtype="datetime64[ns]")
        has = ~np.isnat(death)
        death_days[has] = death[has].astype("datetime64[D]").astype(np.int64) - dis_d[has]

    # ---- exclusions ----------------------------------------------------------------------------
    exclusion = np.full(n, None, dtype=object)

    def mark(mask: np.ndarray, reason: str) -> None:
        exclusion[mask & (exclusion == None)] = reason  # noqa: E711 (object array)

    if min_age is not None:
        age_np = age.to_numpy(dtype="float64", na_value=np.nan)
        mark(np.isnan(age_np) | (age_np < min_age), "age")
    index_group = None
    if index_diagnoses is not None:
        md = ep["main_diagnosis"].astype(STRING_DTYPE).str.strip().str.upper().str.replace(".", "")
        if isinstance(index_diagnoses, Mapping):
            index_group = pd.Series(np.nan, index=ep.index, dtype=object)
            for g, prefixes in index_diagnoses.items():
                hit = md.str.contains(_prefix_pattern(prefixes), regex=True).fillna(False)
                index_group = index_group.where(index_group.notna() | ~hit.to_numpy(bool), str(g))
            matched = index_group.notna().to_numpy()
        else:
            if isinstance(index_diagnoses, str):
                index_diagnoses = [index_diagnoses]
            hit = md.str.contains(_prefix_pattern(list(index_diagnoses)), regex=True)
            matched = hit.fillna(False).to_numpy(dtype=bool)
        mark(~matched, "diagnosis")
    if "discharge_to" in ep.columns:
        mark((ep["discharge_to"].astype(object) == "died").to_numpy(dtype=bool), "died")
    # Follow-up must reach the window's last day (a blocking planned readmission is not missing
    # follow-up: the CMS rule has already decided the index).
    mark(end_d - dis_d < hi, "incomplete_followup")
    died_in_window = (death_days >= 0) & (death_days <= hi)
    if death_after_discharge == "exclude":
        readm_before_death = readm_any & (d_next <= np.where(np.isnan(death_days), np.inf, death_days))
        mark(died_in_window & ~readm_before_death, "died_after_discharge")
    eligible = exclusion == None  # noqa: E711
    readmitted = readm_any & eligible

    # ---- assemble ------------------------------------------------------------------------------
    out = ep.drop(columns=["discharge_hospital_id"], errors="ignore").copy()
    if "discharge_hospital_id" in ep.columns:
        out["discharge_hospital_id"] = ep["discharge_hospital_id"]
    for col in ("sex", "municipality_code", "region_code"):
        if col in persons.columns:
            out[col] = person_col(col).astype(STRING_DTYPE)
    out["age"] = age
    if index_group is not None:
        out["index_group"] = index_group.astype(STRING_DTYPE)
    out["eligible"] = eligible
    out["exclusion"] = pd.Series(exclusion, dtype=object).astype(STRING_DTYPE)
    out["readmitted"] = readmitted
    days = pd.array(np.where(readmitted, d_next, 0), dtype="Int64")
    days[~readmitted] = pd.NA
    out["days_to_readmission"] = days
    j_safe = np.minimum(j, max(n - 1, 0))
    rd = ep["admission_date"].take(j_safe).reset_index(drop=True) if n else ep["admission_date"]
    out["readmission_date"] = rd.where(pd.Series(readmitted), pd.NaT)
    for src, dst in (("main_diagnosis", "readmission_diagnosis"), ("hospital_id", "readmission_hospital_id")):
        if src in ep.columns:
            vals = ep[src].take(j_safe).reset_index(drop=True).astype(STRING_DTYPE) if n else ep[src]
            out[dst] = vals.where(pd.Series(readmitted), np.nan).astype(STRING_DTYPE)
    live = exclusion != "died"
    out["died_in_window"] = died_in_window & live
    out["days_to_death"] = pd.array(np.where(np.isnan(death_days), 0, death_days).astype(np.int64), dtype="Int64")
    out.loc[np.isnan(death_days), "days_to_death"] = pd.NA
    nr = pd.array(np.where(event, d_next, 0), dtype="Int64")
    nr[~event] = pd.NA
    out["next_readmission_days"] = nr
    out["followup_days"] = followup.astype(np.int64)
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
        df = df.assign(year=pd.to_datetime(df["discharge_date"]).dt.year.astype("int64"))
    _require(df, "flags", by_cols)
    el = df["eligible"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    work = pd.DataFrame(
        {
            "n_index": np.ones(len(df), dtype=np.int64),
            "eligible": el.astype(np.int64),
            "readmitted": (df["readmitted"].astype("boolean").fillna(False).to_numpy(bool) & el).astype(
                np.int64
            ),
        },
        index=df.index,
    )
    excl = df["exclusion"].astype(object)
    for reason in EXCLUSION_REASONS:
        work[f"excluded_{reason}"] = (excl == reason).to_numpy(dtype=np.int64)
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
