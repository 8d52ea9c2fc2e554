"""Read a GGUF file as a base model: its metadata is copied, its tensors dequantized block of rows by block."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGMLQuantizationType, GGUFValue
from gguf.quants import dequantize

from .arch import check_architecture
from .errors import BaseModelError
from .gguf_file import GGUFFile
from .hashing import sha256_file
from .model_source import TensorSpec

log = logging.getLogger("notifclf.convert")

GGUF_MAGIC = b"GGUF"
#: Keys the writer or the quantizer sets itself, never copied from the base.
_SKIP_KEYS = ("general.architecture", "general.file_type", "general.alignment")
_FLOATS = (GGMLQuantizationType.F32, GGMLQuantizationType.F16, GGMLQuantizationType.BF16)


def is_gguf_file(path: Path) -> bool:
    """True if ``path`` is a file that starts with the GGUF magic."""
    try:
        with Path(path).open("rb") as f:
            return f.read(4) == GGUF_MAGIC
    except OSError:
        return False


class GGUFBase:
    """A GGUF base model (possibly quantized: Q4_0..Q8_0, K-quants, IQ-quants, BF16, F16, F32)."""

    kind = "gguf"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not is_gguf_file(self.path):
            raise BaseModelError(f"{self.path}: not a GGUF file")
        self._file = GGUFFile(self.path)
        self.architecture = check_architecture(self._string("general.architecture"))
        self.block_count = int(self._kv(f"{self.architecture}.block_count"))
        for t in self._file.tensors.values():
            if len(t.shape) > 2:
                raise BaseModelError(f"{self.path}: tensor {t.name} has {len(t.shape)} dimensions; only 1-D and 2-D are supported")
            if t.qtype not in (GGMLQuantizationType.F32, GGMLQuantizationType.F16):
                try:
                    dequantize(self._file.data(t.name)[:1], t.qtype)  # one row: is there a dequantizer?
                except NotImplementedError as e:
                    raise BaseModelError(f"{self.path}: tensor {t.name} has type {t.qtype.name}, which gguf cannot dequantize") from e

    def _kv(self, key: str) -> Any:
        if key not in self._file.kv:
            raise BaseModelError(f"{self.path}: GGUF key {key!r} is missing")
        return self._file.kv[key].value

    def _string(self, key: str) -> str:
        return bytes(self._kv(key)).decode("utf-8")

    @property
    def file_type(self) -> int | None:
        """``general.file_type`` (llama_ftype), or None if absent."""
        v = self._file.kv.get("general.file_type")
        return None if v is None else int(v.value)

    def metadata(self) -> list[tuple[str, GGUFValue]]:
        return [(k, v) for k, v in self._file.kv.items() if k not in _SKIP_KEYS]

    def tensors(self) -> list[TensorSpec]:
        return [TensorSpec(t.name, t.shape) for t in self._file.tensors.values()]

    def tensor_types(self) -> dict[str, int]:
        """ggml type id of every quantized (not F32/F16/BF16) tensor, by name."""
        return {t.name: int(t.qtype) for t in self._file.tensors.values() if t.qtype not in _FLOATS}

    def read_raw(self, name: str) -> tuple[GGMLQuantizationType, np.ndarray]:
        """A tensor's type and encoded bytes (a read-only memory map, rows x bytes per row), as stored."""
        return self._file.tensors[name].qtype, self._file.data(name)

    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        t = self._file.tensors[name]
        data = self._file.data(name)
        if rows is not None:
            data = data[rows]
        if t.qtype == GGMLQuantizationType.F32:
            out = np.array(data.view(np.float32), dtype=np.float32)
        else:
            out = dequantize(data, t.qtype).astype(np.float32, copy=False)
        return out.reshape((data.shape[0],) + t.shape[1:] if rows is not None else t.shape)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "source": str(self.path), "sha256": sha256_file(self.path),
                "architecture": self.architecture}

    def close(self) -> None:
        self._file.close()
