"""A minimal reader for ``.safetensors`` files: numpy arrays that are read-only views of a memory map of the file.

Why not the ``safetensors`` package: the format is tiny (8-byte little-endian header length, a JSON header naming each
tensor's dtype, shape and byte range, then the raw little-endian data), and the runtime should not need a compiled
dependency to read it. Why a memory map: the pages stay the file's, shared between processes and loaded lazily, so
the 90 MB of weights cost no private memory and no copy at load time.

Every offset and size is checked against the file, so a truncated or corrupted file raises
:class:`~notifclf.errors.ModelIntegrityError` naming it instead of producing garbage or a numpy error.
"""

from __future__ import annotations

import json
import math
import mmap
from pathlib import Path

import numpy as np

from ..errors import ModelIntegrityError

_DTYPES: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}
_MAX_HEADER = 100 * 1024 * 1024  # the format's own limit


def read_safetensors(path: str | Path) -> dict[str, np.ndarray]:
    """All tensors of a ``.safetensors`` file as read-only arrays backed by one shared memory map."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            if size < 8:
                raise ModelIntegrityError(f"{path} is {size} bytes: truncated or not a safetensors file")
            fh.seek(0)
            header_len = int.from_bytes(fh.read(8), "little")
            if header_len > min(_MAX_HEADER, size - 8):
                raise ModelIntegrityError(f"{path} announces a {header_len:,}-byte header but is {size:,} bytes: "
                                          "truncated or not a safetensors file")
            header_bytes = fh.read(header_len)
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError:
        raise ModelIntegrityError(f"model file {path} does not exist") from None
    except OSError as exc:
        raise ModelIntegrityError(f"cannot read model file {path}: {exc.strerror or exc}") from exc
    try:
        header = json.loads(header_bytes)
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelIntegrityError(f"{path} has a corrupted safetensors header: {exc}") from exc
    header.pop("__metadata__", None)
    data_start = 8 + header_len
    data_size = size - data_start
    tensors: dict[str, np.ndarray] = {}
    for name, entry in header.items():
        try:
            dtype = _DTYPES[entry["dtype"]]
            shape = tuple(int(d) for d in entry["shape"])
            begin, end = (int(o) for o in entry["data_offsets"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelIntegrityError(f"{path}: tensor {name!r} has an unsupported or malformed entry {entry!r}") from exc
        if not 0 <= begin <= end <= data_size:
            raise ModelIntegrityError(f"{path}: tensor {name!r} lies at bytes {begin:,}-{end:,} of the data but the file "
                                      f"holds only {data_size:,}: truncated or corrupted")
        if end - begin != math.prod(shape) * dtype.itemsize:
            raise ModelIntegrityError(f"{path}: tensor {name!r} of shape {shape} and dtype {entry['dtype']} "
                                      f"cannot fill {end - begin:,} bytes: corrupted")
        count = math.prod(shape)
        tensors[name] = (np.frombuffer(mapped, dtype=dtype, count=count, offset=data_start + begin).reshape(shape)
                         if count else np.zeros(shape, dtype))
    return tensors
