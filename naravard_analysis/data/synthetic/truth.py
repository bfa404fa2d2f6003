"""The oracle: true effects measured on the simulated persons themselves.

Because effects act by thinning coupled candidate events (:mod:`.simulate`), every enrolled
person's counterfactual history without the mobile team is known exactly. For the enrolled, in the
``window`` days from enrolment (and in the same window before it), the oracle counts

* ``unplanned_admissions`` -- unplanned stays not arriving by transfer (``admitted_from`` not
  'hospital');
* ``ed_visits`` -- emergency-department contacts;
* ``bed_days`` -- discharge date minus admission date summed over the unplanned stays (transfer
  continuations included) admitted in the window,

in the actual world and in the counterfactual one, and reports their ratio: the sample average
treatment effect on the treated as a rate ratio (person-time is identical in both worlds, since
the effect does not change deaths or moving). ``naive_change`` is the before/after change among
the enrolled in the actual world, ``post / pre - 1``: what a pre-post evaluation reports.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["mobile_team_oracle"]


def _window_counts(pid: np.ndarray, day: np.ndarray, value: np.ndarray, start: np.ndarray,
                   lo: int, hi: int, n: int) -> float:
    """Sum of ``value`` over events with ``start[pid] + lo <= day < start[pid] + hi``."""
    rel = day - start[pid]
    m = (rel >= lo) & (rel < hi)
    return float(value[m].sum())


def mobile_team_oracle(enrolled: np.ndarray, enrol_start: np.ndarray, stays_act: pd.DataFrame,
                       stays_cf: pd.DataFrame, ed_act: tuple, ed_cf: tuple, P: int,
                       window: int = 182) -> dict:
    """Counts and ratios for the enrolled persons (see module docstring)."""
    big = np.iinfo(np.int64).max // 4
    start = np.full(P, big // 2, np.int64)
    start[enrolled] = enrol_start[enrolled]
    res: dict[str, dict] = {}

    def parts(s: pd.DataFrame, transfers: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        u = ~s["planned"].to_numpy()
        if not transfers:
            u &= s["kind"].to_numpy() != 1
            return s["pid"].to_numpy()[u], s["adm"].to_numpy()[u], np.ones(int(u.sum()))
        return (s["pid"].to_numpy()[u], s["adm"].to_numpy()[u],
                (s["dis"] - s["adm"]).to_numpy()[u].astype(float))

    for name, (p1, d1, v1), (p0, d0, v0) in (
        ("unplanned_admissions", parts(stays_act, False), parts(stays_cf, False)),
        ("bed_days", parts(stays_act, True), parts(stays_cf, True)),
        ("ed_visits", (ed_act[0], ed_act[1], np.ones(len(ed_act[0]))),
         (ed_cf[0], ed_cf[1], np.ones(len(ed_cf[0])))),
    ):
        post_a = _window_counts(p1, d1, v1, start, 0, window, P)
        post_c = _window_counts(p0, d0, v0, start, 0, window, P)
        pre_a = _window_counts(p1, d1, v1, start, -window, 0, P)
        res[name] = {
            "observed_post": post_a,
            "counterfactual_post": post_c,
            "oracle_rate_ratio": post_a / post_c if post_c > 0 else None,
            "observed_pre": pre_a,
            "naive_change": post_a / pre_a - 1 if pre_a > 0 else None,
        }
    return res


def team_rate_ratios(rr: float, ed_rr: float, los_rr: float, enrolled: np.ndarray, enrol_start: np.ndarray,
                     stays_cf: pd.DataFrame, ed_only_cf: tuple, P: int, window: int = 182) -> dict:
    """Expected rate ratios of the enrolled when the team effect spares the negative control.

    The team multiplies unplanned admissions by ``rr`` except hip fractures
    (:data:`~.codes.TEAM_UNAFFECTED`), ED visits without admission by ``ed_rr`` and lengths of stay by
    ``los_rr``, so on all unplanned admissions the ratio is ``rr + (1 - rr) s`` with ``s`` the hip
    fractures' share of the enrolled persons' counterfactual admissions (not transferred in) in
    the ``window`` days after enrolment; bed days ``los_rr (rr + (1 - rr) s_bed)`` with ``s_bed`` their
    share of counterfactual bed days; all ED visits the mix of ED visits without admission
    (``ed_rr``) and ED visits with an admission (as the admissions). The shares come from the
    counterfactual (untreated) stays, so they are expected values given the world, not a realised
    ratio of thinned events.
    """
    from naravard_analysis.data.synthetic.codes import cause_table

    off = cause_table()["team_unaffected"]
    big = np.iinfo(np.int64).max // 4
    start = np.full(P, big // 2, np.int64)
    start[enrolled] = enrol_start[enrolled]
    s = stays_cf.loc[~stays_cf["planned"].to_numpy(bool)]
    pid, adm = s["pid"].to_numpy(), s["adm"].to_numpy()
    rel = adm - start[pid]
    inw = (rel >= 0) & (rel < window)
    cause = s["cause"].to_numpy()
    hip = (cause >= 0) & off[np.maximum(cause, 0)]
    not_tr = s["kind"].to_numpy() != 1
    bed = (s["dis"] - s["adm"]).to_numpy().astype(float)
    n_adm = float((inw & not_tr).sum())
    share = float((inw & not_tr & hip).sum()) / n_adm if n_adm else 0.0
    b_all = float(bed[inw].sum())
    share_bed = float(bed[inw & hip].sum()) / b_all if b_all else 0.0
    r_adm = rr + (1 - rr) * share
    ed_adm = s["ed"].to_numpy(bool) & inw
    n_ed_hip, n_ed_other = float((ed_adm & hip).sum()), float((ed_adm & ~hip).sum())
    e_rel = ed_only_cf[1] - start[ed_only_cf[0]]
    n_only = float(((e_rel >= 0) & (e_rel < window)).sum())
    n_ed = n_only + n_ed_hip + n_ed_other
    r_ed = (ed_rr * n_only + rr * n_ed_other + n_ed_hip) / n_ed if n_ed else ed_rr
    return {"unplanned_admissions": r_adm, "ed_visits": r_ed, "ed_visits_without_admission": ed_rr,
            "bed_days": los_rr * (rr + (1 - rr) * share_bed),
            "hip_fracture_share": share, "hip_fracture_bed_share": share_bed}
