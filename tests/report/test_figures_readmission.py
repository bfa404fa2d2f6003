"""Funnel and cumulative-incidence figures, Swedish figure CSVs and captions (issue 19, 9-10)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from naravard_analysis.errors import DisclosureError
from naravard_analysis.indicators.readmission_incidence import CumulativeIncidence
from naravard_analysis.indicators.readmission_risk import RiskAdjustedResult
from naravard_analysis.report.disclosure import suppress
from naravard_analysis.report.figures import (
    cumulative_incidence_data,
    funnel_data,
    plot_cumulative_incidence,
    plot_funnel,
    plot_lines,
    read_csv,
    save_figure,
)
from naravard_analysis.report.tables import write_tables


def _risk() -> RiskAdjustedResult:
    units = pd.DataFrame(
        {"hospital_id": ["A", "B", "C"], "eligible": [400, 300, 20], "observed": [60, 20, 3],
         "expected": [45.0, 30.0, 2.5]}
    )  # fmt: skip
    units["oe_ratio"] = units["observed"] / units["expected"]
    units["lower"], units["upper"] = units["oe_ratio"] * 0.8, units["oe_ratio"] * 1.2
    units["outside_95"] = [True, False, False]
    units["outside_998"] = [True, False, False]
    e = np.linspace(1, 60, 30)
    funnel = pd.DataFrame({"expected": e, "lower_95": 1 - 2 / np.sqrt(e), "upper_95": 1 + 2 / np.sqrt(e),
                           "lower_998": 1 - 3 / np.sqrt(e), "upper_998": 1 + 3 / np.sqrt(e)})  # fmt: skip
    return RiskAdjustedResult(units, funnel, pd.DataFrame(), None, 0.12, 0.7, 720, 0, ("age",),
                              {"by": ["hospital_id"]})  # fmt: skip


def _svg_text(path) -> str:
    return path.read_text(encoding="utf-8")


def test_funnel_draws_only_published_units_and_says_so(tmp_path):
    risk = _risk()
    safe = funnel_data(risk, min_count=5)
    # hospital C: 3 observed -> hidden, and its ratio with it (O/E at a known E gives O back)
    assert safe.loc[2, ["observed", "oe_ratio"]].isna().all()
    fig = plot_funnel(safe, risk, label_col="hospital_id", language="sv")
    ax = fig.axes[0]
    drawn = ax.collections[0].get_offsets()
    assert len(drawn) == 2  # A and B, never C
    assert ax.get_ylabel() == "Observerat / förväntat"
    assert any("visas inte" in t.get_text() for t in fig.texts)  # caption: a unit is missing
    paths = save_figure(fig, safe, "funnel", tmp_path, count_cols=["eligible", "observed"], language="sv")
    back = read_csv(paths["csv"])
    assert back["oe_ratio"].iloc[0] == pytest.approx(60 / 45)
    # never from the raw units: they hold the small count
    with pytest.raises(DisclosureError):
        plot_funnel(risk.units, risk)


def test_cumulative_incidence_plot_breaks_at_hidden_days(tmp_path):
    days = np.arange(0, 31)
    n_r = np.minimum(days, 20)  # 1..4 readmissions on days 1-4: hidden
    curves = pd.DataFrame({"day": days, "n_at_risk": 500 - n_r, "n_readmissions": n_r, "n_deaths": 0,
                           "readmission": n_r / 500, "readmission_lower": n_r / 600,
                           "readmission_upper": n_r / 400, "death": 0.0, "death_lower": 0.0,
                           "death_upper": 0.0})  # fmt: skip
    cif = CumulativeIncidence(at=pd.DataFrame(), curves=curves, level=0.95)
    safe = cumulative_incidence_data(cif, min_count=5)
    assert safe.loc[1:4, "readmission"].isna().all() and safe.loc[5, "readmission"] == 5 / 500
    fig = plot_cumulative_incidence(safe, language="en")
    y = fig.axes[0].lines[0].get_ydata()
    assert np.isnan(np.asarray(y, dtype=float)[1:5]).all()
    assert any("not shown" in t.get_text() for t in fig.texts)
    with pytest.raises(DisclosureError):
        plot_cumulative_incidence(curves)


def test_swedish_figure_csv_has_semicolons_and_decimal_commas(tmp_path):
    safe = suppress(pd.DataFrame({"year": [2020, 2021], "rate": [0.125, 0.25], "n": [40, 80]}), ["n"])
    paths = save_figure(plot_lines(safe, x="year", y="rate"), safe, "f", tmp_path, count_cols=["n"],
                        language="sv")
    text = paths["csv"].read_bytes().decode("utf-8-sig")
    assert text.splitlines()[0] == "year;rate;rate_suppressed;n;n_suppressed"
    assert "2020;0,125;;40;" in text
    en = save_figure(plot_lines(safe, x="year", y="rate"), safe, "g", tmp_path, count_cols=["n"],
                     language="en")
    assert "2020,0.125,,40," in en["csv"].read_text(encoding="utf-8")
    pd.testing.assert_frame_equal(read_csv(paths["csv"]), read_csv(en["csv"]))


def test_line_plot_caption_when_points_are_suppressed():
    safe = suppress(pd.DataFrame({"year": [2020, 2021, 2022], "n": [40, 3, 50]}), ["n"], secondary=False)
    fig = plot_lines(safe, x="year", y="n", language="sv")
    assert any("visas inte" in t.get_text() for t in fig.texts)
    full = suppress(pd.DataFrame({"year": [2020, 2021], "n": [40, 50]}), ["n"])
    assert not plot_lines(full, x="year", y="n", language="sv").texts


def test_excel_labels_marks_and_about_sheet_in_english(tmp_path):
    t = pd.DataFrame({"year": [2020, 2021], "sex": ["F", "M"], "eligible": [50, 2]})
    path = write_tables({"t": t}, tmp_path / "t.xlsx", count_cols=["eligible"], language="en")
    wb = load_workbook(path)
    assert wb.sheetnames == ["About the data", "t"]
    rows = [[c.value for c in r] for r in wb["t"].iter_rows()]
    assert rows[0] == ["Year", "Sex", "Index episodes"]
    assert rows[2][2] == "<5" and "eligible_suppressed" not in rows[0]
    about = [[c.value for c in r] for r in wb["About the data"].iter_rows()]
    assert "'<5'" in about[-1][1] and "'..'" in about[-1][1]
    # machine-readable variant on request
    raw = write_tables({"t": t}, tmp_path / "r.xlsx", count_cols=["eligible"], headers="names", marks=False)
    assert pd.read_excel(raw, sheet_name="t").columns.tolist() == ["year", "sex", "eligible", "eligible_suppressed"]
