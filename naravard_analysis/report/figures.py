"""Figures that are safe to publish: one theme, Swedish or English labels, data beside every figure.

Every figure the package writes goes out as PNG and SVG **plus the CSV of the numbers behind it**,
and that CSV (and the figure drawn from it) must have passed small-cell suppression
(:func:`naravard_analysis.report.disclosure.suppress`). :func:`save_figure` enforces this: data that
was not suppressed is checked, and if it holds a cell that suppression would hide, the figure is
refused rather than written.

Examples
--------
>>> import pandas as pd
>>> from naravard_analysis.report.disclosure import suppress
>>> from naravard_analysis.report.figures import set_theme, plot_lines, save_figure
>>> set_theme()
>>> df = pd.DataFrame({"year": [2020, 2021], "admissions": [120, 135]})
>>> safe = suppress(df, ["admissions"], min_count=5)
>>> fig = plot_lines(safe, x="year", y="admissions", language="en")
>>> paths = save_figure(fig, safe, "admissions", "/tmp/naravard-doc", count_cols=["admissions"])
>>> sorted(paths)
['csv', 'png', 'svg']
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

# No screen on servers and CI: draw off-screen.  In a Jupyter kernel the inline backend already
# draws off-screen and shows figures in the notebook, which a researcher in JupyterLab wants; batch
# runs (naravard run/report) set NARAVARD_FIGURES_INLINE=0 because an executed notebook is an output
# and pixels embedded in it cannot be checked for small counts (report.pipeline.FIGURES_INLINE_ENV).
if "ipykernel" not in sys.modules or os.environ.get("NARAVARD_FIGURES_INLINE", "1") == "0":
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from naravard_analysis.core.defaults import DEFAULT_LANGUAGE  # noqa: E402
from naravard_analysis.errors import DisclosureError, ParameterError  # noqa: E402
from naravard_analysis.report.labels import check_language, format_number, label  # noqa: E402

if TYPE_CHECKING:
    from naravard_analysis.report.disclosure import DisclosureRegistry

__all__ = [
    "PALETTE",
    "set_theme",
    "save_figure",
    "plot_lines",
    "plot_bars",
    "plot_forest",
    "plot_its",
    "write_csv",
    "read_csv",
    "ensure_suppressed",
    "funnel_data",
    "plot_funnel",
    "cumulative_incidence_data",
    "plot_cumulative_incidence",
]

#: Okabe–Ito colour-blind-safe palette (Okabe & Ito 2008, "Color Universal Design").
PALETTE = [
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
]


def set_theme(context: str = "notebook") -> None:
    """Apply the package's seaborn theme: white grid, colour-blind-safe palette, readable fonts."""
    sns.set_theme(context=context, style="whitegrid", palette=PALETTE, font_scale=1.0)
    plt.rcParams.update(
        {
            "figure.figsize": (8, 4.5),
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "axes.titleweight": "bold",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "svg.hashsalt": "naravard",  # deterministic SVG ids, so reruns give identical files
            "svg.fonttype": "none",
        }
    )


def ensure_suppressed(
    data: pd.DataFrame,
    count_cols: Sequence[str],
    min_count: int,
    *,
    what: str = "figure",
    registry: DisclosureRegistry | None = None,
) -> pd.DataFrame:
    """Return ``data`` if it may be written at ``min_count``; refuse it otherwise.

    A table that came out of :func:`~naravard_analysis.report.disclosure.suppress` (or a
    report's :class:`~naravard_analysis.report.disclosure.DisclosureRegistry`, which is then
    required when ``registry`` is given) must be unchanged since
    (:func:`~naravard_analysis.report.disclosure.check_suppressed`): its ``attrs`` alone are not
    trusted. A table that never passed suppression is accepted only when suppression at
    ``min_count`` would hide nothing in ``count_cols``.

    Raises
    ------
    DisclosureError
        When ``data`` was changed after suppression, was not published through ``registry``,
        or was not suppressed and holds a count that suppression would hide.
    """
    from naravard_analysis.report.disclosure import check_suppressed, suppress

    if registry is not None:
        registry.check(data, what=what)
        return data
    info = data.attrs.get("disclosure") or {}
    if info.get("fingerprint"):
        check_suppressed(data, min_count, what=what)
        return data
    if not count_cols:
        return data
    trial = suppress(data, list(count_cols), min_count=min_count)
    hidden = int(trial[list(count_cols)].isna().sum().sum() - data[list(count_cols)].isna().sum().sum())
    if hidden:
        raise DisclosureError(
            f"{what}: {hidden} cell(s) in {', '.join(count_cols)} would be suppressed at "
            f"min_count={min_count}; draw the {what} from suppress(...)'s result instead"
        )
    return trial


def write_csv(data: pd.DataFrame, path: str | Path, *, language: str = DEFAULT_LANGUAGE) -> Path:
    """Write a CSV: UTF-8 with ``,``/``.`` for machines (``en``) or Excel-Swedish (``sv``:
    ``;`` separator, decimal comma, UTF-8 with BOM) as methods reference §8.1 recommends."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Ten significant digits: enough for any published figure, and stable across BLAS builds, so
    # a reproduced figure's data compare byte for byte (papers/ record their sha256).
    if language == "sv":
        data.to_csv(
            path, index=False, sep=";", decimal=",", encoding="utf-8-sig", float_format="%.10g"
        )
    else:
        data.to_csv(path, index=False, encoding="utf-8", float_format="%.10g")
    return path


def read_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV written by :func:`write_csv` (or :func:`save_figure`) in either flavour.

    The Swedish flavour is recognised by its byte-order mark (``;`` and decimal comma); anything
    else is read as plain ``,``/``.`` CSV.

    >>> import pandas as pd
    >>> p = write_csv(pd.DataFrame({"x": [1.5]}), "/tmp/naravard-doc/x.csv", language="sv")
    >>> read_csv(p)["x"].tolist()
    [1.5]
    """
    path = Path(path)
    with path.open("rb") as fh:
        swedish = fh.read(3) == b"\xef\xbb\xbf"
    if swedish:
        return pd.read_csv(path, sep=";", decimal=",", encoding="utf-8-sig")
    return pd.read_csv(path, encoding="utf-8")


def save_figure(
    fig: plt.Figure,
    data: pd.DataFrame,
    name: str,
    output_dir: str | Path,
    *,
    count_cols: Sequence[str] = (),
    min_count: int = 5,
    language: str = DEFAULT_LANGUAGE,
    formats: Sequence[str] = ("png", "svg"),
    close: bool = True,
    registry: DisclosureRegistry | None = None,
    drawn_from: str = "data",
) -> dict[str, Path]:
    """Write ``fig`` as PNG and SVG and the (suppressed) numbers behind it as CSV.

    Parameters
    ----------
    fig
        The matplotlib figure, drawn from ``data``.
    data
        The numbers behind the figure, already passed through
        :func:`~naravard_analysis.report.disclosure.suppress` (or free of small cells).
    name
        File stem, e.g. ``"fig1_admissions_per_month"``.
    output_dir
        Directory to write into (created if needed).
    count_cols
        Count columns of ``data`` (checked against ``min_count``).
    min_count
        Suppression threshold.
    language
        ``"sv"`` or ``"en"``: CSV flavour (see :func:`write_csv`; ``"sv"``: ``;`` separator and
        decimal comma, as the figure's labels). Read either back with :func:`read_csv`.
    registry
        The report's disclosure registry: ``data`` must have been published through it.
    drawn_from
        ``"data"`` (default): ``fig`` was drawn from ``data`` itself. ``"raw"``: ``fig`` was
        drawn from the numbers before suppression (a method's own ``plot()``, such as an ITS or
        event-study result); then it is written only when suppression hid nothing in ``data``,
        because a marker or a fitted curve drawn from raw numbers gives hidden cells back (for a
        Poisson-type fit, sum of observed = sum of fitted per design column).

    Returns
    -------
    dict
        Paths by kind: ``png``, ``svg``, ``csv``.
    """
    check_language(language)
    safe = ensure_suppressed(data, count_cols, min_count, what=f"figure {name!r}", registry=registry)
    if drawn_from not in ("data", "raw"):
        raise ParameterError(f"drawn_from must be 'data' or 'raw', got {drawn_from!r}")
    if drawn_from == "raw":
        _refuse_hidden(safe, f"figure {name!r}")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for fmt in formats:
        p = out / f"{name}.{fmt}"
        metadata = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(p, format=fmt, metadata=metadata)
        paths[fmt] = p
    paths["csv"] = write_csv(safe, out / f"{name}.csv", language=language)
    if close:
        plt.close(fig)
    return paths


def _refuse_hidden(data: pd.DataFrame, what: str) -> None:
    """A figure drawn from raw numbers may be written only if suppression hid nothing."""
    from naravard_analysis.report.disclosure import FLAG_SUFFIX

    flags = [c for c in data.columns if isinstance(c, str) and c.endswith(FLAG_SUFFIX)]
    hidden = int(sum((data[c].astype(str) != "").sum() for c in flags))
    if hidden:
        raise DisclosureError(
            f"{what}: drawn from the numbers before suppression, but suppression hides {hidden} "
            "cell(s) of its data, which the figure would show; draw it from the suppressed table "
            "(plot_its, plot_lines, ...) or aggregate until nothing is hidden"
        )


def _format_axis(axis: matplotlib.axis.Axis, language: str, *, percent: bool = False) -> None:
    """Tick labels in the language's number format, with as many decimals as the tick step needs
    (so 0.15 and 0.25 never both print as 0.2); shares as per cent when ``percent``."""
    scale, suffix = (100.0, " %") if percent else (1.0, "")

    def fmt(value: float, _pos: int) -> str:
        ticks = np.asarray(axis.get_ticklocs(), dtype=float) * scale
        # as many decimals as every tick needs to be written exactly (a step of 2.5 needs one)
        decimals = next((d for d in range(7) if np.allclose(np.round(ticks, d), ticks, rtol=0, atol=1e-9)), 6)
        return format_number(value * scale, language, decimals=decimals) + suffix

    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(fmt))


def _finish(
    ax: plt.Axes, x: str, y: str, title: str | None, language: str, ylabel: str | None,
    percent: bool = False,
):
    ax.set_xlabel(label(x, language))
    ax.set_ylabel(ylabel or label(y, language))
    if title:
        ax.set_title(title)
    _format_axis(ax.yaxis, language, percent=percent)
    legend = ax.get_legend()
    if legend is not None:
        legend.set_title(label(legend.get_title().get_text(), language) if legend.get_title().get_text() else None)
        for text in legend.get_texts():
            text.set_text(label(text.get_text(), language))


def plot_lines(
    data: pd.DataFrame,
    *,
    x: str,
    y: str,
    hue: str | None = None,
    lower: str | None = None,
    upper: str | None = None,
    title: str | None = None,
    ylabel: str | None = None,
    language: str = DEFAULT_LANGUAGE,
    target: float | None = None,
    percent: bool = False,
    ax: plt.Axes | None = None,
) -> plt.Figure:
    """Line chart of ``y`` over ``x`` (one line per ``hue``), with an optional interval band
    (``lower``/``upper``) and a dashed target line; labels in ``language``; ``percent`` shows
    shares (0–1) as per cent. A suppressed point leaves a gap, and a caption under the figure
    says that missing points were suppressed."""
    check_language(language)
    if ax is None:
        fig, ax = plt.subplots()
    else:
        fig = ax.figure
    groups = [(None, data)] if hue is None else list(data.groupby(hue, sort=True))
    for i, (key, part) in enumerate(groups):
        part = part.sort_values(x)
        colour = PALETTE[i % len(PALETTE)]
        ax.plot(part[x], part[y], marker="o", ms=3, color=colour, label=None if key is None else str(key))
        if lower and upper:
            ax.fill_between(part[x], part[lower], part[upper], color=colour, alpha=0.2, lw=0)
    if target is not None:
        ax.axhline(target, ls="--", color="0.3", lw=1, label=label("target", language))
    if hue is not None or target is not None:
        ax.legend(title=hue or "")
    if pd.api.types.is_integer_dtype(data[x].dtype):
        # Whole x values (years) get whole ticks written out: when hidden points leave only two
        # years drawn, matplotlib would otherwise label them "-1.0 ... 0.0" with a "+2.02e3" offset.
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.0f}"))
    _finish(ax, x, y, title, language, ylabel, percent=percent)
    _caption_hidden(fig, int(_hidden_rows(data, [y]).sum()), data, language)
    return fig


def plot_bars(
    data: pd.DataFrame,
    *,
    x: str,
    y: str,
    hue: str | None = None,
    title: str | None = None,
    ylabel: str | None = None,
    language: str = DEFAULT_LANGUAGE,
    horizontal: bool = False,
) -> plt.Figure:
    """Bar chart with bars ordered by the *displayed* value, so ordering cannot reveal a
    suppressed cell (methods reference §8.7)."""
    check_language(language)
    fig, ax = plt.subplots()
    order = (
        data.groupby(x, sort=False)[y].sum(min_count=1).sort_values(ascending=False, na_position="last").index
    )
    if horizontal:
        sns.barplot(data=data, y=x, x=y, hue=hue, order=order, ax=ax, orient="h")
        ax.set_ylabel(label(x, language))
        ax.set_xlabel(ylabel or label(y, language))
        if title:
            ax.set_title(title)
    else:
        sns.barplot(data=data, x=x, y=y, hue=hue, order=order, ax=ax)
        _finish(ax, x, y, title, language, ylabel)
    return fig


def plot_forest(
    data: pd.DataFrame,
    *,
    label_col: str,
    estimate: str,
    lower: str,
    upper: str,
    naive: str | None = None,
    reference: float = 1.0,
    title: str | None = None,
    xlabel: str | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> plt.Figure:
    """Forest plot: one row per ``label_col`` with the estimate and its interval, a reference line
    at ``reference`` (1 for ratios) and, when ``naive`` is given, the naive value as a hollow marker
    so the gap between the two is visible. Log scale for ratios."""
    check_language(language)
    df = data.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(8, 0.7 * len(df) + 1.6))
    y = np.arange(len(df))[::-1]
    ax.errorbar(
        df[estimate], y, xerr=[df[estimate] - df[lower], df[upper] - df[estimate]], fmt="o",
        color=PALETTE[0], capsize=3, label=label("matched", language),
    )
    if naive is not None:
        # a ratio of 0 has no place on a log axis: it is in the CSV, not drawn at an arbitrary edge
        shown = pd.to_numeric(df[naive], errors="coerce").where(lambda v: v > 0)
        ax.plot(shown, y, "D", mfc="none", color=PALETTE[5], label=label("naive", language))
    ax.axvline(reference, color="0.3", lw=1, ls="--")
    ax.set_yticks(y, [label(str(v), language) for v in df[label_col]])
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(
        matplotlib.ticker.FuncFormatter(lambda v, _: format_number(v, language, decimals=2 if v < 1 else 1))
    )
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_ylim(-0.6, len(df) - 0.4)
    ax.set_xlabel(xlabel or label("estimate", language))
    if title:
        ax.set_title(title)
    # Below the axes, so the legend never covers a marker.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=2, frameon=False)
    fig.tight_layout()
    return fig


def plot_its(
    data: pd.DataFrame,
    *,
    time: str = "period",
    observed: str = "rate",
    fitted: str | None = "fitted_rate",
    counterfactual: str | None = "counterfactual_rate",
    lower: str | None = "counterfactual_lower",
    upper: str | None = "counterfactual_upper",
    excluded: str | None = "excluded",
    interruption: object = None,
    title: str | None = None,
    ylabel: str | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> plt.Figure:
    """Interrupted-time-series figure drawn from the published (suppressed) table only.

    Observed values as markers (hollow in excluded periods, which are shaded), the fitted line,
    and over the post period the counterfactual (dashed) with its interval band; a vertical line
    at ``interruption``. A period whose observed value was suppressed is **not drawn** (no
    marker, so no position to read a value from); the figure holds nothing its CSV does not.
    ``fitted=None`` / ``counterfactual=None`` leave the model curves out (they must be, beside a
    hidden period: the fit's score equations give sums of hidden counts back).
    """
    check_language(language)
    df = data.sort_values(time).reset_index(drop=True)
    t = pd.to_datetime(df[time]) if not pd.api.types.is_numeric_dtype(df[time]) else df[time]
    exc = df[excluded].fillna(False).to_numpy(bool) if excluded and excluded in df else np.zeros(len(df), bool)
    obs = pd.to_numeric(df[observed], errors="coerce").to_numpy(float)
    fig, ax = plt.subplots(figsize=(9, 4))
    shown = ~np.isnan(obs)
    ax.plot(t[shown & ~exc], obs[shown & ~exc], "o", ms=3.5, color=PALETTE[0],
            label=label("observed", language))
    if (shown & exc).any():
        ax.plot(t[shown & exc], obs[shown & exc], "o", ms=3.5, mfc="none", color=PALETTE[0])
    if fitted is not None:
        ax.plot(t, df[fitted], "-", color=PALETTE[0], lw=1.6, label=label("fitted", language))
    post = df[counterfactual].notna().to_numpy() if counterfactual is not None else np.zeros(len(df), bool)
    if interruption is not None:
        post &= (t >= pd.Timestamp(interruption)).to_numpy() if not pd.api.types.is_numeric_dtype(t) else (
            t >= interruption).to_numpy()
    if post.any():
        ax.plot(t[post], df.loc[post, counterfactual], "--", color=PALETTE[5],
                label=label("counterfactual", language))
        if lower and upper and lower in df and upper in df:
            ax.fill_between(t[post], df.loc[post, lower], df.loc[post, upper], color=PALETTE[5],
                            alpha=0.15, lw=0)
    if interruption is not None:
        ax.axvline(pd.Timestamp(interruption) if not pd.api.types.is_numeric_dtype(t) else interruption,
                   color="0.3", lw=1, label=label("interruption", language))
    if exc.any():
        idx = np.flatnonzero(exc)
        for run in np.split(idx, np.flatnonzero(np.diff(idx) != 1) + 1):
            ax.axvspan(t.iloc[run[0]], t.iloc[run[-1]], color="0.85", alpha=0.5, lw=0)
    ax.legend(fontsize=8, frameon=False)
    _finish(ax, time, observed, title, language, ylabel)
    _caption_hidden(fig, int((~shown).sum()), data, language)
    return fig


# ------------------------------------------------------------------ readmission: funnel, incidence

_FUNNEL_COUNTS = ("eligible", "observed")


def _hidden_rows(data: pd.DataFrame, cols: Sequence[str]) -> np.ndarray:
    """Rows whose value in any of ``cols`` is hidden (suppression flag set, or missing)."""
    from naravard_analysis.report.disclosure import FLAG_SUFFIX

    hidden = np.zeros(len(data), dtype=bool)
    for c in cols:
        if c + FLAG_SUFFIX in data.columns:
            hidden |= (data[c + FLAG_SUFFIX].astype(str) != "").to_numpy()
        if c in data.columns:
            hidden |= pd.to_numeric(data[c], errors="coerce").isna().to_numpy()
    return hidden


def _caption_hidden(fig: plt.Figure, n_hidden: int, data: pd.DataFrame, language: str) -> None:
    """Say under the figure that suppression left points out (a gap is not a zero). The number
    of hidden points is not printed: the output checker reads small numbers in figure text."""
    if not n_hidden:
        return
    m = (data.attrs.get("disclosure") or {}).get("min_count", 5)
    fig.text(0.01, -0.02, label("points_suppressed", language, min_count=m),
             ha="left", va="top", fontsize=8, color="0.3")  # fmt: skip


def funnel_data(result: object, *, min_count: int = 5) -> pd.DataFrame:
    """The publishable table behind a funnel plot of a :class:`RiskAdjustedResult`.

    One row per unit: the ``by`` columns, ``eligible``, ``observed``, ``expected``, ``oe_ratio``,
    ``lower``, ``upper``, ``outside_95``, ``outside_998``, after small-cell suppression of
    ``eligible`` and ``observed``; the ratio and its interval are hidden with the observed count
    (O/E at a known E gives O back). A report with a registry publishes the same columns through
    it instead.
    """
    from naravard_analysis.report.disclosure import suppress

    units = result.units  # type: ignore[attr-defined]
    by = list(result.settings.get("by", ())) or [  # type: ignore[attr-defined]
        c for c in units.columns if c not in _RISK_COLUMNS
    ]
    cols = [*by, "eligible", "observed", "expected", "oe_ratio", "lower", "upper",
            "outside_95", "outside_998"]  # fmt: skip
    rate_cols = {c: ["observed", "eligible"] for c in ("oe_ratio", "lower", "upper", "outside_95",
                                                     "outside_998")}  # fmt: skip
    table = units[[c for c in cols if c in units.columns]].copy()
    for c in ("outside_95", "outside_998"):
        if c in table:
            table[c] = table[c].astype(float)  # hideable like a rate
    return suppress(table, list(_FUNNEL_COUNTS), min_count=min_count, secondary=False, rate_cols=rate_cols)


_RISK_COLUMNS = {
    "eligible", "observed", "expected", "oe_ratio", "lower", "upper", "z", "risk_adjusted_rate",
    "lower_95", "upper_95", "lower_998", "upper_998", "outside_95", "outside_998",
}  # fmt: skip


def plot_funnel(
    data: pd.DataFrame,
    funnel: pd.DataFrame | object,
    *,
    label_col: str | None = None,
    title: str | None = None,
    language: str = DEFAULT_LANGUAGE,
    min_count: int = 5,
) -> plt.Figure:
    """Funnel plot of observed/expected readmission per unit, with 95 % and 99.8 % limits.

    Spiegelhalter (2005), "Funnel plots for comparing institutional performance", *Statistics in
    Medicine* 24:1185–1202: each unit at (expected count E, O/E), the target 1 and the exact
    Poisson control limits as a function of E. Drawn from the published table only
    (:func:`funnel_data`, i.e. after suppression): a unit whose ratio is hidden is not drawn and
    the caption says how many; the limits depend on E alone.

    Parameters
    ----------
    data
        Output of :func:`funnel_data` (``expected``, ``oe_ratio``, ``eligible``, ``observed``).
    funnel
        ``RiskAdjustedResult`` or its ``funnel`` grid (``expected``, ``lower_95``, ``upper_95``,
        ``lower_998``, ``upper_998``).
    label_col
        Column whose value labels the units outside the 99.8 % limits (e.g. ``"hospital_id"``).
    min_count
        Threshold the table must satisfy when it did not pass ``suppress`` (checked).

    Examples
    --------
    >>> # risk = risk_adjusted_readmission(flags, adm, persons, by="hospital_id")
    >>> # safe = funnel_data(risk, min_count=5)
    >>> # fig = plot_funnel(safe, risk, label_col="hospital_id", language="en")
    """
    check_language(language)
    ensure_suppressed(data, [c for c in _FUNNEL_COUNTS if c in data.columns], min_count, what="funnel plot")
    grid = getattr(funnel, "funnel", funnel)
    fig, ax = plt.subplots()
    ax.plot(grid["expected"], grid["upper_95"], color="0.45", ls="--", lw=1, label=label("limit_95", language))
    ax.plot(grid["expected"], grid["lower_95"], color="0.45", ls="--", lw=1)
    ax.plot(grid["expected"], grid["upper_998"], color="0.2", ls=":", lw=1, label=label("limit_998", language))
    ax.plot(grid["expected"], grid["lower_998"], color="0.2", ls=":", lw=1)
    ax.axhline(1, color="0.5", lw=0.8)
    hidden = _hidden_rows(data, ["oe_ratio", "expected"])
    shown = data.loc[~hidden]
    ax.scatter(shown["expected"], shown["oe_ratio"], color=PALETTE[0], zorder=3, s=18,
               label=label("observed", language))  # fmt: skip
    if label_col is not None and "outside_998" in shown:
        out = shown[shown["outside_998"].fillna(0).astype(bool)]
        for _, row in out.iterrows():
            ax.annotate(str(row[label_col]), (row["expected"], row["oe_ratio"]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")  # fmt: skip
    ax.legend(fontsize=8, frameon=False)
    _finish(ax, "expected_readmissions", "oe_ratio", title or label("funnel_title", language), language, None)
    _format_axis(ax.xaxis, language)
    _caption_hidden(fig, int(hidden.sum()), data, language)
    return fig


_CIF_COUNTS = ("n_at_risk", "n_readmissions", "n_deaths")


def cumulative_incidence_data(result: object, *, min_count: int = 5) -> pd.DataFrame:
    """The publishable curves of a :class:`CumulativeIncidence`: counts suppressed, and a day's
    readmission (death) incidence and limits hidden with its event count."""
    from naravard_analysis.report.disclosure import suppress

    curves = result.curves  # type: ignore[attr-defined]
    rate_cols = {}
    for event, count in (("readmission", "n_readmissions"), ("death", "n_deaths")):
        for c in (event, f"{event}_lower", f"{event}_upper"):
            if c in curves:
                rate_cols[c] = [count]
    counts = [c for c in _CIF_COUNTS if c in curves]
    return suppress(curves, counts, min_count=min_count, secondary=False, rate_cols=rate_cols)


def plot_cumulative_incidence(
    data: pd.DataFrame,
    *,
    events: Sequence[str] = ("readmission", "death"),
    title: str | None = None,
    language: str = DEFAULT_LANGUAGE,
    min_count: int = 5,
) -> plt.Figure:
    """Cumulative incidence of readmission (and of death, the competing event) by day since
    discharge, as steps with their interval band.

    Aalen–Johansen estimates from :func:`readmission_cumulative_incidence` (Putter, Fiocco &
    Geskus 2007, *Statistics in Medicine* 26:2389–2430), drawn from the published curves only
    (:func:`cumulative_incidence_data`): days whose value is hidden break the step line and the
    caption says how many.

    Examples
    --------
    >>> # cif = readmission_cumulative_incidence(flags, persons, horizons=(30, 90))
    >>> # fig = plot_cumulative_incidence(cumulative_incidence_data(cif), language="en")
    """
    check_language(language)
    counts = [c for c in _CIF_COUNTS if c in data.columns]
    ensure_suppressed(data, counts, min_count, what="cumulative-incidence plot")
    df = data.sort_values("day")
    fig, ax = plt.subplots()
    hidden_days = np.zeros(len(df), dtype=bool)
    for i, event in enumerate(events):
        hidden = _hidden_rows(df, [event])
        hidden_days |= hidden
        y = pd.to_numeric(df[event], errors="coerce").where(~hidden)
        ax.step(df["day"], y, where="post", color=PALETTE[i], label=label(event, language))
        lo, hi = f"{event}_lower", f"{event}_upper"
        if lo in df and hi in df:
            ax.fill_between(df["day"], pd.to_numeric(df[lo], errors="coerce").where(~hidden),
                            pd.to_numeric(df[hi], errors="coerce").where(~hidden), step="post",
                            color=PALETTE[i], alpha=0.2, lw=0)  # fmt: skip
    ax.legend(fontsize=8, frameon=False)
    _finish(ax, "day", "cumulative_incidence", title, language, None, percent=True)
    _caption_hidden(fig, int(hidden_days.sum()), df, language)
    return fig
