"""Shipped official statistics (SCB, Socialstyrelsen) and their readers.

The files are package data in ``naravard_analysis/data/reference/`` (found with
:mod:`importlib.resources`, so they are there in a wheel install too), each folder with a ``PROVENANCE.md``
(source agency, table, original repository and path, licence, what was changed). Set the environment
variable ``NARAVARD_REFERENCE_DIR`` to read them from elsewhere. Every reader also takes ``path=`` so
that a user's own download (a newer PxWeb export, another Öppna jämförelser edition) goes through the
same checks.

The files are the messy formats users meet: latin-1 PxWeb exports with a title line, a Windows-1252
CSV with transliterated names and mixed decimal separators, R data files. Each reader checks what it
relies on (encoding, title line, columns, codes) and raises one :class:`~naravard_analysis.errors.ReadError`
naming the file and the problem instead of returning silently wrong numbers.

Codes are zero-padded strings (methods reference §8.4): region (län) ``"01"``..``"25"``, municipality
``"0114"``; ``"00"`` (:data:`COUNTRY_CODE`) is SCB's code for the whole country (*Riket*).
Sources: SCB open data, CC0 since 2021-07-01 (methods reference §8.8) -- "Källa: SCB";
Öppna jämförelser -- "Källa: Socialstyrelsen".

Examples
--------
>>> from naravard_analysis.data import official
>>> official.regions().set_index("region_code").loc["14", "region_name_short"]
'Västra Götaland'
>>> int(official.population("country", years=[2015])["population"].sum())
9851017
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import os
import re
import warnings
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from naravard_analysis.errors import ParameterError, ReadError

__all__ = [
    "COUNTRY_CODE",
    "reference_dir",
    "regions",
    "municipalities",
    "population",
    "deaths_monthly",
    "monthly_population",
    "deaths_series",
    "oppna_jamforelser",
    "rest_of_country",
    "transliterate",
]

#: SCB's code for the whole country (Riket) in regional tables.
COUNTRY_CODE = "00"

_ENV = "NARAVARD_REFERENCE_DIR"

# Relative locations inside the reference directory.
_FILES = {
    "counties": "sweden-codes/counties.csv",
    "municipalities": "sweden-codes/municipalities.csv",
    "county_population": "scb-population/sweden.popn.rda",
    "municipality_population": "scb-population/SCB_alderkon.csv.gz",
    "country_population": "scb-population/pop_counts_scb_2000_2024.csv",
    "deaths_monthly": "scb-deaths/deaths_by_sex_month_1851_2020.csv",
    "oppna_jamforelser": "oppna-jamforelser/Datalista-En-god-vard.csv.gz",
}

_MONTHS = {
    m: i
    for i, m in enumerate(
        [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ],
        start=1,
    )
}


# --------------------------------------------------------------------------------------------------
# locating and decoding files
# --------------------------------------------------------------------------------------------------


def reference_dir() -> Path:
    """Directory of the shipped reference data.

    ``$NARAVARD_REFERENCE_DIR`` if set, else the package's own ``reference`` folder (package data,
    located with :mod:`importlib.resources` so that an installed wheel finds it as well as a checkout).
    Read at every call, so changing the variable takes effect without re-importing.

    Examples
    --------
    >>> (reference_dir() / "sweden-codes" / "PROVENANCE.md").is_file()
    True
    """
    env = os.environ.get(_ENV)
    if env:
        return Path(env).expanduser().resolve()
    # The package is installed as plain files (never zipped), so the resource is a real folder.
    return Path(str(resources.files("naravard_analysis.data").joinpath("reference")))


def _resolve(key: str, path: str | os.PathLike | None) -> Path:
    if path is not None:
        p = Path(path).expanduser().resolve()
    else:
        p = reference_dir() / _FILES[key]
    if not p.is_file():
        where = f"${_ENV}" if os.environ.get(_ENV) else "the package's reference data"
        hint = (
            ""
            if path is not None
            else f" (looked in {where}; set {_ENV} to the folder that holds it)"
        )
        raise ReadError(f"{p}: reference file not found{hint}")
    return p


# UTF-8 bytes of å ä ö Å Ä Ö é decoded as latin-1/cp1252: the mojibake a wrong encoding leaves behind.
_MOJIBAKE = re.compile("Ã[¥¤¶…„–©]")


def _read_text(p: Path, encoding: str) -> str:
    """Decode a (possibly gzipped) text file strictly, with a clear error on the wrong encoding."""
    raw = p.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ReadError(f"{p}: truncated or damaged gzip file ({exc})") from exc
    if not raw.strip():
        raise ReadError(f"{p}: file is empty")
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in raw[:4000]:
        raise ReadError(
            f"{p}: wrong encoding: the file looks like UTF-16 (NUL bytes), expected {encoding}; "
            "re-export it as CSV in that encoding or pass the matching encoding="
        )
    enc = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        text = raw.decode(enc)
    except UnicodeDecodeError as exc:
        raise ReadError(
            f"{p}: wrong encoding: byte 0x{raw[exc.start]:02x} at offset {exc.start} is not valid "
            f"{encoding}; pass the file's encoding as encoding="
        ) from exc
    if enc != "utf-8-sig" and (m := _MOJIBAKE.search(text)):
        line = text.count("\n", 0, m.start()) + 1
        raise ReadError(
            f"{p}: wrong encoding: line {line} contains {m.group()!r}, UTF-8 text decoded as "
            f"{encoding}; the file was saved as UTF-8, pass encoding='utf-8'"
        )
    return text


def _read_csv_text(p: Path, text: str, sep: str) -> pd.DataFrame:
    """Parse CSV text; every non-empty line below the header must become one row.

    A stray quote makes a parser read the following lines as one quoted value (the rows are then
    lost without an error), so the row count is checked against the lines and the first line with
    an unbalanced quote is named.
    """
    try:
        df = pd.read_csv(
            io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_values=[]
        )
    except (pd.errors.ParserError, csv.Error, ValueError) as exc:
        raise ReadError(f"{p}: cannot be parsed as a {sep!r}-separated file ({exc})") from exc
    lines = list(io.StringIO(text, newline=""))
    n_data = sum(1 for ln in lines if ln.strip("\r\n")) - 1
    if len(df) != n_data:
        odd = next((i for i, ln in enumerate(lines, start=1) if ln.count('"') % 2), None)
        where = (
            f"unterminated quote on line {odd} of the table (its header is line 1)"
            if odd
            else "lines were merged"
        )
        raise ReadError(
            f"{p}: {len(df)} rows parsed from {n_data} data lines ({where}); "
            "refusing to continue with missing rows"
        )
    return df


def _check_columns(p: Path, df: pd.DataFrame, expected: list[str]) -> None:
    cols = [str(c) for c in df.columns]
    missing = [c for c in expected if c not in cols]
    extra = [c for c in cols if c not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing columns {missing}")
        if extra:
            parts.append(f"unexpected extra columns {extra}")
        raise ReadError(f"{p}: {'; '.join(parts)} (expected exactly {expected})")


def _positions(mask: pd.Series | np.ndarray) -> str:
    idx = np.flatnonzero(np.asarray(mask))
    shown = ", ".join(str(int(i)) for i in idx[:5])
    return f"{len(idx)} row{'s' if len(idx) != 1 else ''} (rows {shown}{', ...' if len(idx) > 5 else ''})"


def _check_codes(p: Path, values: pd.Series, column: str, digits: int) -> None:
    bad = ~values.str.fullmatch(rf"\d{{{digits}}}")
    if bad.any():
        raise ReadError(
            f"{p}: column {column} must hold {digits}-digit zero-padded codes; "
            f"{_positions(bad)} do not (e.g. {values[bad].iloc[0]!r}) -- was the file saved by a "
            "program that dropped leading zeros?"
        )


# --------------------------------------------------------------------------------------------------
# code lists
# --------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _regions_cached(p: Path) -> pd.DataFrame:
    df = _read_csv_text(p, _read_text(p, "utf-8"), ",")
    _check_columns(p, df, ["county_code", "county_name", "county_name_short"])
    _check_codes(p, df["county_code"], "county_code", 2)
    if df["county_code"].duplicated().any():
        raise ReadError(
            f"{p}: duplicated county_code in {_positions(df['county_code'].duplicated())}"
        )
    out = df.rename(
        columns={
            "county_code": "region_code",
            "county_name": "region_name",
            "county_name_short": "region_name_short",
        }
    )
    return out.sort_values("region_code", ignore_index=True)


def regions(*, path: str | os.PathLike | None = None) -> pd.DataFrame:
    """The 21 Swedish regions (län) with zero-padded codes and names with å/ä/ö.

    Source: SCB's code list as curated in sjbrg/swedish-geodata (CC0), methods reference §8.4.

    Parameters
    ----------
    path
        Read this file instead of the shipped ``sweden-codes/counties.csv`` (columns county_code,
        county_name, county_name_short; UTF-8).

    Returns
    -------
    DataFrame
        One row per region: ``region_code`` (str, ``"01"``..``"25"`` with gaps), ``region_name``
        (``"Västra Götalands län"``), ``region_name_short`` (``"Västra Götaland"``). A fresh copy
        each call (the file is read once and cached).

    Examples
    --------
    >>> regions()["region_code"].tolist()[:3]
    ['01', '03', '04']
    """
    return _regions_cached(_resolve("counties", path)).copy()


@functools.lru_cache(maxsize=8)
def _municipalities_cached(p: Path) -> pd.DataFrame:
    df = _read_csv_text(p, _read_text(p, "utf-8"), ",")
    _check_columns(
        p, df, ["municipality_code", "municipality_name", "municipality_name_short", "county_code"]
    )
    _check_codes(p, df["municipality_code"], "municipality_code", 4)
    _check_codes(p, df["county_code"], "county_code", 2)
    wrong = df["municipality_code"].str[:2] != df["county_code"]
    if wrong.any():
        raise ReadError(
            f"{p}: the first two digits of municipality_code must be the county_code; {_positions(wrong)} differ"
        )
    dup = df["municipality_code"].duplicated()
    if dup.any():
        raise ReadError(f"{p}: duplicated municipality_code in {_positions(dup)}")
    out = df.rename(columns={"county_code": "region_code"})[
        ["municipality_code", "municipality_name", "region_code", "municipality_name_short"]
    ]
    return out.sort_values("municipality_code", ignore_index=True)


def municipalities(*, path: str | os.PathLike | None = None) -> pd.DataFrame:
    """The 290 Swedish municipalities (kommuner) with zero-padded codes and their region.

    Source: SCB's code list as curated in sjbrg/swedish-geodata (CC0), methods reference §8.4. The
    first two digits of a municipality code are its region code (checked on reading).

    Parameters
    ----------
    path
        Read this file instead of the shipped ``sweden-codes/municipalities.csv``.

    Returns
    -------
    DataFrame
        ``municipality_code`` (str, 4 digits, ``"0114"``), ``municipality_name``
        (``"Upplands Väsby kommun"``), ``region_code`` (str, 2 digits), ``municipality_name_short``
        (``"Upplands Väsby"``). A fresh copy each call.
    """
    return _municipalities_cached(_resolve("municipalities", path)).copy()


def transliterate(name: str) -> str:
    """Fold a Swedish name the way the transliterated sources do: å/ä → a, ö → o, lower case.

    >>> transliterate("Östergötland")
    'ostergotland'
    """
    table = str.maketrans("åäöÅÄÖéÉ", "aaoaaoee")
    return name.translate(table).casefold().strip()


# --------------------------------------------------------------------------------------------------
# population
# --------------------------------------------------------------------------------------------------

_POP_COLUMNS = ["year", "region_code", "municipality_code", "sex", "age", "population"]


def _years_filter(
    df: pd.DataFrame, years: Iterable[int] | int | None, what: str, p: Path
) -> pd.DataFrame:
    if years is None:
        return df
    wanted = [int(years)] if isinstance(years, int | np.integer) else [int(y) for y in years]
    available = set(df["year"].unique().tolist())
    absent = sorted(set(wanted) - available)
    if absent:
        raise ParameterError(
            f"{what}: years {absent} are not in {p.name} (available {min(available)}-{max(available)})"
        )
    return df[df["year"].isin(wanted)].reset_index(drop=True)


@functools.lru_cache(maxsize=4)
def _county_population(p: Path) -> pd.DataFrame:
    import rdata  # optional heavy import, only for this reader

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # rdata guesses formats noisily
            converted = rdata.read_rda(p)
    except Exception as exc:  # rdata raises several unrelated types on damaged files
        raise ReadError(
            f"{p}: not a readable R data (.rda) file ({type(exc).__name__}: {exc})"
        ) from exc
    if len(converted) != 1:
        raise ReadError(f"{p}: expected one R object, found {sorted(converted)}")
    arr = next(iter(converted.values()))
    dims = tuple(str(d) for d in getattr(arr, "dims", ()))
    if sorted(dims) != ["age", "region", "sex", "year"]:
        raise ReadError(
            f"{p}: expected an array with dimensions age, sex, region, year; found {dims}"
        )
    s = arr.to_series()
    s.index = s.index.set_names([str(n) for n in s.index.names])
    df = s.rename("population").reset_index()
    for c in ("age", "sex", "region", "year"):
        df[c] = df[c].astype(str)
    # demdata transliterates names and calls Västra Götaland "Gotaland"; map by folded short name.
    reg = regions()
    by_name = dict(
        zip(reg["region_name_short"].map(transliterate), reg["region_code"], strict=True)
    )
    by_name["gotaland"] = "14"
    codes = df["region"].map(transliterate).map(by_name)
    if codes.isna().any():
        raise ReadError(
            f"{p}: unknown region labels {sorted(df.loc[codes.isna(), 'region'].unique())}"
        )
    sex = df["sex"].map({"Females": "F", "Males": "M"})
    if sex.isna().any():
        raise ReadError(f"{p}: unknown sex labels {sorted(df.loc[sex.isna(), 'sex'].unique())}")
    age = df["age"].str.rstrip("+")  # "100+" is the open top group, kept as age 100
    if not age.str.fullmatch(r"\d+").all():
        raise ReadError(f"{p}: non-numeric age labels")
    if df["population"].isna().any():
        raise ReadError(f"{p}: {_positions(df['population'].isna())} have no population value")
    out = pd.DataFrame(
        {
            "year": df["year"].astype("int64"),
            "region_code": codes.astype(str),
            "municipality_code": pd.Series(pd.NA, index=df.index, dtype="str"),
            "sex": sex.astype(str),
            "age": age.astype("int64"),
            "population": df["population"].round().astype("int64"),
        }
    )
    return out.sort_values(["year", "region_code", "sex", "age"], ignore_index=True)


@functools.lru_cache(maxsize=4)
def _municipality_population(p: Path) -> pd.DataFrame:
    df = _read_csv_text(p, _read_text(p, "utf-8"), ",")
    _check_columns(p, df, ["region", "ålder", "kön", "X2019"])
    mun = municipalities()
    code = df["region"].map(
        dict(zip(mun["municipality_name_short"], mun["municipality_code"], strict=True))
    )
    if code.isna().any():
        names = sorted(df.loc[code.isna(), "region"].unique())[:5]
        raise ReadError(
            f"{p}: {_positions(code.isna())} have municipality names not in the code list, e.g. {names}"
        )
    sex = df["kön"].map({"män": "M", "kvinnor": "F"})
    if sex.isna().any():
        raise ReadError(
            f"{p}: column kön must be 'män' or 'kvinnor'; {_positions(sex.isna())} are not"
        )
    for col in ("ålder", "X2019"):
        bad = ~df[col].str.fullmatch(r"\d+")
        if bad.any():
            raise ReadError(f"{p}: column {col} must be a whole number; {_positions(bad)} are not")
    out = pd.DataFrame(
        {
            "year": np.full(len(df), 2019, dtype="int64"),
            "region_code": code.str[:2].astype(str),
            "municipality_code": code.astype(str),
            "sex": sex.astype(str),
            "age": df["ålder"].astype("int64"),  # 100 = 100 years or older (totals match SCB)
            "population": df["X2019"].astype("int64"),
        }
    )
    dup = out.duplicated(["municipality_code", "sex", "age"])
    if dup.any():
        raise ReadError(f"{p}: duplicated municipality × sex × age cells in {_positions(dup)}")
    return out.sort_values(["municipality_code", "sex", "age"], ignore_index=True)


@functools.lru_cache(maxsize=4)
def _country_population(p: Path, county: Path) -> pd.DataFrame:
    df = _read_csv_text(p, _read_text(p, "utf-8"), ";")
    _check_columns(p, df, ["year", "sex", "age", "pop"])
    for col in df.columns:
        bad = ~df[col].str.fullmatch(r"\d+")
        if bad.any():
            raise ReadError(f"{p}: column {col} must be a whole number; {_positions(bad)} are not")
    sex = df["sex"].map({"1": "M", "2": "F"})  # FoHM/SCB coding 1 = men, 2 = women
    if sex.isna().any():
        raise ReadError(
            f"{p}: column sex must be 1 (men) or 2 (women); {_positions(sex.isna())} are not"
        )
    recent = pd.DataFrame(
        {
            "year": df["year"].astype("int64"),
            "sex": sex.astype(str),
            "age": df["age"].astype("int64"),
            "population": df["pop"].astype("int64"),
        }
    )
    # Before 2000 the national series is the sum of SCB's county series (same numbers: the two
    # sources agree exactly for 2000-2015, see tests).
    early = (
        _county_population(county)
        .query("year < @recent.year.min()")
        .groupby(["year", "sex", "age"], as_index=False)["population"]
        .sum()
    )
    out = pd.concat([early, recent], ignore_index=True)
    out.insert(1, "region_code", COUNTRY_CODE)
    out.insert(2, "municipality_code", pd.Series(pd.NA, index=out.index, dtype="str"))
    return out.sort_values(["year", "sex", "age"], ignore_index=True)[_POP_COLUMNS]


def population(
    level: str = "county",
    years: Iterable[int] | int | None = None,
    *,
    path: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """SCB's population on 31 December by single year of age and sex.

    Long format, the canonical ``population`` table (:data:`naravard_analysis.data.schema.TABLES`).

    ============ ============ ================================================================
    level        years        source (numbers are SCB's; see reference/scb-population/PROVENANCE.md)
    ============ ============ ================================================================
    county       1968-2015    ``sweden.popn.rda`` from the R package demdata (MIT); 21 counties.
                              Its region labels are transliterated and Västra Götaland is
                              labelled "Gotaland" -- mapped to code ``"14"``.
    municipality 2019         ``SCB_alderkon.csv.gz`` (values SCB's, CC0), municipality names
                              joined to the code list (names are unique).
    country      1968-2024    2000-2024: SCB's national series as compiled by
                              Folkhälsomyndigheten (``pop_counts_scb_2000_2024.csv``, observed
                              years only, the projection is not shipped); 1968-1999: sum of the
                              county series. The two agree exactly for 2000-2015.
    ============ ============ ================================================================

    Parameters
    ----------
    level
        ``"county"``, ``"municipality"`` or ``"country"``.
    years
        Year or years to keep; a year the source does not cover raises ParameterError.
    path
        Read this file instead of the shipped one for that level.

    Returns
    -------
    DataFrame
        ``year`` (int64), ``region_code`` (str; ``"00"`` for the country), ``municipality_code``
        (str, missing unless level is municipality), ``sex`` (``"F"``/``"M"``), ``age`` (int64,
        0-100 where 100 means 100 or older), ``population`` (int64).

    Examples
    --------
    >>> pop = population("county", years=2015)
    >>> int(pop.loc[pop.region_code == "14", "population"].sum())
    1648682
    """
    if level == "county":
        p = _resolve("county_population", path)
        df = _county_population(p)
    elif level == "municipality":
        p = _resolve("municipality_population", path)
        df = _municipality_population(p)
    elif level == "country":
        p = _resolve("country_population", path)
        df = _country_population(p, _resolve("county_population", None))
    else:
        raise ParameterError(
            f"population(level={level!r}): level must be 'county', 'municipality' or 'country'"
        )
    return _years_filter(df, years, f"population(level={level!r})", p).copy()


# --------------------------------------------------------------------------------------------------
# deaths
# --------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _deaths_cached(p: Path, encoding: str) -> pd.DataFrame:
    text = _read_text(p, encoding)
    lines = text.splitlines()
    # PxWeb CSV export: a quoted title line, a blank line, then the table header.
    if len(lines) < 3 or not lines[0].startswith('"') or '","' in lines[0] or lines[1].strip():
        raise ReadError(
            f"{p}: missing title line: a PxWeb CSV export starts with a quoted title line and a "
            f"blank line before the header; line 1 is {lines[0][:60]!r}"
        )
    df = _read_csv_text(p, "\n".join(lines[2:]), ",")
    cols = [str(c) for c in df.columns]
    if cols[:2] != ["sex", "month"]:
        raise ReadError(f"{p}: the header must start with 'sex','month'; found {cols[:2]}")
    extra = [c for c in cols[2:] if not re.fullmatch(r"\d{4}", c)]
    if extra:
        raise ReadError(
            f"{p}: unexpected extra columns {extra}: after sex and month every column must be a year"
        )
    if len(cols) == 2:
        raise ReadError(f"{p}: no year columns")
    long = df.melt(id_vars=["sex", "month"], var_name="year", value_name="deaths")
    bad = ~long["deaths"].str.fullmatch(r"\d+")
    if bad.any():
        ex = long.loc[bad, ["sex", "month", "year", "deaths"]].iloc[0].tolist()
        raise ReadError(f"{p}: {int(bad.sum())} cells are not whole numbers, e.g. {ex}")
    sex = long["sex"].map({"men": "M", "women": "F"})
    if sex.isna().any():
        raise ReadError(
            f"{p}: sex must be 'men' or 'women'; found {sorted(long.loc[sex.isna(), 'sex'].unique())}"
        )
    month = long["month"].map(_MONTHS)
    unknown = ~long["month"].isin([*_MONTHS, "Unknown"])
    if unknown.any():
        raise ReadError(f"{p}: unknown month labels {sorted(long.loc[unknown, 'month'].unique())}")
    out = pd.DataFrame(
        {
            "year": long["year"].astype("int64"),
            "month": month.astype("Int64"),  # <NA> = month not known (SCB row "Unknown")
            "sex": sex.astype(str),
            "deaths": long["deaths"].astype("int64"),
        }
    )
    if out.duplicated(["year", "month", "sex"]).any():
        raise ReadError(f"{p}: duplicated sex × month rows")
    return out.sort_values(["year", "sex", "month"], ignore_index=True, na_position="last")


def deaths_monthly(
    years: Iterable[int] | int | None = None,
    *,
    path: str | os.PathLike | None = None,
    encoding: str = "latin-1",
) -> pd.DataFrame:
    """Deaths in Sweden by year, month and sex, from SCB's PxWeb export as published.

    Source: SCB statistical database BE0101, "Deaths by sex, month and year" (1851-2020), CSV
    export in English, latin-1, a title line and a blank line before the header, wide by year
    (reference/scb-deaths/PROVENANCE.md).

    Deaths whose month is not known are kept as rows with ``month`` missing (``<NA>``) so that
    yearly totals equal SCB's published totals (e.g. 2020: 98 124, of which 254 with unknown
    month); drop them explicitly for a monthly series and report how many.

    Parameters
    ----------
    years
        Year or years to keep (default all).
    path, encoding
        Another export of the same table and its encoding.

    Returns
    -------
    DataFrame
        ``year`` (int64), ``month`` (Int64, 1-12 or <NA>), ``sex`` (``"F"``/``"M"``),
        ``deaths`` (int64), sorted by year, sex, month.
    """
    p = _resolve("deaths_monthly", path)
    df = _deaths_cached(p, encoding)
    return _years_filter(df, years, "deaths_monthly", p).copy()


def monthly_population(
    level: str = "country",
    years: Iterable[int] | int | None = None,
    *,
    by: str | list[str] | None = None,
) -> pd.DataFrame:
    """Population in the middle of each month, linearly interpolated from SCB's 31 December counts.

    SCB counts the population on 31 December. For month m of year y, with t = (days from 1 January
    to the middle of the month) / (days in year y), the mid-month population is

        P(y, m) = P(31 Dec y-1) + t * (P(31 Dec y) - P(31 Dec y-1))

    and the person-time at risk in that month is ``person_years = P(y, m) * days_in_month / 365.25``
    (so a 29-day February in a leap year has more time at risk than a 28-day one). Design choice:
    linear within a year, the usual approximation when only year-end counts exist; it is the
    exposure used for monthly death counts in methods reference §6.3.

    Parameters
    ----------
    level
        ``"country"`` or ``"county"`` (see :func:`population`); year y needs both y-1 and y.
    years
        Years to return (default: every year whose previous year-end is also known).
    by
        Columns to keep apart (``"region_code"``, ``"sex"``); summed over age and the rest.

    Returns
    -------
    DataFrame
        ``by`` columns, ``period`` (first day of the month), ``year``, ``month``, ``population``
        (float, mid-month), ``person_years`` (float).

    Examples
    --------
    >>> mp = monthly_population("country", years=2020)
    >>> round(mp.loc[mp.month == 1, "population"].item())  # 31 Dec 2019 + 1/24 of the 2020 growth
    10329779
    """
    if level not in ("country", "county"):
        raise ParameterError(
            f"monthly_population: level must be 'country' or 'county', not {level!r}"
        )
    keys = [] if by is None else ([by] if isinstance(by, str) else list(by))
    yearly = population(level).groupby([*keys, "year"], as_index=False)["population"].sum()
    prev = yearly.assign(year=yearly["year"] + 1).rename(columns={"population": "previous"})
    both = yearly.merge(prev, on=[*keys, "year"], how="inner")
    if years is not None:
        wanted = [int(years)] if isinstance(years, int | np.integer) else [int(y) for y in years]
        absent = sorted(set(wanted) - set(both["year"]))
        if absent:
            raise ParameterError(
                f"monthly_population: years {absent} need the population on 31 December of that "
                f"year and the year before ({level} level covers {yearly.year.min()}-{yearly.year.max()})"
            )
        both = both[both["year"].isin(wanted)]
    months = pd.DataFrame({"month": np.arange(1, 13)})
    out = both.merge(months, how="cross")
    start = pd.to_datetime({"year": out["year"], "month": out["month"], "day": 1})
    days = start.dt.days_in_month.to_numpy(float)
    year_days = np.where(start.dt.is_leap_year, 366.0, 365.0)
    t = ((start.dt.dayofyear.to_numpy(float) - 1) + days / 2) / year_days
    out["population"] = out["previous"] + t * (out["population"] - out["previous"])
    out["person_years"] = out["population"] * days / 365.25
    out["period"] = start
    return out[[*keys, "period", "year", "month", "population", "person_years"]].sort_values(
        [*keys, "period"], ignore_index=True
    )


def deaths_series(start: str = "2010-01", end: str = "2020-12") -> pd.DataFrame:
    """Monthly deaths in Sweden (both sexes) with the mid-month population: an ITS-ready series.

    Deaths from :func:`deaths_monthly` summed over sex; person-time from :func:`monthly_population`
    (country). Deaths SCB could not date to a month are not in the monthly counts; their number per
    year is kept in ``attrs["unknown_month"]`` (2020: 254 of 98 124) so that it can be reported.

    Returns
    -------
    DataFrame
        ``period`` (first of the month), ``year``, ``month``, ``deaths`` (int64), ``population``,
        ``person_years``, ``rate_per_100k_py`` (deaths per 100 000 person-years).

    Examples
    --------
    >>> d = deaths_series("2020-01", "2020-12")
    >>> int(d.deaths.sum()) + d.attrs["unknown_month"][2020]
    98124
    """
    p0, p1 = pd.Period(start, "M"), pd.Period(end, "M")
    if p1 < p0:
        raise ParameterError(f"deaths_series: end {end} is before start {start}")
    years = list(range(p0.year, p1.year + 1))
    d = deaths_monthly(years)
    unknown = d[d["month"].isna()].groupby("year")["deaths"].sum()
    d = d.dropna(subset=["month"]).groupby(["year", "month"], as_index=False)["deaths"].sum()
    d["month"] = d["month"].astype("int64")
    pop = monthly_population("country", years)
    out = pop.merge(d, on=["year", "month"], how="left", validate="one_to_one")
    per = out["period"].dt.to_period("M")
    out = out[(per >= p0) & (per <= p1)].reset_index(drop=True)
    out["deaths"] = out["deaths"].astype("int64")
    out["rate_per_100k_py"] = out["deaths"] / out["person_years"] * 1e5
    out = out[
        ["period", "year", "month", "deaths", "population", "person_years", "rate_per_100k_py"]
    ]
    out.attrs["unknown_month"] = {int(k): int(v) for k, v in unknown.items()}
    return out


# --------------------------------------------------------------------------------------------------
# Öppna jämförelser
# --------------------------------------------------------------------------------------------------

_OJ_COLUMNS = [
    "ind_id",
    "nr_rapp",
    "question",
    "name_short",
    "name_long",
    "type",
    "sourse",
    "geo_cat",
    "cat_type",
    "cat_code",
    "aim_direction",
    "period_order",
    "period",
    "sex_all",
    "comment",
    "value",
    "n",
    "ci_low",
    "ci_high",
]
_OJ_SEX = {"Kvinnor": "F", "Man": "M", "Män": "M", "Totalt": "all"}
_OJ_LEVEL = {"LAN": "county", "RR": "country", "UTB": "education"}
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")


def _parse_numbers(p: Path, s: pd.Series, column: str) -> pd.Series:
    """Parse numbers written with a decimal point *or* a decimal comma (never thousands separators)."""
    s = s.str.strip()
    empty = s.eq("")
    bad = ~empty & ~s.str.fullmatch(_NUMBER)
    if bad.any():
        raise ReadError(
            f"{p}: column {column} must hold numbers with one decimal point or comma; "
            f"{_positions(bad)} do not, e.g. {s[bad].iloc[0]!r}"
        )
    return pd.to_numeric(s.str.replace(",", ".", regex=False).where(~empty), errors="raise").astype(
        "float64"
    )


@functools.lru_cache(maxsize=4)
def _oj_cached(p: Path, encoding: str) -> pd.DataFrame:
    df = _read_csv_text(p, _read_text(p, encoding), ";")
    _check_columns(p, df, _OJ_COLUMNS)
    level = df["cat_type"].map(_OJ_LEVEL)
    if level.isna().any():
        raise ReadError(
            f"{p}: unknown cat_type values {sorted(df.loc[level.isna(), 'cat_type'].unique())}"
        )
    sex = df["sex_all"].map(_OJ_SEX)
    if sex.isna().any():
        raise ReadError(
            f"{p}: unknown sex_all values {sorted(df.loc[sex.isna(), 'sex_all'].unique())}"
        )
    bad_id = ~df["ind_id"].str.fullmatch(r"\d+")
    if bad_id.any():
        raise ReadError(f"{p}: ind_id must be a whole number; {_positions(bad_id)} are not")

    # Region: county rows carry the code without its leading zero; the name is transliterated
    # (å/ä -> a, ö -> o, sometimes lower-cased). Take the name from the code list, and check that
    # the published name folds to the same string so a shifted or mislabelled row cannot slip by.
    reg = regions()
    is_county = level.eq("county")
    code = df["cat_code"].str.strip().str.zfill(2).where(is_county, COUNTRY_CODE)
    name_of = dict(zip(reg["region_code"], reg["region_name_short"], strict=True))
    name = code.map(name_of)
    unknown = is_county & name.isna()
    if unknown.any():
        raise ReadError(f"{p}: cat_code not a region code in {_positions(unknown)}")
    mismatch = is_county & (df["geo_cat"].map(transliterate) != name.fillna("").map(transliterate))
    if mismatch.any():
        i = int(np.flatnonzero(mismatch.to_numpy())[0])
        raise ReadError(
            f"{p}: geo_cat does not match cat_code in {_positions(mismatch)}, e.g. "
            f"{df['geo_cat'].iloc[i]!r} with code {df['cat_code'].iloc[i]!r}"
        )
    name = name.where(is_county, "Riket")

    # Periods come as "2017", "2015-2017", "2015,2016,2018", "2017 (varen)", "2015-01-01" or
    # "2009-2011 (uppfoljning till 2014)": start/end are the first/last year outside brackets.
    period = df["period"].str.strip()
    years_part = period.str.replace(r"\(.*\)", "", regex=True).str.replace(
        r"(\d{4})-\d{2}-\d{2}", r"\1", regex=True
    )
    start = years_part.str.extract(r"(\d{4})", expand=False)
    end = years_part.str.extract(r".*(\d{4})", expand=False)
    if start.isna().any():
        raise ReadError(f"{p}: period holds no year in {_positions(start.isna())}")

    out = pd.DataFrame(
        {
            "indicator_id": df["ind_id"].astype("int64"),
            "indicator_name": df["name_short"].str.strip(),
            "unit": df["type"].str.replace("\xa0", " ", regex=False).str.strip(),
            "level": level.astype(str),
            "region_code": code.astype(str),
            "region_name": name.astype(str),
            "group": df["geo_cat"].where(level.eq("education")),
            "period": period,
            "period_start": start.astype("int64"),
            "period_end": end.astype("int64"),
            "sex": sex.astype(str),
            "value": _parse_numbers(p, df["value"], "value"),
            "n": _parse_numbers(p, df["n"], "n"),
            # the file's ci_low/ci_high, renamed to the package's interval columns
            "lower": _parse_numbers(p, df["ci_low"], "ci_low"),
            "upper": _parse_numbers(p, df["ci_high"], "ci_high"),
            "comment": df["comment"].str.strip(),
        }
    )
    return out.sort_values(
        ["indicator_id", "level", "region_code", "group", "period_start", "sex"],
        ignore_index=True,
        na_position="first",
    )


def oppna_jamforelser(
    indicator: int | Iterable[int] | None = None,
    *,
    path: str | os.PathLike | None = None,
    encoding: str = "cp1252",
) -> pd.DataFrame:
    """Socialstyrelsen's Öppna jämförelser indicators, tidy, with region names restored.

    Source: Öppna jämförelser "En god vård" data list (about the 2018/19 edition), as kept in a
    public student repository where names were transliterated (reference/oppna-jamforelser/
    PROVENANCE.md). The file is Windows-1252, ``;``-separated; ``value`` uses a decimal point and
    ``n``/``ci_low``/``ci_high`` a decimal comma -- both are parsed. Region names come from the code list via
    ``cat_code`` (the published transliterated name is checked against it). Indicator names and
    units are as published (transliterated). Among them 330 (unplanned readmission within 30 days,
    65+, per cent), 526 (påverkbar slutenvård, per 100 000 aged 20+, age-standardised), 567, 31, 501.

    Parameters
    ----------
    indicator
        An indicator id (``ind_id``) or several; ``None`` returns all.
    path, encoding
        Another copy of the data list and its encoding.

    Returns
    -------
    DataFrame
        ``indicator_id``, ``indicator_name``, ``unit``, ``level`` (``"county"``, ``"country"``, or
        ``"education"`` for the national rows split by education ``group``), ``region_code``
        (``"00"`` for the country and education rows), ``region_name`` (``"Västra Götaland"``,
        ``"Riket"``), ``group``, ``period`` (``"2017"``, ``"2015-2017"``), ``period_start``,
        ``period_end``, ``sex`` (``"F"``, ``"M"``, ``"all"``), ``value``, ``n`` (number of cases
        or, for rates, the person-years at risk), ``lower``, ``upper`` (the published 95 % interval,
        float64, NaN when not published; the file calls them ``ci_low``/``ci_high``), ``comment``.

    Examples
    --------
    >>> oj = oppna_jamforelser(330)
    >>> oj.query("level == 'country' and period == '2017' and sex == 'all'")["value"].round(2).item()
    9.75
    """
    p = _resolve("oppna_jamforelser", path)
    df = _oj_cached(p, encoding)
    if indicator is None:
        return df.copy()
    wanted = (
        [int(indicator)] if isinstance(indicator, int | np.integer) else [int(i) for i in indicator]
    )
    absent = sorted(set(wanted) - set(df["indicator_id"].unique().tolist()))
    if absent:
        raise ParameterError(f"oppna_jamforelser: indicators {absent} are not in {p.name}")
    return df[df["indicator_id"].isin(wanted)].reset_index(drop=True)


def rest_of_country(
    data: pd.DataFrame,
    exclude: Iterable[str],
    *,
    name: str = "Rest of Sweden",
    code: str = "RR",
    scale: float = 100.0,
) -> pd.DataFrame:
    """Pool an Öppna jämförelser indicator over the country minus some regions.

    For a share or a rate with denominator ``n`` (330: discharges; 526: person-years at risk), the
    number of events in a cell is ``value * n / scale``. The rest of the country is the country row
    minus the excluded regions, period by period and sex by sex::

        value_rest = scale * (E_country - sum_i E_i) / (n_country - sum_i n_i),  E = value * n / scale

    Subtracting from the country row (rather than adding the other counties) keeps counties whose
    value is suppressed in a year (Jämtland 2016 in indicator 330) inside the rest of the country.
    For an age-standardised rate (526) the result is an approximation (the rest is standardised with
    the excluded regions' weights mixed out); say so when it is used. No interval is attached.

    Parameters
    ----------
    data
        Output of :func:`oppna_jamforelser` for one indicator (country and county rows).
    exclude
        Region codes to leave out (e.g. ``["12", "14"]``).
    scale
        100 for per cent, 100 000 for rates per 100 000.

    Returns
    -------
    DataFrame
        The pooled rows with the columns of :func:`oppna_jamforelser` (``region_code`` = ``code``,
        ``level`` = ``"pooled"``, ``events`` added, ``lower``/``upper`` missing).
    """
    ex = [str(c).zfill(2) for c in exclude]
    if data["indicator_id"].nunique() != 1:
        raise ParameterError("rest_of_country: pass one indicator at a time")
    keys = ["indicator_id", "indicator_name", "unit", "period", "period_start", "period_end", "sex"]
    c = data[data["level"].eq("country")].set_index(keys)
    r = data[data["level"].eq("county") & data["region_code"].isin(ex)]
    found = set(r["region_code"])
    if found != set(ex):
        raise ParameterError(f"rest_of_country: regions {sorted(set(ex) - found)} not in the data")
    if r[["value", "n"]].isna().any().any():
        raise ParameterError("rest_of_country: an excluded region has no value or n in some period")
    r = r.assign(events=r["value"] * r["n"] / scale).groupby(keys)[["events", "n"]].sum()
    ev = c["value"] * c["n"] / scale - r["events"].reindex(c.index)
    n = c["n"] - r["n"].reindex(c.index)
    out = pd.DataFrame({"events": ev, "n": n}).dropna().reset_index()
    out["value"] = scale * out["events"] / out["n"]
    out = out.assign(
        level="pooled",
        region_code=code,
        region_name=name,
        group=np.nan,
        lower=np.nan,
        upper=np.nan,
        comment=f"country minus {', '.join(ex)}",
    )
    cols = [c for c in data.columns if c in out.columns] + ["events"]
    return out[cols]
