"""Versioned code lists and standard populations shipped as CSV data files.

Every ICD-10 list used by an indicator lives here as data with its source, version and a ``verified``
flag (methods reference §3.4: "Every code list lives in a versioned data file with its source and status,
not in code"). See ``README.md`` in this folder for provenance and the ICD-10-CM → ICD-10-SE mapping.

Code-list columns
-----------------
list, version, condition_group, condition_type ('chronic'/'acute'), label_sv, label_en,
icd10_prefix (dotless upper-case prefix; a KVÅ prefix for procedure roles), role, extra_rule,
age_min, age_max (nullable ints, group-specific age window), source, verified (bool), note.

Roles: ``main`` (main-diagnosis prefix), ``secondary`` (secondary diagnoses that qualify a main row with
``extra_rule == "requires_secondary"``), ``exclude_any`` (any diagnosis excludes the group),
``exclude_procedure`` (a procedure excludes the group), ``procedure_required`` and ``any_required``
(both needed, PQI 16), ``none`` (a group with no code in this adaptation). ``extra_rule == "optional"``
marks codes counted only on request.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

import pandas as pd

from naravard_analysis.errors import ParameterError, SchemaError

__all__ = [
    "CODELISTS",
    "ROLES",
    "STANDARD_POPULATIONS",
    "load_codelist",
    "load_standard_population",
]

#: Code lists shipped with the package (name -> file).
CODELISTS = {
    "socialstyrelsen_undvikbar": "socialstyrelsen_undvikbar.csv",
    "ahrq_pqi": "ahrq_pqi.csv",
    "oecd_hcqi": "oecd_hcqi.csv",
}
#: Standard populations shipped with the package (name -> file).
STANDARD_POPULATIONS = {"esp2013": "esp2013.csv"}

ROLES = (
    "main",
    "secondary",
    "exclude_any",
    "exclude_procedure",
    "procedure_required",
    "any_required",
    "none",
)
_COLUMNS = (
    "list",
    "version",
    "condition_group",
    "condition_type",
    "label_sv",
    "label_en",
    "icd10_prefix",
    "role",
    "extra_rule",
    "age_min",
    "age_max",
    "source",
    "verified",
    "note",
)
_PREFIX = re.compile(r"^[A-Z][0-9A-Z]{0,5}$")


def _read(filename: str) -> pd.DataFrame:
    path = resources.files(__name__).joinpath(filename)
    with resources.as_file(path) as p:
        return pd.read_csv(p, dtype=str, keep_default_na=False)


def validate_codelist(df: pd.DataFrame, name: str = "codelist") -> pd.DataFrame:
    """Check and coerce a code list (shipped or user-supplied) to the documented columns.

    Raises :class:`~naravard_analysis.errors.SchemaError` naming the column, the rule and the rows.
    """
    missing = [c for c in ("condition_group", "icd10_prefix", "role") if c not in df.columns]
    if missing:
        raise SchemaError(name, missing[0], "required code-list column missing")
    out = df.copy()
    for col in _COLUMNS:
        if col not in out.columns:
            out[col] = "" if col not in ("age_min", "age_max", "verified") else pd.NA
    out = out[list(_COLUMNS)]
    for col in ("condition_group", "icd10_prefix", "role", "extra_rule", "condition_type"):
        out[col] = out[col].fillna("").astype(str).str.strip()
    out["icd10_prefix"] = out["icd10_prefix"].str.upper().str.replace(".", "", regex=False)
    bad_role = ~out["role"].isin(ROLES)
    if bad_role.any():
        pos = list(bad_role.to_numpy().nonzero()[0])
        raise SchemaError(name, "role", f"role must be one of {ROLES}", len(pos), pos)
    needs_code = out["role"] != "none"
    bad = needs_code & ~out["icd10_prefix"].map(lambda s: bool(_PREFIX.match(s)))
    if bad.any():
        pos = list(bad.to_numpy().nonzero()[0])
        raise SchemaError(name, "icd10_prefix", "malformed dotless code prefix", len(pos), pos)
    empty_group = out["condition_group"] == ""
    if empty_group.any():
        pos = list(empty_group.to_numpy().nonzero()[0])
        raise SchemaError(name, "condition_group", "must not be empty", len(pos), pos)
    for col in ("age_min", "age_max"):
        out[col] = pd.to_numeric(out[col].replace("", pd.NA), errors="raise").astype("Int64")
    v = out["verified"].astype(str).str.strip().str.lower()
    out["verified"] = v.isin(("true", "1", "yes"))
    return out.reset_index(drop=True)


@cache
def _load_cached(name: str) -> pd.DataFrame:
    return validate_codelist(_read(CODELISTS[name]), name)


def load_codelist(name: str) -> pd.DataFrame:
    """Return a shipped code list as a DataFrame (a fresh copy).

    Parameters
    ----------
    name : str
        One of :data:`CODELISTS`: ``"socialstyrelsen_undvikbar"`` (methods reference §3.1, all rows
        unverified), ``"ahrq_pqi"`` (§3.2, ICD-10-CM adapted to ICD-10-SE prefixes), ``"oecd_hcqi"``
        (§3.3; COPD verified, the other conditions unverified).

    Examples
    --------
    >>> cl = load_codelist("oecd_hcqi")
    >>> sorted(cl.condition_group.unique())
    ['asthma', 'chf', 'copd', 'diabetes', 'hypertension']
    """
    if name not in CODELISTS:
        raise ParameterError(f"unknown code list {name!r}; available: {sorted(CODELISTS)}")
    return _load_cached(name).copy()


def load_standard_population(name: str) -> pd.DataFrame:
    """Return a shipped standard population: ``age_group``, ``age_min``, ``age_max``, ``population``.

    ``"esp2013"``: European Standard Population 2013, 19 bands 0-4 … 85-89, 90+ (total 100 000;
    ukhsa-collaboration/PHEindicatormethods ``R/data.R``; Eurostat KS-RA-13-028; methods reference §5.5).
    """
    if name not in STANDARD_POPULATIONS:
        raise ParameterError(
            f"unknown standard population {name!r}; available: {sorted(STANDARD_POPULATIONS)}"
        )
    df = _read(STANDARD_POPULATIONS[name])
    df["age_min"] = df["age_min"].astype("int64")
    df["age_max"] = pd.to_numeric(df["age_max"].replace("", pd.NA)).astype("Int64")
    df["population"] = df["population"].astype("int64")
    df["age_group"] = df["age_group"].astype(str)
    return df
