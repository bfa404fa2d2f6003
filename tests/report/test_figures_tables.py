"""Figures and Excel tables are written only from suppressed data, in Swedish or English."""

from __future__ import annotations

import pandas as pd
import pytest
from openpyxl import load_workbook

from naravard_analysis.errors import ParameterError
from naravard_analysis.report.disclosure import DisclosureError, suppress
from naravard_analysis.report.figures import (
    plot_bars,
    plot_forest,
    plot_lines,
    read_csv,
    save_figure,
    set_theme,
    write_csv,
)
from naravard_analysis.report.labels import format_number, label
from naravard_analysis.report.tables import write_tables


@pytest.fixture
def yearly():
    return pd.DataFrame({"year": [2020, 2021, 2022, 2023], "admissions": [120, 3, 40, 0]})


def test_save_figure_writes_png_svg_and_the_csv_behind_it(yearly, tmp_path):
    set_theme()
    safe = suppress(yearly, ["admissions"], min_count=5)
    fig = plot_lines(safe, x="year", y="admissions", language="en", target=50)
    paths = save_figure(fig, safe, "fig1", tmp_path, count_cols=["admissions"], language="en")
    assert sorted(p.name for p in paths.values()) == ["fig1.csv", "fig1.png", "fig1.svg"]
    back = read_csv(paths["csv"])
    assert back["admissions"].isna().tolist() == [False, True, False, False]  # 3 < 5 hidden, 0 kept
    assert paths["png"].stat().st_size > 5_000


def test_unsuppressed_small_cells_are_refused(yearly, tmp_path):
    fig = plot_lines(yearly, x="year", y="admissions")
    with pytest.raises(DisclosureError, match=r"figure 'fig1': 1 cell\(s\) in admissions would be suppressed at min_count=5"):
        save_figure(fig, yearly, "fig1", tmp_path, count_cols=["admissions"])
    assert not (tmp_path / "fig1.png").exists()


def test_data_without_small_cells_needs_no_prior_suppression(tmp_path):
    df = pd.DataFrame({"year": [2020, 2021], "admissions": [120, 40]})
    paths = save_figure(plot_bars(df, x="year", y="admissions"), df, "f", tmp_path, count_cols=["admissions"])
    assert read_csv(paths["csv"])["admissions"].tolist() == [120, 40]


def test_svg_is_deterministic(yearly, tmp_path):
    set_theme()
    safe = suppress(yearly, ["admissions"])
    a = save_figure(plot_lines(safe, x="year", y="admissions"), safe, "a", tmp_path, count_cols=["admissions"])
    b = save_figure(plot_lines(safe, x="year", y="admissions"), safe, "b", tmp_path, count_cols=["admissions"])
    assert a["svg"].read_bytes() == b["svg"].read_bytes()


def test_write_tables_suppresses_and_adds_about_sheet(yearly, tmp_path):
    path = write_tables({"per year": yearly}, tmp_path / "t.xlsx", count_cols=["admissions"],
                        min_count=5, language="sv", about={"Källa": "syntetiska data"})
    wb = load_workbook(path)
    assert wb.sheetnames == ["Om data", "per year"]
    about = [[c.value for c in row] for row in wb["Om data"].iter_rows()]
    assert about[1] == ["Källa", "syntetiska data"]
    # the marks and their explanation (issue 19): '<5' for a small count, '..' for a secondary
    assert about[2][1].startswith("Värden som bygger på färre än 5 personer eller händelser visas inte ('<5')")
    sheet = pd.read_excel(path, sheet_name="per year")
    # labelled headers in the chosen language, the mark instead of a blank, no flag column
    assert sheet.columns.tolist() == ["År", "Vårdtillfällen"]
    assert sheet["Vårdtillfällen"].tolist() == [120, "<5", 40, 0]


def test_english_about_sheet_and_long_sheet_names(yearly, tmp_path):
    name = "a very long table name that Excel would refuse"
    path = write_tables({name: yearly, name + "!": yearly}, tmp_path / "t.xlsx",
                        count_cols=["admissions"], language="en")
    assert load_workbook(path).sheetnames == [
        "About the data", name[:31], name[:29] + "_2",
    ]


def test_labels_and_numbers_in_both_languages():
    assert label("F", "sv") == "Kvinnor" and label("F", "en") == "Women"
    assert label("new_column", "en") == "New column"
    assert format_number(1234567.891, "sv", decimals=2) == "1\u00a0234\u00a0567,89"
    assert format_number(1234567.891, "en", decimals=2) == "1,234,567.89"
    assert format_number(float("nan"), "sv") == "–"
    with pytest.raises(ParameterError, match="language must be one of"):
        label("F", "de")


def test_swedish_csv_flavour(tmp_path):
    path = write_csv(pd.DataFrame({"x": [1.5]}), tmp_path / "a.csv", language="sv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbfx\r\n1,5") or path.read_bytes().startswith(b"\xef\xbb\xbfx\n1,5")


def test_forest_plot_has_one_row_per_estimate(tmp_path):
    df = pd.DataFrame({"outcome": ["ed_visits", "bed_days"], "estimate": [0.8, 1.1], "lower": [0.6, 0.9],
                       "upper": [1.05, 1.4], "naive_ratio": [0.2, 0.15], "n_cases": [120, 120]})
    fig = plot_forest(df, label_col="outcome", estimate="estimate", lower="lower", upper="upper",
                      naive="naive_ratio", language="en")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Emergency-department visits", "Bed days"]
    assert ax.get_xscale() == "log"
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["Before–after (naive)", "Matched controls"]
    paths = save_figure(fig, df, "forest", tmp_path, count_cols=["n_cases"])
    assert read_csv(paths["csv"])["estimate"].tolist() == [0.8, 1.1]


def test_year_axis_is_written_in_whole_years_when_hidden_points_leave_two(tmp_path):
    """World seed 304 (328 persons from 2019, min_count 3): readmissions were hidden for
    2021-2023, the two years left were labelled "-1.0 ... 0.0" with a "+2.02e3" offset, and
    reading the figure back gave the drawn value -1."""
    import matplotlib.pyplot as plt

    t = suppress(pd.DataFrame({"year": [2019, 2020, 2021, 2022], "readmitted": [0, 3, 1, 2],
                               "eligible": [8, 25, 15, 18]}).assign(rate=lambda d: d.readmitted / d.eligible),
                 ["readmitted", "eligible"], min_count=3, secondary=False)
    fig = plot_lines(t, x="year", y="rate", language="en", percent=True)
    ax = fig.axes[0]
    fig.canvas.draw()
    labels = [tick.get_text() for tick in ax.get_xticklabels() if tick.get_text()]
    assert labels and all(text.isdigit() and len(text) == 4 for text in labels), labels
    assert ax.xaxis.get_offset_text().get_text() == ""
    plt.close(fig)
