"""The manifest written beside each built model: what it is, what it was built from, and by what.

Reading it (path, parsing) is shared with the runtime and lives in ``notifclf.models.manifest``; here it is written.
"""

from __future__ import annotations

import datetime as _dt
import json
from importlib import metadata as _md
from pathlib import Path
from typing import Any

from notifclf.errors import ModelIntegrityError
from notifclf.files import atomic_write
from notifclf.models.manifest import MANIFEST_SUFFIX, manifest_path
from notifclf.models.manifest import read_manifest as _read_manifest

from .errors import ConvertError
from .hashing import sha256_file

__all__ = ["MANIFEST_SUFFIX", "build_manifest", "manifest_path", "read_manifest", "verify", "write_manifest"]

FORMAT = 1


def _version(dist: str) -> str | None:
    try:
        return _md.version(dist)
    except _md.PackageNotFoundError:
        return None


def tool_versions() -> dict[str, str | None]:
    from . import __version__

    return {
        "name": "notifclf-convert",
        "version": __version__,
        "gguf": _version("gguf"),
        "llama_cpp_python": _version("llama_cpp_python"),
        "numpy": _version("numpy"),
    }


def build_manifest(model: Path, *, quant: str, base: dict[str, Any], adapter: dict[str, Any] | None,
                   sha256: str | None = None) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "file": model.name,
        "sha256": sha256 or sha256_file(model),
        "size": model.stat().st_size,
        "quant": quant,
        "architecture": base.get("architecture"),
        "base": base,
        "adapter": adapter,
        "tool": tool_versions(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def write_manifest(model: Path, manifest: dict[str, Any]) -> Path:
    path = manifest_path(model)
    with atomic_write(path, "w") as f:
        f.write(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return path


def read_manifest(model: str | Path) -> dict[str, Any]:
    """The manifest of ``model``, or :class:`ConvertError`."""
    try:
        return _read_manifest(model)
    except ModelIntegrityError as e:
        raise ConvertError(str(e)) from e


def verify(model: str | Path) -> dict[str, Any]:
    """Check a built model against its manifest (size and SHA-256); returns the manifest."""
    model = Path(model)
    data = read_manifest(model)
    if not model.is_file() or model.stat().st_size != data["size"] or sha256_file(model) != data["sha256"]:
        raise ConvertError(f"{model}: does not match its manifest (truncated or modified)")
    return data
