"""Validation of notebook parameters, shared by the runner (before any kernel starts) and by the
first cell of every notebook.

Papermill coerces ``-p region_code 01`` to the integer ``1`` and YAML reads ``0114`` as octal
(methods reference §9.2); a misspelled parameter is only a warning (9.3). Here both are errors that say
what was expected: region codes are two-digit zero-padded *strings* from the official list of the 21
regions (:func:`naravard_analysis.data.official.regions`), municipality codes four-digit strings
from the official list, and a name the notebook does not declare is refused.

Examples
--------
>>> validate_region_code("14")
'14'
>>> validate_region_code(14)
Traceback (most recent call last):
...
naravard_analysis.errors.ParameterError: region_code must be a two-digit zero-padded string such as '14' or '01', got the integer 14 (pass it as text: -r region_code 14 or "14" in YAML)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from naravard_analysis.errors import ParameterError
from naravard_analysis.report.labels import LANGUAGES

__all__ = [
    "STANDARD_PARAMETERS",
    "validate_region_code",
    "validate_municipality_codes",
    "validate_parameters",
]

#: Parameters every report notebook declares, with their meaning (used in error messages and help).
STANDARD_PARAMETERS: dict[str, str] = {
    "region_code": "two-digit region code as text, e.g. '14' (Västra Götaland)",
    "data_dir": "directory of a RegisterData bundle (manifest.json + Parquet files)",
    "output_dir": "directory the notebook writes its figures and tables into",
    "language": "'sv' or 'en'",
    "min_count": "small-cell suppression threshold (integer >= 1, default 5)",
}


def validate_region_code(value: Any, *, name: str = "region_code", allow_all: bool = False) -> str:
    """Return ``value`` if it is one of the 21 official region codes; raise ParameterError.

    ``allow_all=True`` also accepts ``"all"`` (every region) and the country code ``"00"``.
    """
    from naravard_analysis.data.official import regions

    known = regions()
    codes = list(known["region_code"])
    if isinstance(value, bool) or not isinstance(value, str):
        kind = "integer" if isinstance(value, int) else type(value).__name__
        raise ParameterError(
            f"{name} must be a two-digit zero-padded string such as '14' or '01', got the {kind} "
            f"{value!r} (pass it as text: -r {name} {value} or \"{value}\" in YAML)"
        )
    if allow_all and value in ("all", "00"):
        return value
    if value not in codes:
        hint = ""
        if value.isdigit() and len(value) == 1:
            hint = f"; did you mean '{value.zfill(2)}'?"
        elif value.isdigit() and len(value) == 4:
            hint = "; that looks like a municipality code (4 digits); regions have 2"
        raise ParameterError(
            f"{name} must be one of the 21 region codes ({', '.join(codes)}), got {value!r}{hint}"
        )
    return value


def validate_municipality_codes(values: Any, *, region_code: str | None = None) -> list[str]:
    """Return the municipality codes as a list of four-digit strings from the official list.

    ``None`` or an empty list means "all municipalities". Codes must belong to ``region_code``
    when it is given.
    """
    from naravard_analysis.data.official import municipalities

    if values is None or values == "" or values == []:
        return []
    if isinstance(values, str):
        # Text from the command line or a notebook parameter: "1480,1401".
        values = [v.strip() for v in values.split(",") if v.strip()]
    items = [values] if isinstance(values, int) else list(values)
    known = municipalities().set_index("municipality_code")["region_code"]
    out = []
    for v in items:
        if not isinstance(v, str):
            raise ParameterError(
                f"municipality codes must be four-digit strings such as '1480', got {v!r} "
                "(YAML reads 0114 as an octal number: quote every code)"
            )
        if v not in known.index:
            raise ParameterError(f"unknown municipality code {v!r} (expected four digits, e.g. '1480')")
        if region_code is not None and known[v] != region_code:
            raise ParameterError(f"municipality {v!r} lies in region {known[v]}, not {region_code}")
        out.append(v)
    return out


def validate_parameters(
    params: Mapping[str, Any],
    *,
    declared: Iterable[str] | None = None,
    require_data: bool = True,
) -> dict[str, Any]:
    """Check notebook parameters; return them (paths as :class:`str`, unchanged otherwise).

    Parameters
    ----------
    params
        Parameter values (as a notebook's parameters cell or a runner would pass them).
    declared
        Names the notebook declares; any other name is an error (papermill only warns).
    require_data
        Require ``data_dir`` (when present) to be an existing folder.

    Raises
    ------
    ParameterError
        On the first problem, naming the parameter and what was expected.
    """
    if declared is not None:
        declared = list(declared)
        unknown = [k for k in params if k not in declared]
        if unknown:
            raise ParameterError(
                f"unknown parameter(s) {', '.join(map(repr, unknown))}; the notebook declares "
                f"{', '.join(declared)}"
            )
    out = dict(params)
    if "region_code" in out:
        out["region_code"] = validate_region_code(out["region_code"])
    if "municipality_codes" in out:
        out["municipality_codes"] = validate_municipality_codes(
            out["municipality_codes"], region_code=out.get("region_code")
        )
    if "language" in out and out["language"] not in LANGUAGES:
        raise ParameterError(f"language must be 'sv' or 'en', got {out['language']!r}")
    if "min_count" in out:
        mc = out["min_count"]
        if isinstance(mc, bool) or not isinstance(mc, int) or mc < 1:
            raise ParameterError(f"min_count must be an integer >= 1, got {mc!r}")
    if require_data and "data_dir" in out:
        # A folder that exists: a RegisterData bundle for the register notebooks, or a folder of
        # reference data for the notebooks on published statistics (which check their own files).
        folder = Path(str(out["data_dir"]))
        if not folder.is_dir():
            raise ParameterError(
                f"data_dir {str(out['data_dir'])!r} does not exist; create a synthetic world with "
                "`naravard synth --out DIR` or point it at a RegisterData bundle"
            )
    return out
