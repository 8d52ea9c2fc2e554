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

from .adapter import load_adapter, validate_against
from .errors import BaseModelError
from .gguf_base import GGUFBase, is_gguf_file
from .gguf_writer import write_float_gguf
from .hf_checkpoint import HFCheckpoint, download, looks_like_repo_id
from .manifest import build_manifest, manifest_path, write_manifest
from .merge import MergedModel
from .model_source import BaseModel
from .quantize import normalize_quant, quantize

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


@contextmanager
def _step(name: str, timings: dict[str, float]) -> Iterator[None]:
    t0 = time.perf_counter()
    log.info("%s ...", name)
    yield
    timings[name] = round(time.perf_counter() - t0, 3)
    log.info("%s: %.1f s", name, timings[name])


def build_model(
    base: str | Path,
    adapter: str | Path,
    out: str | Path,
    quant: str = "Q4_K_M",
    *,
    progress: bool = True,
    intermediate: str = "f32",
    threads: int | None = None,
) -> Path:
    """Merge the PEFT LoRA ``adapter`` into ``base``, quantize to ``quant`` and write ``out`` plus its manifest.

    ``base`` is a GGUF file (quantized or not), a local HF safetensors directory, or an HF repo id.
    ``intermediate`` is the float type of the merged file handed to the quantizer (f32 keeps the
    dequantized/merged values exactly). Returns the output path. Raises :class:`convert.errors.ConvertError`.
    """
    quant = normalize_quant(quant)
    out = Path(out).absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    with _step("read base", timings):
        model = open_base(base)
    try:
        with _step("read adapter", timings):
            lora = load_adapter(adapter)
            specs = model.tensors()
            validate_against(lora, {s.name: s.shape for s in specs if len(s.shape) == 2}, model.block_count)
            metadata = model.metadata()
        log.info("base %s (%s, %d layers), adapter %s (%d modules)", base, model.architecture,
                 model.block_count, adapter, len(lora.pairs))
        tmpdir = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
        try:
            merged = tmpdir / f"merged-{intermediate}.gguf"
            with _step(f"merge + write {intermediate.upper()}", timings):
                write_float_gguf(merged, model.architecture, metadata, specs, MergedModel(model, lora.pairs).read_rows,
                                 dtype=intermediate, progress=progress)
            result = tmpdir / "out.gguf"
            with _step(f"quantize {quant}", timings):
                if quant == "F32" and intermediate == "f32":
                    os.replace(merged, result)
                else:
                    quantize(merged, result, quant, progress=progress, threads=threads)
                    merged.unlink()
            with _step("manifest", timings):
                manifest = build_manifest(result, quant=quant, base=model.describe(), adapter=lora.describe())
                manifest["file"] = out.name
                manifest["build"] = {"intermediate": intermediate, "timings_s": timings}
            manifest_path(out).unlink(missing_ok=True)
            os.replace(result, out)
            write_manifest(out, manifest)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
    finally:
        model.close()
    log.info("wrote %s (%s, %.1f MiB)", out, quant, out.stat().st_size / 2**20)
    return out
