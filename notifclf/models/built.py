"""The "build" model source: a registry base plus a committed LoRA adapter, merged and quantized on first use.

This is the only place the runtime reaches model building (``convert``), through one function,
:func:`_merge_and_quantize`; everything else here is about finding the adapter and knowing whether the cached
build is current.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from .cache import check_free_space, raise_write_error, verify_file
from ..errors import ModelIntegrityError, ModelNotFoundError
from ..files import sha256_file
from .manifest import read_manifest
from .registry import ModelSpec

logger = logging.getLogger("notifclf")

_ADAPTER_WEIGHTS = "adapter_model.safetensors"


def adapters_dir() -> Path:
    """Where trained adapters live: ``$NOTIFCLF_MODELS_DIR``; else ``notifclf/adapters/``, where a wheel ships them;
    else the ``models/`` folder of a source checkout (a clone, an editable install)."""
    env = os.environ.get("NOTIFCLF_MODELS_DIR")
    if env:
        return Path(env)
    package = Path(__file__).resolve().parents[1]  # notifclf/
    shipped = package / "adapters"
    return shipped if shipped.is_dir() else package.parent / "models"


def _built_is_current(path: Path, adapter: Path) -> bool:
    """True when ``path`` and its manifest exist and the manifest names this very adapter (by hash)."""
    if not path.is_file():
        return False
    try:
        recorded = read_manifest(path).get("adapter") or {}
    except ModelIntegrityError:
        return False
    return recorded.get("sha256") == sha256_file(adapter / _ADAPTER_WEIGHTS)


def _merge_and_quantize(base: Path, adapter: Path, target: Path, quant: str, *, progress: bool) -> None:
    """Merge ``adapter`` into ``base`` and quantize into ``target`` (plus its manifest) with ``convert``."""
    try:
        from convert.build import build_model
        from convert.errors import ConvertError
    except ImportError as exc:  # convert needs gguf, which comes with the [model] extra
        raise ModelNotFoundError(f"building {target.name} needs the model-building packages ({exc}); "
                                 "install them with: pip install 'notifclf[model]'") from exc
    try:
        build_model(base, adapter, target, quant, progress=progress)
    except ConvertError as exc:
        raise ModelIntegrityError(f"building {target.name} failed: {exc}") from exc
    except OSError as exc:
        raise_write_error(target, None, exc)


def build_from_adapter(spec: ModelSpec, cache_dir: Path, base: Callable[[], Path], *, progress: bool) -> Path:
    """The verified model file of ``spec``, built once into ``cache_dir`` (``base()`` gives the base's file, only
    called when a build is needed); rebuilt whenever the adapter changed."""
    adapter = adapters_dir() / spec.adapter
    if not (adapter / "adapter_config.json").is_file():
        raise ModelNotFoundError(f"model {spec.name!r} needs the adapter directory {adapter}, which is missing; "
                                 "reinstall notifclf, or set NOTIFCLF_MODELS_DIR to the folder that holds it")
    target = cache_dir / spec.file_name
    if not _built_is_current(target, adapter):
        base_path = base()
        logger.warning("building %s from %s + %s (once; about a minute)", spec.name, base_path.name, adapter.name)
        # The build holds an unquantized temporary next to the result: ask for twice the base's size up front.
        check_free_space(cache_dir, 2 * base_path.stat().st_size)
        _merge_and_quantize(base_path, adapter, target, spec.quant, progress=progress)
    manifest = read_manifest(target)
    verify_file(target, sha256=manifest["sha256"], size=manifest["size"])
    return target
