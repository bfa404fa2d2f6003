"""Every public ``by=`` takes one column name or a sequence of names (issue 19, point 7)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pandas as pd
import pytest

import naravard_analysis
from naravard_analysis.core.defaults import as_columns
from naravard_analysis.indicators.avoidable import (
    avoidable_rates,
    exclusion_summary,
    flag_avoidable,
)
from naravard_analysis.indicators.standardise import band_population
from naravard_analysis.indicators.utilisation import ed_visit_rates, events_per_period


def _public_functions_with_by():
    for mod in pkgutil.walk_packages(naravard_analysis.__path__, "naravard_analysis."):
        if ".synthetic" in mod.name or mod.name.endswith("cli"):
            continue
        m = importlib.import_module(mod.name)
        for name in getattr(m, "__all__", []):
            obj = getattr(m, name, None)
            targets = [obj] if inspect.isfunction(obj) else []
            if inspect.isclass(obj):
                targets = [f for k, f in vars(obj).items() if inspect.isfunction(f) and not k.startswith("_")]
            for f in targets:
                if "by" in inspect.signature(f).parameters:
                    yield f"{f.__module__}.{f.__qualname__}", f


BY_FUNCTIONS = dict(_public_functions_with_by())


def test_found_the_functions():
    assert "naravard_analysis.indicators.avoidable_rates.avoidable_rates" in BY_FUNCTIONS
    assert len(BY_FUNCTIONS) >= 10


@pytest.mark.parametrize("name", sorted(BY_FUNCTIONS))
def test_every_by_is_annotated_to_take_a_string(name):
    ann = str(inspect.signature(BY_FUNCTIONS[name]).parameters["by"].annotation)
    # a bare ``str`` member of the union, not the ``str`` inside ``Sequence[str]``
    assert re.search(r"(^|\| )str( \||$)", ann), f"{name}: by: {ann}"


def test_as_columns():
    assert as_columns("year") == ["year"]
    assert as_columns(["year", "sex"]) == ["year", "sex"]
    assert as_columns(None) == [] and as_columns(()) == []


def _tables():
    persons = pd.DataFrame(
        {"person_id": [1, 2], "sex": ["F", "M"], "birth_date": pd.to_datetime(["1940-01-01", "1935-01-01"]),
         "region_code": ["14", "14"], "municipality_code": ["1480", "1401"]}
    )  # fmt: skip
    adm = pd.DataFrame(
        {"person_id": [1, 2], "admission_date": pd.to_datetime(["2024-03-01", "2024-04-01"]),
         "discharge_date": pd.to_datetime(["2024-03-03", "2024-04-02"]),
         "main_diagnosis": ["J441", "I500"], "planned": [False, False]}
    )  # fmt: skip
    pop = pd.DataFrame(
        [(2024, "14", m, s, a, 100) for m in ("1480", "1401") for s in "FM" for a in range(101)],
        columns=["year", "region_code", "municipality_code", "sex", "age", "population"],
    )
    con = pd.DataFrame(
        {"person_id": [1, 2], "contact_date": pd.to_datetime(["2024-01-05", "2024-02-07"]),
         "care_level": ["emergency", "emergency"]}
    )  # fmt: skip
    return persons, adm, pop, con


def test_string_by_equals_one_element_list():
    persons, adm, pop, con = _tables()
    f = flag_avoidable(adm, persons)
    pd.testing.assert_frame_equal(avoidable_rates(f, pop, by="year"), avoidable_rates(f, pop, by=["year"]))
    pd.testing.assert_frame_equal(exclusion_summary(f, by="year"), exclusion_summary(f, by=["year"]))
    pd.testing.assert_frame_equal(band_population(pop, by="sex"), band_population(pop, by=["sex"]))
    pd.testing.assert_frame_equal(
        events_per_period(adm, persons, date="admission_date", by="sex"),
        events_per_period(adm, persons, date="admission_date", by=["sex"]),
    )
    r = ed_visit_rates(con, pop, by="year", persons=persons)
    assert r["events"].item() == 2
