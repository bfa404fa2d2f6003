"""help(naravard_analysis.<layer>) lists the layer's public functions (issue 19, point 12)."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

import naravard_analysis
import naravard_analysis.indicators

# The entry points a new user looks for first, by layer.
ENTRY_POINTS = {
    "indicators": ["kontinuitetsindex", "continuity_indices", "fast_lakarkontakt_share", "flag_avoidable",
                   "avoidable_rates", "flag_readmissions", "readmission_rates", "risk_adjusted_readmission",
                   "readmission_cumulative_incidence", "with_person_attributes", "ed_visit_rates"],
    "methods": ["monthly_series", "fit_its", "evaluate_enrolments", "listing_effect", "staggered_did",
                "synth_did", "match_controls"],
    "report": ["suppress", "plot_funnel", "plot_cumulative_incidence", "save_figure", "write_tables",
               "check_outputs", "run_notebook", "RegionalReport"],
    "data": ["RegisterData", "read_table"],
    "core": ["defaults", "dates", "intervals"],
}  # fmt: skip


@pytest.mark.parametrize("layer", sorted(ENTRY_POINTS))
def test_layer_docstring_lists_its_public_functions(layer):
    doc = importlib.import_module(f"naravard_analysis.{layer}").__doc__
    assert len(doc.splitlines()) >= 8, f"{layer}: a one-line docstring"
    missing = [n for n in ENTRY_POINTS[layer] if n not in doc]
    assert missing == []


@pytest.mark.parametrize("layer", ["indicators", "methods", "report"])
def test_every_name_the_docstring_lists_exists(layer):
    pkg = importlib.import_module(f"naravard_analysis.{layer}")
    public = set()
    for mod in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        m = importlib.import_module(mod.name)
        public |= set(getattr(m, "__all__", []))
    # entry lines: four-space indent, comma-separated identifiers
    listed = set()
    for line in pkg.__doc__.splitlines():
        if re.match(r"^    [A-Za-z_]", line) and not line.startswith("     "):
            head = line.strip().split(" (")[0].rstrip(" .")
            listed |= {n.strip() for n in head.split(",") if re.fullmatch(r"[A-Za-z_]\w*", n.strip())}
    assert listed, layer
    assert sorted(listed - public) == []


def test_official_swedish_measure_is_named():
    doc = naravard_analysis.indicators.__doc__
    k = doc.index("kontinuitetsindex")
    assert "Official Swedish measure" in doc[k : doc.index("continuity_indices")]
