"""Charlson comorbidity index with the Swedish register adaptation (Ludvigsson et al. 2021).

The code list lives in ``naravard_analysis/data/codelists/charlson_ludvigsson2021.csv`` (one row per
ICD-10 prefix, with its condition group, Charlson weight, the group it supersedes, source and a
``verified`` flag). Source: Ludvigsson JF et al., *Adaptation of the Charlson Comorbidity Index for
Register-Based Research in Sweden*, Clin Epidemiol 2021;13:21–41. The ICD-10 prefixes were transcribed
from the authors' companion R script (bjoroeKI/Charlson-comorbidity-index-revisited, ``Charlson_R``),
**not** from Table 2 of the paper, so every row is ``verified = false`` (the methods reference "Status
marks": unverified rules live in versioned data files, never as silent constants).

Score: CCI = Σ_g w_g · 1{any diagnosis of the unit matches a prefix of group g}, after the hierarchy
rules of the companion script:

* diabetes with chronic complication removes diabetes without complication;
* moderate–severe liver disease removes mild liver disease, and mild liver disease together with
  ascites (R18) is upgraded to moderate–severe;
* metastatic solid tumour removes (non-metastatic) malignancy.

Weights (Charlson 1987, as in the companion script): 1 for myocardial infarction, heart failure,
peripheral vascular, cerebrovascular disease, COPD, other chronic pulmonary disease, rheumatic
disease, dementia, uncomplicated diabetes, mild liver disease, peptic ulcer; 2 for hemiplegia,
complicated diabetes, renal disease, malignancy; 3 for moderate–severe liver disease; 6 for metastatic
solid tumour and AIDS/HIV.

Matching is by dotless prefix at a code boundary in a space-separated code string (methods reference §2.3): ``"I252"`` matches ``"I2521"`` but ``"I25"`` does not match ``"I252"``'s group unless listed.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from naravard_analysis.core.icd import CodeColumn
from naravard_analysis.errors import ParameterError, SchemaError

__all__ = [
    "CHARLSON_GROUPS",
    "apply_charlson_hierarchy",
    "charlson_flags",
    "charlson_score",
    "charlson_score_from_flags",
    "load_charlson_codelist",
]

_FILE = "charlson_ludvigsson2021.csv"
_COLUMNS = ("condition_group", "icd10_prefix", "weight", "supersedes", "verified")
_PREFIX = re.compile(r"^[A-Z][0-9A-Z]{1,5}$")

#: Condition groups of the shipped list, in the paper's order.
CHARLSON_GROUPS = (
    "myocardial_infarction",
    "congestive_heart_failure",
    "peripheral_vascular_disease",
    "cerebrovascular_disease",
    "copd",
    "other_chronic_pulmonary_disease",
    "rheumatic_disease",
    "dementia",
    "hemiplegia",
    "diabetes_without_complication",
    "diabetes_with_complication",
    "renal_disease",
    "mild_liver_disease",
    "ascites",
    "severe_liver_disease",
    "peptic_ulcer_disease",
    "malignancy",
    "metastatic_solid_tumor",
    "aids_hiv",
)


@cache
def _read() -> pd.DataFrame:
    path = resources.files("naravard_analysis.data.codelists").joinpath(_FILE)
    with resources.as_file(path) as p:
        return pd.read_csv(p, dtype=str, keep_default_na=False)


def _validate(df: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in _COLUMNS if c not in df.columns]
    if missing:
        raise SchemaError("charlson codelist", missing[0], "required code-list column missing")
    out = df.copy()
    out["icd10_prefix"] = (
        out["icd10_prefix"].astype(str).str.strip().str.upper().str.replace(".", "", regex=False)
    )
    bad = ~out["icd10_prefix"].map(lambda s: bool(_PREFIX.match(s))).to_numpy(dtype=bool)
    if bad.any():
        pos = np.flatnonzero(bad)
        raise SchemaError(
            "charlson codelist", "icd10_prefix", "malformed dotless code prefix", pos.size, pos
        )
    w = pd.to_numeric(out["weight"], errors="coerce")
    if w.isna().any():
        pos = np.flatnonzero(w.isna().to_numpy())
        raise SchemaError("charlson codelist", "weight", "must be a number", pos.size, pos)
    out["weight"] = w.astype("int64")
    out["supersedes"] = out["supersedes"].fillna("").astype(str)
    out["verified"] = out["verified"].astype(str).str.strip().str.lower().isin(("true", "1", "yes"))
    return out.reset_index(drop=True)


def load_charlson_codelist() -> pd.DataFrame:
    """Return the shipped Ludvigsson 2021 Charlson code list (a fresh copy).

    Columns: ``list, version, condition_group, label_sv, label_en, icd10_prefix, weight (int),
    supersedes, source, verified (bool), note``. Every row is ``verified = False`` (transcribed from
    the authors' companion script, not checked against the paper's table).

    Examples
    --------
    >>> cl = load_charlson_codelist()
    >>> cl.loc[cl.condition_group == "metastatic_solid_tumor", "weight"].unique().tolist()
    [6]
    """
    return _validate(_read())


def _prepare(codelist: pd.DataFrame | None) -> pd.DataFrame:
    return load_charlson_codelist() if codelist is None else _validate(codelist)


def apply_charlson_hierarchy(
    flags: pd.DataFrame, *, codelist: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Apply the hierarchy rules to raw condition flags (idempotent; returns a copy).

    Mild liver disease with ascites becomes moderate–severe; then every group listed in the code
    list's ``supersedes`` column is switched off where the superseding group is present. Apply it
    *after* combining flags over several stays (e.g. a look-back period), not before.
    """
    cl = _prepare(codelist)
    out = flags.astype(bool).copy()
    if {"mild_liver_disease", "ascites", "severe_liver_disease"} <= set(out.columns):
        out["severe_liver_disease"] |= out["mild_liver_disease"] & out["ascites"]
    for g, sup in cl[["condition_group", "supersedes"]].drop_duplicates().itertuples(index=False):
        if sup:
            if sup not in out.columns or g not in out.columns:
                raise SchemaError(
                    "charlson codelist", "supersedes", f"group {g!r} supersedes unknown group {sup!r}"
                )
            out[sup] &= ~out[g]
    return out


def charlson_flags(
    diagnoses: pd.Series, *, codelist: pd.DataFrame | None = None, hierarchy: bool = True
) -> pd.DataFrame:
    """One boolean column per Charlson condition group (after the hierarchy rules by default).

    Parameters
    ----------
    diagnoses : Series of str
        One unit per row (a care episode, or a person's look-back period): its ICD-10 codes,
        dotless, separated by single spaces (e.g. ``main_diagnosis + " " + other_diagnoses``).
        Missing values count as no diagnoses.
    codelist : DataFrame, optional
        A code list with the columns of :func:`load_charlson_codelist`; the shipped one by default.
    hierarchy : bool
        Apply :func:`apply_charlson_hierarchy` (default). Use ``False`` for per-stay flags that are
        combined over stays first.

    Returns
    -------
    DataFrame
        Same index as ``diagnoses``; one bool column per condition group (``ascites`` included, it
        has weight 0 and only upgrades mild liver disease).

    Examples
    --------
    >>> import pandas as pd
    >>> f = charlson_flags(pd.Series(["E112 E110", "K703 R18"]))
    >>> f[["diabetes_without_complication", "diabetes_with_complication"]].values.tolist()
    [[False, True], [False, False]]
    >>> f[["mild_liver_disease", "severe_liver_disease"]].values.tolist()
    [[False, False], [False, True]]
    """
    cl = _prepare(codelist)
    if not isinstance(diagnoses, pd.Series):
        raise SchemaError("diagnoses", None, "expected a pandas Series of space-separated codes")
    groups = {
        g: cl.loc[cl["condition_group"] == g, "icd10_prefix"].tolist()
        for g in dict.fromkeys(cl["condition_group"])
    }
    # A code of the unit matches when it starts with one of the group's dotless prefixes.
    flags = CodeColumn(diagnoses).matches_groups(groups)
    out = pd.DataFrame(flags, index=diagnoses.index)
    return apply_charlson_hierarchy(out, codelist=cl) if hierarchy else out


def charlson_score_from_flags(
    flags: pd.DataFrame, *, codelist: pd.DataFrame | None = None, weighted: bool = True
) -> pd.Series:
    """Score condition flags (hierarchy applied first): Σ weight · flag, or the count when
    ``weighted=False``. Returns int64 named ``"charlson"``."""
    if not isinstance(weighted, bool):
        raise ParameterError(f"weighted must be True or False, got {weighted!r}")
    cl = _prepare(codelist)
    f = apply_charlson_hierarchy(flags, codelist=cl)
    w = cl.drop_duplicates("condition_group").set_index("condition_group")["weight"]
    missing = [c for c in f.columns if c not in w.index]
    if missing:
        raise SchemaError("charlson flags", missing[0], "condition group not in the code list")
    w = w.reindex(f.columns).to_numpy(dtype=np.int64)
    if not weighted:
        w = (w > 0).astype(np.int64)
    return pd.Series(f.to_numpy(dtype=np.int64) @ w, index=f.index, name="charlson", dtype="int64")


def charlson_score(
    diagnoses: pd.Series, *, codelist: pd.DataFrame | None = None, weighted: bool = True
) -> pd.Series:
    """Charlson comorbidity index per row (Ludvigsson et al. 2021 Swedish adaptation).

    Parameters
    ----------
    diagnoses : Series of str
        Space-separated dotless ICD-10 codes per unit (see :func:`charlson_flags`).
    codelist : DataFrame, optional
        Alternative code list (same columns as :func:`load_charlson_codelist`).
    weighted : bool
        ``True`` (default): Σ weight · flag (CCIw of the companion script); ``False``: number of
        conditions with a non-zero weight (CCIunw).

    Returns
    -------
    Series of int64, named ``"charlson"``, same index as ``diagnoses``.

    Notes
    -----
    Unit of analysis: whatever a row of ``diagnoses`` is. Which diagnoses enter (index episode only,
    or a look-back period) is the caller's choice and must be reported. The code list is unverified
    against the paper (see the module docstring).

    Examples
    --------
    >>> import pandas as pd
    >>> charlson_score(pd.Series(["I500 C780 C189", "", None])).tolist()
    [7, 0, 0]
    """
    cl = _prepare(codelist)
    flags = charlson_flags(diagnoses, codelist=cl, hierarchy=False)
    return charlson_score_from_flags(flags, codelist=cl, weighted=weighted)
