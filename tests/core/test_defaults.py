"""Named defaults: readable sentinels, ``by=`` normalisation, one default language (issue 19)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import naravard_analysis
from naravard_analysis.core.defaults import DEFAULT_LANGUAGE, DEFINITION_DEFAULT, resolve


def test_sentinel_is_readable_and_resolves():
    assert repr(DEFINITION_DEFAULT) == "DEFINITION_DEFAULT"
    assert resolve(DEFINITION_DEFAULT, 65) == 65
    assert resolve(None, 65) is None and resolve(70, 65) == 70


def _public_callables():
    for mod in pkgutil.walk_packages(naravard_analysis.__path__, "naravard_analysis."):
        if ".synthetic" in mod.name:
            continue
        m = importlib.import_module(mod.name)
        for name in getattr(m, "__all__", []):
            obj = getattr(m, name, None)
            if inspect.isfunction(obj):
                yield f"{mod.name}.{name}", obj
            elif inspect.isclass(obj):
                for k, f in vars(obj).items():
                    if inspect.isfunction(f) and (not k.startswith("_")):
                        yield f"{mod.name}.{name}.{k}", f


#: Functions that read text back rather than write it: ``language=None`` means "either language".
READ_ANY_LANGUAGE = {"label_key"}


def test_one_default_language_everywhere():
    assert DEFAULT_LANGUAGE == "sv"
    found, other = [], []
    for name, f in _public_callables():
        p = inspect.signature(f).parameters.get("language")
        if p is None or p.default is inspect.Parameter.empty:
            continue
        found.append(name)
        if p.default is None and name.rsplit(".", 1)[-1] in READ_ANY_LANGUAGE:
            continue
        if p.default != DEFAULT_LANGUAGE:
            other.append(f"{name}: {p.default!r}")
    assert len(found) > 20
    assert other == []


def test_no_anonymous_object_defaults_in_signatures():
    bad = [name for name, f in _public_callables() if "object object at 0x" in str(inspect.signature(f))]
    assert bad == []


def test_every_result_object_has_a_short_repr_and_an_html_view():
    import dataclasses

    classes = {
        name: obj for name, obj in _public_classes() if dataclasses.is_dataclass(obj)
        and (name.endswith(("Result", "Effect", "Incidence")) or name == "RegisterData")
    }
    assert {"RiskAdjustedResult", "CumulativeIncidence", "EvaluationResult", "ITSResult"} <= set(classes)
    no_repr = [n for n, c in classes.items() if "__repr__" not in vars(c)]
    no_html = [n for n, c in classes.items() if "_repr_html_" not in vars(c)]
    assert no_repr == [] and no_html == []


def _public_classes():
    for mod in pkgutil.walk_packages(naravard_analysis.__path__, "naravard_analysis."):
        if ".synthetic" in mod.name:
            continue
        m = importlib.import_module(mod.name)
        for name in getattr(m, "__all__", []):
            obj = getattr(m, name, None)
            if inspect.isclass(obj) and obj.__module__ == mod.name:
                yield name, obj
