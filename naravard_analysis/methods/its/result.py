"""The result of :func:`fit_its`: effects table, predictions, counterfactual effects, plots and diagnostics.

Effect measures follow methods reference §6.7: the counterfactual is the fitted model with the main
interruption's level and slope terms set to 0 over the post period, **with the exposure offset** (the
statsmodels ``predict`` pitfall of PR #1679 is avoided by computing X b + log(exposure) directly);
absolute difference per period, cumulative difference and relative effect fitted/counterfactual - 1,
each with a delta-method Wald interval on the coefficient covariance of the fit (HAC when requested).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from naravard_analysis.core.defaults import DEFAULT_LANGUAGE
from naravard_analysis.core.results import ResultDisplay, check_language
from naravard_analysis.errors import ParameterError

from ._time import TimeAxis
from .design import Design
from .engines import LOG_FAMILIES, EngineFit

__all__ = ["ITSResult"]

_LABELS = {
    "en": {"observed": "Observed", "fitted": "Fitted", "counterfactual": "Counterfactual",
           "excluded": "Excluded from fit", "interruption": "Interruption", "time": "Time",
           "rate": "Rate per {per}", "value": "Value", "treated": "treated", "control": "control"},
    "sv": {"observed": "Observerat", "fitted": "Anpassat", "counterfactual": "Kontrafaktiskt",
           "excluded": "Exkluderat ur skattningen", "interruption": "Intervention", "time": "Tid",
           "rate": "Antal per {per}", "value": "Värde", "treated": "intervention",
           "control": "kontroll"},
}

# Text of ITSResult.summary (this module keeps its own words, like _LABELS for the plots).
_SUMMARY = {
    "en": {"title": "Interrupted time series: {outcome} ~ segmented regression",
           "offset": ", offset log({exposure})",
           "model": "family {fam}, link {link}; errors {errors}; covariance {cov}; inference {inference}",
           "estimand": "estimand: {what}", "segmented": "segmented regression on the full series",
           "forecast": "pre-period fit projected forward",
           "interruption": "interruption at {at} (first post period); periods fitted {n}, "
                           "excluded {excluded}; dispersion {dispersion:.4g}",
           "model_based": "model-based", "hc1": "HC1 robust",
           "hac": "Newey-West (Bartlett, {lags} lags, n/(n-k))",
           "family_names": {"gaussian": "Gaussian (OLS)", "poisson": "Poisson",
                            "quasipoisson": "quasi-Poisson", "negbin": "negative binomial (NB2)"}},
    "sv": {"title": "Avbruten tidsserie: {outcome} ~ segmenterad regression",
           "offset": ", offset log({exposure})",
           "model": "familj {fam}, länk {link}; fel {errors}; kovarians {cov}; inferens {inference}",
           "estimand": "skattat mått: {what}", "segmented": "segmenterad regression på hela serien",
           "forecast": "anpassning på perioden före, framskriven",
           "interruption": "intervention vid {at} (första perioden efter); anpassade perioder {n}, "
                           "uteslutna {excluded}; dispersion {dispersion:.4g}",
           "model_based": "modellbaserad", "hc1": "HC1 robust",
           "hac": "Newey-West (Bartlett, {lags} laggar, n/(n-k))",
           "family_names": {"gaussian": "normalfördelning (OLS)", "poisson": "Poisson",
                            "quasipoisson": "kvasi-Poisson", "negbin": "negativ binomial (NB2)"}},
}


@dataclass(repr=False)
class ITSResult(ResultDisplay):
    """Fitted interrupted time series (see :func:`fit_its` for the model and its conventions).

    Follows the package's result protocol: ``table`` (= ``effects``), ``settings`` (the arguments
    of :func:`fit_its`), ``summary(language)``, an HTML view and a short repr.

    Attributes
    ----------
    effects : DataFrame
        Indexed by term: ``estimate, se, lower, upper, p_value`` on the link scale and, for log links,
        ``ratio, ratio_lower, ratio_upper`` (= exp of the former). Includes derived rows such as
        ``post_trend`` = pre_trend + slope_change.
    dispersion : float
        Scale used for the standard errors: residual variance (Gaussian), 1 (Poisson), Pearson
        X^2/(n - p) (quasi-Poisson), NB2 alpha (negbin).
    pearson_dispersion : float
        Pearson X^2/(n - p) for count families (a check of the Poisson assumption).
    params, cov : Series, DataFrame
        Coefficients and their covariance, named by term.
    frame : DataFrame
        One row per period (and group): time, index, observed, exposure, excluded, post, treated.
    model : statsmodels results object of the underlying fit.
    level : float
        Confidence level of ``effects``.
    """

    frame: pd.DataFrame
    design: Design
    fit: EngineFit
    family: str
    axis: TimeAxis
    interruption: Any
    interruption_index: int
    outcome: str
    time: str
    exposure: str | None
    cov_type: str
    hac_lags: int | None
    errors: str
    mode: str
    group: str | None
    extra_interruptions: list[tuple[str, int]] = field(default_factory=list)
    level: float = 0.95
    settings: dict[str, Any] = field(default_factory=dict)
    _effects: pd.DataFrame | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ basics
    @property
    def link(self) -> str:
        return "log" if self.family in LOG_FAMILIES else "identity"

    @property
    def params(self) -> pd.Series:
        return pd.Series(self.fit.params, index=self.design.names, name="estimate")

    @property
    def cov(self) -> pd.DataFrame:
        return pd.DataFrame(self.fit.cov, index=self.design.names, columns=self.design.names)

    @property
    def dispersion(self) -> float:
        return self.fit.dispersion

    @property
    def pearson_dispersion(self) -> float:
        return self.fit.pearson_dispersion

    @property
    def model(self) -> Any:
        return self.fit.model

    @property
    def n_obs(self) -> int:
        return int((~self.frame["excluded"]).sum())

    @property
    def df_resid(self) -> float:
        return self.fit.df_resid

    @property
    def stata_names(self) -> dict[str, str]:
        """Our term names -> Linden ``itsa`` names (``_t``, ``_x<P>``, ``_z_x_t<P>`` ...)."""
        return dict(self.design.stata_names)

    def _crit(self, level: float = 0.95) -> float:
        q = 1 - (1 - level) / 2
        return float(stats.t.ppf(q, self.df_resid) if self.fit.use_t else stats.norm.ppf(q))

    def _pvalue(self, z: np.ndarray) -> np.ndarray:
        z = np.abs(z)
        return 2 * (stats.t.sf(z, self.df_resid) if self.fit.use_t else stats.norm.sf(z))

    # ------------------------------------------------------------------ effects
    def _derived(self) -> dict[str, dict[str, float]]:
        names = set(self.design.names)
        out: dict[str, dict[str, float]] = {}
        if "slope_change" in names:
            out["post_trend"] = {"pre_trend": 1, "slope_change": 1}
        if "level_change_difference" in names:
            out["treated_pre_trend"] = {"pre_trend": 1, "pre_trend_difference": 1}
            out["treated_level_change"] = {"level_change": 1, "level_change_difference": 1}
        if "slope_change_difference" in names:
            out["treated_slope_change"] = {"slope_change": 1, "slope_change_difference": 1}
            out["treated_post_trend"] = {"pre_trend": 1, "slope_change": 1,
                                         "pre_trend_difference": 1, "slope_change_difference": 1}
            out["post_trend_difference"] = {"pre_trend_difference": 1, "slope_change_difference": 1}
        return out

    def _table(self, names: list[str], L: np.ndarray, level: float) -> pd.DataFrame:
        est = L @ self.fit.params
        se = np.sqrt(np.einsum("ij,jk,ik->i", L, self.fit.cov, L))
        q = self._crit(level)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = self._pvalue(est / se)
        cols = {"estimate": est, "se": se, "lower": est - q * se, "upper": est + q * se, "p_value": p}
        if self.link == "log":
            cols.update(ratio=np.exp(est), ratio_lower=np.exp(est - q * se), ratio_upper=np.exp(est + q * se))
        return pd.DataFrame(cols, index=pd.Index(names, name="term"))

    def _weights(self, weights: dict[str, float]) -> np.ndarray:
        L = np.zeros(len(self.design.names))
        for term, w in weights.items():
            if term not in self.design.names:
                raise ParameterError(f"unknown term {term!r}; terms are {self.design.names}")
            L[self.design.col(term)] += w
        return L

    @property
    def effects(self) -> pd.DataFrame:
        if self._effects is None:
            names = list(self.design.names)
            rows = [np.eye(len(names))]
            for w in self._derived().values():
                rows.append(self._weights(w)[None, :])
            self._effects = self._table(names + list(self._derived()), np.vstack(rows), self.level)
        return self._effects

    @property
    def table(self) -> pd.DataFrame:
        """The protocol's estimates table: :attr:`effects`."""
        return self.effects

    def lincom(self, weights: dict[str, float], *, name: str = "lincom", level: float = 0.95) -> pd.DataFrame:
        """Linear combination of coefficients, e.g. the annual trend of monthly data
        ``lincom({"pre_trend": 12})`` (Lopez Bernal 2017 code: ``exp(coef(model)["time"]*12)``)."""
        return self._table([name], self._weights(weights)[None, :], level)

    # ------------------------------------------------------------------ prediction
    def _offset(self) -> np.ndarray:
        if self.exposure is None:
            return np.zeros(len(self.frame))
        return np.log(self.frame["exposure"].to_numpy(float))

    def _mean_and_grad(self, X: np.ndarray, off: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        eta = X @ self.fit.params + off
        if self.link == "log":
            mu = np.exp(eta)
            return mu, mu[:, None] * X
        return eta, X

    def predict(self, counterfactual: bool = False, *, level: float = 0.95) -> pd.DataFrame:
        """Model mean per period, with a Wald interval for the mean (not a prediction interval).

        ``counterfactual=True`` sets the main interruption's level/slope terms to 0 (for a controlled
        ITS, the treated-minus-control differences), keeping the exposure offset, seasonality and any
        further interruptions. Log-link predictions are counts: mean = exposure * exp(x b) (interval
        exp(x b +- q se)). ARIMA fits predict the regression mean x b (the ARMA error term is not
        added). In forecast mode the model has no interruption terms and both calls return the
        projection of the pre-period fit. Excluded rows are predicted too (flagged ``excluded``).
        """
        X = self.design.X_cf if counterfactual else self.design.X
        eta = X @ self.fit.params + self._offset()
        se = np.sqrt(np.einsum("ij,jk,ik->i", X, self.fit.cov, X))
        q = self._crit(level)
        lo, hi = eta - q * se, eta + q * se
        if self.link == "log":
            eta, lo, hi = np.exp(eta), np.exp(lo), np.exp(hi)
        out = self.frame[self._id_cols() + ["observed", "excluded", "post"]].copy()
        if self.exposure is not None:
            out["exposure"] = self.frame["exposure"].to_numpy()
        out["predicted"], out["lower"], out["upper"] = eta, lo, hi
        return out.reset_index(drop=True)

    def _id_cols(self) -> list[str]:
        return ["time"] + (["group", "treated"] if self.group is not None else [])

    def _target_rows(self) -> np.ndarray:
        f = self.frame
        return (f["treated"].to_numpy() if self.group is not None else np.ones(len(f), bool)) & f["post"].to_numpy()

    def _contrast(self, rows: np.ndarray, level: float, total: bool) -> pd.DataFrame:
        """Fitted (or observed in forecast mode) minus counterfactual over ``rows``."""
        off = self._offset()[rows]
        mu_cf, g_cf = self._mean_and_grad(self.design.X_cf[rows], off)
        obs = self.frame["observed"].to_numpy(float)[rows]
        if self.mode == "forecast":
            mu_f, g_f = obs, np.zeros_like(g_cf)
        else:
            mu_f, g_f = self._mean_and_grad(self.design.X[rows], off)
        if total:
            mu_f, mu_cf, obs = mu_f.sum(keepdims=True), mu_cf.sum(keepdims=True), obs.sum(keepdims=True)
            g_f, g_cf = g_f.sum(0, keepdims=True), g_cf.sum(0, keepdims=True)
        V = self.fit.cov
        q = self._crit(level)
        diff = mu_f - mu_cf
        G = g_f - g_cf
        se = np.sqrt(np.einsum("ij,jk,ik->i", G, V, G))
        with np.errstate(divide="ignore", invalid="ignore"):
            # relative effect on the log scale: log(mu_f) - log(mu_cf), gradient g/mu (delta method)
            lr = np.log(mu_f) - np.log(mu_cf)
            Gl = g_f / mu_f[:, None] - g_cf / mu_cf[:, None]
            se_l = np.sqrt(np.einsum("ij,jk,ik->i", Gl, V, Gl))
        return pd.DataFrame({
            "observed": obs, "fitted": mu_f, "counterfactual": mu_cf,
            "difference": diff, "difference_lower": diff - q * se, "difference_upper": diff + q * se,
            "relative": np.exp(lr) - 1, "relative_lower": np.exp(lr - q * se_l) - 1,
            "relative_upper": np.exp(lr + q * se_l) - 1,
        })

    def effect_at(self, horizon: Any, *, level: float = 0.95) -> pd.DataFrame:
        """Effect at ``horizon`` periods after the interruption (0 = the interruption period itself).

        ``horizon`` is an integer number of periods or a time value (date/integer time) of the post
        period. Returns one row per treated series: observed, fitted, counterfactual, difference =
        fitted - counterfactual (counts for log links, using that period's exposure), relative =
        fitted/counterfactual - 1, with delta-method Wald intervals (t(n-k) for OLS-type fits). For a
        log link without further terms relative = exp(level_change + h*slope_change) - 1 exactly.
        In forecast mode ``fitted`` is the observed value and only the counterfactual is uncertain.
        """
        h = self._horizon(horizon)
        rows = self._target_rows() & (self.frame["index"].to_numpy() == self.interruption_index + h)
        if not rows.any():
            raise ParameterError(f"no period at horizon {h} after the interruption in the data "
                                 "(effects are computed where exposure and season are known)")
        out = self._contrast(rows, level, total=False)
        ids = self.frame.loc[rows, self._id_cols()].reset_index(drop=True)
        return pd.concat([ids.assign(horizon=h), out], axis=1)

    def _horizon(self, horizon: Any) -> int:
        if isinstance(horizon, (int, np.integer)) and not isinstance(horizon, bool):
            return int(horizon)  # a number of periods, also on an integer time axis
        return int(self.axis.to_index(horizon)[0] - self.interruption_index)

    def cumulative_effect(self, start: Any = None, end: Any = None, *, level: float = 0.95) -> pd.DataFrame:
        """Sum of fitted - counterfactual over post periods ``start``..``end`` (time values, inclusive;
        default the whole post period), e.g. admissions averted = -difference.

        Excluded periods are left out of the sums (their number is reported in ``n_excluded``).
        ``relative`` = sum(fitted)/sum(counterfactual) - 1 with a delta-method interval on the log
        scale. One row per treated series.
        """
        idx = self.frame["index"].to_numpy()
        lo = self.interruption_index if start is None else max(self.axis.to_index(start)[0], self.interruption_index)
        hi = idx.max() if end is None else self.axis.to_index(end)[0]
        window = self._target_rows() & (idx >= lo) & (idx <= hi)
        keep = window & ~self.frame["excluded"].to_numpy()
        if not keep.any():
            raise ParameterError("no fitted post-interruption period in the requested window")
        parts = []
        units = self.frame["group"].to_numpy() if self.group is not None else np.zeros(len(idx))
        for u in pd.unique(units[keep]):
            r = keep & (units == u)
            part = self._contrast(r, level, total=True)
            part.insert(0, "n_periods", int(r.sum()))
            part.insert(1, "n_excluded", int((window & (units == u) & ~keep).sum()))
            if self.group is not None:
                part.insert(0, "group", u)
            part.insert(0, "end", self.axis.to_time(np.array([hi]))[0])
            part.insert(0, "start", self.axis.to_time(np.array([lo]))[0])
            parts.append(part)
        return pd.concat(parts, ignore_index=True)

    # ------------------------------------------------------------------ diagnostics
    def residuals(self, kind: str | None = None) -> pd.DataFrame:
        """Residuals of the fitted rows: ``response`` (Gaussian default), ``pearson`` or ``deviance``
        (count default, as Lopez Bernal 2017). Prais-Winsten gives the residuals of the transformed
        (whitened) regression; ARIMA the one-step-ahead errors."""
        fitted = ~self.frame["excluded"].to_numpy()
        ids = self.frame.loc[fitted, self._id_cols()].reset_index(drop=True)
        if self.errors == "prais":
            r = np.asarray(self.fit.model.resid)
        elif self.errors == "arima":
            r = np.asarray(self.fit.model.resid)[fitted[: len(self.fit.model.resid)]]
        else:
            y = self.frame["observed"].to_numpy(float)[fitted]
            mu, _ = self._mean_and_grad(self.design.X[fitted], self._offset()[fitted])
            kind = kind or ("response" if self.link == "identity" else "deviance")
            if kind == "response":
                r = y - mu
            elif kind == "pearson":
                r = (y - mu) / np.sqrt(self._variance(mu))
            elif kind == "deviance":
                if self.link == "identity":
                    r = y - mu
                else:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        t = np.where(y > 0, y * np.log(y / mu), 0.0)
                    r = np.sign(y - mu) * np.sqrt(np.maximum(2 * (t - (y - mu)), 0))
            else:
                raise ParameterError(f"kind must be 'response', 'pearson' or 'deviance', not {kind!r}")
        return ids.assign(residual=r)

    def _variance(self, mu: np.ndarray) -> np.ndarray:
        if self.family == "gaussian":
            return np.full_like(mu, self.dispersion)
        if self.family == "negbin":
            return mu + self.dispersion * mu**2
        return mu

    def diagnostics(self, lags: int | None = None) -> pd.DataFrame:
        """Durbin-Watson, Ljung-Box (at ``lags``, default min(12, n/4)) and, for count
        families, the Pearson dispersion X^2/(n-p) with its chi-square test of phi = 1
        (methods reference §6.3, §6.5). One block per series for a controlled ITS."""
        from statsmodels.stats.diagnostic import acorr_ljungbox
        from statsmodels.stats.stattools import durbin_watson

        res = self.residuals()
        units = res["group"] if "group" in res else pd.Series(0, index=res.index)
        rows = []
        for u, r in res.groupby(units, sort=False)["residual"]:
            r = r.to_numpy(float)
            L = int(lags or max(1, min(12, len(r) // 4)))
            lb = acorr_ljungbox(r, lags=[L], return_df=True)
            unit = u if self.group is not None else "all"
            rows.append((unit, "durbin_watson", float(durbin_watson(r)), np.nan, np.nan))
            rows.append((unit, "ljung_box", float(lb["lb_stat"].iloc[0]), float(lb["lb_pvalue"].iloc[0]), L))
        if self.link == "log":
            x2 = self.pearson_dispersion * self.df_resid
            rows.append(("all", "pearson_dispersion", self.pearson_dispersion,
                         float(stats.chi2.sf(x2, self.df_resid)), self.df_resid))
        return pd.DataFrame(rows, columns=["series", "test", "statistic", "p_value", "df_or_lags"])

    def plot_acf(self, lags: int = 24, ax: Any = None) -> Any:
        """ACF and PACF of the residuals (first series for a controlled ITS)."""
        import matplotlib.pyplot as plt
        from statsmodels.graphics.tsaplots import plot_acf, plot_pacf

        res = self.residuals()
        if "group" in res:
            res = res[res["group"] == res["group"].iloc[0]]
        r = res["residual"].to_numpy(float)
        lags = min(lags, len(r) // 2 - 1)
        if ax is None:
            fig, ax = plt.subplots(1, 2, figsize=(10, 3.2))
        plot_acf(r, lags=lags, ax=ax[0])
        plot_pacf(r, lags=lags, ax=ax[1], method="ywm")
        return ax[0].figure

    # ------------------------------------------------------------------ display
    def plot(self, ax: Any = None, *, language: str = DEFAULT_LANGUAGE, rate_per: float | None = None,
             level: float = 0.95) -> Any:
        """Observed (hollow markers for excluded periods, which are also shaded), fitted line,
        counterfactual (dashed) with its interval band over the post period, interruptions marked.
        With an exposure the y axis is the rate per ``rate_per`` (default 100 000)."""
        import matplotlib.pyplot as plt

        lab = _LABELS.get(language, _LABELS["en"])
        if ax is None:
            _, ax = plt.subplots(figsize=(9, 4))
        fit = self.predict(level=level)
        cf = self.predict(counterfactual=True, level=level)
        scale = np.ones(len(fit))
        if self.exposure is not None:
            rate_per = rate_per or 100_000
            scale = rate_per / fit["exposure"].to_numpy(float)
        units = fit["group"] if self.group is not None else pd.Series(0, index=fit.index)
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for i, u in enumerate(pd.unique(units)):
            m = (units == u).to_numpy()
            f, c, s = fit[m], cf[m], scale[m]
            col = colours[i % len(colours)]
            name = "" if self.group is None else f" ({u}, {lab['treated'] if f['treated'].iloc[0] else lab['control']})"
            exc = f["excluded"].to_numpy()
            ax.plot(f["time"][~exc], f["observed"][~exc] * s[~exc], "o", ms=3.5, color=col,
                    label=lab["observed"] + name)
            if exc.any():
                ax.plot(f["time"][exc], f["observed"][exc] * s[exc], "o", ms=3.5, mfc="none", color=col)
            ax.plot(f["time"], f["predicted"] * s, "-", color=col, lw=1.6, label=lab["fitted"] + name)
            post = c["post"].to_numpy()
            if self.group is None or f["treated"].iloc[0]:
                ax.plot(c["time"][post], c["predicted"][post] * s[post], "--", color=col,
                        label=lab["counterfactual"] + name)
                ax.fill_between(c["time"][post], c["lower"][post] * s[post], c["upper"][post] * s[post],
                                color=col, alpha=0.15, lw=0)
        t_int = self.axis.to_time(np.array([self.interruption_index]))[0]
        ax.axvline(t_int, color="0.3", lw=1, label=lab["interruption"])
        for _, at in self.extra_interruptions:
            ax.axvline(self.axis.to_time(np.array([at]))[0], color="0.5", lw=1, ls=":")
        exc_idx = np.unique(self.frame.loc[self.frame["excluded"], "index"].to_numpy())
        for a, b in _runs(exc_idx):
            t0, t1 = self.axis.to_time(np.array([a, b + 1]))
            ax.axvspan(t0, t1, color="0.85", alpha=0.5, lw=0,
                       label=lab["excluded"] if a == exc_idx[0] else None)
        ax.set_xlabel(lab["time"])
        per = f"{int(rate_per or 1):,}".replace(",", " " if language == "sv" else ",")
        ax.set_ylabel(lab["rate"].format(per=per) if self.exposure is not None else lab["value"])
        ax.legend(fontsize=8, frameon=False)
        return ax.figure

    def summary(self, language: str = DEFAULT_LANGUAGE) -> str:
        """Plain-text summary: model, estimand, inference settings and the effects table."""
        w = _SUMMARY[check_language(language)]
        fam = w["family_names"][self.family]
        cov = {"nonrobust": w["model_based"], "robust": w["hc1"],
               "hac": w["hac"].format(lags=self.hac_lags)}[self.cov_type]
        inference = "t(" + format(self.df_resid, "g") + ")" if self.fit.use_t else "z (Wald)"
        lines = [
            w["title"].format(outcome=self.outcome)
            + (w["offset"].format(exposure=self.exposure) if self.exposure else ""),
            w["model"].format(fam=fam, link=self.link, errors=self.errors, cov=cov, inference=inference),
            w["estimand"].format(what=w[self.mode]),
            w["interruption"].format(at=self.interruption, n=self.n_obs,
                                     excluded=int(self.frame["excluded"].sum()),
                                     dispersion=self.dispersion),
        ]
        if self.fit.extra_params:
            lines.append("; ".join(f"{k} = {v:.4g}" for k, v in self.fit.extra_params.items()))
        with pd.option_context("display.width", 160, "display.max_columns", 20):
            lines.append(self.effects.to_string(float_format=lambda v: f"{v:.4f}"))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = self.summary().split("\n")[:4]
        return "<p>" + "<br>".join(head) + "</p>" + self.effects.to_html(float_format=lambda v: f"{v:.4f}")

    def __repr__(self) -> str:
        return f"<ITSResult {self.family} {self.mode} n={self.n_obs} terms={len(self.design.names)}>"


def _runs(values: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive runs [a, b] in a sorted integer array."""
    if len(values) == 0:
        return []
    breaks = np.flatnonzero(np.diff(values) != 1)
    starts = np.r_[values[0], values[breaks + 1]]
    ends = np.r_[values[breaks], values[-1]]
    return list(zip(starts.tolist(), ends.tolist(), strict=True))
