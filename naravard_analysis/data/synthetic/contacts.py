"""Outpatient contacts: primary care (with provider choice), specialist, emergency, municipal.

Provider choice in primary care (the mechanism behind continuity):

* a physician contact of a person whose named doctor is in post goes to that doctor with
  probability ``named_doctor_visit_share`` (a true effect, ``meta["truth"]``);
* otherwise, with probability 0.35 (physicians) or 0.45 (other professions), the person sees
  their *usual* clinician: the one at a fixed person-specific position in the unit's current staff
  list -- which changes when staff turn over, so turnover lowers continuity;
* otherwise a clinician of that profession in post at the unit that month, at random.

Emergency-department contacts (``care_level='emergency'``, physician, physical, unplanned) are the
ED visits without admission plus 80 % of unplanned admissions (the ED visit on the admission day).
Municipal contacts are home-care nurse visits in special housing and mobile-team visits
(``unit_id`` = the team). Exact duplicate rows (same person, day, provider, unit, mode ...) are
removed, as a register extract would hold them once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from naravard_analysis.data.synthetic.calendar import MonthGrid
from naravard_analysis.data.synthetic.rng import stream
from naravard_analysis.data.synthetic.staff import PROFESSIONS, Roster
from naravard_analysis.data.synthetic.strings import labelled

__all__ = ["contacts_table", "CARE_LEVELS", "MODES"]

CARE_LEVELS = ("primary", "specialist", "emergency", "municipal")
MODES = ("physical", "video", "phone")
_PREFIX = ("L", "S", "F", "A", "O")  # läkare, sjuksköterska, fysioterapeut, arbetsterapeut, other


def _person_position(pid: np.ndarray) -> np.ndarray:
    """A fixed pseudo-random number in [0, 1) per person (Knuth multiplicative hash)."""
    return ((pid.astype(np.uint64) * np.uint64(2654435761)) % np.uint64(2**32)).astype(np.float64) / 2**32


def contacts_table(
    seed: int,
    sim: dict,
    stays_act: pd.DataFrame,
    unit_of: np.ndarray,
    named: dict,
    units: pd.DataFrame,
    clinicians: pd.DataFrame,
    muni_codes: np.ndarray,
    persons_muni: np.ndarray,
    hospital_ids: list[str],
    hospital_of_person: np.ndarray,
    grid: MonthGrid,
    effects: dict,
) -> tuple[pd.DataFrame, int]:
    """Canonical contacts and the number of exact duplicates removed."""
    r = stream(seed, "contacts")
    roster = Roster(clinicians, len(units), grid)
    # ---- primary care
    pid = sim["c_pid"]
    day = sim["c_day"]
    prof = sim["c_prof"].astype(np.int64)
    mode = sim["c_mode"].astype(np.int64)
    unit = unit_of[pid].astype(np.int64)
    month = grid.month_of_day(day)
    n = len(pid)
    u1, u2, u3 = r.random(n), r.random(n), r.random(n)
    pref = np.where(prof == 0, 0.35, 0.45)
    pos = np.where(u2 < pref, _person_position(pid), u3)
    prov = roster.pick(unit, prof, month, pos)
    if effects["named_doctor_visit_share"] > 0:
        st, en, doc = named["start"][:, pid], named["end"][:, pid], named["doctor"][:, pid]
        inside = (st <= day) & (day < en)
        nd_doc = np.where(inside.any(0), np.max(np.where(inside, doc, -1), axis=0), -1)
        use = (prof == 0) & (nd_doc >= 0) & (u1 < effects["named_doctor_visit_share"])
        prov = np.where(use, nd_doc, prov)
    # Integer codes for providers and units (strings are built once per label, not per row).
    n_cl = len(clinicians)
    n_h = len(hospital_ids)
    n_mu = len(muni_codes)
    cl_prof = clinicians["prof"].to_numpy()
    prov_labels = [f"{_PREFIX[p]}{c:06d}" for c, p in zip(clinicians["clinician"], cl_prof, strict=True)]
    off_sp = len(prov_labels)
    prov_labels += [f"SP{h + 1:02d}{k:03d}" for h in range(n_h) for k in range(40)]
    off_ak = len(prov_labels)
    prov_labels += [f"AK{h + 1:02d}{k:03d}" for h in range(n_h) for k in range(25)]
    off_mu = len(prov_labels)
    prov_labels += [f"{pre}{m}{k:02d}" for m in muni_codes for pre in ("KN", "MT") for k in range(10)]
    unit_labels = list(units["unit_id"])
    u_sp = len(unit_labels)
    unit_labels += [f"{h}-MOTT" for h in hospital_ids]
    u_ak = len(unit_labels)
    unit_labels += [f"{h}-AKM" for h in hospital_ids]
    u_mu = len(unit_labels)
    unit_labels += [f"{pre}{m}" for m in muni_codes for pre in ("HSV", "MT")]
    del n_cl
    prim = {
        "pid": pid, "day": day, "prov": prov, "prof": prof, "unit": unit,
        "level": np.zeros(n, np.int8), "mode": mode,
        "planned": np.where(r.random(n) < 0.6, 1, 0).astype(np.int8),
    }
    # ---- specialist (hospital outpatient clinics, 40 clinicians per hospital, no turnover)
    spid = sim["s_pid"]
    ns = len(spid)
    sh = hospital_of_person[spid]
    sk = np.floor(r.random(ns) * 40).astype(np.int64)
    spec = {
        "pid": spid, "day": sim["s_day"], "prov": off_sp + sh * 40 + sk,
        "prof": np.where(r.random(ns) < 0.85, 0, 1), "unit": u_sp + sh,
        "level": np.full(ns, 1, np.int8), "mode": np.where(r.random(ns) < 0.1, 2, 0),
        "planned": np.ones(ns, np.int8),
    }
    # ---- emergency department: ED-only visits + ED visits on the day of unplanned admissions
    e_only = sim["e_act"]
    adm_ed = stays_act["ed"].to_numpy()
    e_pid = np.concatenate([sim["e_pid"][e_only], stays_act["pid"].to_numpy()[adm_ed]])
    e_day = np.concatenate([sim["e_day"][e_only], stays_act["adm"].to_numpy()[adm_ed]])
    e_h = np.concatenate([hospital_of_person[sim["e_pid"][e_only]],
                          stays_act["hospital"].to_numpy()[adm_ed]])
    ne = len(e_pid)
    ek = np.floor(r.random(ne) * 25).astype(np.int64)
    emer = {
        "pid": e_pid, "day": e_day, "prov": off_ak + e_h * 25 + ek,
        "prof": np.zeros(ne, np.int64), "unit": u_ak + e_h, "level": np.full(ne, 2, np.int8),
        "mode": np.zeros(ne, np.int64), "planned": np.zeros(ne, np.int8),
    }
    # ---- municipal: special-housing nurse (kind 0) or mobile team (kind 1)
    mpid = sim["m_pid"]
    nm = len(mpid)
    kind = sim["m_kind"].astype(np.int64)
    mm = persons_muni[mpid].astype(np.int64)
    mk = np.floor(r.random(nm) * np.where(kind == 1, 6, 10)).astype(np.int64)
    mun = {
        "pid": mpid, "day": sim["m_day"], "prov": off_mu + (mm * 2 + kind) * 10 + mk,
        "prof": np.where((kind == 1) & (r.random(nm) < 0.3), 0, 1), "unit": u_mu + mm * 2 + kind,
        "level": np.full(nm, 3, np.int8), "mode": np.zeros(nm, np.int64),
        "planned": np.ones(nm, np.int8),
    }
    del n_mu
    parts = [prim, spec, emer, mun]
    c = {k: np.concatenate([np.asarray(p[k]).astype(np.int64) for p in parts]) for k in prim}
    # two packed int64 keys instead of eight sort keys (prov < 2**22, unit < 2**16)
    k1 = c["pid"] * (1 << 20) + (c["day"] - c["day"].min())
    k2 = ((((c["level"] * (1 << 22) + c["prov"]) * (1 << 16) + c["unit"]) * 4 + c["mode"]) * 8
          + c["prof"]) * 2 + c["planned"]
    order = np.lexsort((k2, k1))
    c = {k: v[order] for k, v in c.items()}
    same = np.ones(len(order), bool)
    for v in c.values():
        same &= np.r_[False, v[1:] == v[:-1]]
    n_dup = int(same.sum())
    c = {k: v[~same] for k, v in c.items()}
    out = pd.DataFrame({
        "person_id": c["pid"] + 1,
        "contact_date": c["day"].astype("datetime64[D]").astype("datetime64[ns]"),
        "provider_id": labelled(c["prov"], prov_labels),
        "profession": labelled(c["prof"], PROFESSIONS),
        "unit_id": labelled(c["unit"], unit_labels),
        "care_level": labelled(c["level"], CARE_LEVELS),
        "mode": labelled(c["mode"], MODES),
        "planned": pd.array(c["planned"].astype(bool), dtype="boolean"),
    })
    return out, n_dup
