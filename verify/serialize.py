"""JSON views of built instances (numpy arrays, dataclasses, scalars), for counterexample
files and reports.  Replay never needs them: it rebuilds instances from parameters."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

MAX_ELEMENTS = 20_000


def to_jsonable(obj: Any, depth: int = 0) -> Any:
    """Recursively convert ``obj`` to JSON-safe data; very large arrays are summarised."""
    if depth > 8:
        return repr(obj)
    if obj is None or isinstance(obj, (bool, str, int)):
        return obj
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else repr(obj)
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item(), depth)
    if isinstance(obj, np.ndarray):
        if obj.size > MAX_ELEMENTS:
            return {"shape": list(obj.shape), "dtype": str(obj.dtype), "summary": "too large to inline"}
        return {"shape": list(obj.shape), "dtype": str(obj.dtype), "data": obj.tolist()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {"__type__": f"{type(obj).__module__}.{type(obj).__qualname__}"}
        for f in dataclasses.fields(obj):
            out[f.name] = to_jsonable(getattr(obj, f.name), depth + 1)
        return out
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, depth + 1) for v in obj]
    try:
        import torch

        if isinstance(obj, torch.Tensor):
            return to_jsonable(obj.detach().cpu().numpy(), depth)
    except ImportError:  # pragma: no cover
        pass
    return repr(obj)
