"""The whole build: read base, read adapter, merge + write a float GGUF, quantize, write the manifest.

Everything is written inside a temporary directory next to the output and moved into place with
``os.replace`` at the end, so a crash or a bad input never leaves a partial file under the output name.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import gguf

from notifclf.example_hints import EXAMPLE_HINTS_KEY
from notifclf.folder_codes import FOLDER_LABELS_KEY
from notifclf.preference_hints import PREFERENCE_HINTS_KEY

from .adapter import load_adapter, validate_against
from .errors import BaseModelError, ConvertError
from .gguf_base import GGUFBase, is_gguf_file
from .gguf_writer import write_float_gguf
from .hf_checkpoint import HFCheckpoint, download, looks_like_repo_id
from .manifest import build_manifest, manifest_path, write_manifest
from .merge import MergedModel
from .model_source import BaseModel
from .quantize import ftype_value, normalize_quant, quantize

log = logging.getLogger("notifclf.convert")


def open_base(spec: str | Path) -> BaseModel:
    """A base model from a GGUF file, a local HF checkpoint directory, or an HF Hub repo id."""
    path = Path(spec)
    if path.is_file():
        if not is_gguf_file(path):
            raise BaseModelError(f"{path}: not a GGUF file (a base is a GGUF file, an HF model directory or an HF repo id)")
        return GGUFBase(path)
    if path.is_dir():
        return HFCheckpoint(path)
    if looks_like_repo_id(str(spec)):
        return HFCheckpoint(download(str(spec)), source=str(spec))
    raise BaseModelError(f"{spec}: no such file or directory, and not a Hugging Face repo id")


def _base_types(model: BaseModel, quant: str, keep: bool | None) -> dict[str, int] | None:
    if quant in ("F32", "F16") or keep is False:
        return None
    if not isinstance(model, GGUFBase):
        if keep:
            raise ConvertError("keep_base_types needs a quantized GGUF base")
        return None
    if keep is None and model.file_type != ftype_value(quant):
        return None
    return model.tensor_types() or None


def _override_types(overrides: dict[str, str], names: set[str]) -> dict[str, int]:
    """Tensor name -> ggml type id for ``--tensor-type NAME=TYPE``; unknown tensors or types are errors."""
    from gguf import GGMLQuantizationType

    out = {}
    for name, type_name in overrides.items():
        if name not in names:
            raise ConvertError(f"--tensor-type: the base has no tensor {name!r}")
        try:
            out[name] = int(GGMLQuantizationType[type_name.upper()])
        except KeyError:
            raise ConvertError(f"--tensor-type {name}={type_name}: unknown ggml type (e.g. Q8_0, Q6_K, F16)") from None
    return out


_STALE_S = 3600


def _remove_stale_temp_dirs(out: Path) -> None:
    """Remove temp dirs of earlier builds of ``out`` that were killed (SIGKILL, OOM) more than an hour ago."""
    now = time.time()
    for d in out.parent.glob(f".{out.name}.*.tmp"):
        try:
            if d.is_dir() and now - d.stat().st_mtime > _STALE_S:
                log.info("removing %s, left by an interrupted build", d)
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            pass


def _peak_rss_mib() -> float:
    try:
        import resource
    except ImportError:  # not on Windows
        return float("nan")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def _step(name: str, timings: dict[str, float]) -> Iterator[None]:
    t0 = time.perf_counter()
    log.info("%s ...", name)
    yield
    timings[name] = round(time.perf_counter() - t0, 3)
    log.info("%s: %.1f s (peak RSS so far %.0f MiB)", name, timings[name], _peak_rss_mib())


def build_model(
    base: str | Path,
    adapter: str | Path,
    out: str | Path,
    quant: str = "Q4_K_M",
    *,
    progress: bool = True,
    intermediate: str = "f32",
    threads: int | None = None,
    keep_base_types: bool | None = None,
    copy_unchanged: bool = True,
    tensor_type_overrides: dict[str, str] | None = None,
) -> Path:
    """Merge the PEFT LoRA ``adapter`` into ``base``, quantize to ``quant`` and write ``out`` plus its manifest.

    ``base`` is a GGUF file (quantized or not), a local HF safetensors directory, or an HF repo id.
    ``intermediate`` is the float type of the merged file handed to the quantizer (f32 keeps the
    dequantized/merged values exactly). ``keep_base_types`` quantizes every tensor to the type it has in a
    quantized GGUF base instead of llama.cpp's own mix; by default (None) it does so when the base is a GGUF
    of the same quant type. In that mode the quantized tensors the adapter does not change are copied byte
    for byte (unless ``copy_unchanged`` is False), so only the merged tensors are re-quantized.
    ``tensor_type_overrides`` (tensor name -> type name, e.g. ``{"output.weight": "Q8_0"}``) pins single tensors
    on top of either mix. Returns the output path. Raises :class:`convert.errors.ConvertError`.
    """
    quant = normalize_quant(quant)
    out = Path(out).absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp_dirs(out)
    timings: dict[str, float] = {}
    with _step("read base", timings):
        model = open_base(base)
    try:
        with _step("read adapter", timings):
            lora = load_adapter(adapter)
            specs = model.tensors()
            validate_against(lora, {s.name: s.shape for s in specs if len(s.shape) == 2}, model.block_count)
            marks = {PREFERENCE_HINTS_KEY: lora.preference_hints, EXAMPLE_HINTS_KEY: lora.example_hints}
            metadata = [(k, v) for k, v in model.metadata() if k != FOLDER_LABELS_KEY and k not in marks]
            metadata.append((FOLDER_LABELS_KEY, gguf.GGUFValue(lora.folder_labels, gguf.GGUFValueType.STRING)))
            metadata += [(k, gguf.GGUFValue("yes", gguf.GGUFValueType.STRING)) for k, on in marks.items() if on]
        log.info("base %s (%s, %d layers), adapter %s (%d modules)", base, model.architecture,
                 model.block_count, adapter, len(lora.pairs))
        tensor_types = _base_types(model, quant, keep_base_types)
        merger = MergedModel(model, lora.pairs)
        overrides = _override_types(tensor_type_overrides or {}, {s.name for s in specs})
        raw = {}
        if tensor_types and copy_unchanged and isinstance(model, GGUFBase):  # unchanged quantized tensors are copied byte for byte
            raw = {name: model.read_raw(name) for name in tensor_types
                   if name not in merger.changed and name not in overrides}
        if overrides:
            tensor_types = {**(tensor_types or {}), **overrides}
        tmpdir = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
        try:
            merged = tmpdir / f"merged-{intermediate}.gguf"
            with _step(f"merge + write {intermediate.upper()}", timings):
                write_float_gguf(merged, model.architecture, metadata, specs, merger.read_rows, dtype=intermediate,
                                 raw=raw, progress=progress)
            log.info("%d tensors merged, %d copied unchanged from the base", len(merger.changed), len(raw))
            result = tmpdir / "out.gguf"
            with _step(f"quantize {quant}", timings):
                if quant == "F32" and intermediate == "f32":
                    os.replace(merged, result)
                else:
                    quantize(merged, result, quant, progress=progress, threads=threads, tensor_types=tensor_types)
                    merged.unlink()
            with _step("manifest", timings):
                manifest = build_manifest(result, quant=quant, base=model.describe(), adapter=lora.describe())
                manifest["file"] = out.name
                manifest["build"] = {"intermediate": intermediate,
                                     "kept_base_types": tensor_types is not None and tensor_types.keys() != overrides.keys(),
                                     "tensor_type_overrides": dict(sorted((tensor_type_overrides or {}).items())),
                                     "tensors_merged": len(merger.changed), "tensors_copied": len(raw),
                                     "timings_s": timings}
            manifest_path(out).unlink(missing_ok=True)
            os.replace(result, out)
            write_manifest(out, manifest)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
    finally:
        model.close()
    log.info("wrote %s (%s, %.1f MiB)", out, quant, out.stat().st_size / 2**20)
    return out
