"""Merge LoRA deltas into base weights, one block of rows at a time: ``W += scale * B @ A`` in float32."""

from __future__ import annotations

import numpy as np

from .adapter import LoraPair
from .model_source import BaseModel, TensorSpec


def merge_rows(w: np.ndarray, pair: LoraPair, rows: slice) -> np.ndarray:
    """Add the LoRA delta for rows ``rows`` of the weight to ``w`` (float32, shape ``(len(rows), in)``), in place."""
    delta = pair.b[rows] @ pair.a  # (rows, r) @ (r, in), float32
    delta *= np.float32(pair.scale)
    w += delta
    return w


class MergedModel:
    """A base model with an adapter applied lazily: ``read_rows`` returns merged float32 rows."""

    def __init__(self, base: BaseModel, pairs: dict[str, LoraPair]) -> None:
        self.base = base
        self.pairs = pairs
        #: tensors the adapter actually changes (a pair with an all-zero A or B adds exactly nothing)
        self.changed = {name for name, p in pairs.items() if np.any(p.a) and np.any(p.b) and p.scale != 0}

    def read_rows(self, spec: TensorSpec, rows: slice | None) -> np.ndarray:
        w = self.base.read(spec.name, rows)
        pair = self.pairs.get(spec.name)
        if pair is not None:
            merge_rows(w, pair, rows if rows is not None else slice(None))
        return w
