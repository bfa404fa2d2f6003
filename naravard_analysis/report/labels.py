"""Swedish and English labels and number formats for figures and tables.

The report layer's name for the package's one bilingual text store, which lives in
:mod:`naravard_analysis.core.labels` so that the ``summary()`` of a method's result renders from
the same words without importing the report layer. Every name here *is* the object there (one
dictionary, one set of functions): a label added to :data:`LABELS` is seen through both paths.

Examples
--------
>>> from naravard_analysis.core import labels as store
>>> LABELS is store.LABELS and label is store.label
True
>>> label("n", "en"), format_number(2.5, "sv", decimals=2)
('Number', '2,50')
"""

from __future__ import annotations

from naravard_analysis.core import labels as _store
from naravard_analysis.core.labels import (  # noqa: F401 (re-exported through __all__)
    DEFAULT_LANGUAGE,
    LABELS,
    LANGUAGES,
    check_language,
    format_level,
    format_number,
    label,
    label_key,
)

#: The same names as :mod:`naravard_analysis.core.labels` (a test checks they are the same objects).
__all__ = list(_store.__all__)
