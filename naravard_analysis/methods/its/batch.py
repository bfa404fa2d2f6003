"""fit_its_many: the same ITS model on many series (e.g. 290 municipalities x 5 indicators)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from naravard_analysis.errors import DataWarning, NaravardError, ParameterError, SchemaError

from .fit import fit_its
from .result import ITSResult

__all__ = ["fit_its_many"]


def fit_its_many(
    data: pd.DataFrame,
    *,
    by: str | Sequence[str],
    outcome: str | Sequence[str],
    progress: bool = True,
    on_error: str = "record",
    return_results: bool = False,
    **fit_kwargs: Any,
) -> pd.DataFrame | tuple[pd.DataFrame, dict[tuple, ITSResult]]:
    """Fit :func:`fit_its` to every series defined by ``by`` (and every column in ``outcome``).

    Parameters
    ----------
    data
        Long table: one row per series x period (series identified by the ``by`` columns).
    by
        Column(s) identifying a series, e.g. ``["municipality_code", "indicator"]``.
    outcome
        One outcome column or several (each fitted separately with the same options).
    progress
        Show a tqdm progress bar (``tqdm.auto``, so a widget in JupyterLab).
    on_error
        ``"record"`` (default): a series whose fit fails gets one row with the error message in column
        ``error`` and the failures are counted in a single :class:`DataWarning`; ``"raise"``: re-raise.
    return_results
        Also return a dict ``{(*by values, outcome): ITSResult}``.
    **fit_kwargs
        Passed to :func:`fit_its` (time, interruption, family, exposure, harmonics, cov_type ...).

    Returns
    -------
    DataFrame
        Tidy effects: the ``by`` columns, ``outcome``, ``term``, the columns of ``ITSResult.effects``,
        ``n_obs``, ``dispersion`` and ``error`` (empty string when the fit succeeded).

    Examples
    --------
    >>> tab = fit_its_many(panel, by="municipality_code", outcome=["avoidable", "ed_visits"],
    ...                    time="month", interruption="2019-01-01", family="quasipoisson",
    ...                    exposure="population", harmonics=2)  # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    if on_error not in ("record", "raise"):
        raise ParameterError(f"on_error must be 'record' or 'raise', not {on_error!r}")
    by = [by] if isinstance(by, str) else list(by)
    outcomes = [outcome] if isinstance(outcome, str) else list(outcome)
    missing = [c for c in by + outcomes if c not in data.columns]
    if missing:
        raise SchemaError("its data", missing[0], f"column(s) {missing} not found")
    groups = data.groupby(by, sort=True, observed=True, dropna=False)
    parts, results, failures = [], {}, 0
    bar = tqdm(total=groups.ngroups * len(outcomes), disable=not progress, desc="ITS fits")
    for key, sub in groups:
        key = key if isinstance(key, tuple) else (key,)
        for out in outcomes:
            ids = dict(zip(by, key, strict=True)) | {"outcome": out}
            try:
                res = fit_its(sub, outcome=out, **fit_kwargs)
            except (NaravardError, ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
                if on_error == "raise":
                    raise
                failures += 1
                parts.append(pd.DataFrame([ids | {"term": None, "error": f"{type(exc).__name__}: {exc}"}]))
            else:
                eff = res.effects.reset_index()
                for i, (col, val) in enumerate(ids.items()):
                    eff.insert(i, col, val)
                eff["n_obs"] = res.n_obs
                eff["dispersion"] = res.dispersion
                eff["error"] = ""
                parts.append(eff)
                if return_results:
                    results[(*key, out)] = res
            bar.update(1)
    bar.close()
    if failures:
        warnings.warn(f"fit_its_many: {failures} of {groups.ngroups * len(outcomes)} series failed; "
                      "see the 'error' column", DataWarning, stacklevel=2)
    tidy = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return (tidy, results) if return_results else tidy
