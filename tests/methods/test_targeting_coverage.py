"""Coverage of the default evaluation designs in the targeted roll-out scenarios (slow).

Runs ``benchmarks/bench_targeting.py``'s study for the package's default designs
(``evaluate_enrolments`` for mobile teams, ``listing_effect`` for named doctors): 100 synthetic
worlds per cell (scenario × no effect / known effect, :mod:`naravard_analysis.data.synthetic.scenarios`),
two processes. Acceptance (issue 13): 95 % intervals cover the true rate ratio in 90–98 % of
the worlds and the mean log bias is at most 0.03 in absolute value. Hours on two shared cores.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from bench_targeting import CELLS, coverage_study, summarise  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize("cell", CELLS, ids=[f"{s}-{e}" for s, e in CELLS])
def test_default_design_covers_the_truth(cell: tuple[str, str]) -> None:
    rows = coverage_study(100, cells=[cell], designs=["default"], workers=2)
    s = summarise(rows).iloc[0]
    assert s["worlds"] == 100 and s["failed"] == 0, s
    assert 0.90 <= s["coverage"] <= 0.98, s
    assert abs(s["mean_log_bias"]) <= 0.03, s


def test_summary_of_a_known_table() -> None:
    """The summary's arithmetic on a hand-made table (fast; guards the slow study's numbers)."""
    import numpy as np
    import pandas as pd

    rows = pd.DataFrame({
        "scenario": "teams_targeted", "effect": "known", "design": "default", "default_is": "x",
        "truth": 0.7, "estimate": [0.7, 0.7 * np.e ** 0.1, np.nan],
        "lower": [0.6, 0.8, np.nan], "upper": [0.8, 0.9, np.nan],
    })
    s = summarise(rows).iloc[0]
    assert s["worlds"] == 2 and s["failed"] == 1
    assert s["coverage"] == 0.5
    assert abs(s["mean_log_bias"] - 0.05) < 1e-12
    assert not s["accepted"]
