"""Patientregistret (Socialstyrelsen) names and codes mapped onto the canonical tables."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from naravard_analysis.data.readers.normalise import (
    NULL_STR,
    Context,
    as_mask,
    clean_text,
    code_list,
    code_text,
    fail,
    icd,
    is_acute,
    is_text,
    join_codes,
    map_codes,
    numbers,
    pad,
    padded_code,
    parse_dates,
    person_ids,
    to_str,
)
from naravard_analysis.data.schema import STRING_DTYPE
from naravard_analysis.errors import (
    ReadError,
)

#: Code meanings of Patientregistret (Ludvigsson et al. 2011, Table 1; methods reference §2.2).
#: INSATT/UTSATT codes outside these map to ``"other"`` and are counted in the read report.
PATIENTREGISTRET_CODES: dict[str, dict[str, object]] = {
    "PVARD": {"1": True, "2": False},
    "INSATT": {"1": "hospital", "2": "special_housing", "3": "home"},
    "UTSATT": {"1": "hospital", "2": "special_housing", "3": "home", "4": "died"},
    "KON": {"1": "M", "2": "F"},
}

#: MVO codes of emergency outpatient visits when PVARD == 2 (methods reference §2.5, KIHeartFailure).
_EMERGENCY_MVO = ("046", "100")
#: Largest plausible age in years (ALDER): above the oldest verified human age (122).
MAX_AGE = 125


def map_patientregistret(raw: pa.Table, ctx: Context) -> dict[str, pd.Series]:
    """Socialstyrelsen names -> canonical columns (methods reference §2.2, 2.6)."""
    admissions = ctx.table == "admissions"
    by_upper: dict[str, str] = {}
    for name in raw.column_names:
        key = name.strip().upper()
        if key in by_upper:
            raise ReadError(
                f"{ctx.report.path}: column {key} appears twice (names compared case-insensitively)"
            )
        by_upper[key] = name

    def col(key: str) -> pa.ChunkedArray | None:
        return raw.column(by_upper[key]) if key in by_upper else None

    used: set[str] = set()
    out: dict[str, pd.Series] = {}
    mapped = ctx.report.columns_mapped

    def take(key: str, target: str) -> pa.ChunkedArray | None:
        c = col(key)
        if c is not None:
            used.add(key)
            mapped[by_upper[key]] = target
        return c

    if (c := take("LOPNR", "person_id")) is not None:
        out["person_id"] = person_ids(c, ctx)
    date_target = "admission_date" if admissions else "contact_date"
    if (c := take("INDATUM", date_target)) is not None:
        out[date_target] = pd.Series(parse_dates(c, ctx, date_target))
    if admissions and (c := take("UTDATUM", "discharge_date")) is not None:
        out["discharge_date"] = pd.Series(parse_dates(c, ctx, "discharge_date"))
    if (c := take("HDIA", "main_diagnosis")) is not None:
        out["main_diagnosis"] = to_str(icd(c, ctx, "main_diagnosis"))
    dia_keys = sorted(
        (k for k in by_upper if re.fullmatch(r"DIA[0-9]+", k)), key=lambda k: int(k[3:])
    )
    if dia_keys:
        dia = [take(k, "other_diagnoses") for k in dia_keys]
        out["other_diagnoses"] = to_str(join_codes(dia, ctx, "other_diagnoses"))
    if (c := take("OP", "procedures")) is not None:
        out["procedures"] = to_str(code_list(c, ctx, "procedures"))
    pvard = take("PVARD", "planned")
    if pvard is not None:
        planned = map_codes(pvard, PATIENTREGISTRET_CODES["PVARD"], ctx, "PVARD", "planned", None)
        out["planned"] = pd.Series(
            planned.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get), dtype="boolean"
        )
        if admissions and not planned.null_count:
            out["planned"] = out["planned"].astype(bool)
    if admissions:
        if (c := take("SJUKHUS", "hospital_id")) is not None:
            out["hospital_id"] = to_str(code_text(c, ctx, "hospital_id"))
    elif (c := take("SJUKHUS", "unit_id")) is not None:
        out["unit_id"] = to_str(code_text(c, ctx, "unit_id"))
    mvo = take("MVO", "department")
    mvo_text = None
    if mvo is not None:
        mvo_text = padded_code(mvo, ctx, "department", 3)
        out["department"] = to_str(mvo_text)
    if admissions:
        if (c := take("INSATT", "admitted_from")) is not None:
            out["admitted_from"] = to_str(
                map_codes(
                    c, PATIENTREGISTRET_CODES["INSATT"], ctx, "INSATT", "admitted_from", "other"
                )
            )
        if (c := take("UTSATT", "discharge_to")) is not None:
            out["discharge_to"] = to_str(
                map_codes(
                    c, PATIENTREGISTRET_CODES["UTSATT"], ctx, "UTSATT", "discharge_to", "other"
                )
            )
    else:
        out["provider_id"] = pd.Series([None] * raw.num_rows, dtype=STRING_DTYPE)
        if mvo_text is not None and pvard is not None:
            # methods reference §2.5: emergency outpatient visits are MVO 046/100 with PVARD == 2.
            acute = is_acute(pvard, ctx)
            emergency = pc.and_(pc.is_in(mvo_text, value_set=pa.array(_EMERGENCY_MVO)), acute)
            care = pc.if_else(pc.fill_null(emergency, False), "emergency", "specialist")
            out["care_level"] = to_str(care)
        else:
            out["care_level"] = pd.Series(["specialist"] * raw.num_rows, dtype=STRING_DTYPE)
    if (c := take("KON", "sex")) is not None:
        out["sex"] = to_str(map_codes(c, PATIENTREGISTRET_CODES["KON"], ctx, "KON", "sex", None))
    lan = take("LAN", "region_code")
    lan_text = None
    if lan is not None:
        lan_text = padded_code(lan, ctx, "region_code", 2)
        out["region_code"] = to_str(lan_text)
    if (c := take("KOMMUN", "municipality_code")) is not None:
        out["municipality_code"] = to_str(_municipality(c, lan_text, ctx))
    if (c := take("ALDER", "age")) is not None:
        out["age"] = numbers(c, ctx, "age", integer=True)
        age = out["age"].to_numpy(dtype="float64", na_value=np.nan)
        bad = (age < 0) | (age > MAX_AGE)
        if bad.any():
            fail(ctx, "age", f"must be between 0 and {MAX_AGE} years (ALDER)", bad)
    for key, name in by_upper.items():
        if key not in used:
            c = raw.column(name)
            ctx.report.extra_columns.append(name)
            if is_text(c):
                out[name] = to_str(clean_text(c))
            else:
                out[name] = c.to_pandas()
    return out


def _municipality(
    col: pa.ChunkedArray, lan_text: pa.ChunkedArray | None, ctx: Context
) -> pa.ChunkedArray:
    """KOMMUN as a 4-digit code: positions 1-2 county, 3-4 municipality (Ludvigsson 2011 Tab 1).

    Deliveries with only the last two digits get LAN prefixed (methods reference §2.6); a 3-digit
    number is a 4-digit code that lost its leading zero. 99 (residents abroad) becomes missing,
    unless LAN + 99 is a real municipality code (:func:`naravard_analysis.data.official.municipalities`).
    """
    if pa.types.is_dictionary(col.type):
        dictionary = code_text(pa.chunked_array([c.dictionary for c in col.chunks]), ctx, "x")
        if not pc.any(pc.less_equal(pc.utf8_length(dictionary), 2)).as_py():
            # Every code has 3-4 digits: normalise per distinct value, no LAN needed.
            return padded_code(col, ctx, "municipality_code", 4)
    text = code_text(col, ctx, "municipality_code")
    length = pc.utf8_length(text)
    short = pc.fill_null(pc.less_equal(length, 2), False)
    # Only the bare two-digit 99 can mean abroad, and only when LAN + 99 is not a municipality:
    # real codes win over the convention (LAN 14 + KOMMUN 99 is Falköping, 1499).
    abroad = pc.fill_null(pc.equal(text, "99"), False)
    if lan_text is not None and pc.any(abroad).as_py():
        from naravard_analysis.data import official

        real = pa.array(official.municipalities()["municipality_code"].astype(str).tolist())
        built99 = pc.binary_join_element_wise(lan_text, pa.scalar("99"), "")
        abroad = pc.and_(abroad, pc.invert(pc.fill_null(pc.is_in(built99, value_set=real), False)))
    n_abroad = pc.sum(abroad).as_py() or 0
    if pc.any(short).as_py():
        if lan_text is None:
            fail(
                ctx,
                "municipality_code",
                "KOMMUN has two digits but the file has no LAN column to build the 4-digit code",
                as_mask(short),
            )
        built = pc.binary_join_element_wise(lan_text, pad(text, 2), "")
        text = pc.if_else(short, built, text)
    text = pad(text, 4)
    if n_abroad:
        ctx.report.residents_abroad = int(n_abroad)
        text = pc.if_else(abroad, NULL_STR, text)
    return text

