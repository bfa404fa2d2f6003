"""Excel workbooks that are safe to publish, with an "Om data" / "About the data" sheet.

Each table goes on its own sheet after small-cell suppression
(:func:`naravard_analysis.report.disclosure.suppress`); a first sheet says where the data come from,
which definitions were used and which suppression rule was applied, so a reader of the workbook alone
knows what the numbers mean. Column headers are labels in the chosen language (``Kön``, not
``sex``), and a hidden cell shows its mark (``<5``, or ``..`` for a cell hidden so that another
cannot be worked out), explained on the about sheet, instead of a blank and a flag column.

Examples
--------
>>> import pandas as pd
>>> from naravard_analysis.report.tables import write_tables
>>> t = pd.DataFrame({"year": [2020, 2021], "admissions": [120, 3]})
>>> path = write_tables({"admissions": t}, "/tmp/naravard-doc/tables.xlsx",
...                     count_cols=["admissions"], min_count=5, language="en")
>>> pd.read_excel(path, sheet_name="admissions")["Admissions"].tolist()
[120, '<5']
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from naravard_analysis.core.defaults import DEFAULT_LANGUAGE
from naravard_analysis.errors import ParameterError
from naravard_analysis.report.labels import check_language, label

if TYPE_CHECKING:
    from naravard_analysis.report.disclosure import DisclosureRegistry

__all__ = ["write_tables", "about_table"]

_SHEET_BAD = re.compile(r"[\[\]\:\*\?\/\\]")


def _sheet_name(name: str, used: set[str]) -> str:
    base = _SHEET_BAD.sub("_", str(name))[:31] or "Sheet"
    candidate, i = base, 2
    while candidate.lower() in used:
        suffix = f"_{i}"
        candidate, i = base[: 31 - len(suffix)] + suffix, i + 1
    used.add(candidate.lower())
    return candidate


def about_table(
    about: Mapping[str, str] | pd.DataFrame | None, *, min_count: int, language: str
) -> pd.DataFrame:
    """Rows of (item, text) for the "about" sheet, ending with the suppression rule."""
    item, text = ("Uppgift", "Beskrivning") if language == "sv" else ("Item", "Description")
    if isinstance(about, pd.DataFrame):
        rows = about.copy()
        rows.columns = [item, text]
    else:
        rows = pd.DataFrame(list((about or {}).items()), columns=[item, text])
    from naravard_analysis.report.disclosure import suppression_note

    rule = suppression_note(min_count, language)
    key = "Röjandeskydd" if language == "sv" else "Disclosure control"
    return pd.concat([rows, pd.DataFrame({item: [key], text: [rule]})], ignore_index=True)


def write_tables(
    tables: Mapping[str, pd.DataFrame],
    path: str | Path,
    *,
    count_cols: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    min_count: int = 5,
    language: str = DEFAULT_LANGUAGE,
    about: Mapping[str, str] | pd.DataFrame | None = None,
    registry: DisclosureRegistry | None = None,
    headers: str = "labels",
    marks: bool = True,
) -> Path:
    """Write each table to its own sheet of an Excel workbook, after small-cell suppression.

    Parameters
    ----------
    tables
        Sheet name -> table. Names are cut to Excel's 31 characters and made unique.
    path
        The ``.xlsx`` file to write (its folder is created).
    count_cols
        Count columns to suppress: one list for every table, or a mapping sheet -> list. Tables
        already passed through ``suppress`` at this ``min_count`` are written as they are.
    min_count
        Suppression threshold (methods reference §8.7: 5 by default; 3 and 10 are common).
    language
        ``"sv"`` (sheet "Om data") or ``"en"`` ("About the data").
    about
        Sources and definitions for the about sheet (item -> text).
    registry
        The report's disclosure registry: every table must have been published through it
        (and be unchanged since), otherwise nothing is written.
    headers
        ``"labels"`` (default): column headers in ``language``
        (:func:`~naravard_analysis.report.labels.label`; a column without a translation keeps
        its name with spaces); ``"names"``: the column names as they are.
    marks
        ``True`` (default): hidden cells show ``<{min_count}`` or ``..``
        (:func:`~naravard_analysis.report.disclosure.format_suppressed`) and the ``*_suppressed``
        flag columns are left out; the about sheet explains the marks. ``False``: blanks and flag
        columns (for machine reading).

    Returns
    -------
    Path
        The workbook written.
    """
    from naravard_analysis.report.disclosure import check_suppressed, suppress

    check_language(language)
    if headers not in ("labels", "names"):
        raise ParameterError(f"headers must be 'labels' or 'names', got {headers!r}")
    safe_tables = {}
    for name, df in tables.items():
        cols = count_cols.get(name, ()) if isinstance(count_cols, Mapping) else (count_cols or ())
        cols = [c for c in cols if c in df.columns]
        if registry is not None:
            registry.check(df, what=f"sheet {name!r}")
            safe_tables[name] = df
        elif (df.attrs.get("disclosure") or {}).get("fingerprint"):
            # attrs travel with a table through pandas operations: check the cells, not the label
            check_suppressed(df, min_count, what=f"sheet {name!r}")
            safe_tables[name] = df
        else:
            safe_tables[name] = suppress(df, cols, min_count=min_count) if cols else df
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        about_name = _sheet_name(label("about_sheet", language), used)
        about_table(about, min_count=min_count, language=language).to_excel(
            writer, sheet_name=about_name, index=False
        )
        for name, safe in safe_tables.items():
            shown = _display(safe, language, min_count, headers=headers, marks=marks)
            shown.to_excel(writer, sheet_name=_sheet_name(name, used), index=False)
        for ws in writer.book.worksheets:
            for column in ws.columns:
                width = max(len(str(c.value)) if c.value is not None else 0 for c in column)
                ws.column_dimensions[column[0].column_letter].width = min(max(10, width + 2), 80)
    _make_reproducible(path)
    return path


def _display(
    table: pd.DataFrame, language: str, min_count: int, *, headers: str, marks: bool
) -> pd.DataFrame:
    """The sheet as a reader sees it: suppression marks and labelled headers."""
    from naravard_analysis.report.disclosure import FLAG_SUFFIX, format_suppressed

    out = table
    flagged = any(isinstance(c, str) and c.endswith(FLAG_SUFFIX) for c in table.columns)
    if marks and flagged:
        m = (table.attrs.get("disclosure") or {}).get("min_count", min_count)
        out = format_suppressed(table, language, min_count=m)
    if headers == "labels":
        names = [label(str(c), language) if isinstance(c, str) else c for c in out.columns]
        if len(set(names)) == len(names):  # two columns with one label keep their names
            out = out.set_axis(names, axis=1)
    return out


# openpyxl stamps the workbook with the time of writing (docProps/core.xml) and the zip entries
# with the time of packing: identical tables would give different files.
_CORE_TIMES = re.compile(rb"<dcterms:(created|modified)[^>]*>[^<]*</dcterms:\1>")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def _make_reproducible(path: Path) -> None:
    """Remove the creation/modification times and fix the zip entry times of an .xlsx file."""
    with zipfile.ZipFile(path) as z:
        entries = [(info, z.read(info.filename)) for info in z.infolist()]
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for info, data in entries:
            if info.filename == "docProps/core.xml":
                data = _CORE_TIMES.sub(b"", data)
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_EPOCH)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            z.writestr(fixed, data)
    tmp.replace(path)
