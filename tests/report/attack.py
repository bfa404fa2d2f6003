"""An adversary's tools: read values back out of written figures, tables and text.

Used by the disclosure tests. An SVG written by matplotlib holds every drawn mark in pixel
coordinates and the axis ticks with their labels; fitting pixel -> value through the ticks
(linear or logarithmic) turns each marker, line vertex, band vertex and bar edge back into a
data value, as a reader with a ruler would -- only exactly. A published Excel sheet (labelled
headers, ``<5`` / ``..`` marks) is read back to the table it was written from
(:func:`read_sheet`), so the table attacks below work on it as on a figure's CSV.
"""

from __future__ import annotations

import re
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

_NS = {"svg": "http://www.w3.org/2000/svg", "xlink": "http://www.w3.org/1999/xlink"}
_NUM = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_DATA_GROUP = re.compile(r"^(line2d_\d+|\w*PolyCollection_\d+|patch_\d+|LineCollection_\d+|PathCollection_\d+)$")


def parse_label(text: str) -> float | None:
    """A tick label as a number: Swedish (decimal comma, space thousands) or English, '%' kept
    as the number shown (12 % -> 12), minus signs of any kind."""
    t = (text or "").replace("\u2212", "-").replace("\u00a0", "").replace(" ", "").replace("%", "")
    if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", t):  # English thousands
        t = t.replace(",", "")
    t = t.replace(",", ".")
    try:
        return float(t)
    except ValueError:
        return None


def _path_points(d: str) -> list[tuple[float, float]]:
    nums = [float(x) for x in _NUM.findall(d or "")]
    return list(zip(nums[0::2], nums[1::2], strict=False))


@dataclass
class AxesMarks:
    """One axes of an SVG: tick positions and labels, frame, and the drawn data marks."""

    xticks: list[tuple[float, float]] = field(default_factory=list)  # (pixel, value)
    yticks: list[tuple[float, float]] = field(default_factory=list)
    frame: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1 in pixels
    marks: list[tuple[str, float, float]] = field(default_factory=list)  # (group, x, y) pixels

    def _map(self, ticks: list[tuple[float, float]], log: bool | None = None):
        pix = np.array([p for p, _ in ticks])
        val = np.array([v for _, v in ticks])
        if len(ticks) < 2:
            return None
        log = _looks_log(val) if log is None else (log and bool((val > 0).all()))
        y = np.log(val) if log else val
        a, b = np.polyfit(pix, y, 1)
        return (lambda p: np.exp(a * np.asarray(p) + b)) if log else (lambda p: a * np.asarray(p) + b)

    def values(self, axis: str = "y", log: bool | None = None) -> np.ndarray:
        """Data values of every mark off the frame, read on ``axis`` (``log`` forces the scale)."""
        f = self._map(self.yticks if axis == "y" else self.xticks, log)
        if f is None:
            return np.array([])
        x0, y0, x1, y1 = self.frame or (-np.inf, -np.inf, np.inf, np.inf)
        out = []
        for _, x, y in self.marks:
            p = y if axis == "y" else x
            lo, hi = (y0, y1) if axis == "y" else (x0, x1)
            if abs(p - lo) < 0.05 or abs(p - hi) < 0.05:  # frame-spanning marks (axvline, spans)
                continue
            out.append(float(f(p)))
        return np.array(out)

    def resolution(self, axis: str = "y") -> float:
        """Value per 0.001 pixel (the SVG's coordinate precision) -- the reading error."""
        ticks = self.yticks if axis == "y" else self.xticks
        (p0, v0), (p1, v1) = ticks[0], ticks[-1]
        return abs((v1 - v0) / (p1 - p0)) * 1e-3 * 10


def _looks_log(val: np.ndarray) -> bool:
    if len(val) < 3 or (val <= 0).any():
        return False
    ratios = val[1:] / val[:-1]
    diffs = np.diff(val)
    return bool(np.all(ratios > 1.5) and np.ptp(diffs) > 1e-9 * np.abs(diffs).max())


def read_svg(path: str | Path) -> list[AxesMarks]:
    """Every axes of a matplotlib SVG with its ticks, frame and data marks."""
    root = ET.parse(path).getroot()
    out = []
    for ax in root.iter(f"{{{_NS['svg']}}}g"):
        if not (ax.get("id") or "").startswith("axes_"):
            continue
        m = AxesMarks()
        for g in ax:
            gid = g.get("id") or ""
            if gid in ("matplotlib.axis_1", "matplotlib.axis_2"):
                ticks = m.xticks if gid.endswith("1") else m.yticks
                for tick in g:
                    if not (tick.get("id") or "").startswith(("xtick", "ytick")):
                        continue
                    texts = [t.text for t in tick.iter(f"{{{_NS['svg']}}}text")]
                    value = parse_label(texts[0]) if texts else None
                    pts = [p for path in tick.iter(f"{{{_NS['svg']}}}path") for p in _path_points(path.get("d"))]
                    uses = [(float(u.get("x")), float(u.get("y"))) for u in tick.iter(f"{{{_NS['svg']}}}use")]
                    pts = pts or uses
                    if value is None or not pts:
                        continue
                    ticks.append((pts[0][0] if gid.endswith("1") else pts[0][1], value))
            elif gid == "patch_2":
                pts = [p for path in g.iter(f"{{{_NS['svg']}}}path") for p in _path_points(path.get("d"))]
                xs, ys = [p[0] for p in pts], [p[1] for p in pts]
                m.frame = (min(xs), min(ys), max(xs), max(ys))
            elif _DATA_GROUP.match(gid) and gid != "patch_1":
                shapes = {}
                for path in g.iter(f"{{{_NS['svg']}}}path"):
                    if path.get("id"):  # defined once, placed by <use>
                        shapes[path.get("id")] = _path_points(path.get("d"))
                        continue
                    for x, y in _path_points(path.get("d")):
                        m.marks.append((gid, x, y))
                for u in g.iter(f"{{{_NS['svg']}}}use"):
                    ref = (u.get(f"{{{_NS['xlink']}}}href") or u.get("href") or "").lstrip("#")
                    x, y = float(u.get("x", 0)), float(u.get("y", 0))
                    shape = shapes.get(ref, [])
                    span = max((max(abs(a), abs(b)) for a, b in shape), default=0.0)
                    if span > 15:  # a collection's path in data pixels, shifted by (x, y)
                        m.marks.extend((gid, px + x, py + y) for px, py in shape)
                    else:  # a marker: its position is the data point
                        m.marks.append((gid, x, y))
        # spines (patch_k lying on the frame) are removed by the frame test in values()
        out.append(m)
    return out


def published_values(csv: pd.DataFrame) -> np.ndarray:
    """Every visible numeric value of a figure's CSV."""
    vals = []
    for c in csv.columns:
        v = pd.to_numeric(csv[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        vals.append(v[~np.isnan(v)])
    return np.unique(np.concatenate(vals)) if vals else np.array([])


def unpublished_marks(svg: str | Path, csv: pd.DataFrame, *, scales=(1.0, 100.0), constants=()) -> list[float]:
    """Values drawn in ``svg`` that its CSV does not publish (the figure must hold nothing more
    than its data). A value matches when it is within the reading precision of a published value
    (or of one times a display scale, e.g. shares drawn as per cent) or of a stated constant (a
    target or reference line)."""
    pub = published_values(csv)
    pub = np.unique(np.concatenate([pub * s for s in scales] + [np.asarray(constants, float)]))
    extra = []
    for ax in read_svg(svg):
        for axis in ("x", "y"):
            ticks = ax.xticks if axis == "x" else ax.yticks
            if len(ticks) < 2 or not _numeric_axis(ticks):
                continue
            tol = ax.resolution(axis)
            # two ticks do not tell a log axis from a linear one: a mark passes if either reading
            # of it is published (and fails only if both are not)
            scales_ = (None,) if len(ticks) >= 3 else (False, True)
            readings = [ax.values(axis, log) for log in scales_]
            for vals in zip(*readings, strict=True):
                if all(pub.size == 0 or np.min(np.abs(pub - v)) > max(tol, 1e-3 * abs(v)) for v in vals):
                    extra.append(vals[0])
    return extra


def _numeric_axis(ticks: list[tuple[float, float]]) -> bool:
    """A value axis, not years or category positions: labels that are not all whole years."""
    vals = np.array([v for _, v in ticks])
    return not (np.all(vals == np.round(vals)) and np.all((vals >= 1900) & (vals <= 2100)))


_PRIMARY_MARK = re.compile(r"<\s*\d+")
_SECONDARY_MARK = ".."


def read_sheet(sheet: pd.DataFrame) -> pd.DataFrame:
    """A published sheet as the table behind it: each labelled header back to its column name
    (the package's own label store read in reverse), each mark back to a blank cell with a
    ``<col>_suppressed`` flag (``"primary"`` for ``<5``, ``"secondary"`` for ``..``). Every
    count column (by name) and every column holding a mark gets a flag column, as ``suppress``
    gives one to each column it may hide."""
    from naravard_analysis.report.disclosure import FLAG_SUFFIX, is_count_column
    from naravard_analysis.report.labels import label_key

    out: dict[str, pd.Series] = {}
    for c in sheet.columns:
        key = label_key(c) if isinstance(c, str) else str(c)
        assert key not in out, f"two headers of one sheet read back to {key!r}"
        col = sheet[c]
        text = col.map(lambda x: x.strip() if isinstance(x, str) else None)
        primary = text.map(lambda t: bool(t and _PRIMARY_MARK.fullmatch(t))).to_numpy(dtype=bool)
        secondary = (text == _SECONDARY_MARK).to_numpy(dtype=bool)
        marked = primary | secondary
        if marked.any():
            col = pd.to_numeric(col.mask(marked), errors="coerce")
        out[key] = col
        if marked.any() or (is_count_column(key) and pd.api.types.is_numeric_dtype(col)):
            flag = np.where(primary, "primary", np.where(secondary, "secondary", ""))
            out[key + FLAG_SUFFIX] = pd.Series(flag, index=sheet.index, dtype=object)
    return pd.DataFrame(out, index=sheet.index)


def small_counts_in_csv(csv: pd.DataFrame, min_count: int) -> list[tuple[str, int, float]]:
    """Visible cells of count columns (those with a ``_suppressed`` flag and a count name) with
    a value 1 .. min_count - 1."""
    from naravard_analysis.report.disclosure import is_count_column

    bad = []
    for c in csv.columns:
        if not is_count_column(c):
            continue
        v = pd.to_numeric(csv[c], errors="coerce")
        for i in np.flatnonzero(((v > 0) & (v < min_count)).to_numpy()):
            bad.append((str(c), int(i), float(v.iloc[i])))
    return bad


def products_giving_small_counts(csv: pd.DataFrame, min_count: int,
                                 scales=(1.0, 100.0, 1_000.0, 100_000.0)) -> list[tuple]:
    """Differencing inside a row: in a row where a count is hidden, a visible rate times (or
    over) a visible count that gives a whole number 1 .. min_count - 1 gives the count back.
    A cell is hidden when its flag says so: a value missing in the source (a ratio that cannot
    be estimated, flag ``""``) hides nothing, and a float beside it is no share of it."""
    flags = [c for c in csv.columns if str(c).endswith("_suppressed")]
    counts = [c[: -len("_suppressed")] for c in flags]
    counts = [c for c in counts if c in csv.columns and _is_countish(csv, c)]
    floats = [c for c in csv.columns if c not in counts and not str(c).endswith("_suppressed")
              and pd.api.types.is_float_dtype(csv[c].dtype)]
    hits = []
    for i in range(len(csv)):
        row = csv.iloc[i]
        if not any(pd.isna(row[c]) and str(row[f"{c}_suppressed"]) in ("primary", "secondary") for c in counts):
            continue
        for f in floats:
            fv = row[f]
            if pd.isna(fv) or fv == 0:
                continue
            for d in counts:
                dv = row[d]
                if pd.isna(dv) or dv == 0:
                    continue
                for s in scales:
                    for x in (fv * dv / s, dv / fv * s):
                        r = round(x)
                        if 1 <= r < min_count and abs(x - r) < 1e-7 * max(1.0, abs(x)):
                            hits.append((i, f, d, s, x))
    return hits


def _is_countish(csv: pd.DataFrame, c: str) -> bool:
    v = pd.to_numeric(csv[c], errors="coerce").dropna()
    return bool(len(v) == 0 or (v == v.round()).all())


_TEXT_COUNT = re.compile(
    r"(?<![\d,.])(\d{1,3}(?:[\u00a0 ,]\d{3})*)\s+(?:[a-zåäö]+\s+){0,1}"
    r"(personer|vårdtillfällen|indexepisoder|inskrivna|kontakter|öppenvårdskontakter|besök|"
    r"persons|stays|episodes|enrolled|contacts|visits|admissions|events|händelser)",
    re.IGNORECASE,
)


def small_counts_in_text(text: str, min_count: int) -> list[str]:
    """Numbers 1 .. min_count - 1 written as counts of something in running text."""
    bad = []
    for m in _TEXT_COUNT.finditer(text):
        n = int(re.sub(r"\D", "", m.group(1)))
        if 1 <= n < min_count:
            bad.append(m.group(0))
    return bad


def ratios_on_small_counts(table: pd.DataFrame, counts: pd.DataFrame, ratio: str,
                           min_count: int) -> list[tuple[int, str, str, float]]:
    """White-box attack: rows where ``ratio`` is published although a count it is computed from
    (``counts``, one row per row of ``table``, recomputed from the data by the attacker) is
    1 .. min_count - 1. Such a ratio gives the count back whenever the attacker can guess the
    rest (2/14 = 1/7 with equal person-time on both sides), so it must be hidden whether or not
    the table shows the counts."""
    hits = []
    shown = table[ratio].notna().to_numpy()
    for c in counts.columns:
        v = pd.to_numeric(counts[c], errors="coerce").to_numpy(dtype=float)
        for i in np.flatnonzero(shown & (v > 0) & (v < min_count)):
            hits.append((int(i), ratio, str(c), float(v[i])))
    return hits


def mobile_team_counts(data, outcomes):
    """What an attacker with the data recomputes behind each row of the mobile-team table: the
    naive before/after events and persons (the ``pre_post`` design), and the matched design's
    cases' and controls' events after enrolment."""
    from naravard_analysis.methods.evaluation import evaluate_enrolments

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp = evaluate_enrolments(data, intervention="mobile_team", seed=0, design="pre_post")
        tr = evaluate_enrolments(data, intervention="mobile_team", seed=0)
    naive = pp.estimates.reindex(outcomes)[["n_cases", "events_pre_cases", "events_post_cases"]]
    treated = tr.units["treated"].to_numpy(dtype=bool)
    matched = pd.DataFrame({
        "cases_after": [tr.units[f"post_{o}"][treated].sum() for o in outcomes],
        "controls_after": [tr.units[f"post_{o}"][~treated].sum() for o in outcomes],
    })
    return naive.reset_index(drop=True), matched, pp, tr


def mobile_team_placebo_counts(data, result, outcomes) -> pd.DataFrame:
    """What an attacker recomputes behind each placebo-date estimate of the mobile-team table: the
    weighted events of the trial's cases and of its controls in the placebo window, each index day
    moved ``placebo_months`` earlier (months of 365.25 / 12 days) with a window of
    ``placebo_window_days`` (both in ``result.settings``), cut to residence -- from the register
    data and the analysis units (person, index day, sampling weight), not from the result's
    ``sensitivity`` frame."""
    from naravard_analysis.methods.person_time import EventIndex, outcome_events, person_frame

    pf = person_frame(data)
    u = result.units
    code = u["code"].to_numpy(np.int64)
    index = u["index_day"].to_numpy(np.int64)
    weight = u["weight"].to_numpy(float)
    treated = u["treated"].to_numpy(bool)
    shift = int(round(result.settings["placebo_months"] * 365.25 / 12))
    width = result.settings.get("placebo_window_days")
    rows = []
    for o in outcomes:
        if width is None or width <= 0 or not len(u):
            rows.append({"placebo_cases": np.nan, "placebo_controls": np.nan})
            continue
        lo = np.maximum(index - shift, pf.entry[code])
        hi = np.maximum(np.minimum(index - shift + int(width), pf.exit[code]), lo)
        y = EventIndex(*outcome_events(data, o, pf)).sum(code, lo, hi) * weight
        rows.append({"placebo_cases": float(y[treated].sum()), "placebo_controls": float(y[~treated].sum())})
    return pd.DataFrame(rows)


def changes_giving_back_a_hidden_baseline(table: pd.DataFrame, baseline_year: int, *, value: str = "coc",
                                          change: str = "relative_change", group: str = "staff") -> list[tuple]:
    """A change from the baseline beside its value gives the baseline back
    (``value / (1 + change)``): rows where that is possible although the baseline's value is
    hidden."""
    hits = []
    for g, part in table.groupby(group, sort=False):
        base = part[part["year"] == baseline_year]
        if base.empty or not base[value].isna().all():
            continue
        both = part[part[value].notna() & part[change].notna() & (part[change] != -1)]
        hits += [(g, int(r.year), float(r[value] / (1 + r[change]))) for _, r in both.iterrows()]
    return hits
