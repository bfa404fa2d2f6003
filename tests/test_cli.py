"""Tests of naravard_analysis.cli: ``naravard synth`` (presets, scenarios, effects).

The other sub-commands are tested with the modules they drive (tests/report/test_pipeline.py,
test_batch.py, test_acro.py, test_reproduce.py).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from naravard_analysis.cli import build_parser, main
from naravard_analysis.data import RegisterData
from naravard_analysis.data.synthetic.presets import DEFAULT_EFFECTS, PRESETS
from naravard_analysis.data.synthetic.scenarios import SCENARIOS, resolve_scenario, scenario_effects


def _synth_action(option: str) -> argparse.Action:
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return next(a for a in commands.choices["synth"]._actions if option in a.option_strings)


@pytest.mark.parametrize(("scenario", "effects", "make_world_effects"), [
    ("teams_targeted", "known", None),          # known = make_world(effects=None): the scenario's
    ("named_doctor_random", "none", "none"),
])
def test_synth_builds_a_coverage_scenario_world(tmp_path, capsys, scenario, effects, make_world_effects):
    out = tmp_path / "world"
    code = main(["synth", "--preset", "coverage", "--n-persons", "1500", "--seed", "2",
                 "--scenario", scenario, "--effects", effects, "--out", str(out)])
    assert code == 0
    world = RegisterData.from_dir(out)
    truth = world.meta["truth"]
    assert truth["scenario"]["name"] == scenario
    assert world.meta["preset"] == "coverage" and world.meta["scenario"] == scenario
    # the effects the world was built with are the scenario's, not the preset's defaults
    assert truth["effects"] == scenario_effects(resolve_scenario(scenario), make_world_effects)
    if scenario == "teams_targeted":  # known effect on ED visits without admission 0.70, not 0.80
        assert truth["effects"]["mobile_team_ed_rr"] == 0.70 != DEFAULT_EFFECTS["mobile_team_ed_rr"]
        assert truth["scenario"]["true_rate_ratio"]["ed_visits_without_admission"] == 0.70
    printed = capsys.readouterr().out
    which = "known effect" if effects == "known" else "no effect"
    assert f"Scenario {scenario} ({which}): {SCENARIOS[scenario]['description']}." in printed
    assert f"Written to {out}" in printed


def test_synth_national_with_a_scenario_is_one_clear_error(tmp_path, capsys):
    out = tmp_path / "national"
    code = main(["synth", "--preset", "national", "--partitions", "2", "--scenario",
                 "teams_targeted", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("naravard synth: error: --scenario teams_targeted does not apply to "
                          "--preset national")
    assert err.count("\n") == 1 and not out.exists()  # one line, nothing built


def test_synth_unknown_scenario_is_an_argparse_error_listing_the_registry(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["synth", "--scenario", "teams", "--out", "x"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "argument --scenario: invalid choice: 'teams'" in err
    assert all(repr(name) in err for name in SCENARIOS)


def test_synth_choices_are_the_registries_and_help_describes_each(capsys):
    assert list(_synth_action("--preset").choices) == list(PRESETS)
    assert list(_synth_action("--scenario").choices) == list(SCENARIOS)
    assert "coverage" in _synth_action("--preset").choices
    with pytest.raises(SystemExit):
        main(["synth", "--help"])
    help_text = capsys.readouterr().out
    # the epilog describes every preset and scenario on a line of its own (kept in step by hand)
    for name in [*PRESETS, *SCENARIOS]:
        assert f"\n  {name} " in help_text, name


def test_building_the_parser_does_not_import_the_synthetic_world():
    # `naravard --help` answers at once: the registries are read only when synth needs them
    probe = ("import sys; from naravard_analysis.cli import build_parser; build_parser(); "
             "print(sorted(m for m in sys.modules if m.startswith(('naravard_analysis.data', 'numpy'))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
