"""Quantize a float GGUF with llama.cpp's own quantizer, through llama-cpp-python's ``llama_model_quantize``."""

from __future__ import annotations

import ctypes
import logging
import os
import re
import shutil
from pathlib import Path

from tqdm.auto import tqdm

from notifclf.engine.llama_log import listening

from .errors import DependencyError, QuantizeError

log = logging.getLogger("notifclf.convert")

#: Output types: name -> llama.cpp ftype constant name (None: the float intermediate is the output).
QUANT_TYPES: dict[str, str | None] = {
    "Q4_K_M": "LLAMA_FTYPE_MOSTLY_Q4_K_M",
    # Q4_0 and IQ4_NL: llama.cpp repacks them at load time into interleaved layouts for AVX2 / ARM NEON kernels
    "Q4_0": "LLAMA_FTYPE_MOSTLY_Q4_0",
    "IQ4_NL": "LLAMA_FTYPE_MOSTLY_IQ4_NL",
    "Q5_K_M": "LLAMA_FTYPE_MOSTLY_Q5_K_M",
    "Q6_K": "LLAMA_FTYPE_MOSTLY_Q6_K",
    "Q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0",
    "F16": "LLAMA_FTYPE_MOSTLY_F16",
    "F32": None,
}
_PROGRESS = re.compile(r"^\[\s*(\d+)/\s*(\d+)\]")


def normalize_quant(quant: str) -> str:
    q = quant.strip().upper()
    if q not in QUANT_TYPES:
        raise QuantizeError(f"unknown quant type {quant!r}; supported: {', '.join(QUANT_TYPES)}")
    return q


def _llama_cpp():  # type: ignore[no-untyped-def]
    try:
        import llama_cpp
    except ImportError as e:
        raise DependencyError("quantizing needs llama-cpp-python (pip install llama-cpp-python)") from e
    return llama_cpp


def ftype_value(quant: str) -> int | None:
    """llama.cpp's ``llama_ftype`` number for a quant name (the value of ``general.file_type``)."""
    name = QUANT_TYPES[normalize_quant(quant)]
    return 0 if name is None else int(getattr(_llama_cpp(), name))


def _overrides(llama_cpp, tensor_types: dict[str, int]):  # type: ignore[no-untyped-def]
    """A NULL-terminated ``llama_model_tensor_override`` array pinning each named tensor to a ggml type."""
    arr = (llama_cpp.llama_model_tensor_override * (len(tensor_types) + 1))()
    patterns = [f"^{re.escape(name)}$".encode() for name in tensor_types]
    for i, (pattern, qtype) in enumerate(zip(patterns, tensor_types.values(), strict=True)):
        arr[i].pattern = pattern
        arr[i].type = int(qtype)
    arr[len(tensor_types)].pattern = None
    return arr, patterns  # keep the pattern bytes alive as long as the array


def quantize(src: Path, dst: Path, quant: str, *, progress: bool = True, threads: int | None = None,
             tensor_types: dict[str, int] | None = None) -> None:
    """Quantize float GGUF ``src`` into ``dst`` (F32: a plain copy). ``dst`` is complete only on success.

    ``tensor_types`` (tensor name -> ggml type id) overrides llama.cpp's per-tensor choice of the mix,
    e.g. to keep the exact layout of a quantized GGUF base."""
    quant = normalize_quant(quant)
    ftype_name = QUANT_TYPES[quant]
    if ftype_name is None:
        shutil.copyfile(src, dst)
        return
    llama_cpp = _llama_cpp()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, ftype_name)
    params.nthread = threads or os.cpu_count() or 1
    keep = None
    if tensor_types:
        keep = _overrides(llama_cpp, tensor_types)
        params.tt_overrides = ctypes.cast(keep[0], ctypes.POINTER(llama_cpp.llama_model_tensor_override))
    lines: list[str] = []
    with tqdm(total=None, unit="tensor", desc=f"quantize {quant}", disable=None if progress else True, leave=False) as bar:

        def follow(line: str) -> None:  # llama.cpp's log: "[  12/ 291] blk.1.attn_q.weight ..." moves the bar
            lines.append(line)
            m = _PROGRESS.match(line)
            if m:
                bar.total, bar.n = int(m.group(2)), int(m.group(1))
                bar.refresh()

        with listening(follow):
            rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    del keep
    if rc != 0:
        errors = [line for line in lines if "error" in line.lower() or "failed" in line.lower()]
        raise QuantizeError(f"llama.cpp failed to quantize {src.name} to {quant}: " + ("; ".join(errors[-3:]) or f"code {rc}"))
