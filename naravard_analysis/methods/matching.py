"""Risk-set matching with pseudo-index dates (methods reference §7.2), vectorised by calendar month.

For every calendar month in which someone was enrolled, the persons who could have been enrolled
then but were not form the *risk set*: resident and alive on the first of the month, not (yet)
enrolled, and -- by default -- living in a municipality whose team had not started before the end
of the follow-up window ("a non-team area or period", §7.2), so that a control cannot be enrolled
while being followed. Cases and risk-set members are described on the first of the month by the
same covariates, measured in the same look-back windows:

* age, sex;
* unplanned admissions and ED visits in the last 1, 3, 6 and 12 months (the utilisation
  trajectory: a recent spike regresses more than an old one, §7.1);
* bed days in months 1-6 and 7-12 before;
* days since the last unplanned admission or ED visit (capped at 365).

Matching (design choice, following Roland 2005 and Gravelle 2007 as summarised in §7.2):

1. **Exact/coarsened strata**: age band (<65, 65-79, 80+) × unplanned admissions in the last 6
   months (0, 1, 2, 3+) × ED visits in the last 6 months (0, 1-2, 3-4, 5+) (the enrolment triggers
   of the Swedish teams count exactly these) × acute events in the last month (0, 1, 2+: how
   recent the spike is decides how much of it is still to come after the index date). Calendar month is exact by construction (one risk
   set per month).
2. **Propensity score**: logistic regression (scikit-learn) of case status on all covariates, fitted
   once on the stacked case and risk-set rows of all months that share a stratum with a case.
3. **Nearest neighbours** within stratum on the standardised covariates plus the logit score
   (Mahalanobis-type matching within propensity calipers, Rubin & Thomas 2000 **(unverified
   citation details)**; scikit-learn ``NearestNeighbors`` on ``(stratum × 10^4, logit score / SD,
   covariates / SD)``, so a neighbour in another stratum is never chosen), a caliper on the logit
   score (``caliper_sd`` standard deviations; 0.2 is the usual choice, Austin, Pharm Stat
   2011;10:150 **(unverified citation details)**; :func:`evaluate_enrolments` uses 1.0), up to ``controls_per_case`` controls per case. The recent-use covariates carry
   most weight in practice: a spike last month regresses more than one five months ago. A
   control must also be alive, resident and not enrolled on the case's index date, which becomes
   its pseudo-index date.

Matching is **with replacement** across cases (a person may serve several cases, in the same or
other months, and may later be a case); the outcome model clusters on the person, which accounts
for the reuse. Every case that gets no control is counted with its reason (§7.2: "report the number
of treated patients without a match").

The only Python loop is over calendar months; within a month every step works on whole arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from naravard_analysis.core.results import ResultDisplay
from naravard_analysis.methods.person_time import EventIndex, PersonFrame

__all__ = ["COVARIATES", "MatchResult", "match_controls", "month_start", "standardised_differences"]

_YEAR = 365.25
_MONTH = 30.4375
#: Matching covariates measured on the first day of the (pseudo-)index month.
COVARIATES = [
    "age", "male",
    "adm_1m", "adm_3m", "adm_6m", "adm_12m",
    "ed_1m", "ed_3m", "ed_6m", "ed_12m",
    "bed_days_1_6m", "bed_days_7_12m", "days_since_acute",
]
_STRATA_AGE = np.array([65.0, 80.0])  # <65, 65-79, 80+
_STRATA_ED = np.array([1.0, 3.0, 5.0])  # 0, 1-2, 3-4, 5+
_BOUNDS = (365, 182, 91, 30)  # look-back boundaries in days: 12, 6, 3, 1 months
REASONS = {
    "matched": "matched with the requested number of controls",
    "matched_fewer": "matched with fewer controls than requested",
    "short_history": "less than the look-back period of data (or residence) before enrolment",
    "no_risk_set": "nobody in the risk set shares the case's stratum",
    "no_control_in_caliper": "risk set in the stratum, but no control within the caliper alive and "
                             "not enrolled on the index date",
}


def month_start(day: np.ndarray) -> np.ndarray:
    """First day of the calendar month of each int day (days since 1970)."""
    m = np.asarray(day, dtype="datetime64[D]").astype("datetime64[M]")
    return m.astype("datetime64[D]").astype(np.int64)


def _covariates(code: np.ndarray, at: int, pf: PersonFrame, male: np.ndarray,
                adm: EventIndex, ed: EventIndex, bd: EventIndex) -> np.ndarray:
    """Covariate matrix (rows = ``code``, columns = :data:`COVARIATES`) on day ``at``."""
    n = code.size
    out = np.empty((n, len(COVARIATES)))
    out[:, 0] = (at - pf.birth[code]) / _YEAR
    out[:, 1] = male[code]
    for j0, ix in ((2, adm), (6, ed)):
        # four windows ending at `at`: one search per boundary, sums by differences
        base = code.astype(np.int64)
        cum = {b: ix.sum(base, np.full(n, at - b), np.full(n, at)) for b in _BOUNDS}
        out[:, j0] = cum[30]
        out[:, j0 + 1] = cum[91]
        out[:, j0 + 2] = cum[182]
        out[:, j0 + 3] = cum[365]
    six = bd.sum(code, np.full(n, at - 182), np.full(n, at))
    out[:, 10] = six
    out[:, 11] = bd.sum(code, np.full(n, at - 365), np.full(n, at)) - six
    at_v = np.full(n, at, np.int64)
    out[:, 12] = np.minimum(adm.days_since_last(code, at_v, 365), ed.days_since_last(code, at_v, 365))
    return out


def _strata(x: np.ndarray) -> np.ndarray:
    band = np.searchsorted(_STRATA_AGE, x[:, 0], side="right")
    a6 = np.minimum(x[:, 4], 3).astype(np.int64)
    e6 = np.searchsorted(_STRATA_ED, x[:, 8], side="right")
    recent = np.minimum(x[:, 2] + x[:, 6], 2).astype(np.int64)
    return band * 1000 + recent * 100 + a6 * 10 + e6


def standardised_differences(x_t: np.ndarray, x_c: np.ndarray, w_c: np.ndarray | None = None,
                             sd_pooled: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Standardised mean differences ``(mean_t - mean_c) / sqrt((var_t + var_c) / 2)``.

    As R's cobalt (``s.d.denom = "pooled"``), the denominator comes from the *unmatched* samples
    and is passed unchanged to the after-matching comparison (``sd_pooled``), so that before and
    after differences are on the same scale. Returns ``(smd, sd_pooled)``.
    """
    w_c = np.ones(len(x_c)) if w_c is None else w_c
    mt = x_t.mean(0)
    mc = np.average(x_c, axis=0, weights=w_c)
    if sd_pooled is None:
        vc = np.average((x_c - mc) ** 2, axis=0, weights=w_c)
        sd_pooled = np.sqrt((x_t.var(0, ddof=1) + vc) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        smd = np.where(sd_pooled > 0, (mt - mc) / sd_pooled, 0.0)
    return smd, sd_pooled


@dataclass(repr=False)
class MatchResult(ResultDisplay):
    """Output of :func:`match_controls` (the package's result protocol).

    Attributes
    ----------
    pairs
        One row per matched set member: ``set_id``, ``code`` (person code), ``treated`` (bool),
        ``index_day`` (int days; the case's enrolment day, the control's pseudo-index day),
        ``weight`` (1 for cases, 1 / number of controls of the set for controls).
    cases
        One row per case: ``code``, ``index_day``, ``reason`` (a key of :data:`REASONS`),
        ``n_controls``.
    report
        Cases by reason: ``n_cases``, ``share``, ``description``.
    balance
        Standardised mean differences by covariate: ``before`` (cases vs the whole risk set),
        ``after`` (cases vs their weighted matched controls), plus the three means.
    caliper
        The caliper used, in logit-score units.
    table
        ``balance`` (a matching estimates no effect; its table is the covariate balance).
    settings
        ``controls_per_case``, ``caliper_sd``, ``caliper``, ``history_days``, ``horizon_days``,
        ``seed``.
    """

    pairs: pd.DataFrame
    cases: pd.DataFrame
    report: pd.DataFrame
    balance: pd.DataFrame
    caliper: float
    settings: dict = field(default_factory=dict)

    _TITLE = {"en": "Risk-set matching: covariate balance (standardised mean differences)",
              "sv": "Matchning i riskmängden: balans (standardiserade medelvärdesskillnader)"}

    @property
    def table(self) -> pd.DataFrame:
        return self.balance

    def __repr__(self) -> str:
        return f"<MatchResult cases={len(self.cases)} pairs={len(self.pairs)} caliper={self.caliper:.3g}>"

    def _repr_html_(self) -> str:
        return "<p>Matched sets by reason</p>" + self.report.to_html()


def match_controls(
    case_code: np.ndarray,
    case_day: np.ndarray,
    pf: PersonFrame,
    *,
    male: np.ndarray,
    adm: EventIndex,
    ed: EventIndex,
    bed: EventIndex,
    enrol_day: np.ndarray,
    area_ok_until: np.ndarray | None,
    horizon_days: int,
    controls_per_case: int = 5,
    caliper_sd: float = 0.2,
    history_days: int = 365,
    seed: int = 0,
    covariates: list[str] | tuple[str, ...] | None = None,
) -> MatchResult:
    """Match each case to up to ``controls_per_case`` risk-set controls (module docstring).

    Parameters
    ----------
    case_code, case_day
        Person codes and enrolment days (int days) of the cases, one row per case.
    pf
        Person codes and residence (:func:`~naravard_analysis.methods.person_time.person_frame`).
    male
        1 for men, 0 otherwise, by person code.
    adm, ed, bed
        Event indexes of unplanned admissions, ED visits and bed days.
    enrol_day
        First enrolment day of each person (a large number when never enrolled); a control must
        not be enrolled on or before the index date.
    area_ok_until
        Per person, the first day on which their municipality had a team (large when never), or
        ``None`` to allow controls from any area. A person is in the risk set of a month only if
        ``area_ok_until >= month end + horizon_days``.
    horizon_days
        Length of the follow-up window.
    controls_per_case, caliper_sd, history_days, seed
        Number of controls, caliper in SDs of the logit score, look-back required before the
        index month, seed of the tie-breaking jitter.
    covariates
        Names (from :data:`COVARIATES`) entering the propensity score; ``None`` = all.
    """
    rng = np.random.default_rng(seed)
    n_case = case_code.size
    c_month = month_start(case_day)
    lo_period = pf.period[0]
    reason = np.full(n_case, "", dtype=object)
    short = (c_month - history_days < lo_period) | (pf.entry[case_code] > c_month - history_days)
    reason[short] = "short_history"

    # ---- pass 1: covariates of cases and risk sets, month by month
    rows_code, rows_month, rows_case, rows_x, rows_case_pos = [], [], [], [], []
    before_sum = np.zeros(len(COVARIATES))
    before_sq = np.zeros(len(COVARIATES))
    before_n = 0
    case_x = np.full((n_case, len(COVARIATES)), np.nan)
    months = np.unique(c_month[~short])
    all_codes = np.arange(len(pf.ids), dtype=np.int64)
    for m0 in months:
        m1 = int(month_start(np.array([m0 + 40]))[0])
        in_m = np.flatnonzero((c_month == m0) & ~short)
        cc = case_code[in_m]
        xc = _covariates(cc, int(m0), pf, male, adm, ed, bed)
        case_x[in_m] = xc
        # only the age bands of this month's cases can match (a prefilter; strata are exact)
        band_floor = np.concatenate([[-np.inf], _STRATA_AGE])[
            np.searchsorted(_STRATA_AGE, xc[:, 0], side="right").min()]
        ages = (m0 - pf.birth) / _YEAR
        pool = (pf.entry <= m0 - history_days) & (pf.exit > m0) & (enrol_day > m0)
        pool &= ages >= band_floor
        if area_ok_until is not None:
            pool &= area_ok_until >= m1 + horizon_days
        pc = all_codes[pool]
        xp = _covariates(pc, int(m0), pf, male, adm, ed, bed)
        before_sum += xp.sum(0)
        before_sq += (xp ** 2).sum(0)
        before_n += len(pc)
        keep = np.isin(_strata(xp), _strata(xc))
        rows_code += [cc, pc[keep]]
        rows_month += [np.full(len(cc), m0), np.full(int(keep.sum()), m0)]
        rows_case += [np.ones(len(cc), bool), np.zeros(int(keep.sum()), bool)]
        rows_x += [xc, xp[keep]]
        rows_case_pos += [in_m, np.full(int(keep.sum()), -1)]

    cols = ["set_id", "code", "treated", "index_day", "weight"]
    used = {"caliper_sd": caliper_sd, "history_days": history_days, "horizon_days": horizon_days,
            "seed": seed}
    if not rows_code:
        res = _finish(case_code, case_day, reason, np.zeros(n_case, int), pd.DataFrame(columns=cols),
                      case_x, None, None, controls_per_case, np.nan)
        res.settings.update(used)
        return res
    code = np.concatenate(rows_code)
    month = np.concatenate(rows_month)
    is_case = np.concatenate(rows_case)
    x = np.concatenate(rows_x)
    case_pos = np.concatenate(rows_case_pos)
    stratum = _strata(x)

    # ---- propensity score on the stacked rows (one model for all months)
    if is_case.all() or not (~is_case).any():
        lps = np.zeros(len(code))
    else:
        use = [COVARIATES.index(c) for c in (covariates or COVARIATES)]
        z = StandardScaler().fit_transform(x[:, use])
        model = LogisticRegression(C=1.0, max_iter=2000)
        model.fit(z, is_case)
        lps = model.decision_function(z)
    sd = float(np.std(lps)) if len(lps) > 1 else 0.0
    caliper = caliper_sd * sd if sd > 0 else np.inf
    jitter = rng.uniform(-1e-9, 1e-9, len(lps))  # random tie-breaking among identical controls
    lps_j = lps + jitter * max(sd, 1.0)

    # ---- pass 2: nearest neighbours within stratum, month by month. Distance: Mahalanobis-type
    # (standardised covariates, the recency of use above all) plus the logit score, within exact
    # strata (the stratum coordinate puts other strata far away) and a caliper on the score.
    scale = x.std(0)
    scale[scale == 0] = 1.0
    feat = np.column_stack([stratum * 1e4, lps_j / max(sd, 1e-12), x / scale])
    k = int(controls_per_case)
    n_ctrl = np.zeros(n_case, np.int64)
    set_rows = []
    order = np.argsort(month, kind="stable")
    bounds = np.flatnonzero(np.diff(month[order])) + 1
    for grp in np.split(order, bounds):
        cases_g = grp[is_case[grp]]
        pool_g = grp[~is_case[grp]]
        if len(cases_g) == 0:
            continue
        has_stratum = np.isin(stratum[cases_g], stratum[pool_g])
        reason[case_pos[cases_g[~has_stratum]]] = "no_risk_set"
        cases_g = cases_g[has_stratum]
        if len(cases_g) == 0:
            continue
        feat_p = feat[pool_g]
        feat_c = feat[cases_g]
        q = min(len(pool_g), 3 * k + 10)
        nn = NearestNeighbors(n_neighbors=q, algorithm="kd_tree").fit(feat_p)
        _, nb = nn.kneighbors(feat_c)
        ctrl = pool_g[nb]
        cpos = case_pos[cases_g]
        cday = case_day[cpos][:, None]
        ccode = code[ctrl]
        ok = (np.abs(lps[ctrl] - lps[cases_g][:, None]) <= caliper)
        ok &= stratum[ctrl] == stratum[cases_g][:, None]
        ok &= (pf.exit[ccode] > cday) & (enrol_day[ccode] > cday) & (ccode != case_code[cpos][:, None])
        ok &= np.cumsum(ok, axis=1) <= k  # the first k valid neighbours (nearest first)
        n_ok = ok.sum(1)
        n_ctrl[cpos] = n_ok
        r, c = np.nonzero(ok)
        set_rows.append(pd.DataFrame({
            "set_id": np.concatenate([cpos[n_ok > 0], cpos[r]]),
            "code": np.concatenate([case_code[cpos[n_ok > 0]], ccode[r, c]]),
            "treated": np.concatenate([np.ones(int((n_ok > 0).sum()), bool), np.zeros(r.size, bool)]),
            "index_day": np.concatenate([case_day[cpos[n_ok > 0]], case_day[cpos[r]]]),
            "weight": np.concatenate([np.ones(int((n_ok > 0).sum())), 1.0 / n_ok[r]]),
            "_row": np.concatenate([cases_g[n_ok > 0], ctrl[r, c]]),
        }))
    pairs = (pd.concat(set_rows, ignore_index=True) if set_rows
             else pd.DataFrame(columns=[*cols, "_row"]))
    before = (before_sum, before_sq, before_n)
    res = _finish(case_code, case_day, reason, n_ctrl, pairs, case_x, x, before, k, caliper)
    res.settings.update(used)
    return res


def _finish(case_code, case_day, reason, n_ctrl, pairs, case_x, x, before, k, caliper) -> MatchResult:
    undecided = reason == ""
    reason[undecided & (n_ctrl >= k)] = "matched"
    reason[undecided & (n_ctrl > 0) & (n_ctrl < k)] = "matched_fewer"
    reason[undecided & (n_ctrl == 0)] = "no_control_in_caliper"
    cases = pd.DataFrame({"code": case_code, "index_day": case_day,
                          "reason": pd.Categorical(reason, categories=list(REASONS)),
                          "n_controls": n_ctrl})
    counts = cases["reason"].value_counts().reindex(list(REASONS), fill_value=0)
    report = pd.DataFrame({"n_cases": counts.astype("int64"),
                           "share": counts / max(len(cases), 1),
                           "description": [REASONS[r] for r in REASONS]})
    report.index.name = "reason"
    # ---- balance
    balance = pd.DataFrame(index=pd.Index(COVARIATES, name="covariate"),
                           columns=["mean_cases", "mean_risk_set", "mean_matched_controls",
                                    "smd_before", "smd_after"], dtype=float)
    eligible = ~np.isnan(case_x[:, 0])
    if eligible.any() and before is not None and before[2] > 0:
        s, sq, n = before
        xt = case_x[eligible]
        mc = s / n
        vc = sq / n - mc**2
        sd_pooled = np.sqrt((xt.var(0, ddof=1 if len(xt) > 1 else 0) + np.maximum(vc, 0)) / 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            balance["smd_before"] = np.where(sd_pooled > 0, (xt.mean(0) - mc) / sd_pooled, 0.0)
        balance["mean_cases"] = xt.mean(0)
        balance["mean_risk_set"] = mc
        if len(pairs):
            t = pairs["treated"].to_numpy(bool)
            rows = pairs["_row"].to_numpy()
            smd, _ = standardised_differences(x[rows[t]], x[rows[~t]], pairs["weight"].to_numpy()[~t],
                                              sd_pooled=sd_pooled)
            balance["smd_after"] = smd
            balance["mean_matched_controls"] = np.average(x[rows[~t]], axis=0,
                                                          weights=pairs["weight"].to_numpy()[~t])
    if "_row" in pairs:
        pairs = pairs.drop(columns="_row")
    return MatchResult(pairs=pairs, cases=cases, report=report, balance=balance, caliper=float(caliper),
                       settings={"controls_per_case": k, "caliper": float(caliper)})
