"""Read a GGUF file as a base model: its metadata is copied, its tensors dequantized row-block by row-block."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader, GGUFValue, GGUFValueType
from gguf.quants import dequantize

from .arch import check_architecture
from .errors import BaseModelError
from .hashing import sha256_file
from .model_source import TensorSpec

log = logging.getLogger("notifclf.convert")

GGUF_MAGIC = b"GGUF"
#: Keys the writer or the quantizer sets itself, never copied from the base.
_SKIP_KEYS = ("general.architecture", "general.file_type", "general.quantization_version")


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
        try:
            self._reader = GGUFReader(self.path, "r")
        except Exception as e:  # gguf raises ValueError/struct.error/... on corrupt files
            raise BaseModelError(f"{self.path}: cannot read GGUF: {e}") from e
        self.architecture = check_architecture(self._string("general.architecture"))
        self.block_count = int(self._scalar(f"{self.architecture}.block_count"))
        self._tensors = {t.name: t for t in self._reader.tensors}
        for t in self._reader.tensors:
            if len(t.shape) > 2:
                raise BaseModelError(f"{self.path}: tensor {t.name} has {len(t.shape)} dimensions; only 1-D and 2-D are supported")
            qtype = GGMLQuantizationType(t.tensor_type)
            if qtype not in (GGMLQuantizationType.F32, GGMLQuantizationType.F16):
                try:
                    dequantize(np.asarray(t.data[:0]), qtype)
                except NotImplementedError as e:
                    raise BaseModelError(f"{self.path}: tensor {t.name} has type {qtype.name}, which gguf cannot dequantize") from e

    def _field(self, key: str) -> Any:
        field = self._reader.get_field(key)
        if field is None:
            raise BaseModelError(f"{self.path}: GGUF key {key!r} is missing")
        return field

    def _string(self, key: str) -> str:
        return bytes(self._field(key).parts[-1]).decode("utf-8")

    def _scalar(self, key: str) -> Any:
        return self._field(key).parts[-1].tolist()[0]

    def metadata(self) -> list[tuple[str, GGUFValue]]:
        out: list[tuple[str, GGUFValue]] = []
        for key, field in self._reader.fields.items():
            if key.startswith("GGUF.") or key in _SKIP_KEYS:
                continue
            vtype = GGUFValueType(field.types[0])
            if vtype == GGUFValueType.ARRAY:
                sub = GGUFValueType(field.types[-1])
                if len(field.types) > 2 or sub == GGUFValueType.ARRAY:
                    log.warning("skipping nested-array GGUF key %s", key)
                    continue
                if sub == GGUFValueType.STRING:
                    value: Any = [bytes(field.parts[i]) for i in field.data]
                else:
                    value = [v for i in field.data for v in field.parts[i].tolist()]
                if not value:
                    continue
                out.append((key, GGUFValue(value, vtype, sub)))
            elif vtype == GGUFValueType.STRING:
                out.append((key, GGUFValue(bytes(field.parts[-1]), vtype)))
            else:
                out.append((key, GGUFValue(field.parts[-1].tolist()[0], vtype)))
        return out

    def tensors(self) -> list[TensorSpec]:
        return [TensorSpec(t.name, tuple(int(d) for d in reversed(t.shape.tolist()))) for t in self._reader.tensors]

    def tensor_type(self, name: str) -> str:
        return GGMLQuantizationType(self._tensors[name].tensor_type).name

    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        t = self._tensors[name]
        shape = tuple(int(d) for d in reversed(t.shape.tolist()))
        data = np.asarray(t.data)  # 2-D tensors: (rows, values or bytes per row)
        if rows is not None:
            data = data[rows]
        qtype = GGMLQuantizationType(t.tensor_type)
        if qtype == GGMLQuantizationType.F32:
            out = np.array(data.view(np.float32), dtype=np.float32)
        else:
            out = dequantize(data, qtype).astype(np.float32, copy=False)
        return out.reshape((data.shape[0],) + shape[1:] if rows is not None else shape)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "source": str(self.path), "sha256": sha256_file(self.path),
                "architecture": self.architecture}

    def close(self) -> None:
        self._reader = None  # type: ignore[assignment]  # drops the memmap
        self._tensors = {}
