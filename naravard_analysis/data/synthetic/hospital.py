"""Inpatient stays (slutenvård) from the simulated events: diagnoses, lengths of stay, transfers,
same-day returns, readmissions, deaths in hospital, and the ED visits that precede admissions.

Rules (design choices; levels tuned so that the 65+ all-cause unplanned readmission share lands
in the band documented in ``data/README.md``):

* Length of stay: ``floor(L)`` days with ``L`` log-normal (sd 0.7) around the cause's mean, longer
  with age; ``L < 1`` gives a same-day stay (discharge date = admission date). A stay that starts
  while the person is enrolled in a mobile team has ``L`` multiplied by ``mobile_team_los_rr``.
* Transfers: 4 % of unplanned stays end with ``discharge_to='hospital'`` and continue at another
  hospital on the same (60 %) or next day (UTSATT 1 / INSATT 1; methods reference §2.2, 2.4).
* Same-day returns: 1.5 % of stays discharged home are followed by an unplanned admission on the
  discharge day.
* Readmissions: after an unplanned stay discharged alive, an unplanned readmission follows with
  probability ``0.10 * exp(0.5 a_i)`` at 65+ (× 1.3 after heart failure, COPD or pneumonia; 0.05
  below 65), after ``1 + Exp(mean 9)`` days; a readmission can itself be followed by one.
  Together with the independent monthly admissions this gives the 30-day level.
* Deaths in hospital: a terminal stay ends on the death day; for a person enrolled in a mobile
  team it is thinned like any unplanned admission (death at home instead).
* Stays that would start inside an earlier stay are dropped (one person is in one bed at a time);
  stays not yet discharged at the end of the period are not in the register and are dropped.
* ``admitted_from``/``discharge_to`` are made consistent after that: 'hospital' only where a
  transfer partner exists; 'special_housing' for residents of särskilt boende; 'died' on the death
  day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from naravard_analysis.data.synthetic.calendar import MonthGrid
from naravard_analysis.data.synthetic.codes import CAUSES, PLANNED, cause_table, condition_arrays
from naravard_analysis.data.synthetic.rng import stream

__all__ = ["build_stays", "finalise_stays", "admissions_table"]

YEAR = 365.25
BIG = np.iinfo(np.int64).max // 4


def _codes_for(u: np.ndarray, groups: np.ndarray, table: dict, names: list[str]) -> np.ndarray:
    """Main diagnosis code for each row from its group's code distribution (``u`` uniform)."""
    out = np.empty(len(groups), dtype=object)
    for g, name in enumerate(names):
        m = groups == g
        if not m.any():
            continue
        codes = np.array(table[name]["codes"], dtype=object)
        cum = np.cumsum(table[name]["p"])
        out[m] = codes[np.minimum(np.searchsorted(cum / cum[-1], u[m], side="right"), len(codes) - 1)]
    return out


def build_stays(seed: int, persons: dict, sim: dict, grid: MonthGrid, effects: dict,
                hospital_of_person: np.ndarray, n_hosp: int) -> pd.DataFrame:
    """All candidate stays with their effect flags (before overlap resolution).

    Columns: pid, adm, los_latent, cause (unplanned cause index or -1), ptype (planned type or -1),
    planned, kind ('index', 'transfer', 'sameday', 'readmit', 'terminal', 'planned'), hospital,
    act, cf_mt, cf_nd, enr, parent (row of the stay it follows, -1).
    """
    rng = stream(seed, "hospital")
    ct = cause_table()
    mt_u, los_rr = effects["mobile_team_unplanned_rr"], effects["mobile_team_los_rr"]
    m_u = max(1.0, mt_u) * max(1.0, effects["named_doctor_avoidable_rr"])
    birth = persons["birth_day"]
    a = sim["a"]
    es, ee = sim["enrol_start"], sim["enrol_end"]

    def latent_los(mean: np.ndarray, age: np.ndarray, r: np.random.Generator) -> np.ndarray:
        z = r.normal(0, 0.7, len(mean))
        return mean * (1 + 0.01 * np.clip(age - 65, -40, 35)) * np.exp(z - 0.245)

    # index unplanned stays
    pid = sim["u_pid"]
    adm = sim["u_day"]
    cause = sim["u_cause"]
    age = (adm - birth[pid]) / YEAR
    frames = [pd.DataFrame({
        "pid": pid, "adm": adm, "los_latent": latent_los(ct["los"][cause], age, rng),
        "cause": cause, "ptype": -1, "planned": False, "kind": 0,
        "hospital": hospital_of_person[pid], "act": sim["u_act"], "cf_mt": sim["u_cfmt"],
        "cf_nd": sim["u_cfnd"], "enr": sim["u_enr"],
    })]
    # chains: transfers, same-day returns, readmissions (two generations)
    parents = frames[0]
    for gen in range(2):
        n = len(parents)
        r = stream(seed, "hospital", 1 + gen)
        u_tr, u_sd, u_rd, u_del, u_cause, u_thin, u_nd = (r.random(n) for _ in range(7))
        los = np.floor(parents["los_latent"].to_numpy() * np.where(parents["enr"], los_rr, 1.0))
        dis = parents["adm"].to_numpy() + los.astype(np.int64)
        p_pid = parents["pid"].to_numpy()
        p_age = (dis - birth[p_pid]) / YEAR
        p_cause = parents["cause"].to_numpy()
        flags = parents[["act", "cf_mt", "cf_nd"]].to_numpy()
        new = []
        if gen == 0:
            tr = u_tr < 0.04
            day = dis[tr] + (u_del[tr] < 0.4)
            new.append(pd.DataFrame({
                "pid": p_pid[tr], "adm": day,
                "los_latent": latent_los(0.6 * ct["los"][p_cause[tr]], p_age[tr], r),
                "cause": p_cause[tr], "ptype": -1, "planned": False, "kind": 1,
                "hospital": (parents["hospital"].to_numpy()[tr] + 1) % n_hosp,
                "act": flags[tr, 0], "cf_mt": flags[tr, 1], "cf_nd": flags[tr, 2],
                "enr": parents["enr"].to_numpy()[tr],
            }))
            sd = ~tr & (u_sd < 0.015)
            new.append(pd.DataFrame({
                "pid": p_pid[sd], "adm": dis[sd],
                "los_latent": latent_los(0.5 * ct["los"][p_cause[sd]], p_age[sd], r),
                "cause": p_cause[sd], "ptype": -1, "planned": False, "kind": 2,
                "hospital": parents["hospital"].to_numpy()[sd],
                "act": flags[sd, 0], "cf_mt": flags[sd, 1], "cf_nd": flags[sd, 2],
                "enr": parents["enr"].to_numpy()[sd],
            }))
        else:
            tr = np.zeros(n, bool)
        hi_risk = np.isin(p_cause, [ct["names"].index(c) for c in ("heart_failure", "copd", "pneumonia")])
        p_r = np.where(p_age >= 65, 0.10 * np.exp(0.5 * a[p_pid]) * np.where(hi_risk, 1.3, 1.0), 0.05)
        rd = ~tr & (u_rd < np.minimum(p_r, 0.6))
        delay = 1 + np.floor(-np.log(1 - u_del[rd]) * 9.0).astype(np.int64)
        day = dis[rd] + delay
        same = u_cause[rd] < 0.5
        w = ct["w"] / ct["w"].sum()
        other = np.searchsorted(np.cumsum(w), r.random(int(rd.sum())), side="right")
        rc = np.where(same, p_cause[rd], np.minimum(other, len(w) - 1))
        rpid = p_pid[rd]
        enr = (es[rpid] <= day) & (day < ee[rpid])
        r_mt = np.where(enr & ~ct["team_unaffected"][rc], mt_u, 1.0)  # hip fractures: none
        thin = u_thin[rd]
        new.append(pd.DataFrame({
            "pid": rpid, "adm": day,
            "los_latent": latent_los(ct["los"][rc], p_age[rd], r),
            "cause": rc, "ptype": -1, "planned": False, "kind": 3,
            "hospital": parents["hospital"].to_numpy()[rd],
            "act": flags[rd, 0] & (thin < r_mt / m_u), "cf_mt": flags[rd, 1] & (thin < 1 / m_u),
            "cf_nd": flags[rd, 2] & (thin < r_mt / m_u), "enr": enr,
        }))
        frames.extend(new)
        parents = new[-1]
    # planned stays
    r = stream(seed, "hospital", 5)
    ppid = sim["p_pid"]
    ptype = sim["p_type"]
    pnames = list(PLANNED)
    pl_los = np.array([PLANNED[k]["los"] for k in pnames])
    los_lat = latent_los(pl_los[ptype], (sim["p_day"] - birth[ppid]) / YEAR, r)
    los_lat[r.random(len(ppid)) < 0.2] = 0.5  # day surgery / short treatment: same-day stay
    frames.append(pd.DataFrame({
        "pid": ppid, "adm": sim["p_day"], "los_latent": los_lat, "cause": -1, "ptype": ptype,
        "planned": True, "kind": 5, "hospital": hospital_of_person[ppid],
        "act": True, "cf_mt": True, "cf_nd": True, "enr": False,
    }))
    # terminal stays: admitted LOS days before death
    tpid = sim["t_pid"]
    tlos = np.floor(r.exponential(6.0, len(tpid))).astype(np.int64)
    frames.append(pd.DataFrame({
        "pid": tpid, "adm": sim["t_day"] - tlos, "los_latent": tlos + 0.5,
        "cause": sim["t_cause"], "ptype": -1, "planned": False, "kind": 4,
        "hospital": hospital_of_person[tpid], "act": sim["t_act"], "cf_mt": sim["t_cf"],
        "cf_nd": sim["t_act"], "enr": False,
    }))
    stays = pd.concat(frames, ignore_index=True)
    los = np.floor(stays["los_latent"].to_numpy() * np.where(stays["enr"], los_rr, 1.0))
    stays["los"] = np.where(stays["kind"] == 4, np.floor(stays["los_latent"]), los).astype(np.int64)
    stays["los_cf"] = np.floor(stays["los_latent"]).astype(np.int64)
    # ED visit before admission (unplanned, not transfers): 80 %
    stays["ed"] = (~stays["planned"]) & (stays["kind"] != 1) & (r.random(len(stays)) < 0.8)
    stays["u_code"] = r.random(len(stays))
    stays["u_j20"] = r.random(len(stays))
    stays["row"] = np.arange(len(stays))
    return stays


def finalise_stays(stays: pd.DataFrame, mask: np.ndarray, los_col: str, exit_day: np.ndarray,
                   exit_kind: np.ndarray, grid: MonthGrid) -> pd.DataFrame:
    """Stays of one world (``mask``): clipped at exit, overlaps removed, sorted.

    Returns columns pid, adm, dis, kind, cause, ptype, planned, hospital, ed, row, died.
    """
    s = stays.loc[mask, ["pid", "adm", los_col, "kind", "cause", "ptype", "planned", "hospital",
                         "ed", "row", "u_code", "u_j20"]].rename(columns={los_col: "los"})
    pid = s["pid"].to_numpy()
    adm = s["adm"].to_numpy()
    dis = adm + s["los"].to_numpy()
    xd = exit_day[pid]
    keep = (adm <= xd) & (adm >= grid.start_day)
    died = (exit_kind[pid] == 1) & (dis >= xd)
    dis = np.minimum(dis, xd)
    keep &= dis <= grid.end_day
    s = s.assign(dis=dis, died=died)[keep]
    # terminal stays sort last on the same day so that they survive only when nothing overlaps
    s = s.sort_values(["pid", "adm", "dis", "row"], kind="stable", ignore_index=True)
    p = s["pid"].to_numpy()
    a_ = s["adm"].to_numpy()
    d_ = s["dis"].to_numpy()
    # Drop every stay that starts before the latest discharge among the person's earlier stays
    # (one pass; may drop a little more than strictly needed, never leaves an overlap).
    same = np.r_[False, p[1:] == p[:-1]]
    grp = np.cumsum(~same).astype(np.float64)
    off = grp * 1e7
    cm = np.maximum.accumulate(d_ + off) - off
    prev = np.r_[-1.0, cm[:-1]]
    keep = ~(same & (a_ < prev))
    # two stays of one person admitted on the same day: keep the first only
    keep &= ~(same & (a_ == np.r_[-1, a_[:-1]]))
    s = s[keep].reset_index(drop=True)
    # a transfer continuation whose sending stay was dropped is dropped too
    p, a_, d_ = s["pid"].to_numpy(), s["adm"].to_numpy(), s["dis"].to_numpy()
    prev_ok = np.r_[False, (p[1:] == p[:-1]) & (a_[1:] - d_[:-1] <= 1)]
    orphan = (s["kind"].to_numpy() == 1) & ~prev_ok
    return s[~orphan].reset_index(drop=True)


def admissions_table(s: pd.DataFrame, persons: dict, sim: dict, hospital_ids: list[str],
                     grid: MonthGrid) -> pd.DataFrame:
    """Canonical admissions from finalised stays."""
    ct = cause_table()
    pnames = list(PLANNED)
    n = len(s)
    pid = s["pid"].to_numpy()
    cause = s["cause"].to_numpy()
    ptype = s["ptype"].to_numpy()
    planned = s["planned"].to_numpy()
    main = np.empty(n, dtype=object)
    u = ~planned
    # uniforms drawn per candidate stay, so the same stay has the same code in every world
    u_code = s["u_code"].to_numpy()
    main[u] = _codes_for(u_code[u], cause[u], CAUSES, ct["names"])
    main[~u] = _codes_for(u_code[~u], ptype[~u], PLANNED, pnames)
    dept = np.empty(n, dtype=object)
    dept[u] = np.array(ct["dept"], dtype=object)[cause[u]]
    dept[~u] = np.array([PLANNED[k]["dept"] for k in pnames], dtype=object)[ptype[~u]]
    proc = np.full(n, "", dtype=object)
    proc[~u] = np.array([PLANNED[k]["proc"] for k in pnames], dtype=object)[ptype[~u]]
    # other diagnoses: chronic conditions present at admission (bitmask -> precomputed string)
    cnames, _, _, _, ccodes = condition_arrays()
    month = grid.month_of_day(s["adm"].to_numpy())
    present = sim["onset"][pid] <= month[:, None]
    bits = (present * (1 << np.arange(len(cnames)))).sum(1)
    code_bit = {c: 1 << i for i, c in enumerate(ccodes)}
    main_bit = np.array([code_bit.get(c, 0) for c in main], dtype=np.int64) if n else np.zeros(0, np.int64)
    bits = bits & ~main_bit
    lookup = np.array([" ".join(ccodes[i] for i in range(len(ccodes)) if m >> i & 1)
                       for m in range(1 << len(ccodes))], dtype=object)
    other = lookup[bits]
    # J20 (acute bronchitis) as main with COPD as other diagnosis: methods reference §3.1 J20 rule
    copd_c = ct["names"].index("copd")
    j20 = (cause == copd_c) & (s["u_j20"].to_numpy() < 0.1)
    main[j20] = "J209"
    # admission route and discharge destination
    kind = s["kind"].to_numpy()
    adm = s["adm"].to_numpy()
    dis = s["dis"].to_numpy()
    same = np.r_[pid[1:] == pid[:-1], False]
    gap_next = np.r_[adm[1:] - dis[:-1], 10**6]
    nxt_kind = np.r_[kind[1:], -1]
    transfer_out = same & (gap_next <= 1) & (nxt_kind == 1)
    prev_same = np.r_[False, pid[1:] == pid[:-1]]
    transfer_in = (kind == 1) & prev_same & np.r_[False, transfer_out[:-1]]
    sh_day = sim["sh_day"][pid]
    admitted_from = np.where(transfer_in, "hospital", np.where(sh_day <= adm, "special_housing", "home"))
    discharge_to = np.where(
        s["died"].to_numpy(), "died",
        np.where(transfer_out, "hospital", np.where(sh_day <= dis, "special_housing", "home")))
    hosp = np.array(hospital_ids, dtype=object)[s["hospital"].to_numpy()]
    return pd.DataFrame({
        "person_id": pid.astype(np.int64) + 1,
        "admission_date": adm.astype("datetime64[D]").astype("datetime64[ns]"),
        "discharge_date": dis.astype("datetime64[D]").astype("datetime64[ns]"),
        "main_diagnosis": main.astype(str),
        "other_diagnoses": other.astype(str),
        "procedures": proc.astype(str),
        "planned": planned.astype(bool),
        "hospital_id": hosp.astype(str),
        "department": dept.astype(str),
        "admitted_from": admitted_from,
        "discharge_to": discharge_to,
    })
