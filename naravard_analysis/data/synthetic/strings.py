"""Fast construction of canonical text columns from integer codes and a label list."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from naravard_analysis.data.schema import STRING_DTYPE

__all__ = ["labelled"]


def labelled(codes: np.ndarray, labels: np.ndarray | list[str], *, missing: int | None = None) -> np.ndarray:
    """``labels[codes]`` as a canonical string column (pyarrow-backed), built without Python
    objects per row. Codes equal to ``missing`` become missing values."""
    idx = pa.array(np.asarray(codes, dtype=np.int64),
                   mask=None if missing is None else (np.asarray(codes) == missing))
    arr = pa.array(list(labels), type=pa.string()).take(idx)
    return arr.to_pandas(types_mapper={pa.string(): STRING_DTYPE}.get).array
