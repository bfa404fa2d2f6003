"""Risk-adjusted 30-day readmission: observed/expected ratios per hospital or municipality.

Indirect standardisation with a patient-level logistic model (the approach of the CMS measures,
methods reference §4.3, without their hierarchical random effect): one pooled model

    logit P(readmitted_i) = β0 + β·x_i,

fitted on all eligible index episodes **without** a unit term, gives each index its expected risk
p̂_i; for a unit u (hospital, municipality …) O_u = Σ y_i, E_u = Σ p̂_i and the standardised ratio is
O_u/E_u. Interval for O/E: exact Poisson (Garwood) limits for O divided by E (E treated as fixed).
Funnel plot (Spiegelhalter 2005, normal approximation): z_u = (O_u − E_u)/sqrt(Σ p̂_i(1 − p̂_i)),
control limits 1 ± z_q · sqrt(E(1 − p̄))/E as a function of E, p̄ the overall rate, at 95 % and 99.8 %.

Covariates (design choices, recorded in the result):

* ``age``: (age − 75)/10 and its square;
* ``sex``: indicator of ``F``;
* ``charlson``: Charlson index (Ludvigsson 2021 Swedish adaptation,
  :mod:`naravard_analysis.indicators.charlson`, code list unverified) from all diagnoses of the
  person's stays admitted in the ``lookback_days`` before the index admission plus the secondary
  diagnoses of the stays of the index episode (the index main diagnosis is the reason for the
  admission, not a comorbidity); entered as categories 0 (reference), 1, 2, 3+;
* ``prior_admissions``: number of inpatient stays (vårdtillfällen) admitted in the ``lookback_days``
  before the index admission, capped at 5;
* any other name: a column of ``flags`` (numeric as is, text as indicator columns).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from naravard_analysis.core.defaults import DEFAULT_LANGUAGE
from naravard_analysis.core.intervals import garwood_limits
from naravard_analysis.core.results import ResultDisplay, check_language
from naravard_analysis.errors import DataWarning, ParameterError, SchemaError
from naravard_analysis.indicators.charlson import (
    charlson_flags,
    charlson_score_from_flags,
    load_charlson_codelist,
)

__all__ = ["RiskAdjustedResult", "comorbidity_covariates", "risk_adjusted_readmission"]


# Text of RiskAdjustedResult.summary (this module's own words).
_SUMMARY = {
    "en": {"unit": "unit", "head": "Risk-adjusted 30-day readmission by {by}: {k} units, {n} index episodes ({d} dropped)",
           "model": "logistic model of {cov}; c statistic {c:.3f}; overall rate {r:.4f}",
           "outside": "outside the 95 % limits {a}, outside the 99.8 % limits {b}"},
    "sv": {"unit": "enhet", "head": "Riskjusterad återinskrivning inom 30 dagar per {by}: {k} enheter, "
                                    "{n} indexvårdtillfällen ({d} uteslutna)",
           "model": "logistisk modell med {cov}; c-statistik {c:.3f}; total andel {r:.4f}",
           "outside": "utanför 95 %-gränserna {a}, utanför 99,8 %-gränserna {b}"},
}


@dataclass(repr=False)
class RiskAdjustedResult(ResultDisplay):
    """Result of :func:`risk_adjusted_readmission` (the package's result protocol).

    Attributes
    ----------
    units : DataFrame
        One row per unit: the ``by`` columns, ``eligible``, ``observed``, ``expected``,
        ``oe_ratio``, ``lower``, ``upper`` (exact Poisson on O at ``level``, over E), ``z``,
        ``risk_adjusted_rate`` (O/E × overall rate), ``lower_95``/``upper_95``/``lower_998``/
        ``upper_998`` (funnel limits at the unit's E) and ``outside_95``/``outside_998``.
    funnel : DataFrame
        Control limits over a grid of expected counts: ``expected``, ``lower_95``, ``upper_95``,
        ``lower_998``, ``upper_998`` (ratio scale, target 1).
    coefficients : DataFrame
        ``term``, ``odds_ratio``, ``lower``, ``upper`` (at ``level``), ``p_value``.
    model : statsmodels GLM results (binomial, logit link).
    table : DataFrame
        ``units`` (the protocol's estimates table).
    settings : dict
        ``by``, ``covariates``, ``level``, ``lookback_days`` and the comorbidity code list.
    """

    units: pd.DataFrame
    funnel: pd.DataFrame
    coefficients: pd.DataFrame
    model: object
    overall_rate: float
    c_statistic: float
    n_used: int
    n_dropped: int
    covariates: tuple[str, ...]
    settings: dict = field(default_factory=dict)

    _TITLE = {"en": "Risk-adjusted readmission: observed/expected per unit (logistic case mix)",
              "sv": "Riskjusterad återinskrivning: observerat/förväntat per enhet (logistisk casemix)"}

    @property
    def table(self) -> pd.DataFrame:
        return self.units

    def summary(self, language: str = DEFAULT_LANGUAGE) -> str:
        """A few lines: the model, its fit and the units outside the funnel limits."""
        w = _SUMMARY[check_language(language)]
        by = ", ".join(self.settings.get("by", ())) or w["unit"]
        out95 = int(self.units["outside_95"].sum()) if "outside_95" in self.units else 0
        out998 = int(self.units["outside_998"].sum()) if "outside_998" in self.units else 0
        return "\n".join([
            w["head"].format(by=by, k=len(self.units), n=self.n_used, d=self.n_dropped),
            w["model"].format(cov=", ".join(self.covariates), c=self.c_statistic, r=self.overall_rate),
            w["outside"].format(a=out95, b=out998),
        ])  # fmt: skip

    def __repr__(self) -> str:
        return (f"<RiskAdjustedResult units={len(self.units)} n={self.n_used} "
                f"c={self.c_statistic:.3f} rate={self.overall_rate:.4f}>")  # fmt: skip

    def _repr_html_(self) -> str:
        head = "<br>".join(self.summary().split("\n"))
        cols = [c for c in self.units.columns if c not in ("lower_95", "upper_95", "lower_998", "upper_998")]
        return f"<p>{head}</p>" + self.units[cols].head(30).to_html(
            index=False, float_format=lambda v: f"{v:.4f}")  # fmt: skip


def comorbidity_covariates(
    index: pd.DataFrame, admissions: pd.DataFrame, *, lookback_days: int = 365
) -> pd.DataFrame:
    """Charlson score and prior stays for each index episode (see the module docstring).

    Parameters
    ----------
    index : DataFrame
        ``person_id``, ``admission_date``, ``discharge_date`` (e.g. readmission flags).
    admissions : DataFrame
        Canonical admissions with ``main_diagnosis`` and ``other_diagnoses``.
    lookback_days : int
        Look-back before the index admission (default 365; 0 = index episode only).

    Returns
    -------
    DataFrame (index of ``index``): ``charlson`` (int64), ``prior_admissions`` (int64, uncapped).

    Notes
    -----
    Vectorised: per-stay condition flags (one regex per condition), cumulative sums over stays
    sorted by person and admission, and two ``searchsorted`` per index give "any stay with the
    condition" in each window without pairing indexes with stays.
    """
    if not isinstance(lookback_days, (int, np.integer)) or lookback_days < 0:
        raise ParameterError(f"lookback_days must be an integer >= 0, got {lookback_days!r}")
    for name, df, cols in (
        ("index", index, ("person_id", "admission_date", "discharge_date")),
        ("admissions", admissions, ("person_id", "admission_date", "main_diagnosis")),
    ):
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise SchemaError(name, missing[0], "required column missing")
    cl = load_charlson_codelist()
    a = admissions
    people = pd.Index(pd.unique(a["person_id"]))
    pa = people.get_indexer(a["person_id"]).astype(np.int64)
    ad = pd.to_datetime(a["admission_date"]).to_numpy("datetime64[ns]").astype("datetime64[D]").astype(np.int64)
    order = np.lexsort((ad, pa))
    pa, ad = pa[order], ad[order]
    other = a["other_diagnoses"] if "other_diagnoses" in a.columns else pd.Series("", index=a.index)
    other = other.astype(object).where(other.notna(), "").astype(str)
    main = a["main_diagnosis"].astype(object).where(a["main_diagnosis"].notna(), "").astype(str)
    f_all = charlson_flags((main + " " + other).iloc[order], codelist=cl, hierarchy=False)
    f_oth = charlson_flags(other.iloc[order], codelist=cl, hierarchy=False)
    groups = list(f_all.columns)
    zero = np.zeros((1, len(groups)), dtype=np.int32)
    c_all = np.vstack([zero, np.cumsum(f_all.to_numpy(np.int32), axis=0)])
    c_oth = np.vstack([zero, np.cumsum(f_oth.to_numpy(np.int32), axis=0)])

    base = int(ad.min()) - lookback_days - 1 if ad.size else 0
    ip = people.get_indexer(index["person_id"]).astype(np.int64)
    ia = pd.to_datetime(index["admission_date"]).to_numpy("datetime64[ns]").astype("datetime64[D]").astype(np.int64)
    idis = pd.to_datetime(index["discharge_date"]).to_numpy("datetime64[ns]").astype("datetime64[D]").astype(np.int64)
    span = int(max(ad.max() if ad.size else 0, idis.max() if idis.size else 0) - base + 2)
    key = pa * span + (ad - base)
    known = ip >= 0
    ipk = np.where(known, ip, 0)
    s0 = np.searchsorted(key, ipk * span + (ia - lookback_days - base), side="left")
    s1 = np.searchsorted(key, ipk * span + (ia - base), side="left")
    s2 = np.searchsorted(key, ipk * span + (idis - base), side="right")
    prior = (c_all[s1] - c_all[s0]) > 0
    during = (c_oth[s2] - c_oth[s1]) > 0
    flags = pd.DataFrame((prior | during) & known[:, None], columns=groups, index=index.index)
    out = pd.DataFrame(index=index.index)
    out["charlson"] = charlson_score_from_flags(flags, codelist=cl)
    out["prior_admissions"] = np.where(known, s1 - s0, 0).astype(np.int64)
    return out


def _design(df: pd.DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
    cols: dict[str, np.ndarray] = {}
    for cov in covariates:
        if cov == "age":
            x = (df["age"].astype("float64") - 75.0) / 10.0
            cols["age10"] = x.to_numpy()
            cols["age10_sq"] = (x**2).to_numpy()
        elif cov == "sex":
            s = df["sex"].astype(object)
            cols["female"] = np.where(s.isna(), np.nan, (s == "F").astype(float))
        elif cov == "charlson":
            c = df["charlson"].to_numpy(dtype="float64")
            cols["charlson_1"] = (c == 1).astype(float)
            cols["charlson_2"] = (c == 2).astype(float)
            cols["charlson_3plus"] = (c >= 3).astype(float)
        elif cov == "prior_admissions":
            cols["prior_admissions"] = np.minimum(df["prior_admissions"].to_numpy("float64"), 5.0)
        else:
            s = df[cov]
            if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
                cols[cov] = s.astype("float64").to_numpy()
            else:
                dummies = pd.get_dummies(s.astype(object), prefix=cov, drop_first=True, dtype=float)
                dummies.loc[s.isna().to_numpy()] = np.nan
                for c in dummies.columns:
                    cols[str(c)] = dummies[c].to_numpy()
    x = pd.DataFrame(cols, index=df.index)
    # Constant columns (e.g. no one with Charlson 2) cannot be estimated: drop them.
    keep = [c for c in x.columns if x[c].nunique(dropna=True) > 1]
    return x[keep]


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    n1 = int(y.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = stats.rankdata(p)
    return float((r[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def risk_adjusted_readmission(
    flags: pd.DataFrame,
    admissions: pd.DataFrame,
    persons: pd.DataFrame,
    *,
    by: str | Sequence[str] = "hospital_id",
    covariates: Sequence[str] = ("age", "sex", "charlson", "prior_admissions"),
    level: float = 0.95,
    lookback_days: int = 365,
) -> RiskAdjustedResult:
    """Observed/expected readmission ratios per unit from a pooled logistic model.

    Parameters
    ----------
    flags : DataFrame
        Output of :func:`~naravard_analysis.indicators.readmission.flag_readmissions`; only
        ``eligible`` rows are used.
    admissions : DataFrame
        The admissions the flags were built from (for ``charlson`` and ``prior_admissions``).
    persons : DataFrame
        ``person_id`` and ``sex`` (used when ``flags`` lacks ``sex``) and any ``by`` column missing
        from ``flags`` (e.g. ``municipality_code`` of residence).
    by : str or list of str
        Unit of comparison: ``"hospital_id"`` (index hospital, first stay), ``"discharge_hospital_id"``,
        ``"municipality_code"`` …
    covariates : sequence of str
        Case-mix terms (module docstring). Rows with a missing covariate are dropped and counted.
    level : float
        Confidence level of the O/E interval (default 0.95).
    lookback_days : int
        Look-back for ``charlson`` and ``prior_admissions`` (default 365 days).

    Returns
    -------
    RiskAdjustedResult

    Notes
    -----
    Unit of analysis: eligible index episode; units compared by indirect standardisation. The
    model has no unit term, so expected counts answer "how many readmissions if this unit's
    patients had the region's average risk given their case mix". Funnel limits use the normal
    approximation with the binomial variance at the overall rate (Spiegelhalter 2005); the exact
    per-unit z uses Σ p̂(1 − p̂).

    Examples
    --------
    See ``tests/indicators/test_readmission.py`` and ``notebooks/30_readmission.ipynb``.
    """
    if not 0 < level < 1:
        raise ParameterError(f"level must lie strictly between 0 and 1, got {level!r}")
    by_cols = [by] if isinstance(by, str) else list(by)
    covariates = tuple(covariates)
    for name in ("eligible", "readmitted", "person_id", "admission_date", "discharge_date"):
        if name not in flags.columns:
            raise SchemaError("flags", name, "required column missing")
    df = flags.loc[flags["eligible"].astype(bool).to_numpy()].copy()
    need_person = [c for c in (*by_cols, "sex") if c not in df.columns and c in persons.columns]
    if need_person:
        pos = pd.Index(persons["person_id"]).get_indexer(df["person_id"])
        for c in need_person:
            vals = persons[c].take(np.where(pos >= 0, pos, 0)).to_numpy(dtype=object)
            df[c] = np.where(pos >= 0, vals, None)
    for c in by_cols:
        if c not in df.columns:
            raise SchemaError("flags", c, "unit column not in flags or persons")
    if "sex" in covariates and "sex" not in df.columns:
        raise SchemaError("persons", "sex", "required for the 'sex' covariate")
    if {"charlson", "prior_admissions"} & set(covariates):
        df = df.join(comorbidity_covariates(df, admissions, lookback_days=lookback_days))
    for c in covariates:
        if c not in df.columns:
            raise SchemaError("flags", c, "covariate not available")
    x = _design(df, covariates)
    ok = x.notna().all(axis=1).to_numpy() & df[by_cols].notna().all(axis=1).to_numpy()
    n_dropped = int((~ok).sum())
    if n_dropped:
        warnings.warn(
            f"risk adjustment: {n_dropped} eligible index episode(s) dropped for a missing "
            "covariate or unit",
            DataWarning,
            stacklevel=2,
        )
    df, x = df.loc[ok], x.loc[ok]
    if len(df) == 0:
        raise SchemaError("flags", "eligible", "no eligible index episodes with complete covariates")
    y = df["readmitted"].astype(bool).to_numpy(dtype=float)
    xm = sm.add_constant(x, has_constant="add")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model = sm.GLM(y, xm, family=sm.families.Binomial()).fit()
    p = np.asarray(model.predict(xm), dtype=float)
    ci = np.asarray(model.conf_int(alpha=1 - level))
    with np.errstate(over="ignore"):  # separation gives huge limits: inf is the honest value
        coefficients = pd.DataFrame(
            {
                "term": list(xm.columns),
                "odds_ratio": np.exp(np.asarray(model.params)),
                "lower": np.exp(ci[:, 0]),
                "upper": np.exp(ci[:, 1]),
                "p_value": np.asarray(model.pvalues),
            }
        )
    work = df[by_cols].copy()
    work["eligible"] = 1
    work["observed"] = y
    work["expected"] = p
    work["variance"] = p * (1 - p)
    units = work.groupby(by_cols, sort=True, observed=True, dropna=False).sum().reset_index()
    units["eligible"] = units["eligible"].astype(np.int64)
    units["observed"] = units["observed"].round().astype(np.int64)
    o = units["observed"].to_numpy(float)
    e = units["expected"].to_numpy(float)
    v = units.pop("variance").to_numpy(float)
    lo, hi = garwood_limits(o, level)
    overall = float(y.mean())
    units["oe_ratio"] = o / e
    units["lower"] = lo / e
    units["upper"] = hi / e
    with np.errstate(divide="ignore", invalid="ignore"):
        units["z"] = (o - e) / np.sqrt(v)
    units["risk_adjusted_rate"] = units["oe_ratio"] * overall
    z95, z998 = stats.norm.ppf(0.975), stats.norm.ppf(0.999)
    for tag, zq in (("95", z95), ("998", z998)):
        half = zq * np.sqrt(e * (1 - overall)) / e
        units[f"lower_{tag}"] = np.maximum(1 - half, 0)
        units[f"upper_{tag}"] = 1 + half
        units[f"outside_{tag}"] = np.abs(units["z"].to_numpy()) > zq
    grid = np.geomspace(max(e.min() * 0.5, 0.5), max(e.max() * 1.2, 1.0), 200)
    funnel = pd.DataFrame({"expected": grid})
    for tag, zq in (("95", z95), ("998", z998)):
        half = zq * np.sqrt(grid * (1 - overall)) / grid
        funnel[f"lower_{tag}"] = np.maximum(1 - half, 0)
        funnel[f"upper_{tag}"] = 1 + half
    return RiskAdjustedResult(
        units=units,
        funnel=funnel,
        coefficients=coefficients,
        model=model,
        overall_rate=overall,
        c_statistic=_auc(y.astype(int), p),
        n_used=int(len(df)),
        n_dropped=n_dropped,
        covariates=covariates,
        settings={"by": by_cols, "covariates": list(covariates), "level": level, "lookback_days": lookback_days,
                  "charlson_codelist": "charlson_ludvigsson2021 (unverified)"},
    )
