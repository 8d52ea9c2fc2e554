"""What every base model reader offers: an architecture, GGUF metadata and tensors read on demand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from gguf import GGUFValue


@dataclass(frozen=True)
class TensorSpec:
    """One output tensor: its GGUF name and numpy (row-major) shape, e.g. ``(n_out, n_in)``."""

    name: str
    shape: tuple[int, ...]

    @property
    def n_rows(self) -> int:
        return self.shape[0] if self.shape else 1

    @property
    def row_size(self) -> int:
        n = 1
        for d in self.shape[1:]:
            n *= d
        return n


class BaseModel(Protocol):
    """A readable base model, already named and shaped the GGUF way."""

    architecture: str
    block_count: int

    def metadata(self) -> list[tuple[str, GGUFValue]]:
        """GGUF key/values to write (hyperparameters, tokenizer, chat template), minus
        ``general.architecture`` and ``general.file_type``, which the writer sets."""
        ...

    def tensors(self) -> list[TensorSpec]:
        """The tensors, in the order they are written."""
        ...

    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        """A tensor (or a slice of its rows) as a new float32 array in its ``TensorSpec.shape``."""
        ...

    def describe(self) -> dict[str, Any]:
        """What goes into the manifest about this base (source, kind, hash)."""
        ...

    def close(self) -> None:
        ...
