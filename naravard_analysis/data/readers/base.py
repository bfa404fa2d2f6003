"""What every reader shares: the read report, the supported sources and formats."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from naravard_analysis.errors import ReadError

#: Supported ``source`` values.
SOURCES = ("canonical", "patientregistret")

#: File extension -> format name.
FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".sas7bdat": "sas",
    ".xpt": "xport",
    ".dta": "stata",
    ".parquet": "parquet",
    ".pq": "parquet",
}
SEP_NAMES = {";": "';'", ",": "','", "\t": "tab"}


@dataclass
class ReadReport:
    """What :func:`read_table` did, attached as ``df.attrs["read_report"]``.

    Counts only -- never values -- so the report is safe to print or log.
    """

    path: str
    table: str
    source: str
    file_format: str
    rows_read: int = 0
    encoding: str | None = None
    separator: str | None = None
    decimal: str | None = None
    columns_mapped: dict[str, str] = field(default_factory=dict)
    extra_columns: list[str] = field(default_factory=list)
    imprecise_dates: dict[str, int] = field(default_factory=dict)
    imprecise_dates_policy: str = "error"
    codes_mapped_to_other: dict[str, int] = field(default_factory=dict)
    thousands_removed: list[str] = field(default_factory=list)
    pseudonymised_columns: list[str] = field(default_factory=list)
    residents_abroad: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """One human-readable paragraph."""
        parts = [
            f"{self.path}: {self.rows_read} rows read as {self.table} ({self.source}, "
            f"{self.file_format}"
            + (f", encoding {self.encoding}" if self.encoding else "")
            + (
                f", separator {SEP_NAMES.get(self.separator, self.separator)}"
                if self.separator
                else ""
            )
            + f") in {self.seconds:.1f} s",
            f"{len(self.columns_mapped)} columns mapped",
        ]
        if self.extra_columns:
            parts.append(f"extra columns kept: {', '.join(self.extra_columns)}")
        for col, n in self.imprecise_dates.items():
            parts.append(f"{n} imprecise dates in {col}")
        for col, n in self.codes_mapped_to_other.items():
            parts.append(f"{n} {col} codes mapped to 'other'")
        if self.residents_abroad:
            parts.append(f"{self.residents_abroad} residents abroad (KOMMUN 99) -> missing")
        if self.pseudonymised_columns:
            parts.append(f"pseudonymised: {', '.join(self.pseudonymised_columns)}")
        return "; ".join(parts) + "."



def resolve_usecols(path: Path, names: list[str], usecols: Sequence[str]) -> list[str]:
    by_upper = {n.upper(): n for n in names}
    out, missing = [], []
    for name in usecols:
        hit = name if name in names else by_upper.get(str(name).upper())
        (out if hit is not None else missing).append(hit if hit is not None else name)
    if missing:
        raise ReadError(f"{path}: usecols names not in the file: {', '.join(map(str, missing))}")
    return out

