"""Swedish personal identity numbers: recognise them, find them, and pseudonymise them.

Register extracts delivered to researchers carry a pseudonymised ``LopNr``; regional extracts
sometimes still carry the clear-text personnummer. The package must never let one through: every
table is scanned on reading and validation (:func:`find_identifier_columns`), and a caller who has
clear-text numbers must replace them with a keyed hash (:func:`pseudonymise`).

Rules (methods reference §8.5; sv.wikipedia "Personnummer i Sverige"; Oops-AB/swedish-pnr):

* 10 digits ``YYMMDD-NNNC`` (``+`` instead of ``-`` from the year a person turns 100) or 12 digits
  ``YYYYMMDDNNNC``; the century digits are not part of the check digit.
* Luhn check digit over the nine digits ``YYMMDDNNN``: weights 2, 1, 2, 1, ... starting with 2, add
  the *digits* of the products, ``C = (10 - sum mod 10) mod 10``.
* Samordningsnummer: day + 60 (61..91); the check runs on the digits as written, the date check on
  day - 60.
* Reserve numbers (e.g. Inera's NRID, 12 characters with letters) fail validation by design and are
  classified as ``"reserve"``, not dropped.

Pseudonymisation is keyed HMAC-SHA256 over the normalised 12-digit form: stable for a given key and
irreversible without it (methods reference §8.6: pseudonymised data are still personal data).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import date

import numpy as np
import pandas as pd

__all__ = [
    "is_personnummer",
    "classify_identifiers",
    "find_identifier_columns",
    "identifier_report",
    "pseudonymise",
    "luhn_check_digit",
    "check_key",
    "contains_personnummer",
]

_PNR_RE = r"^\s*(?P<century>[0-9]{2})?(?P<body>[0-9]{6})(?P<sep>[-+ ]?)(?P<tail>[0-9]{4})\s*$"
#: A number inside longer text, in a form that is unmistakable: with a ``-``/``+``/space separator
#: or with 12 digits, and not part of a longer run of digits.
_EMBEDDED_RE = (
    r"(?<![0-9])(?P<number>(?:18|19|20)?[0-9]{6}[-+ ][0-9]{4}|(?:18|19|20)[0-9]{10})(?![0-9])"
)
_RESERVE_RE = r"^[0-9A-Za-z]{12}$"
_DAYS_IN_MONTH = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_LUHN_WEIGHTS = np.array([2, 1, 2, 1, 2, 1, 2, 1, 2])


def luhn_check_digit(nine_digits: str) -> int:
    """Check digit of the nine digits ``YYMMDDNNN`` (scalar helper, for tests and examples).

    >>> luhn_check_digit("811218987")
    6
    """
    d = np.array([int(c) for c in nine_digits])
    products = d * _LUHN_WEIGHTS
    total = int((products // 10 + products % 10).sum())
    return (10 - total % 10) % 10


def _digit_matrix(ten: np.ndarray) -> np.ndarray:
    """(n, 10) int matrix of the digits of 10-character digit strings."""
    if len(ten) == 0:
        return np.zeros((0, 10), dtype=np.int64)
    codes = np.asarray(ten, dtype="U10").view(np.int32).reshape(len(ten), 10)
    return (codes - 48).astype(np.int64)


def _extract_parts(text: pd.Series) -> pd.DataFrame:
    """The named groups of :data:`_PNR_RE` per value (missing where it does not match).

    pyarrow's regex kernel (RE2, vectorised) instead of ``Series.str.extract``, which loops in
    Python per value (about 10 s per million distinct ids)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(text.astype("string[pyarrow]").array)  # zero copy from the arrow-backed text
    groups = pc.extract_regex(arr, _PNR_RE)
    out = {}
    for name in ("century", "body", "sep", "tail"):
        col = pc.struct_field(groups, name).to_pandas().astype(object)
        if name == "century":  # a group that did not take part comes back as ""
            col = col.where(col != "", None)
        out[name] = col
    return pd.DataFrame(out, index=text.index)


def _classify_text(values: pd.Series) -> np.ndarray:
    """Classify distinct text values as 'pnr', 'snr', 'reserve' or 'invalid' (vectorised)."""
    text = values.astype("string[pyarrow]")
    parts = _extract_parts(text)
    result = np.full(len(text), "invalid", dtype=object)
    has = parts["body"].notna().to_numpy()
    if has.any():
        body = parts.loc[has, "body"].astype(str).to_numpy()
        tail = parts.loc[has, "tail"].astype(str).to_numpy()
        ten = np.char.add(body.astype("U6"), tail.astype("U4"))
        d = _digit_matrix(ten)
        products = d[:, :9] * _LUHN_WEIGHTS
        check = (10 - (products // 10 + products % 10).sum(axis=1) % 10) % 10
        luhn_ok = check == d[:, 9]
        month = d[:, 2] * 10 + d[:, 3]
        day = d[:, 4] * 10 + d[:, 5]
        month_ok = (month >= 1) & (month <= 12)
        dim = _DAYS_IN_MONTH[np.clip(month, 0, 12)]
        pnr_day = (day >= 1) & (day <= dim)
        snr_day = (day >= 61) & (day - 60 <= dim)
        century = parts.loc[has, "century"]
        century_ok = (century.isna() | century.isin(["18", "19", "20"])).to_numpy(dtype=bool)
        valid = luhn_ok & month_ok & century_ok
        cls = np.where(valid & pnr_day, "pnr", np.where(valid & snr_day, "snr", "invalid"))
        result[has] = cls
    reserve = (~has) & text.str.fullmatch(_RESERVE_RE).fillna(False).to_numpy(dtype=bool)
    reserve &= text.str.contains(r"[A-Za-z]").fillna(False).to_numpy(dtype=bool)
    result[reserve] = "reserve"
    return result


def _as_text_candidates(values: pd.Series) -> pd.Series:
    """Text form of the values that could be identifiers (integers padded to 10 digits)."""
    if pd.api.types.is_integer_dtype(values.dtype) or pd.api.types.is_float_dtype(values.dtype):
        v = pd.to_numeric(values, errors="coerce").dropna()
        v = v[(v == np.floor(v)) & (v >= 1e8) & (v < 1e12)].astype("int64")
        # A leading zero is lost when a 10-digit number is stored as an integer: pad back.
        return v.astype(str).str.zfill(10).astype("string[pyarrow]")
    return values.dropna().astype("string[pyarrow]")


def classify_identifiers(values: Iterable | pd.Series) -> pd.Series:
    """Classify each value as ``"pnr"``, ``"snr"``, ``"reserve"`` or ``"invalid"``.

    Parameters
    ----------
    values
        Strings (with or without ``-``/``+``) or integers.

    Examples
    --------
    >>> classify_identifiers(["811218-9876", "811278-9873", "123"]).tolist()
    ['pnr', 'snr', 'invalid']
    """
    s = pd.Series(values) if not isinstance(values, pd.Series) else values
    out = pd.Series("invalid", index=s.index, dtype=object)
    cand = _as_text_candidates(s)
    if len(cand):
        codes, uniques = pd.factorize(cand)
        cls = _classify_text(pd.Series(uniques))
        out.loc[cand.index] = cls[codes]
    return out


def is_personnummer(value: object) -> bool | np.ndarray:
    """Whether a value is a valid personnummer or samordningsnummer.

    Accepts 10 or 12 digits with an optional ``-``/``+`` separator; checks the Luhn digit and the
    date (day - 60 for samordningsnummer). A scalar gives a ``bool``; a list, array or Series gives
    a boolean ``ndarray``.

    Examples
    --------
    >>> is_personnummer("19811218-9876")
    True
    >>> is_personnummer("811218-9875")
    False
    """
    if isinstance(value, str | int | np.integer) or value is None:
        if value is None:
            return False
        return bool(classify_identifiers([value]).iloc[0] in ("pnr", "snr"))
    return classify_identifiers(value).isin(["pnr", "snr"]).to_numpy()


def identifier_report(df: pd.DataFrame, *, min_share: float = 0.5) -> dict[str, int]:
    """Columns that hold clear-text identity numbers, with how many rows hold one.

    A text column is flagged when any valid number is written in an unmistakable form (with a
    ``-``/``+`` separator, or 12 digits) or when at least ``min_share`` of its distinct values are
    valid numbers; an integer column only by ``min_share`` (random 10-digit ids pass the check
    digit and date by chance in well under 1 % of cases, so a share threshold tells them apart).
    """
    found: dict[str, int] = {}
    for name in df.columns:
        s = df[name]
        if not (
            pd.api.types.is_string_dtype(s.dtype)
            or pd.api.types.is_object_dtype(s.dtype)
            or pd.api.types.is_integer_dtype(s.dtype)
            or pd.api.types.is_float_dtype(s.dtype)
        ) or pd.api.types.is_bool_dtype(s.dtype):
            continue
        # Work on the distinct values: ids and codes repeat, so this is what makes the scan cheap
        # on 10^7-row tables.
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        codes = codes[codes >= 0]
        if len(uniques) == 0:
            continue
        cand_u = _as_text_candidates(pd.Series(uniques))
        if cand_u.empty:
            continue
        keep = np.full(len(uniques), -1, dtype=np.int64)
        keep[cand_u.index.to_numpy()] = np.arange(len(cand_u))
        codes = keep[codes]
        codes = codes[codes >= 0]
        uniq = cand_u.reset_index(drop=True)
        plausible = uniq.str.contains(r"[0-9]{6}", regex=True).fillna(False).to_numpy(dtype=bool)
        if not plausible.any():
            continue
        cls = np.full(len(uniq), "invalid", dtype=object)
        cls[plausible] = _classify_text(uniq[plausible].reset_index(drop=True))
        valid_u = np.isin(cls, ["pnr", "snr"])
        free_text = not (
            pd.api.types.is_integer_dtype(s.dtype) or pd.api.types.is_float_dtype(s.dtype)
        ) and bool((plausible & ~valid_u).any())
        if not valid_u.any() and not free_text:
            continue
        explicit = valid_u & uniq.str.contains(r"[-+ ]|^\s*[0-9]{12}\s*$", regex=True).fillna(
            False
        ).to_numpy(dtype=bool)
        is_text = not (pd.api.types.is_integer_dtype(s.dtype) or pd.api.types.is_float_dtype(s.dtype))
        if is_text:
            inside = _embedded_numbers(uniq, plausible & ~valid_u)
            valid_u |= inside
            explicit |= inside
        share = valid_u.sum() / len(uniq)
        if (is_text and explicit.any()) or share >= min_share:
            found[str(name)] = int(valid_u[codes].sum())
    return found


def _embedded_numbers(uniq: pd.Series, where: np.ndarray) -> np.ndarray:
    """Which text values hold a valid identity number inside longer text (e.g. a note that says
    'pat 19811218-9876 ring'), in an unmistakable form (:data:`_EMBEDDED_RE`)."""
    out = np.zeros(len(uniq), dtype=bool)
    if not where.any():
        return out
    sub = uniq[where]
    # Cheap vectorised screen first (plain ids of 10 digits never pass it), then the extraction.
    sub = sub[sub.str.contains(r"[0-9]{6}[-+ ][0-9]{4}|[0-9]{12}", regex=True).fillna(False)]
    if sub.empty:
        return out
    found = sub.str.extractall(_EMBEDDED_RE)
    if found.empty:
        return out
    cls = _classify_text(found["number"].reset_index(drop=True))
    hit = found.index.get_level_values(0)[np.isin(cls, ["pnr", "snr"])]
    out[np.asarray(hit, dtype=np.int64)] = True
    return out


def contains_personnummer(values: Iterable | pd.Series) -> np.ndarray:
    """Whether each text value is, or contains, a valid personnummer or samordningsnummer.

    A whole value is checked as by :func:`is_personnummer` (``YYMMDD-NNNC``, ``YYMMDD NNNC``,
    ``YYMMDDNNNC``, 12 digits); inside longer text only the unmistakable forms count (with a
    ``-``/``+``/space separator, or 12 digits starting 18/19/20), so that other long numbers in
    free text are not flagged.

    Examples
    --------
    >>> contains_personnummer(["pat 811218-9876 ring", "811218 9876", "order 8112189876"]).tolist()
    [True, True, False]
    """
    s = pd.Series(values) if not isinstance(values, pd.Series) else values
    text = s.astype("string[pyarrow]").reset_index(drop=True)
    whole = classify_identifiers(text).isin(["pnr", "snr"]).to_numpy()
    present = text.notna().to_numpy() & ~whole
    return whole | _embedded_numbers(text.fillna(""), present)


def find_identifier_columns(df: pd.DataFrame, *, min_share: float = 0.5) -> list[str]:
    """Names of the columns of ``df`` that hold clear-text personnummer or samordningsnummer.

    See :func:`identifier_report` for the rule. Values are never returned or printed.

    Examples
    --------
    >>> import pandas as pd
    >>> find_identifier_columns(pd.DataFrame({"pnr": ["19811218-9876"], "x": [1]}))
    ['pnr']
    """
    return list(identifier_report(df, min_share=min_share))


def _normalise_12(values: pd.Series, today: date) -> pd.Series:
    """12-digit form ``YYYYMMDDNNNC``; 10-digit numbers get the century that makes the person
    0-99 years old today, or 100+ with a ``+`` separator."""
    parts = _extract_parts(values.astype("string[pyarrow]"))
    body = parts["body"].astype(object)
    yy = pd.to_numeric(parts["body"].str.slice(0, 2), errors="coerce")
    year_now = today.year
    century = (year_now - yy) // 100 * 100
    born = century + yy
    born = born.where(born <= year_now, born - 100)
    born = born.where(parts["sep"] != "+", born - 100)
    cent = parts["century"].astype(object)
    cent = cent.where(cent.notna(), (born // 100).astype("Int64").astype(str))
    out = cent.astype(str) + body.astype(str) + parts["tail"].astype(str)
    return out.where(parts["body"].notna(), values.astype(str))


#: Smallest key accepted by :func:`pseudonymise`: length and distinct characters (or bytes).
MIN_KEY_LENGTH = 16
MIN_KEY_DISTINCT = 8


def check_key(key: str | bytes) -> bytes:
    """The key as bytes, or a :class:`~naravard_analysis.errors.ParameterError` when it is weak.

    A key must have at least :data:`MIN_KEY_LENGTH` characters, not counting blanks at either
    end, and at least :data:`MIN_KEY_DISTINCT` distinct characters: 16 spaces or ``"k" * 16`` would
    let anyone who guesses the key recompute every pseudonym from a personnummer. The key is never
    echoed.

    Examples
    --------
    >>> len(check_key("a-secret-key-0123"))
    17
    """
    from naravard_analysis.errors import ParameterError

    if not isinstance(key, str | bytes | bytearray):
        raise ParameterError(f"pseudonymise: key must be text or bytes, not {type(key).__name__}")
    kb = key.encode() if isinstance(key, str) else bytes(key)
    if len(kb.strip()) < MIN_KEY_LENGTH:
        raise ParameterError(
            f"pseudonymise: key must be at least {MIN_KEY_LENGTH} characters long "
            "(blanks at either end not counted)"
        )
    if len(set(kb)) < MIN_KEY_DISTINCT:
        raise ParameterError(
            f"pseudonymise: key is too weak -- it has fewer than {MIN_KEY_DISTINCT} distinct "
            "characters; use a long random secret (e.g. secrets.token_hex(32))"
        )
    return kb


def pseudonymise(values: Iterable | pd.Series, key: str | bytes, *, length: int = 20) -> pd.Series:
    """Replace identity numbers by a keyed, stable, irreversible pseudonym.

    ``pseudonym = HMAC-SHA256(key, normalised 12-digit number)[:length]`` (hex). The same person
    written as ``YYMMDD-NNNC`` or ``YYYYMMDDNNNC`` gets the same pseudonym; without the key the
    pseudonym cannot be reversed or recomputed. A missing id (``None``, ``NaN``, ``pd.NA`` or
    blank text) stays missing: it is never hashed, so rows without an id cannot become one shared
    "person" and are still caught by the rule that ids must not be missing.

    Parameters
    ----------
    values
        Identity numbers (text or integers).
    key
        Secret key kept by the data controller (see :func:`check_key`: at least 16 characters,
        at least 8 distinct).
    length
        Hex characters kept (20 = 80 bits; collisions are negligible below 10^9 persons).

    Examples
    --------
    >>> p = pseudonymise(["811218-9876", "19811218-9876", None], key="a-secret-key-0123")
    >>> p[0] == p[1], len(p[0]), p.isna().tolist()
    (True, 20, [False, False, True])
    """
    kb = check_key(key)
    s = pd.Series(values) if not isinstance(values, pd.Series) else values
    if pd.api.types.is_integer_dtype(s.dtype) or pd.api.types.is_float_dtype(s.dtype):
        present = s.notna().to_numpy()
        text = pd.Series(pd.NA, index=s.index, dtype=object)
        text[present] = s[present].astype("Int64").astype(str).str.zfill(10).to_numpy()
    else:
        text = s.astype("string[pyarrow]").str.strip()
        present = (text.notna() & (text != "")).to_numpy(dtype=bool)
    codes, uniques = pd.factorize(pd.Series(text[present].astype(str).to_numpy()))
    norm = _normalise_12(pd.Series(uniques, dtype=object), date.today())
    digests = np.array(
        [hmac.new(kb, v.encode(), hashlib.sha256).hexdigest()[:length] for v in norm],
        dtype=object,
    )
    out = np.full(len(s), None, dtype=object)
    out[present] = digests[codes]
    return pd.Series(out, index=s.index, name=s.name, dtype="string[pyarrow]")
