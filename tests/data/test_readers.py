"""Tests of naravard_analysis.data.readers.read_table.

Every fixture file is written into ``tmp_path`` by the test itself; expected values are written
out by hand next to the assertion (the input rows are short enough to check by eye).
"""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from naravard_analysis.data.identifiers import luhn_check_digit
from naravard_analysis.data.readers import ReadReport, read_table
from naravard_analysis.errors import (
    DataWarning,
    IdentifierError,
    ParameterError,
    ReadError,
    SchemaError,
)

PR_HEADER = [
    "LopNr", "INDATUM", "UTDATUM", "HDIA", "DIA1", "DIA2", "OP", "PVARD", "INSATT", "UTSATT",
    "MVO", "SJUKHUS", "KON", "LAN", "KOMMUN", "ALDER",
]  # fmt: skip
PR_ROWS = [
    ["1", "20200101", "20200105", "i50.0", "J44.1", "", "ab123  dt016", "1", "3", "4", "46", "11001", "1", "14", "80", "81"],
    ["2", "20200201", "20200203", "E119", "", "I10", "", "2", "1", "3", "101", "11001", "2", "1", "0180", "72"],
    ["3", "20211231", "20220102", " J18 9", "", "", "", "2", "2", "2", "046", "12001", "2", "12", "1280", "90"],
]  # fmt: skip


def write_csv(path, header, rows, sep=";", encoding="utf-8", newline_at_end=True):
    text = "\n".join(sep.join(r) for r in [header, *rows])
    if newline_at_end:
        text += "\n"
    path.write_bytes(text.encode(encoding))
    return path


def pr_file(tmp_path, rows=None, header=None, name="sv.csv", **kw):
    return write_csv(tmp_path / name, header or PR_HEADER, rows or PR_ROWS, **kw)


def pnr(yymmdd: str, nnn: str) -> str:
    """A valid personnummer YYMMDD-NNNC built with the Luhn rule (methods reference §8.5)."""
    return f"{yymmdd}-{nnn}{luhn_check_digit(yymmdd + nnn)}"


# ----------------------------------------------------------------------------------------------
# Patientregistret mapping
# ----------------------------------------------------------------------------------------------


def test_patientregistret_admissions_mapping(tmp_path):
    df = read_table(pr_file(tmp_path), "admissions", source="patientregistret")
    assert df.shape == (3, 15)
    assert df["person_id"].tolist() == [1, 2, 3]
    assert df["person_id"].dtype == np.int64
    assert df["admission_date"].tolist() == [
        pd.Timestamp("2020-01-01"), pd.Timestamp("2020-02-01"), pd.Timestamp("2021-12-31")
    ]  # fmt: skip
    assert df["discharge_date"].iloc[2] == pd.Timestamp("2022-01-02")
    assert str(df["admission_date"].dtype) == "datetime64[ns]"
    # ICD-10: upper case, dots and blanks removed (methods reference §2.3).
    assert df["main_diagnosis"].tolist() == ["I500", "E119", "J189"]
    # DIA1..DIA2 joined by single spaces, '' when none.
    assert df["other_diagnoses"].tolist() == ["J441", "I10", ""]
    assert df["procedures"].tolist() == ["AB123 DT016", "", ""]
    assert df["planned"].tolist() == [True, False, False]
    assert df["planned"].dtype == bool
    assert df["admitted_from"].tolist() == ["home", "hospital", "special_housing"]
    assert df["discharge_to"].tolist() == ["died", "home", "special_housing"]
    assert df["department"].tolist() == ["046", "101", "046"]  # MVO zero-padded to 3
    assert df["hospital_id"].tolist() == ["11001", "11001", "12001"]
    assert df["sex"].tolist() == ["M", "F", "F"]
    assert df["region_code"].tolist() == ["14", "01", "12"]  # LAN '1' -> '01'
    # KOMMUN '80' has two digits -> LAN + KOMMUN = '1480'; '0180' and '1280' kept.
    assert df["municipality_code"].tolist() == ["1480", "0180", "1280"]
    assert df["age"].tolist() == [81, 72, 90]


def test_read_report_counts(tmp_path):
    df = read_table(pr_file(tmp_path), "admissions", source="patientregistret")
    rep = df.attrs["read_report"]
    assert isinstance(rep, ReadReport)
    assert (rep.rows_read, rep.encoding, rep.separator, rep.decimal) == (3, "utf-8-sig", ";", ",")
    assert len(rep.columns_mapped) == 16  # all 16 source columns mapped
    assert rep.columns_mapped["DIA2"] == "other_diagnoses"
    assert rep.columns_mapped["LopNr"] == "person_id"
    assert rep.extra_columns == []
    assert "3 rows read as admissions" in rep.summary()


def test_lowercase_names_and_extra_columns_kept(tmp_path):
    header = [h.lower() for h in PR_HEADER] + ["AR", "EKOD1"]
    rows = [r + ["2020", "W19"] for r in PR_ROWS]
    with pytest.warns(DataWarning, match="admissions: 2 unknown column\\(s\\) kept: AR, EKOD1"):
        df = read_table(pr_file(tmp_path, rows, header), "admissions", source="patientregistret")
    assert df["person_id"].tolist() == [1, 2, 3]
    assert df["EKOD1"].tolist() == ["W19"] * 3
    assert df.attrs["read_report"].extra_columns == ["AR", "EKOD1"]


@pytest.mark.parametrize("sep", [";", ",", "\t"])
def test_separator_sniffed(tmp_path, sep):
    df = read_table(pr_file(tmp_path, sep=sep), "admissions", source="patientregistret")
    assert df.attrs["read_report"].separator == sep
    assert df["main_diagnosis"].tolist() == ["I500", "E119", "J189"]


def test_dates_as_integers_are_never_epoch_nanoseconds(tmp_path):
    # Parquet keeps INDATUM as int64 20240131; pd.to_datetime(20240131) would give 1970-01-01.
    frame = pd.DataFrame(
        {
            "LopNr": [5.0, 6.0],  # SAS-style float ids
            "INDATUM": [20240131, 20000229],
            "UTDATUM": [20240201, 20000301],
            "HDIA": ["I500", "J441"],
            "PVARD": [1.0, 2.0],
            "UTSATT": [3, 3],
            "LAN": [1.0, 14.0],  # numbers: must become '01', '14'
        }
    )
    path = tmp_path / "sv.parquet"
    frame.to_parquet(path)
    df = read_table(path, "admissions", source="patientregistret")
    assert df["admission_date"].tolist() == [pd.Timestamp("2024-01-31"), pd.Timestamp("2000-02-29")]
    assert df["person_id"].tolist() == [5, 6] and df["person_id"].dtype == np.int64
    assert df["region_code"].tolist() == ["01", "14"]
    assert df["planned"].tolist() == [True, False]


def test_imprecise_dates_counted_in_error_and_options(tmp_path):
    rows = [r.copy() for r in PR_ROWS]
    rows[0][1] = "20200100"  # day unknown
    rows[2][1] = "20210000"  # month and day unknown
    path = pr_file(tmp_path, rows)
    with pytest.raises(SchemaError) as err:
        read_table(path, "admissions", source="patientregistret")
    msg = str(err.value)
    assert "admissions.admission_date: imprecise dates" in msg
    assert "2 rows break it (rows 0, 2)" in msg
    assert "imprecise_dates='null'" in msg
    with pytest.warns(DataWarning, match="2 imprecise dates in admission_date set to day 1"):
        first = read_table(path, "admissions", source="patientregistret", imprecise_dates="first")
    assert first["admission_date"].iloc[0] == pd.Timestamp("2020-01-01")
    assert first["admission_date"].iloc[2] == pd.Timestamp("2021-01-01")
    assert first.attrs["read_report"].imprecise_dates == {"admission_date": 2}
    # 'null' leaves NaT, which the canonical admissions table does not allow.
    with pytest.raises(SchemaError, match="admission_date: must not be missing -- 2 rows"):
        read_table(path, "admissions", source="patientregistret", imprecise_dates="null")
    with pytest.warns(DataWarning, match="2 imprecise dates in admission_date set to missing"):
        raw = read_table(
            path, "admissions", source="patientregistret", imprecise_dates="null", validate=False
        )
    assert raw["admission_date"].isna().tolist() == [True, False, True]


def test_invalid_calendar_date(tmp_path):
    rows = [r.copy() for r in PR_ROWS]
    rows[1][2] = "20230231"  # 31 February
    with pytest.raises(
        SchemaError,
        match=r"discharge_date: is not a valid YYYYMMDD date -- 1 row breaks it \(row 1\)",
    ):
        read_table(pr_file(tmp_path, rows), "admissions", source="patientregistret")


def test_iso_dates_in_canonical_csv(tmp_path):
    path = write_csv(
        tmp_path / "listings.csv",
        ["person_id", "doctor_id", "unit_id", "start_date", "end_date"],
        [["7", "D1", "U1", "2019-03-01", ""], ["8", "", "U2", "20190401", "2020-01-31"]],
        sep=",",
    )
    df = read_table(path, "listings")
    assert df["start_date"].tolist() == [pd.Timestamp("2019-03-01"), pd.Timestamp("2019-04-01")]
    assert df["end_date"].isna().tolist() == [True, False]
    assert df["doctor_id"].isna().tolist() == [False, True]


def test_unknown_codes(tmp_path):
    rows = [r.copy() for r in PR_ROWS]
    rows[0][8] = "8"  # INSATT 8: not in the code list -> 'other', counted
    with pytest.warns(DataWarning, match="1 INSATT codes outside the code list mapped to 'other'"):
        df = read_table(pr_file(tmp_path, rows), "admissions", source="patientregistret")
    assert df["admitted_from"].iloc[0] == "other"
    assert df.attrs["read_report"].codes_mapped_to_other == {"INSATT": 1}
    rows[1][7] = "3"  # PVARD 3 does not exist: an error, never guessed
    with pytest.raises(
        SchemaError, match=r"admissions.planned: PVARD must be one of 1, 2 .* \(row 1\)"
    ):
        read_table(pr_file(tmp_path, rows), "admissions", source="patientregistret")


def test_kommun_99_abroad_counted(tmp_path):
    rows = [r.copy() for r in PR_ROWS]
    rows[0][13:15] = ["01", "99"]  # 0199 is not a municipality (1499 would be Falköping)
    with pytest.warns(DataWarning, match=r"1 KOMMUN 99 \(abroad\) set to missing"):
        df = read_table(
            pr_file(tmp_path, rows), "admissions", source="patientregistret", validate=False
        )
    assert df["municipality_code"].isna().tolist() == [True, False, False]
    assert df.attrs["read_report"].residents_abroad == 1


def test_contacts_mapping_emergency_rule(tmp_path):
    # MVO 046 with PVARD 2 is an emergency visit (methods reference §2.5); row 0 is planned.
    # The outpatient register has no meaningful UTDATUM and no INSATT/UTSATT: kept, warned.
    with pytest.warns(
        DataWarning, match=r"contacts: 3 unknown column\(s\) kept: UTDATUM, INSATT, UTSATT"
    ):
        df = read_table(
            pr_file(tmp_path),
            "contacts",
            source="patientregistret",
            fill={"profession": "physician", "mode": "physical"},
        )
    assert df["contact_date"].tolist()[0] == pd.Timestamp("2020-01-01")
    assert df["care_level"].tolist() == ["specialist", "specialist", "emergency"]
    assert df["unit_id"].tolist() == ["11001", "11001", "12001"]
    assert df["planned"].dtype == "boolean"
    assert df["profession"].tolist() == ["physician"] * 3
    assert df["provider_id"].isna().all()
    with pytest.raises(SchemaError, match="contacts.profession: missing required column"):
        read_table(pr_file(tmp_path), "contacts", source="patientregistret", extra="keep")


def test_usecols(tmp_path):
    df = read_table(
        pr_file(tmp_path),
        "admissions",
        source="patientregistret",
        usecols=["lopnr", "INDATUM", "UTDATUM", "HDIA", "PVARD", "UTSATT"],
    )
    assert list(df.columns[:3]) == ["person_id", "admission_date", "discharge_date"]
    assert df["other_diagnoses"].tolist() == ["", "", ""]  # schema default when absent
    assert len(df.attrs["read_report"].columns_mapped) == 6


# ----------------------------------------------------------------------------------------------
# Swedish CSV conventions
# ----------------------------------------------------------------------------------------------


def test_population_thousands_nbsp_and_space(tmp_path):
    path = write_csv(
        tmp_path / "pop.csv",
        ["year", "region_code", "municipality_code", "sex", "age", "population"],
        [
            ["2023", "14", "1480", "F", "80", "1\u00a0234"],  # NBSP thousands
            ["2023", "14", "1480", "M", "80", "2 345"],  # space thousands
            ["2023", "14", "1480", "M", "81", "1\u00a0002\u00a0345"],
        ],
    )
    df = read_table(path, "population")
    assert df["population"].tolist() == [1234, 2345, 1002345]
    assert df["population"].dtype == np.int64
    assert df["municipality_code"].tolist() == ["1480"] * 3
    assert df.attrs["read_report"].thousands_removed == ["population"]


def test_decimal_comma_in_integer_column_is_checked(tmp_path):
    path = write_csv(
        tmp_path / "pop.csv",
        ["year", "region_code", "municipality_code", "sex", "age", "population"],
        [["2023", "14", "1480", "F", "80", "12,0"], ["2023", "14", "1480", "M", "80", "3,5"]],
    )
    with pytest.raises(
        SchemaError, match=r"population.population: values must be whole numbers .* \(row 1\)"
    ):
        read_table(path, "population")


def test_cp1252_fallback_and_bom(tmp_path):
    header = PR_HEADER + ["ORT"]
    rows = [r + ["Luleå"] for r in PR_ROWS]
    path = pr_file(tmp_path, rows, header, encoding="cp1252")
    with pytest.warns(DataWarning, match="unknown column.* kept: ORT"):
        df = read_table(path, "admissions", source="patientregistret")
    assert df.attrs["read_report"].encoding == "cp1252"
    assert df["ORT"].tolist() == ["Luleå"] * 3
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().decode("cp1252").encode("utf-8"))
    with pytest.warns(DataWarning, match="unknown column.* kept: ORT"):
        df2 = read_table(bom, "admissions", source="patientregistret")
    assert df2.attrs["read_report"].encoding == "utf-8-sig"
    assert df2.columns[0] == "person_id" and df2["ORT"].iloc[0] == "Luleå"


# ----------------------------------------------------------------------------------------------
# file-level bad inputs: one ReadError naming the file and the problem
# ----------------------------------------------------------------------------------------------


def test_mojibake_is_caught(tmp_path):
    header = PR_HEADER + ["ORT"]
    # 'Luleå' saved as UTF-8, read back as CP1252 and saved again as UTF-8: 'LuleÃ¥'.
    rows = [r + ["Luleå".encode().decode("cp1252")] for r in PR_ROWS]
    path = pr_file(tmp_path, rows, header, name="moji.csv")
    with pytest.raises(ReadError) as err:
        read_table(path, "admissions", source="patientregistret")
    msg = str(err.value)
    assert str(path) in msg
    assert "looks double-encoded" in msg
    assert "3 such sequences, first on line 2" in msg


def test_mojibake_in_parquet_text_column(tmp_path):
    frame = pd.DataFrame(
        {"LopNr": [1], "HDIA": ["I500"], "ORT": ["Göteborg".encode().decode("cp1252")]}
    )
    path = tmp_path / "moji.parquet"
    frame.to_parquet(path)
    with pytest.raises(ReadError, match=r"moji.parquet: looks double-encoded .* in column ORT"):
        read_table(path, "admissions", source="patientregistret")


def test_wrong_explicit_encoding_shows_as_mojibake(tmp_path):
    header = PR_HEADER + ["ORT"]
    path = pr_file(tmp_path, [r + ["Gävle"] for r in PR_ROWS], header)  # UTF-8
    with pytest.raises(ReadError, match="looks double-encoded"):
        read_table(path, "admissions", source="patientregistret", encoding="latin-1")


def test_undecodable_with_explicit_utf8(tmp_path):
    path = pr_file(
        tmp_path, [r + ["Umeå"] for r in PR_ROWS], PR_HEADER + ["ORT"], encoding="cp1252"
    )
    with pytest.raises(ReadError, match=r"sv.csv: not valid utf-8 text -- pass encoding="):
        read_table(path, "admissions", source="patientregistret", encoding="utf-8")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(ReadError, match=r"empty.csv: file is empty \(0 bytes\)"):
        read_table(path, "admissions", source="patientregistret")
    path.write_bytes(b"\xef\xbb\xbf\n  \n")
    with pytest.raises(ReadError, match=r"empty.csv: file is empty \(no header line"):
        read_table(path, "admissions", source="patientregistret")


def test_header_only(tmp_path):
    path = write_csv(tmp_path / "h.csv", PR_HEADER, [])
    with pytest.raises(ReadError, match="h.csv: has column names but no data rows"):
        read_table(path, "admissions", source="patientregistret")


def test_truncated_last_line(tmp_path):
    rows = [r.copy() for r in PR_ROWS]
    rows[-1] = rows[-1][:6]  # cut after six fields, no final newline
    path = pr_file(tmp_path, rows, newline_at_end=False, name="cut.csv")
    with pytest.raises(ReadError) as err:
        read_table(path, "admissions", source="patientregistret")
    assert str(err.value) == (
        f"{path}: looks truncated -- the last line (4) has 6 of 16 fields, "
        "and the file does not end with a newline"
    )


def test_truncated_unterminated_quote(tmp_path):
    rows = [r.copy() for r in PR_ROWS]
    rows[-1][-1] = '"9'  # opening quote never closed: the file was cut
    path = pr_file(tmp_path, rows, name="quote.csv")
    with pytest.raises(
        ReadError, match=r"quote.csv: truncated: unterminated quote in the last line"
    ):
        read_table(path, "admissions", source="patientregistret")
    rows = [r.copy() for r in PR_ROWS]
    rows[0][3] = '"I500'  # an unterminated quote in the first data row (line 2)
    path = pr_file(tmp_path, rows, name="quote2.csv")
    with pytest.raises(ReadError, match=r"quote2.csv: unterminated quote on line 2$"):
        read_table(path, "admissions", source="patientregistret")


def test_mixed_separators_in_first_lines(tmp_path):
    rows = [r.copy() for r in PR_ROWS]
    path = tmp_path / "mixed.csv"
    text = ";".join(PR_HEADER) + "\n" + ";".join(rows[0]) + "\n" + ",".join(rows[1]) + "\n"
    path.write_text(text)
    with pytest.raises(ReadError) as err:
        read_table(path, "admissions", source="patientregistret")
    assert str(err.value) == (
        f"{path}: the file mixes separators -- the header uses ';' but line 3 uses ','"
    )


def test_mixed_separators_far_down_the_file(tmp_path):
    # Beyond the sniffed sample: found by the parser, located by the error diagnosis.
    rows = [PR_ROWS[i % 3] for i in range(5000)]
    lines = [";".join(PR_HEADER)] + [";".join(r) for r in rows]
    lines[4000] = ",".join(rows[3999])
    path = tmp_path / "mixed_late.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        ReadError, match=r"mixed_late.csv: the file mixes separators -- .* line 4001 uses ','"
    ):
        read_table(path, "admissions", source="patientregistret")


def test_too_many_fields_message_has_no_values(tmp_path):
    rows = [r.copy() for r in PR_ROWS]
    secret = pnr("811218", "987")
    rows[1] = rows[1] + [secret, "x"]
    path = pr_file(tmp_path, rows, name="wide.csv")
    with pytest.raises(ReadError) as err:
        read_table(path, "admissions", source="patientregistret")
    assert str(err.value) == f"{path}: line 3 has 18 fields, the header has 16"
    assert secret not in str(err.value)


def test_unknown_extension(tmp_path):
    path = tmp_path / "sv.xlsx"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(
        ReadError, match=r"sv.xlsx: unknown file extension '.xlsx'; supported: .csv, .dta"
    ):
        read_table(path, "admissions", source="patientregistret")


def test_truncated_parquet(tmp_path):
    path = tmp_path / "sv.parquet"
    pq.write_table(pa.table({"LopNr": list(range(1000)), "HDIA": ["I500"] * 1000}), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        ReadError, match=r"sv.parquet: not a readable Parquet file -- it looks truncated"
    ):
        read_table(path, "admissions", source="patientregistret")


def test_corrupt_sas_file(tmp_path):
    path = tmp_path / "sv.sas7bdat"
    path.write_bytes(b"\x00" * 300)
    with pytest.raises(
        ReadError, match=r"sv.sas7bdat: not a readable SAS file -- it looks truncated"
    ):
        read_table(path, "admissions", source="patientregistret")


def test_missing_file_and_bad_options(tmp_path):
    with pytest.raises(ReadError, match="nope.csv: file not found"):
        read_table(tmp_path / "nope.csv", "admissions")
    with pytest.raises(ParameterError, match="unknown option.*chunksize"):
        read_table(tmp_path / "nope.csv", "admissions", chunksize=10)
    with pytest.raises(ParameterError, match="'admissions' \\(slutenvård\\) or 'contacts'"):
        read_table(tmp_path / "nope.csv", "persons", source="patientregistret")


# ----------------------------------------------------------------------------------------------
# SAS / Stata deliveries
# ----------------------------------------------------------------------------------------------


def _sas_frame(lopnr):
    return pd.DataFrame(
        {
            "LopNr": lopnr,
            "INDATUM": [20200101.0, 20200201.0],
            "UTDATUM": [20200105.0, 20200203.0],
            "HDIA": ["I500", "E119"],
            "PVARD": [1.0, 2.0],
            "UTSATT": [3.0, 4.0],
            "MVO": [46.0, 101.0],
            "KOMMUN": [1480.0, 180.0],
        }
    )


def test_sas_transport_float_ids(tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    path = tmp_path / "sv.xpt"
    pyreadstat.write_xport(_sas_frame([101.0, 102.0]), str(path))
    df = read_table(path, "admissions", source="patientregistret")
    assert df["person_id"].tolist() == [101, 102] and df["person_id"].dtype == np.int64
    assert df["department"].tolist() == ["046", "101"]
    assert df["municipality_code"].tolist() == ["1480", "0180"]  # 180.0 lost its zero
    assert df["discharge_to"].tolist() == ["home", "died"]


def test_sas_fractional_id_is_an_error(tmp_path, monkeypatch):
    pyreadstat = pytest.importorskip("pyreadstat")
    frame = _sas_frame([101.0, 102.5])

    class Meta:
        column_names = list(frame.columns)
        file_encoding = "WINDOWS-1252"

    # No writer for .sas7bdat exists: stand in for pyreadstat's reader.
    monkeypatch.setattr(pyreadstat, "read_sas7bdat", lambda *a, **k: (frame.copy(), Meta()))
    path = tmp_path / "sv.sas7bdat"
    path.write_bytes(b"stand-in")
    with pytest.raises(
        SchemaError,
        match=r"admissions.person_id: ids must be whole numbers below 2\*\*53 .* \(row 1\)",
    ):
        read_table(path, "admissions", source="patientregistret")
    frame.loc[1, "LopNr"] = 102.0
    df = read_table(path, "admissions", source="patientregistret")
    assert df["person_id"].tolist() == [101, 102]
    assert df.attrs["read_report"].encoding == "WINDOWS-1252"


def test_stata(tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    path = tmp_path / "sv.dta"
    pyreadstat.write_dta(_sas_frame([7.0, 8.0]), str(path))
    df = read_table(path, "admissions", source="patientregistret")
    assert df["person_id"].tolist() == [7, 8]
    assert df["discharge_date"].tolist() == [pd.Timestamp("2020-01-05"), pd.Timestamp("2020-02-03")]


# ----------------------------------------------------------------------------------------------
# through to the schema: value-level errors
# ----------------------------------------------------------------------------------------------


def test_missing_column(tmp_path):
    header = [h for h in PR_HEADER if h != "HDIA"]
    rows = [[v for h, v in zip(PR_HEADER, r, strict=True) if h != "HDIA"] for r in PR_ROWS]
    with pytest.raises(SchemaError, match="admissions.main_diagnosis: missing required column"):
        read_table(pr_file(tmp_path, rows, header), "admissions", source="patientregistret")


def test_malformed_icd10(tmp_path):
    rows = [r.copy() for r in PR_ROWS]
    rows[2][3] = "5O0"  # no leading letter
    with pytest.raises(
        SchemaError,
        match=r"admissions.main_diagnosis: must be a dotless upper-case ICD-10 code .* \(row 2\)",
    ):
        read_table(pr_file(tmp_path, rows), "admissions", source="patientregistret")


def test_discharge_before_admission(tmp_path):
    rows = [r.copy() for r in PR_ROWS]
    rows[1][2] = "20200131"  # discharged the day before 2020-02-01
    with pytest.raises(
        SchemaError,
        match=r"discharge_date must not be before admission_date -- 1 row breaks it \(row 1\)",
    ):
        read_table(pr_file(tmp_path, rows), "admissions", source="patientregistret")


def test_clear_text_personnummer(tmp_path):
    ids = [pnr("811218", "987"), pnr("450101", "123"), pnr("330315", "456")]
    rows = [[ids[i]] + r[1:] for i, r in enumerate(PR_ROWS)]
    path = pr_file(tmp_path, rows, name="pnr.csv")
    with pytest.raises(IdentifierError) as err:
        read_table(path, "admissions", source="patientregistret")
    msg = str(err.value)
    assert msg.startswith("admissions.LopNr: holds clear-text personnummer")
    assert "3 rows break it" in msg
    assert all(i not in msg and i.replace("-", "") not in msg for i in ids)
    key = "a-secret-key-0123456"
    df = read_table(path, "admissions", source="patientregistret", pseudonymise_key=key)
    again = read_table(path, "admissions", source="patientregistret", pseudonymise_key=key)
    assert df["person_id"].tolist() == again["person_id"].tolist()  # stable
    assert df["person_id"].str.len().tolist() == [20, 20, 20]
    assert df["person_id"].nunique() == 3
    assert df.attrs["read_report"].pseudonymised_columns == ["LopNr"]


def test_missing_personnummer_is_not_hashed_into_one_person(tmp_path):
    ids = [pnr("811218", "987"), "", ""]  # two rows without an id
    rows = [[ids[i]] + r[1:] for i, r in enumerate(PR_ROWS)]
    path = pr_file(tmp_path, rows, name="pnr_missing.csv")
    with pytest.raises(SchemaError, match=r"admissions\.person_id: .*missing.*2 rows break it"):
        read_table(path, "admissions", source="patientregistret", pseudonymise_key="a-secret-key-0123456")
    with pytest.raises(ParameterError, match="pseudonymise: key must be at least 16"):
        read_table(path, "admissions", source="patientregistret", pseudonymise_key=" " * 16)


def test_duplicates_reported(tmp_path):
    rows = [PR_ROWS[0], PR_ROWS[0], PR_ROWS[1]]
    with pytest.raises(
        SchemaError,
        match=r"admissions: duplicate rows: every row must be unique -- 1 row breaks it \(row 1\)",
    ):
        read_table(pr_file(tmp_path, rows), "admissions", source="patientregistret")


# ----------------------------------------------------------------------------------------------
# invariants
# ----------------------------------------------------------------------------------------------


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    days=st.lists(
        st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2024, 12, 31)),
        min_size=1,
        max_size=30,
    ),
    as_text=st.booleans(),
)
def test_yyyymmdd_round_trip(tmp_path, days, as_text):
    """Any calendar date written as YYYYMMDD (text or integer) reads back as itself."""
    ints = [d.year * 10000 + d.month * 100 + d.day for d in days]
    frame = pd.DataFrame(
        {
            "person_id": range(len(days)),
            "doctor_id": "D",
            "unit_id": "U",
            "start_date": [str(v) for v in ints] if as_text else ints,
        }
    )
    path = tmp_path / "l.parquet"
    frame.to_parquet(path)
    df = read_table(path, "listings", validate=False)
    assert df["start_date"].tolist() == [pd.Timestamp(d) for d in days]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    codes=st.lists(
        st.from_regex(r"[A-Za-z][0-9]{2}(\.?[0-9A-Za-z]{1,2})?", fullmatch=True),
        min_size=1,
        max_size=8,
    )
)
def test_icd_normalisation_and_join(tmp_path, codes):
    """Codes come back upper case without dots, joined in column order by single spaces."""
    n = len(codes)
    frame = pd.DataFrame(
        {"LopNr": [1], "INDATUM": [20200101], "UTDATUM": [20200102], "HDIA": [codes[0]]}
        | {f"DIA{i + 1}": [c] for i, c in enumerate(codes)}
        | {"DIA99": [None], "PVARD": [1], "UTSATT": [3]}
    )
    path = tmp_path / "icd.parquet"
    frame.to_parquet(path)
    df = read_table(path, "admissions", source="patientregistret")
    expected = [c.upper().replace(".", "") for c in codes]
    assert df["main_diagnosis"].iloc[0] == expected[0]
    assert df["other_diagnoses"].iloc[0].split(" ") == expected
    assert len(df.attrs["read_report"].columns_mapped) == 4 + n + 3


def test_crlf_and_padded_header_names(tmp_path):
    header = [f" {h} " for h in PR_HEADER]
    path = tmp_path / "crlf.csv"
    path.write_bytes(("\r\n".join(";".join(r) for r in [header, *PR_ROWS]) + "\r\n").encode())
    df = read_table(
        path,
        "admissions",
        source="patientregistret",
        usecols=["LopNr", "INDATUM", "UTDATUM", "HDIA", "PVARD", "UTSATT"],
    )
    assert df["person_id"].tolist() == [1, 2, 3]
    assert df["discharge_to"].tolist() == ["died", "home", "special_housing"]


def _persons_csv(tmp_path, region):
    return write_csv(
        tmp_path / "persons.csv",
        ["person_id", "sex", "birth_date", "region_code", "municipality_code", "death_date"],
        [
            ["1", "F", "19500301", region, "1480", ""],
            ["2", "M", "19411224", "14", "1401", "20210203"],
        ],
    )


def test_canonical_region_code_one_is_an_error(tmp_path):
    # A canonical file must already hold zero-padded codes: '1' is not silently padded.
    with pytest.raises(
        SchemaError,
        match=r"persons.region_code: must be a two-digit zero-padded region code -- 1 row breaks it \(row 0\)",
    ):
        read_table(_persons_csv(tmp_path, "1"), "persons")
    df = read_table(_persons_csv(tmp_path, "14"), "persons")
    assert df["region_code"].tolist() == ["14", "14"]
    raw = read_table(_persons_csv(tmp_path, "14"), "persons", validate=False)
    assert raw["sex"].dtype == "str" and raw["region_code"].dtype == "str"  # not categorical
    assert str(raw["birth_date"].dtype) == "datetime64[ns]"
    assert df["death_date"].tolist()[1] == pd.Timestamp("2021-02-03")


def test_canonical_integer_region_code_is_an_error(tmp_path):
    frame = pd.DataFrame(
        {"person_id": [1], "sex": ["F"], "birth_date": [pd.Timestamp("1950-03-01")],
         "region_code": [14], "municipality_code": ["1480"], "death_date": [pd.NaT]}
    )  # fmt: skip
    path = tmp_path / "persons.parquet"
    frame.to_parquet(path)
    with pytest.raises(
        SchemaError,
        match=r"persons.region_code: must be a zero-padded text code of 2 digits, got numbers",
    ):
        read_table(path, "persons")


def test_counts_are_rows_not_distinct_values(tmp_path):
    # Codes are normalised once per distinct value; counts and row positions must still refer
    # to rows. 3000 rows cycle through PR_ROWS; row k uses PR_ROWS[k % 3].
    rows = [PR_ROWS[i % 3].copy() for i in range(3000)]
    for i in range(0, 3000, 3):
        rows[i][1] = "20200100"  # the same imprecise date on 1000 rows (every third, from 0)
        rows[i][8] = "9"  # INSATT 9 on the same 1000 rows
    path = pr_file(tmp_path, rows, name="many.csv")
    with pytest.raises(
        SchemaError,
        match=r"imprecise dates .* -- 1000 rows break it \(rows 0, 3, 6, 9, 12, \.\.\.\)",
    ):
        read_table(path, "admissions", source="patientregistret")
    with pytest.warns(DataWarning):
        df = read_table(
            path,
            "admissions",
            source="patientregistret",
            imprecise_dates="first",
            duplicates="warn",
        )
    rep = df.attrs["read_report"]
    assert rep.imprecise_dates == {"admission_date": 1000}
    assert rep.codes_mapped_to_other == {"INSATT": 1000}
    assert (df["admitted_from"] == "other").sum() == 1000
    rows[2500][7] = "7"  # PVARD 7 on one row only
    with pytest.raises(
        SchemaError, match=r"PVARD must be one of 1, 2 .* -- 1 row breaks it \(row 2500\)"
    ):
        read_table(
            pr_file(tmp_path, rows, name="many2.csv"),
            "admissions",
            source="patientregistret",
            imprecise_dates="first",
            duplicates="warn",
        )


def test_ids_with_leading_zeros_stay_text(tmp_path):
    rows = [r.copy() for r in PR_ROWS]
    rows[0][0], rows[1][0], rows[2][0] = "0012", "12", "A7"
    df = read_table(pr_file(tmp_path, rows), "admissions", source="patientregistret")
    assert df["person_id"].tolist() == ["0012", "12", "A7"]  # '0012' and '12' stay distinct
    assert df["person_id"].dtype == "str"


def test_categorical_parquet_and_empty_dia_column(tmp_path):
    frame = pd.DataFrame(
        {
            "LopNr": [1, 2],
            "INDATUM": pd.Categorical(["20200101", "20200101"]),
            "UTDATUM": ["20200102", "20200103"],
            "HDIA": pd.Categorical(["i50.0", "I50.0"]),
            "DIA1": pd.Series([None, None], dtype=object),
            "DIA2": pd.Categorical(["J44.1", None]),
            "PVARD": pd.Categorical([2, 2]),
            "UTSATT": [3, 1],
        }
    )
    path = tmp_path / "cat.parquet"
    frame.to_parquet(path)
    df = read_table(path, "admissions", source="patientregistret")
    assert df["main_diagnosis"].tolist() == ["I500", "I500"]
    assert df["other_diagnoses"].tolist() == ["J441", ""]
    assert df["admission_date"].tolist() == [pd.Timestamp("2020-01-01")] * 2
    assert df["planned"].tolist() == [False, False]


# ----------------------------------------------------------------------------------------------
# ids written as numbers in text, Excel's scientific notation, names and ranges
# ----------------------------------------------------------------------------------------------


def _with_ids(ids: list[str]) -> list[list[str]]:
    return [[i] + PR_ROWS[k % 3][1:] for k, i in enumerate(ids)]


@pytest.mark.parametrize("written", ["{}.0", "{},0", "{}.00", " {}.0 "])
def test_float_id_written_as_text_becomes_the_integer(tmp_path, written):
    rows = _with_ids([written.format(i) for i in (123, 124, 125)])
    df = read_table(pr_file(tmp_path, rows), "admissions", source="patientregistret")
    assert df["person_id"].tolist() == [123, 124, 125]
    assert df["person_id"].dtype == "int64"  # the same ids as when LopNr arrives as float


def test_fractional_id_written_as_text_is_an_error(tmp_path):
    rows = _with_ids(["123.0", "124.5", "125"])
    with pytest.raises(SchemaError, match=r"admissions\.person_id: must be a whole number .* 1 row breaks it \(row 1\)"):
        read_table(pr_file(tmp_path, rows), "admissions", source="patientregistret")


def test_excel_scientific_notation_ids_are_refused(tmp_path):
    # 20 persons whose 12-digit ids Excel wrote with six significant digits: 2 distinct strings
    ids = ["1,23457E+11"] * 10 + ["1,23458E+11"] * 10
    rows = _with_ids(ids)
    with pytest.raises(SchemaError) as err:
        read_table(pr_file(tmp_path, rows), "admissions", source="patientregistret", duplicates="warn")
    msg = str(err.value)
    assert msg.startswith("admissions.person_id: is written in scientific notation")
    assert "20 rows break it" in msg and "E+11" not in msg.split("(e.g.")[0]


@pytest.mark.parametrize("dup", ["HDIA", "hdia", " HDIA "])
def test_duplicated_header_is_refused(tmp_path, dup):
    header = PR_HEADER + [dup]
    rows = [r + ["J189"] for r in PR_ROWS]
    path = pr_file(tmp_path, rows, header=header, name="dup.csv")
    with pytest.raises(ReadError, match=r"dup.csv: column name .* appears twice \(columns 4 and 17"):
        read_table(path, "admissions", source="patientregistret")


def test_duplicated_canonical_header_is_refused(tmp_path):
    header = ["person_id", "sex", "birth_date", "region_code", "municipality_code", "sex"]
    rows = [["1", "F", "1950-01-01", "14", "1480", "M"]]
    path = write_csv(tmp_path / "persons.csv", header, rows)
    with pytest.raises(ReadError, match=r"column name 'sex' appears twice \(columns 2 and 6"):
        read_table(path, "persons")


@pytest.mark.parametrize("age", ["-3", "200", "126"])
def test_implausible_age_is_an_error(tmp_path, age):
    rows = [r.copy() for r in PR_ROWS]
    rows[1][-1] = age
    with pytest.raises(SchemaError, match=r"admissions\.age: must be between 0 and 125 years \(ALDER\) -- 1 row breaks it \(row 1\)"):
        read_table(pr_file(tmp_path, rows), "admissions", source="patientregistret")
    rows[1][-1] = "125"
    assert read_table(pr_file(tmp_path, rows), "admissions", source="patientregistret")["age"].max() == 125


def test_personnummer_as_column_name_is_never_echoed(tmp_path):
    number = pnr("811218", "987")
    header = PR_HEADER + [number]
    rows = [r + ["x"] for r in PR_ROWS]
    path = pr_file(tmp_path, rows, header=header, name="hdr.csv")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(IdentifierError) as err:
            read_table(path, "admissions", source="patientregistret")
    msg = str(err.value)
    assert msg.startswith("admissions.column 17: the column name is (or holds) a personnummer")
    texts = [msg] + [str(w.message) for w in seen]
    assert all(number not in t and number.replace("-", "") not in t for t in texts)
    # a file whose header line is missing: the first data row (with the number) became the header
    rows = _with_ids([pnr("811218", "987"), pnr("450101", "123"), pnr("330315", "456")])
    path = write_csv(tmp_path / "noheader.csv", rows[0], rows[1:])
    with pytest.raises(IdentifierError, match="does the file lack its header line"):
        read_table(path, "admissions", source="patientregistret", pseudonymise_key="a-secret-key-0123456")


@pytest.mark.parametrize(
    "text", ["ring 811218-9876 imorgon", "811218 9876", "pat. 19811218-9876.", "811218+9876"]
)
def test_personnummer_in_free_text_and_with_a_space_is_detected(tmp_path, text):
    rows = [r + [t] for r, t in zip(PR_ROWS, ["ingen", text, "ok"], strict=True)]
    path = pr_file(tmp_path, rows, header=PR_HEADER + ["ANTECKNING"], name="note.csv")
    with pytest.raises(IdentifierError, match=r"admissions\.ANTECKNING: holds clear-text personnummer.* 1 row breaks it"):
        read_table(path, "admissions", source="patientregistret")


def test_kommun_99_is_falkoping_in_lan_14(tmp_path):
    rows = [r.copy() for r in PR_ROWS]
    rows[0][-3:-1] = ["14", "99"]  # Falköping, 1499 (official municipality list)
    rows[1][-3:-1] = ["01", "99"]  # 0199 is no municipality: the abroad convention
    with pytest.warns(DataWarning, match="1 KOMMUN 99"):
        df = read_table(pr_file(tmp_path, rows), "admissions", source="patientregistret")
    assert df["municipality_code"].iloc[0] == "1499" and pd.isna(df["municipality_code"].iloc[1])
    assert df.attrs["read_report"].residents_abroad == 1
