"""Diagnoses of the synthetic world: chronic conditions and causes of admission, as ICD-10-SE codes.

Codes are dotless, upper case (methods reference §2.3). Chronic-condition prevalence follows a logistic
curve in age, ``p(age) = p_max / (1 + exp(-(age - a50) / scale))``; the parameters are design
choices tuned to give Swedish-looking orders of magnitude (e.g. hypertension in about 40-50 % of
people 70+, heart failure in about 10 % of people 80+), **not** calibrated estimates.
The avoidable chronic groups follow methods reference §3.1 (Socialstyrelsen, marked unverified there):
the main diagnoses chosen for them fall inside that list, except ``E119`` (diabetes without
complication), which deliberately falls outside it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CONDITIONS", "CAUSES", "PLANNED", "cause_table", "condition_arrays"]

#: name -> (p_max, a50, scale, code used as an other diagnosis)
CONDITIONS: dict[str, tuple[float, float, float, str]] = {
    "hypertension": (0.60, 68.0, 9.0, "I10"),
    "diabetes": (0.17, 62.0, 9.0, "E119"),
    "ihd": (0.20, 76.0, 8.0, "I259"),
    "heart_failure": (0.22, 86.0, 6.5, "I509"),
    "af": (0.22, 82.0, 7.0, "I489"),
    "copd": (0.11, 72.0, 8.0, "J449"),
    "asthma": (0.08, 10.0, 8.0, "J459"),
    "dementia": (0.25, 90.0, 5.0, "F039"),
    "ckd": (0.15, 82.0, 7.0, "N183"),
    "cancer": (0.10, 72.0, 8.0, "C189"),
}

#: Unplanned causes of admission: name -> (base weight, condition that multiplies it, multiplier,
#: winter amplitude, codes, code weights, avoidable chronic?, department, mean length of stay).
CAUSES: dict[str, dict] = {
    "heart_failure": dict(w=0.005, cond="heart_failure", mult=30.0, winter=0.25,
                          codes=["I509", "I500", "I110", "J81"], p=[0.5, 0.3, 0.15, 0.05],
                          avoidable=True, dept="101", los=6.0),
    "copd": dict(w=0.005, cond="copd", mult=25.0, winter=0.45,
                 codes=["J441", "J440", "J449"], p=[0.6, 0.3, 0.1],
                 avoidable=True, dept="101", los=5.5),
    "asthma": dict(w=0.010, cond="asthma", mult=6.0, winter=0.30,
                   codes=["J459", "J46"], p=[0.8, 0.2], avoidable=True, dept="101", los=3.0),
    "diabetes": dict(w=0.002, cond="diabetes", mult=14.0, winter=0.0,
                     codes=["E116", "E111", "E105", "E114", "E119"], p=[0.3, 0.25, 0.15, 0.15, 0.15],
                     avoidable=True, dept="101", los=5.0),
    "angina": dict(w=0.010, cond="ihd", mult=10.0, winter=0.10,
                   codes=["I209", "I200", "I249"], p=[0.6, 0.3, 0.1],
                   avoidable=True, dept="101", los=3.0),
    "hypertension": dict(w=0.003, cond="hypertension", mult=4.0, winter=0.0,
                         codes=["I10"], p=[1.0], avoidable=True, dept="101", los=2.5),
    "pneumonia": dict(w=0.060, cond="copd", mult=3.0, winter=0.60,
                      codes=["J189", "J159", "J181", "J13"], p=[0.6, 0.2, 0.1, 0.1],
                      avoidable=False, dept="101", los=6.0),
    "uti": dict(w=0.040, cond="dementia", mult=2.5, winter=0.05,
                codes=["N390", "N10"], p=[0.6, 0.4], avoidable=False, dept="101", los=4.5),
    "hip_fracture": dict(w=0.030, cond="dementia", mult=2.5, winter=0.20,
                         codes=["S720", "S721"], p=[0.6, 0.4], avoidable=False, dept="311", los=9.0),
    "stroke": dict(w=0.040, cond="af", mult=2.5, winter=0.05,
                   codes=["I639", "I619"], p=[0.85, 0.15], avoidable=False, dept="101", los=8.0),
    "ami": dict(w=0.030, cond="ihd", mult=3.0, winter=0.10,
                codes=["I214", "I219"], p=[0.6, 0.4], avoidable=False, dept="101", los=4.5),
    "gastro": dict(w=0.030, cond=None, mult=1.0, winter=0.20,
                   codes=["K529", "E86", "K922", "K590"], p=[0.3, 0.3, 0.2, 0.2],
                   avoidable=False, dept="101", los=3.5),
    "sepsis": dict(w=0.020, cond="ckd", mult=2.0, winter=0.15,
                   codes=["A419", "N179"], p=[0.6, 0.4], avoidable=False, dept="101", los=7.0),
    "cancer": dict(w=0.010, cond="cancer", mult=12.0, winter=0.0,
                   codes=["C189", "C349", "C509", "C61"], p=[0.3, 0.3, 0.2, 0.2],
                   avoidable=False, dept="101", los=7.0),
    "other": dict(w=0.300, cond=None, mult=1.0, winter=0.05,
                  codes=["R074", "R060", "R55", "R529", "M545", "S060", "F050", "I489", "K802",
                         "K358"],
                  p=[0.16, 0.12, 0.1, 0.1, 0.1, 0.1, 0.08, 0.1, 0.08, 0.06],
                  avoidable=False, dept="301", los=3.0),
    "covid": dict(w=0.0, cond=None, mult=1.0, winter=0.0, codes=["U071"], p=[1.0],
                  avoidable=False, dept="101", los=8.0),
}

#: Planned (elective) admissions: main diagnosis, weight, department, mean LOS, procedure (KVÅ-style,
#: illustrative only -- the project does not verify KVÅ codes).
PLANNED: dict[str, dict] = {
    "hip_arthroplasty": dict(codes=["M161", "M169"], p=[0.7, 0.3], w=0.20, dept="311", los=3.0,
                             proc="NFB49"),
    "knee_arthroplasty": dict(codes=["M171", "M179"], p=[0.7, 0.3], w=0.15, dept="311", los=2.5,
                              proc="NGB49"),
    "cancer_care": dict(codes=["C189", "C509", "C61", "C349", "Z511"], p=[0.25, 0.25, 0.2, 0.2, 0.1],
                        w=0.30, dept="741", los=4.0, proc=""),
    "cardiac": dict(codes=["I251", "I350", "I480"], p=[0.5, 0.25, 0.25], w=0.15, dept="131",
                    los=2.0, proc="FNG05"),
    "surgery": dict(codes=["K802", "K409", "N40", "K570"], p=[0.35, 0.25, 0.25, 0.15], w=0.20,
                    dept="301", los=2.0, proc=""),
}


def condition_arrays() -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Names, p_max, a50, scale and other-diagnosis code of the chronic conditions, as arrays."""
    names = list(CONDITIONS)
    pmax = np.array([CONDITIONS[c][0] for c in names])
    a50 = np.array([CONDITIONS[c][1] for c in names])
    scale = np.array([CONDITIONS[c][2] for c in names])
    codes = [CONDITIONS[c][3] for c in names]
    return names, pmax, a50, scale, codes


#: Causes the mobile team cannot plausibly change: hip fractures (ICD-10 S72), the negative-control
#: outcome of the evaluations (Lipsitch, Tchetgen Tchetgen & Cohen, *Epidemiology* 2010;21:383).
#: The team's effect on unplanned admissions leaves them out.
TEAM_UNAFFECTED = ("hip_fracture",)


def cause_table() -> dict[str, np.ndarray | list]:
    """The unplanned causes as parallel arrays (index = cause number)."""
    names = list(CAUSES)
    cond_names = list(CONDITIONS)
    cond_idx = np.array([cond_names.index(CAUSES[c]["cond"]) if CAUSES[c]["cond"] else -1
                         for c in names])
    return {
        "names": names,
        "w": np.array([CAUSES[c]["w"] for c in names]),
        "cond": cond_idx,
        "mult": np.array([CAUSES[c]["mult"] for c in names]),
        "winter": np.array([CAUSES[c]["winter"] for c in names]),
        "avoidable": np.array([CAUSES[c]["avoidable"] for c in names]),
        "los": np.array([CAUSES[c]["los"] for c in names]),
        "dept": [CAUSES[c]["dept"] for c in names],
        "team_unaffected": np.array([c in TEAM_UNAFFECTED for c in names]),
    }
