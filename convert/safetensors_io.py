"""A minimal memory-mapped safetensors reader that needs only numpy (bf16 included).

The ``safetensors`` package's numpy backend cannot return bfloat16, which is how most checkpoints and
PEFT adapters are stored, so convert reads the (simple, documented) format itself: an 8-byte
little-endian header length, a JSON header, then the raw tensor bytes.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ConvertError

_DTYPES: dict[str, np.dtype] = {
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "F64": np.dtype("<f8"),
}
_MAX_HEADER = 100 * 1024 * 1024


@dataclass(frozen=True)
class TensorRef:
    """Where one tensor lives in a safetensors file."""

    path: Path
    name: str
    dtype: str
    shape: tuple[int, ...]
    offset: int  # absolute byte offset in the file
    nbytes: int


def read_header(path: Path, error: type[ConvertError] = ConvertError) -> dict[str, TensorRef]:
    """Index the tensors of one safetensors file; raises ``error`` if the file is not valid safetensors."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            raw = f.read(8)
            if len(raw) != 8:
                raise error(f"{path}: not a safetensors file (too short)")
            (n,) = struct.unpack("<Q", raw)
            if n > _MAX_HEADER:
                raise error(f"{path}: not a safetensors file (header length {n})")
            header = json.loads(f.read(n))
        size = path.stat().st_size
    except (OSError, ValueError) as e:
        raise error(f"{path}: cannot read safetensors header: {e}") from e
    refs: dict[str, TensorRef] = {}
    base = 8 + n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (start, end) = info["dtype"], tuple(int(d) for d in info["shape"]), info["data_offsets"]
        except (KeyError, TypeError, ValueError) as e:
            raise error(f"{path}: bad header entry for {name!r}") from e
        if dtype not in _DTYPES:
            raise error(f"{path}: tensor {name!r} has dtype {dtype}; supported: {', '.join(_DTYPES)}")
        nbytes = end - start
        if nbytes != int(np.prod(shape, dtype=np.int64)) * _DTYPES[dtype].itemsize or base + end > size:
            raise error(f"{path}: tensor {name!r} is truncated or its header is inconsistent")
        refs[name] = TensorRef(path, name, dtype, shape, base + start, nbytes)
    return refs


def read_tensor(ref: TensorRef, rows: slice | None = None) -> np.ndarray:
    """Read a tensor (or a slice of its first axis) as a new float32 array."""
    dt = _DTYPES[ref.dtype]
    mm = np.memmap(ref.path, dtype=dt, mode="r", offset=ref.offset, shape=ref.shape if ref.shape else (1,))
    try:
        part = mm[rows] if rows is not None else mm
        if ref.dtype == "BF16":
            out = (part.astype(np.uint32) << 16).view(np.float32)
        else:
            out = np.array(part, dtype=np.float32)
    finally:
        del mm
    return out.reshape(ref.shape) if (rows is None and not ref.shape) else out


def write_tensors(path: Path, tensors: dict[str, np.ndarray], dtype: str = "F32") -> None:
    """Write ``tensors`` (name -> array) as one safetensors file in ``dtype`` ("F32" or "F16"), atomically."""
    from notifclf.files import atomic_write

    if dtype not in ("F32", "F16"):
        raise ValueError(f"write_tensors writes F32 or F16, not {dtype}")
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    blobs, offset = [], 0
    for name, x in tensors.items():
        raw = np.ascontiguousarray(x, dtype=_DTYPES[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": list(x.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    with atomic_write(Path(path)) as f:
        f.write(struct.pack("<Q", len(head)) + head)
        for blob in blobs:
            f.write(blob)
