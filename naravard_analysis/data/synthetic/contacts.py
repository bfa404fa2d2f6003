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
        # only physician contacts that would go to the named doctor need the period lookup
        cand = np.flatnonzero((prof == 0) & (u1 < effects["named_doctor_visit_share"]))
        cp, cd = pid[cand], day[cand]
        st, en, doc = named["start"][:, cp], named["end"][:, cp], named["doctor"][:, cp]
        inside = (st <= cd) & (cd < en)
        nd_doc = np.where(inside.any(0), np.max(np.where(inside, doc, -1), axis=0), -1)
        use = nd_doc >= 0
        prov[cand[use]] = nd_doc[use]
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
    parts = [prim, spec, emer, mun]
    # Unit and care level are functions of the provider code (each provider belongs to one
    # unit; the code ranges are ordered by care level), so the sort order of the rows by
    # (person, day, level, provider, unit, mode, profession, planned) -- the order the register
    # extract is written in -- equals the order of one packed int64 key without level and unit,
    # and rows with equal keys are exact duplicates. Sorting that key alone and decoding the
    # columns from it is several times faster than a multi-key lexsort plus gathers.
    unit_of_prov = np.concatenate([
        clinicians["unit"].to_numpy(),
        u_sp + np.repeat(np.arange(n_h), 40), u_ak + np.repeat(np.arange(n_h), 25),
        u_mu + np.repeat(np.arange(2 * n_mu), 10)]).astype(np.int64)
    level_of_prov = np.repeat(np.arange(4, dtype=np.int64),
                              [off_sp, off_ak - off_sp, off_mu - off_ak, len(prov_labels) - off_mu])
    d_min = min((int(p["day"].min()) for p in parts if len(p["day"])), default=0)
    d_max = max((int(p["day"].max()) for p in parts if len(p["day"])), default=0)
    b_day = max(1, (d_max - d_min).bit_length())
    b_prov = max(1, (len(prov_labels) - 1).bit_length())
    b_pid = max(1, int(max((int(p["pid"].max()) for p in parts if len(p["pid"])), default=0)).bit_length())
    packable = b_pid + b_day + b_prov + 6 <= 63 and all(
        len(p["prov"]) == 0 or (int(np.min(p["prov"])) >= 0
                                and np.array_equal(unit_of_prov[p["prov"]], p["unit"])
                                and np.array_equal(level_of_prov[p["prov"]], p["level"]))
        for p in parts)
    if packable:
        key = np.concatenate([
            (((((np.asarray(p["pid"], np.int64) << b_day) | (np.asarray(p["day"], np.int64) - d_min))
               << b_prov | np.asarray(p["prov"], np.int64)) << 2 | np.asarray(p["mode"], np.int64))
             << 3 | np.asarray(p["prof"], np.int64)) << 1 | np.asarray(p["planned"], np.int64)
            for p in parts])
        key.sort()
        first = np.r_[True, key[1:] != key[:-1]]
        n_dup = int(len(key) - first.sum())
        key = key[first]
        prov_c = (key >> 6) & ((1 << b_prov) - 1)
        c = {
            "pid": key >> (6 + b_prov + b_day),
            "day": ((key >> (6 + b_prov)) & ((1 << b_day) - 1)) + d_min,
            "prov": prov_c, "unit": unit_of_prov[prov_c], "level": level_of_prov[prov_c],
            "mode": (key >> 4) & 3, "prof": (key >> 1) & 7, "planned": key & 1,
        }
        del key, first
    else:  # general path (never taken by the presets): eight-column lexsort
        c = {k: np.concatenate([np.asarray(p[k]).astype(np.int64) for p in parts]) for k in prim}
        order = np.lexsort(tuple(c[k] for k in
                                 ("planned", "prof", "mode", "unit", "prov", "level", "day", "pid")))
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
