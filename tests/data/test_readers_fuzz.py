"""Every row or a named error: the CSV reader under random dialects, encodings and damage.

pyarrow's block parser, given an unterminated quote in a middle line of a file larger than one
parse block (16 MiB by default), swallowed lines to the end of the block and returned fewer rows
without an error. The reader now checks the row count against an independent count of the
file's lines. The parse block size is a ``read_table`` option, so small files here cross many
block boundaries (blocks of 64 bytes to 4 KiB).

The fuzz test writes a random table with a random separator, quoting style, encoding and line
end, optionally damages it (a cut at a random byte offset, a stray quote at the start of a field, a
line break inside a quoted value, a random byte replaced), and reads it with the CSV layer of
``read_table``. The property: a clean file comes back exactly; a damaged file either raises one
``ReadError`` that starts with the file's path, or returns exactly one row per non-empty data line
of the file (counted here with Python's own line splitting). ``NARAVARD_FUZZ_EXAMPLES`` sets the
number of cases (default 150, a few seconds).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from naravard_analysis.data.readers import ReadReport, dialect, read_table
from naravard_analysis.errors import ReadError

N_EXAMPLES = int(os.environ.get("NARAVARD_FUZZ_EXAMPLES", "150"))
#: Characters of the generated values: separators and quotes inside values, Swedish letters,
#: spaces. No line breaks (they are a kind of damage below) and no "Ã" (mojibake detection).
ALPHABET = "abcXYZ019 .-;,\t\"'åäöÅÄÖé"


def _lines(text: str) -> list[str]:
    """Non-empty physical lines, split as pyarrow splits them (\\n, \\r\\n, lone \\r)."""
    return [ln for ln in io.StringIO(text, newline="") if ln.strip("\r\n")]


# ------------------------------------------------------------------------------------------------
# the reported case and its root cause
# ------------------------------------------------------------------------------------------------

PR_HEADER = [
    "LopNr", "INDATUM", "UTDATUM", "HDIA", "DIA1", "DIA2", "OP", "PVARD", "INSATT", "UTSATT",
    "MVO", "SJUKHUS", "KON", "LAN", "KOMMUN", "ALDER",
]  # fmt: skip
PR_ROWS = [
    ["1", "20200101", "20200105", "I500", "J441", "", "AB123", "1", "3", "4", "046", "11001", "1", "14", "1480", "81"],
    ["2", "20200201", "20200203", "E119", "", "I10", "", "2", "1", "3", "101", "11001", "2", "14", "1480", "72"],
    ["3", "20211231", "20220102", "J189", "", "", "", "2", "2", "2", "046", "12001", "2", "12", "1280", "90"],
]  # fmt: skip


def pr_file(tmp_path: Path, rows: list[list[str]], name: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(";".join(r) for r in [PR_HEADER, *rows]) + "\n", encoding="utf-8")
    return path



def _many_rows(n: int) -> list[list[str]]:
    rows = []
    for i in range(n):
        r = list(PR_ROWS[i % 3])
        r[0] = str(1000 + i)
        rows.append(r)
    return rows


def test_unterminated_quote_in_a_middle_block_is_named(tmp_path):
    # 3 000 rows (~200 KB) in blocks of 4 KiB; before the fix pyarrow returned fewer rows silently
    rows = _many_rows(3000)
    rows[1500][3] = '"I500'  # data row 1501 is line 1502 of the file
    path = pr_file(tmp_path, rows, name="mid.csv")
    with pytest.raises(ReadError, match=r"mid.csv: unterminated quote on line 1502$"):
        read_table(path, "admissions", source="patientregistret", block_size=4096)


def test_pyarrow_alone_loses_rows_here(tmp_path):
    # The root cause, kept visible: the bare parser drops rows with no error on this file.
    import pyarrow.csv as pacsv

    rows = _many_rows(3000)
    rows[1500][3] = '"I500'
    path = pr_file(tmp_path, rows, name="mid.csv")
    t = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=4096),
        parse_options=pacsv.ParseOptions(delimiter=";"),
    )
    assert t.num_rows < 3000


def test_quoted_line_break_is_refused_at_any_block_size(tmp_path):
    rows = _many_rows(300)
    rows[100][3] = '"I50\n0"'  # a valid RFC 4180 value with a line break: not one record per line
    path = pr_file(tmp_path, rows, name="nl.csv")
    for block_size in (512, 1 << 24):
        with pytest.raises(ReadError, match=r"nl.csv: unterminated quote on line 102$"):
            read_table(path, "admissions", source="patientregistret", block_size=block_size)


def test_every_row_read_across_blocks(tmp_path):
    rows = _many_rows(2000)
    path = pr_file(tmp_path, rows, name="ok.csv")
    df = read_table(path, "admissions", source="patientregistret", block_size=256)
    assert len(df) == 2000
    assert df["person_id"].tolist() == list(range(1000, 3000))


def test_line_longer_than_block_is_a_named_error(tmp_path):
    path = pr_file(tmp_path, _many_rows(50), name="long.csv")
    with pytest.raises(ReadError, match=r"long.csv: a line is longer than the parse block \(64"):
        read_table(path, "admissions", source="patientregistret", block_size=64)
    with pytest.raises(Exception, match="block_size must be an integer >= 64"):
        read_table(path, "admissions", source="patientregistret", block_size=8)


@pytest.mark.slow
def test_unterminated_quote_in_a_file_above_16_mib(tmp_path):
    # The reported case at the default block size: 300 000 rows, about 21 MiB.
    rows = _many_rows(300_000)
    rows[150_000][3] = '"I509'
    path = pr_file(tmp_path, rows, name="big.csv")
    assert path.stat().st_size > dialect.CSV_BLOCK_SIZE
    with pytest.raises(ReadError, match=r"big.csv: unterminated quote on line 150002$"):
        read_table(path, "admissions", source="patientregistret")


# ------------------------------------------------------------------------------------------------
# the independent line count
# ------------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=60).map(
        lambda b: bytes(x for x in b if x in b"ab\r\n;\"") or b"a"
    ),
    block_size=st.integers(1, 9),
)
def test_count_lines_matches_python_line_splitting(tmp_path_factory, data, block_size):
    path = tmp_path_factory.mktemp("count") / "f.csv"
    path.write_bytes(data)
    assert dialect.count_lines(path, "utf-8-sig", block_size) == len(_lines(data.decode()))


# ------------------------------------------------------------------------------------------------
# the fuzz test
# ------------------------------------------------------------------------------------------------

DAMAGE = ("none", "cut", "stray_quote", "quoted_line_break", "byte")


@st.composite
def csv_files(draw):
    n_cols = draw(st.integers(2, 6))
    n_rows = draw(st.integers(1, 60))
    value = st.text(ALPHABET, min_size=0, max_size=12)
    rows = [[draw(value) for _ in range(n_cols)] for _ in range(n_rows)]
    sep = draw(st.sampled_from([";", ",", "\t"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    final_newline = draw(st.booleans())
    damage = draw(st.sampled_from(DAMAGE))
    block_size = draw(st.sampled_from([64, 128, 256, 1024, 4096]))
    header = [f"c{i}" for i in range(n_cols)]
    buf = io.StringIO()
    csv.writer(buf, delimiter=sep, quoting=quoting, lineterminator=newline).writerows(
        [header, *rows]
    )
    text = buf.getvalue()
    if not final_newline:
        text = text[: -len(newline)]
    raw = text.encode(encoding)
    where = draw(st.integers(0, max(0, len(raw) - 1)))
    if damage == "cut":
        raw = raw[: max(1, where)]
    elif damage == "stray_quote":
        # a quote at the start of a field of a random data line (after a separator)
        starts = [i + 1 for i, b in enumerate(raw) if b == ord(sep)]
        if starts:
            at = starts[where % len(starts)]
            raw = raw[:at] + b'"' + raw[at:]
    elif damage == "quoted_line_break":
        at = raw.find(newline.encode(), len(raw) // 2)
        if at > 0:
            raw = raw[:at] + sep.encode() + b'"x' + newline.encode() + b'y"' + raw[at:]
    elif damage == "byte":
        raw = raw[:where] + draw(st.sampled_from([b'"', b"\n", b"\r", b"\xff", sep.encode()])) + (
            raw[where + 1 :]
        )
    return dict(raw=raw, header=header, rows=rows, encoding=encoding, sep=sep, damage=damage,
                block_size=block_size,
                # pyarrow parses UTF-8 (other encodings are transcoded first); a BOM adds 3 bytes
                longest=3 + max(len(ln.encode("utf-8")) for ln in text.splitlines()))


def _read(path: Path, block_size: int):
    report = ReadReport(path=str(path), table="t", source="canonical", file_format="csv")
    return dialect.read_csv(path, None, None, None, report, frozenset(), block_size), report


@settings(
    max_examples=N_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@example(  # the reported failure in miniature: a stray quote in a middle line of a multi-block file
    case=dict(raw=("a;b\n" + "".join(f"{i};x\n" for i in range(40)) + '40;"y\n'
                   + "".join(f"{i};x\n" for i in range(41, 80))).encode(),
              header=["a", "b"], rows=None, encoding="utf-8", sep=";", damage="stray_quote",
              block_size=64, longest=5)
)
@given(case=csv_files())
def test_every_row_or_a_named_error(tmp_path, case):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(case["raw"])
    try:
        table, report = _read(path, case["block_size"])
    except ReadError as exc:
        event(f"{case['damage']}: named error")
        assert str(exc).startswith(f"{path}: "), str(exc)
        if case["damage"] == "none":
            # a clean file may only fail when a line does not fit in one parse block
            assert case["longest"] + 2 >= case["block_size"], str(exc)
            assert "longer than the parse block" in str(exc)
        return
    text = case["raw"].decode(dialect.py_codec(report.encoding), errors="replace")
    data_lines = _lines(text.lstrip("\ufeff"))[1:]
    event(f"{case['damage']}: every row read")
    # the property: one row per non-empty data line, none lost and none merged
    assert table.num_rows == len(data_lines)
    if case["damage"] == "none":
        assert table.column_names == case["header"]
        got = [[table.column(c)[i].as_py() for c in table.column_names] for i in range(table.num_rows)]
        want = [[v if v != "" else None for v in r] for r in case["rows"]]
        assert got == want
