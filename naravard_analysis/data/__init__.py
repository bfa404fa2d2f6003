"""Data layer: canonical tables, readers, identifiers, official statistics and the synthetic world.

Public names
------------
RegisterData
    The bundle of canonical tables (:mod:`naravard_analysis.data.bundle`).
validate_table, TABLES
    The canonical schema (:mod:`naravard_analysis.data.schema`).
read_table
    Readers for CSV/SAS/Stata/Parquet and Patientregistret names (:mod:`.readers`); an extract
    with ALDER keeps it as ``age``, enough for :func:`~naravard_analysis.indicators.readmission.flag_readmissions`.
official
    Municipality and region codes, SCB population (:mod:`naravard_analysis.data.official`).
make_world
    Synthetic register worlds with known effects (:mod:`naravard_analysis.data.synthetic`).
"""

from naravard_analysis.data.bundle import RegisterData
from naravard_analysis.data.schema import STRING_DTYPE, TABLES, validate_table

__all__ = ["RegisterData", "TABLES", "STRING_DTYPE", "validate_table", "read_table"]


def __getattr__(name: str):
    # Readers pull in optional format libraries (pyreadstat); import them on first use.
    if name == "read_table":
        from naravard_analysis.data.readers import read_table

        return read_table
    raise AttributeError(name)
