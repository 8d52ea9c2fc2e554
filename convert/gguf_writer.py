"""Stream a float GGUF file to disk: header, metadata and tensor index first, then tensors block by block."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import gguf
import numpy as np
from tqdm.auto import tqdm

from .errors import ConvertError
from .model_source import TensorSpec

log = logging.getLogger("notifclf.convert")

RowReader = Callable[[TensorSpec, "slice | None"], np.ndarray]
_CHUNK_BYTES = 32 * 1024 * 1024
_DTYPES: dict[str, tuple[np.dtype, gguf.LlamaFileType]] = {
    "f32": (np.dtype("<f4"), gguf.LlamaFileType.ALL_F32),
    "f16": (np.dtype("<f2"), gguf.LlamaFileType.MOSTLY_F16),
}


def _out_dtype(spec: TensorSpec, dtype: np.dtype) -> np.dtype:
    return dtype if len(spec.shape) >= 2 else np.dtype("<f4")  # norms and biases stay float32


def write_float_gguf(
    path: Path,
    architecture: str,
    metadata: Sequence[tuple[str, gguf.GGUFValue]],
    specs: Sequence[TensorSpec],
    read_rows: RowReader,
    *,
    dtype: str = "f32",
    raw: Mapping[str, tuple[gguf.GGMLQuantizationType, np.ndarray]] | None = None,
    progress: bool = True,
) -> None:
    """Write a GGUF whose matrices are ``dtype`` (f32 or f16) and vectors f32, never holding more than one
    block of rows (about 32 MiB of float32) of one tensor in memory.

    Tensors named in ``raw`` are copied as they are instead: (ggml type, uint8 array of the encoded rows),
    e.g. quantized tensors of a GGUF base that the adapter does not change."""
    raw = raw or {}
    if dtype not in _DTYPES:
        raise ConvertError(f"intermediate dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")
    np_dtype, file_type = _DTYPES[dtype]
    writer = gguf.GGUFWriter(path, architecture)
    try:
        for key, value in metadata:
            writer.add_key_value(key, value.value, value.type, value.sub_type)
        writer.add_file_type(int(file_type))
        total = 0
        for spec in specs:
            if spec.name in raw:
                qtype, data = raw[spec.name]
                writer.add_tensor_info(spec.name, data.shape, data.dtype, data.nbytes, raw_dtype=qtype)
                total += data.nbytes
                continue
            nbytes = int(np.prod(spec.shape, dtype=np.int64)) * _out_dtype(spec, np_dtype).itemsize
            writer.add_tensor_info(spec.name, spec.shape, _out_dtype(spec, np_dtype), nbytes)
            total += nbytes
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        assert writer.fout is not None
        fout = writer.fout[0]
        with tqdm(total=total, unit="B", unit_scale=True, desc="merge+write", disable=None if progress else True, leave=False) as bar:
            for spec in specs:
                writer.write_padding(fout, fout.tell())
                if spec.name in raw:
                    data = raw[spec.name][1]
                    np.ascontiguousarray(data).tofile(fout)
                    written = data.nbytes
                else:
                    written = _write_tensor(fout, spec, read_rows, _out_dtype(spec, np_dtype))
                writer.write_padding(fout, written)
                bar.update(written)
    finally:
        writer.close()


def _write_tensor(fout, spec: TensorSpec, read_rows: RowReader, dtype: np.dtype) -> int:  # type: ignore[no-untyped-def]
    if len(spec.shape) < 2:
        blocks: list[slice | None] = [None]
    else:
        step = max(1, _CHUNK_BYTES // max(1, spec.row_size * 4))
        blocks = [slice(i, min(i + step, spec.n_rows)) for i in range(0, spec.n_rows, step)]
    written = 0
    for rows in blocks:
        arr = read_rows(spec, rows)
        want = spec.shape if rows is None else (rows.stop - rows.start,) + spec.shape[1:]
        if arr.shape != want:
            raise ConvertError(f"{spec.name}: got rows of shape {arr.shape}, expected {want}")
        out = arr.astype(dtype, copy=False)
        if not np.isfinite(out).all():
            raise ConvertError(f"{spec.name}: merged weights contain NaN or infinity (in {dtype.name})")
        np.ascontiguousarray(out).tofile(fout)
        written += out.nbytes
    return written
