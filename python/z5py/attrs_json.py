"""JSON conversion of attribute values: the one place that knows how numpy and bytes values
become JSON (used by the attribute manager, the converters and the command line).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "json_default",
    "jsonable",
]


def json_default(value: Any) -> Any:
    """``json.dumps`` fallback: numpy scalars and arrays become Python numbers and lists."""
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    raise TypeError(
        f"attribute values must be JSON serializable; {type(value).__name__} ({value!r}) is not"
    )


def jsonable(value: Any) -> Any:
    """Convert numpy and bytes values to plain JSON-compatible Python values.

    Raises TypeError for values JSON cannot represent.
    """
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, bytes):
            return value.decode("utf-8")
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "OSU":
            return [jsonable(v) for v in value.tolist()]
        if value.dtype.kind not in "biuf":
            raise TypeError(f"arrays of dtype {value.dtype} are not JSON-able")
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"{type(value).__name__} is not JSON-able")
