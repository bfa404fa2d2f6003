"""``check_outputs`` against a corpus of planted files: every kind of leak is found, its clean
counterpart passes, and the scanner never repeats an identifier it found.

Each kind below writes one file (or a file and its data) in two versions: ``leak=True`` plants one
small count (3, below ``min_count=5``) or one valid personnummer; ``leak=False`` writes the same
file with a safe value (30, or a number with a wrong check digit). The personnummer 811218-9876 is
valid: Luhn over 8 1 1 2 1 8 9 8 7 with weights 2 1 2 1 ... gives digit sums
7+1+2+2+2+8+9+8+5 = 44, check digit (10 - 4) % 10 = 6; 811218-9875 is the same with a wrong check
digit.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import openpyxl  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from openpyxl.comments import Comment  # noqa: E402

from naravard_analysis.report.disclosure import check_outputs as check_outputs_compat  # noqa: E402
from naravard_analysis.report.scan import DisclosureError, check_outputs, is_count_column  # noqa: E402

PNR, NOT_PNR = "811218-9876", "811218-9875"
DIGITS = ("811218", "8112189876", "9876")


def _n(leak: bool) -> int:
    return 3 if leak else 30


def _id(leak: bool) -> str:
    return PNR if leak else NOT_PNR


def _fig_theme() -> None:
    from naravard_analysis.report.figures import set_theme

    set_theme()


# --- counts in tables -------------------------------------------------------------------------


def csv_count_column(d: Path, leak: bool) -> None:
    pd.DataFrame({"kommun": ["A", "B"], "antal": [40, _n(leak)]}).to_csv(d / "t.csv", index=False)


def csv_swedish(d: Path, leak: bool) -> None:
    t = pd.DataFrame({"kommun": ["A", "B"], "antal": [40, _n(leak)], "medelålder": [71.5, 80.25]})
    t.to_csv(d / "t.csv", sep=";", decimal=",", index=False, encoding="utf-8-sig")


def tsv_count_column(d: Path, leak: bool) -> None:
    (d / "t.tsv").write_text(f"kommun\tn_patients\nA\t40\nB\t{_n(leak)}\n")


def csv_caption_above_header(d: Path, leak: bool) -> None:
    (d / "t.csv").write_text(
        f"Tabell 1; besök per kommun; 2020\nkommun,antal\nA,40\nB,{_n(leak)}\n"
    )


def csv_footnote_prose(d: Path, leak: bool) -> None:
    (d / "t.csv").write_text(
        f"kommun,antal\nA,40\nB,50\nAnm.: {_n(leak)} personer utan kommun är uteslutna\n"
    )


def csv_n_pct_cell(d: Path, leak: bool) -> None:
    cell = "3 (7,5 %)" if leak else "30 (75,0 %)"
    pd.DataFrame({"grupp": ["A"], "Kvinnor": [cell]}).to_csv(d / "t.csv", sep=";", index=False)


def csv_share_with_denominator(d: Path, leak: bool) -> None:
    share = 0.075 if leak else 0.75  # of 40: 3 or 30
    pd.DataFrame({"kommun": ["A"], "andel": [share], "population": [40]}).to_csv(
        d / "t.csv", index=False
    )


def csv_percent_with_denominator(d: Path, leak: bool) -> None:
    pct = "7,5" if leak else "75,0"
    (d / "t.csv").write_text(f"kommun;procent;antal_totalt\nA;{pct};40\n")


def csv_rate_with_population(d: Path, leak: bool) -> None:
    rate = 75.0 if leak else 750.0  # per 1 000 of 40
    pd.DataFrame({"kommun": ["A"], "per_1000": [rate], "befolkning": [40]}).to_csv(
        d / "t.csv", index=False
    )


def csv_rounded_share_with_denominator(d: Path, leak: bool) -> None:
    # 0.07 * 40 = 2.8 with rounding to two decimals: the numerator is 3 (2.6 .. 3.0)
    share = 0.07 if leak else 0.7
    pd.DataFrame({"kommun": ["A"], "andel": [share], "n_total": [40]}).to_csv(
        d / "t.csv", index=False
    )


def csv_years_as_headers(d: Path, leak: bool) -> None:
    (d / "t.csv").write_text(f"kommun,2019,2020,2021\nA,40,41,{_n(leak)}\nB,50,51,52\n")


def parquet_count(d: Path, leak: bool) -> None:
    pd.DataFrame({"k": ["a", "b"], "deaths": [40, _n(leak)]}).to_parquet(d / "t.parquet")


def excel_count_column(d: Path, leak: bool) -> None:
    pd.DataFrame({"kommun": ["A", "B"], "antal": [40, _n(leak)]}).to_excel(
        d / "t.xlsx", index=False
    )


def excel_years_as_headers(d: Path, leak: bool) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Besök per år"])
    ws.append(["kommun", 2019, 2020])
    ws.append(["A", 40, _n(leak)])
    wb.save(d / "t.xlsx")


def excel_formula_without_value(d: Path, leak: bool) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["kommun", "antal"])
    ws.append(["A", 40])
    ws.append(["B", "=1+2" if leak else 30])  # openpyxl writes no cached value
    wb.save(d / "t.xlsx")


def excel_n_pct_text(d: Path, leak: bool) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["grupp", "Män"])
    ws.append(["A", "3 (7,5 %)" if leak else "30 (75,0 %)"])
    wb.save(d / "t.xlsx")


def excel_share_with_denominator(d: Path, leak: bool) -> None:
    pd.DataFrame({"kommun": ["A"], "andel": [0.075 if leak else 0.75], "population": [40]}).to_excel(
        d / "t.xlsx", index=False
    )


def excel_comment_count(d: Path, leak: bool) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["kommun", "antal"])
    ws.append(["A", 40])
    ws["B2"].comment = Comment(f"varav n = {_n(leak)} kvinnor", "analys")
    wb.save(d / "t.xlsx")


# --- counts in text and documents ------------------------------------------------------------


def html_table_count(d: Path, leak: bool) -> None:
    html = pd.DataFrame({"kommun": ["A", "B"], "antal": [40, _n(leak)]}).to_html(index=False)
    (d / "r.html").write_text(f"<html><body>{html}</body></html>")


def html_prose_count(d: Path, leak: bool) -> None:
    (d / "r.html").write_text(
        f"<html><body><p>Under perioden återinskrevs <b>{_n(leak)}</b> patienter.</p></body></html>"
    )


def html_n_equals(d: Path, leak: bool) -> None:
    (d / "r.html").write_text(f"<html><body><h2>Kvinnor 85+ (n = {_n(leak)})</h2></body></html>")


def markdown_prose_count(d: Path, leak: bool) -> None:
    (d / "r.md").write_text(f"# Resultat\n\nAv dessa var {_n(leak)} kvinnor över 85 år.\n")


def markdown_k_of_n(d: Path, leak: bool) -> None:
    (d / "r.md").write_text(f"Det gällde {_n(leak)} av 40 patienter.\n")


def text_antal_colon(d: Path, leak: bool) -> None:
    (d / "log.txt").write_text(f"Antal dödsfall: {_n(leak)}\n")


def notebook_markdown_count(d: Path, leak: bool) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"I kommunen fanns {_n(leak)} vårdtillfällen.")]
    nbformat.write(nb, d / "r.ipynb")


def notebook_stream_count(d: Path, leak: bool) -> None:
    nb = nbformat.v4.new_notebook()
    out = nbformat.v4.new_output("stream", name="stdout", text=f"{_n(leak) - 2} vårdtillfällen uteslöts\n")
    nb.cells = [nbformat.v4.new_code_cell("run()", outputs=[out])]
    nbformat.write(nb, d / "r.ipynb")


def notebook_html_table(d: Path, leak: bool) -> None:
    nb = nbformat.v4.new_notebook()
    html = pd.DataFrame({"sex": ["F", "M"], "n": [40, _n(leak)]}).to_html()
    out = nbformat.v4.new_output("execute_result", data={"text/html": html}, execution_count=1)
    nb.cells = [nbformat.v4.new_code_cell("t", outputs=[out])]
    nbformat.write(nb, d / "r.ipynb")


def _bar(values: list[int], ylabel: str = "Antal vårdtillfällen", title: str = "") -> plt.Figure:
    _fig_theme()
    fig, ax = plt.subplots()
    ax.bar(["A", "B", "C"], values)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return fig


def svg_bar_heights(d: Path, leak: bool) -> None:
    fig = _bar([120, 135, _n(leak)])
    fig.savefig(d / "f.svg")
    plt.close(fig)


def svg_horizontal_bars(d: Path, leak: bool) -> None:
    _fig_theme()
    fig, ax = plt.subplots()
    ax.barh(["A", "B", "C"], [120, 135, _n(leak)])
    ax.set_xlabel("Antal patienter")
    fig.savefig(d / "f.svg")
    plt.close(fig)


def svg_line_markers(d: Path, leak: bool) -> None:
    _fig_theme()
    fig, ax = plt.subplots()
    ax.plot([2019, 2020, 2021, 2022], [50, 60, _n(leak), 70], marker="o")
    ax.set_ylabel("Antal dödsfall")
    fig.savefig(d / "f.svg")
    plt.close(fig)


def svg_title_count(d: Path, leak: bool) -> None:
    fig = _bar([120, 135, 140], ylabel="Andel (%)", title=f"Kvinnor 85+ (n = {_n(leak)})")
    fig.savefig(d / "f.svg")
    plt.close(fig)


def svg_text_as_paths_without_data(d: Path, leak: bool) -> None:
    # glyphs as outlines: nothing can be read back; only the data file beside it can vouch
    fig = _bar([120, 135, 30])
    with plt.rc_context({"svg.fonttype": "path"}):
        fig.savefig(d / "f.svg")
    plt.close(fig)
    if not leak:
        pd.DataFrame({"k": ["A", "B", "C"], "antal": [120, 135, 30]}).to_csv(d / "f.csv", index=False)


def png_figure_without_data(d: Path, leak: bool) -> None:
    fig = _bar([120, 135, 30])
    fig.savefig(d / "f.png", metadata={"Software": None})
    plt.close(fig)
    if not leak:
        pd.DataFrame({"k": ["A", "B", "C"], "antal": [120, 135, 30]}).to_csv(d / "f.csv", index=False)


def png_metadata_count(d: Path, leak: bool) -> None:
    fig = _bar([120, 135, 30])
    fig.savefig(d / "f.png", metadata={"Description": f"Varav {_n(leak)} patienter i kommun B"})
    plt.close(fig)
    pd.DataFrame({"k": ["A", "B", "C"], "antal": [120, 135, 30]}).to_csv(d / "f.csv", index=False)


def pdf_text_count(d: Path, leak: bool) -> None:
    fig = _bar([120, 135, 140], title=f"{_n(leak)} personer avled")
    fig.savefig(d / "f.pdf")
    plt.close(fig)


# --- identifiers -------------------------------------------------------------------------------


def csv_cell_pnr(d: Path, leak: bool) -> None:
    pd.DataFrame({"kommun": ["A"], "id": [_id(leak)], "antal": [40]}).to_csv(d / "t.csv", index=False)


def csv_header_pnr(d: Path, leak: bool) -> None:
    (d / "t.csv").write_text(f"kommun,{_id(leak)}\nA,40\n")


def text_pnr_with_space(d: Path, leak: bool) -> None:
    (d / "notes.md").write_text(f"Kontrollerat för {_id(leak).replace('-', ' ')}.\n")


def html_attribute_pnr(d: Path, leak: bool) -> None:
    (d / "r.html").write_text(f'<html><body><a title="{_id(leak)}">länk</a></body></html>')


def excel_cell_pnr(d: Path, leak: bool) -> None:
    pd.DataFrame({"kommun": ["A"], "person": [_id(leak)]}).to_excel(d / "t.xlsx", index=False)


def excel_sheet_name_pnr(d: Path, leak: bool) -> None:
    pd.DataFrame({"kommun": ["A"], "antal": [40]}).to_excel(
        d / "t.xlsx", sheet_name=_id(leak), index=False
    )


def excel_document_properties_pnr(d: Path, leak: bool) -> None:
    wb = openpyxl.Workbook()
    wb.active.append(["kommun", "antal"])
    wb.properties.creator = f"Handläggare {_id(leak)}"
    wb.save(d / "t.xlsx")


def excel_comment_pnr(d: Path, leak: bool) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["kommun", "antal"])
    ws.append(["A", 40])
    ws["A2"].comment = Comment(f"kontrollera {_id(leak)}", "analys")
    wb.save(d / "t.xlsx")


def notebook_metadata_pnr(d: Path, leak: bool) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"parameters": {"person": _id(leak)}}
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nb, d / "r.ipynb")


def notebook_cell_metadata_pnr(d: Path, leak: bool) -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x = 1")
    cell.metadata["note"] = _id(leak)
    nb.cells = [cell]
    nbformat.write(nb, d / "r.ipynb")


def notebook_output_pnr(d: Path, leak: bool) -> None:
    nb = nbformat.v4.new_notebook()
    out = nbformat.v4.new_output("stream", name="stdout", text=f"checked {_id(leak)}\n")
    nb.cells = [nbformat.v4.new_code_cell("run()", outputs=[out])]
    nbformat.write(nb, d / "r.ipynb")


def file_name_pnr(d: Path, leak: bool) -> None:
    pd.DataFrame({"kommun": ["A"], "antal": [40]}).to_csv(d / f"{_id(leak)}.csv", index=False)


def folder_name_pnr(d: Path, leak: bool) -> None:
    (d / _id(leak)).mkdir()
    pd.DataFrame({"kommun": ["A"], "antal": [40]}).to_csv(d / _id(leak) / "t.csv", index=False)


def png_metadata_pnr(d: Path, leak: bool) -> None:
    fig = _bar([120, 135, 30])
    fig.savefig(d / "f.png", metadata={"Author": _id(leak)})
    plt.close(fig)
    pd.DataFrame({"k": ["A", "B", "C"], "antal": [120, 135, 30]}).to_csv(d / "f.csv", index=False)


def pdf_text_pnr(d: Path, leak: bool) -> None:
    fig = _bar([120, 135, 140], title=f"Person {_id(leak)}")
    fig.savefig(d / "f.pdf")
    plt.close(fig)


def pdf_metadata_pnr(d: Path, leak: bool) -> None:
    fig = _bar([120, 135, 140])
    fig.savefig(d / "f.pdf", metadata={"Author": _id(leak)})
    plt.close(fig)


def svg_text_pnr(d: Path, leak: bool) -> None:
    fig = _bar([120, 135, 140], title=_id(leak))
    fig.savefig(d / "f.svg")
    plt.close(fig)


def parquet_metadata_pnr(d: Path, leak: bool) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"k": ["a"], "antal": [40]}).replace_schema_metadata({"source": _id(leak)})
    pq.write_table(table, d / "t.parquet")


PLANTS: dict[str, Callable[[Path, bool], None]] = {
    f.__name__: f
    for f in [
        csv_count_column,
        csv_swedish,
        tsv_count_column,
        csv_caption_above_header,
        csv_footnote_prose,
        csv_n_pct_cell,
        csv_share_with_denominator,
        csv_percent_with_denominator,
        csv_rate_with_population,
        csv_rounded_share_with_denominator,
        csv_years_as_headers,
        parquet_count,
        excel_count_column,
        excel_years_as_headers,
        excel_formula_without_value,
        excel_n_pct_text,
        excel_share_with_denominator,
        excel_comment_count,
        html_table_count,
        html_prose_count,
        html_n_equals,
        markdown_prose_count,
        markdown_k_of_n,
        text_antal_colon,
        notebook_markdown_count,
        notebook_stream_count,
        notebook_html_table,
        svg_bar_heights,
        svg_horizontal_bars,
        svg_line_markers,
        svg_title_count,
        svg_text_as_paths_without_data,
        png_figure_without_data,
        png_metadata_count,
        pdf_text_count,
        csv_cell_pnr,
        csv_header_pnr,
        text_pnr_with_space,
        html_attribute_pnr,
        excel_cell_pnr,
        excel_sheet_name_pnr,
        excel_document_properties_pnr,
        excel_comment_pnr,
        notebook_metadata_pnr,
        notebook_cell_metadata_pnr,
        notebook_output_pnr,
        file_name_pnr,
        folder_name_pnr,
        png_metadata_pnr,
        pdf_text_pnr,
        pdf_metadata_pnr,
        svg_text_pnr,
        parquet_metadata_pnr,
    ]
}


def test_the_corpus_covers_the_reported_kinds():
    assert len(PLANTS) >= 42


@pytest.mark.parametrize("kind", sorted(PLANTS))
def test_planted_leak_is_found_and_clean_counterpart_passes(kind, tmp_path):
    leak, clean = tmp_path / "leak", tmp_path / "clean"
    leak.mkdir()
    clean.mkdir()
    PLANTS[kind](leak, True)
    PLANTS[kind](clean, False)
    found = check_outputs(leak, raise_on_failure=False)
    assert not found.ok, f"{kind}: planted leak not found\n{found.summary()}"
    passed = check_outputs(clean, raise_on_failure=False)
    assert passed.ok, f"{kind}: false positive on the clean file\n{passed.summary()}"
    # the scanner's own report never repeats an identifier, wherever it was found
    text = found.summary() + found._repr_html_()
    for digits in DIGITS:
        assert digits not in text.replace(str(tmp_path), "")
    with pytest.raises(DisclosureError) as info:
        check_outputs(leak)
    assert not any(d in str(info.value).replace(str(tmp_path), "") for d in DIGITS)


def test_findings_name_the_place_without_the_value(tmp_path):
    excel_sheet_name_pnr(tmp_path, True)
    file_name_pnr(tmp_path, True)
    rep = check_outputs(tmp_path, raise_on_failure=False)
    places = sorted((f.file, f.location, f.column) for f in rep.findings)
    assert ("<personnummer>.csv", "file name", None) in places
    assert ("t.xlsx", "sheet 1", "sheet name") in places
    assert "811218" not in rep.summary()


def test_implied_count_from_a_share_and_its_denominator(tmp_path):
    csv_share_with_denominator(tmp_path, True)
    rep = check_outputs(tmp_path, raise_on_failure=False)
    assert [(f.rule, f.column, f.rows) for f in rep.findings] == [("implied_count", "andel", (0,))]
    # an interval of possible numerators that reaches min_count is not a disclosure
    pd.DataFrame({"k": ["A"], "andel": [0.1], "population": [40]}).to_csv(tmp_path / "t.csv", index=False)
    assert check_outputs(tmp_path, raise_on_failure=False).ok  # 0.05..0.15 of 40 -> 2..6


def test_svg_drawn_values_are_read_back_through_the_ticks(tmp_path):
    svg_line_markers(tmp_path, True)
    rep = check_outputs(tmp_path, raise_on_failure=False)
    drawn = [f for f in rep.findings if f.location == "drawn values"]
    # the point 3 is both a vertex of the line and a marker
    assert drawn and drawn[0].n_cells == 2
    assert "1 count axis/axes read back" in rep.files[0].scanned[-1]


def test_rates_on_the_axis_are_not_taken_for_counts(tmp_path):
    _fig_theme()
    fig, ax = plt.subplots()
    ax.plot([2019, 2020], [1.5, 3.0], marker="o")
    ax.set_ylabel("Vårdtillfällen per 1 000 invånare")
    fig.savefig(tmp_path / "f.svg")
    plt.close(fig)
    assert check_outputs(tmp_path, raise_on_failure=False).ok


@pytest.mark.parametrize(
    "text",
    [
        "Värden som bygger på färre än 5 personer eller händelser visas inte.",
        "Values based on fewer than 3 persons are not shown.",
        "interruption at 2019-01-01; periods fitted 71, excluded 25; dispersion 0.8447",
        "Figur 2 visar 1,5 besök per person.",
        "Under 2 år ökade antalet besök.",
    ],
)
def test_prose_without_a_small_count_passes(tmp_path, text):
    (tmp_path / "r.md").write_text(text + "\n")
    assert check_outputs(tmp_path, min_count=10, raise_on_failure=False).ok


def test_count_column_names_not_taken_for_counts():
    assert not is_count_column("counterfactual")
    assert not is_count_column("country")
    assert is_count_column("count_2024") and is_count_column("Antal besök")


def test_check_outputs_stays_importable_from_disclosure():
    assert check_outputs_compat is check_outputs


def test_xlsx_parts_are_read_as_text(tmp_path):
    # a workbook saved by another program: the creator sits in docProps/core.xml
    excel_document_properties_pnr(tmp_path, True)
    with zipfile.ZipFile(tmp_path / "t.xlsx") as z:
        assert any(n.startswith("docProps/") for n in z.namelist())
    rep = check_outputs(tmp_path, raise_on_failure=False)
    assert [(f.rule, f.location) for f in rep.findings] == [("personnummer", "document properties")]
    assert json.dumps([f.describe() for f in rep.findings]).count("811218") == 0


@pytest.mark.parametrize("language", ["sv", "en"])
def test_labelled_headers_are_counts_under_their_labels(tmp_path, language):
    """Issue 19 point 10: a workbook written with labelled headers (write_tables' default) is
    scanned as the same table with code names: ``Number``, ``Index episodes``, ``Enrolled`` are
    counts; ``Per 100,000 inhabitants`` is a rate per 100 000 (not per 100)."""
    from naravard_analysis.report.labels import label
    from naravard_analysis.report.tables import write_tables

    t = pd.DataFrame({"year": [2020, 2021], "n": [40, 3], "eligible": [2, 50], "n_enrolled": [60, 1],
                      "population": [900, 1000], "rate_per_100000": [4000.0, 200.0]})
    write_tables({"t": t}, tmp_path / "t.xlsx", language=language)  # no count_cols: not suppressed
    rep = check_outputs(tmp_path, raise_on_failure=False)
    found = sorted((f.rule, f.column, f.rows) for f in rep.findings)
    assert found == sorted([("small_count", label("n", language), (3,)),
                            ("small_count", label("eligible", language), (2,)),
                            ("small_count", label("n_enrolled", language), (3,)),
                            ("implied_count", label("rate_per_100000", language), (3,))])
    assert not is_count_column(label("lower", language)) and not is_count_column(label("rate", language))


def test_a_row_of_marks_is_data_not_a_new_header(tmp_path):
    """``admissions | <5`` (a category whose count is hidden) is a row of text naming a count:
    taken for a header it would start a new table and the small count below would go unread."""
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in (["Tabell", "Antal"], ["admissions", "<5"], ["persons", 3], ["contacts", ".."]):
        ws.append(row)
    wb.save(tmp_path / "t.xlsx")
    rep = check_outputs(tmp_path, raise_on_failure=False)
    assert [(f.rule, f.column, f.rows) for f in rep.findings] == [("small_count", "Antal", (3,))]
