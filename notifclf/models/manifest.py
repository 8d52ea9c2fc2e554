"""Reading the manifest written beside each built model (``<model>.gguf.manifest.json``).

Both sides use it: ``convert`` writes manifests (and re-exports these names), the runtime reads them to know whether a
cached built model is current and which SHA-256 to verify. It needs neither gguf nor torch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import ModelIntegrityError

MANIFEST_SUFFIX = ".manifest.json"


def manifest_path(model: str | os.PathLike[str]) -> Path:
    """``model.gguf`` -> ``model.gguf.manifest.json``."""
    model = Path(model)
    return model.with_name(model.name + MANIFEST_SUFFIX)


def read_manifest(model: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of ``model``; :class:`ModelIntegrityError` when it is missing, unreadable or not a manifest."""
    path = manifest_path(model)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelIntegrityError(f"{path}: cannot read manifest: {exc}") from exc
    if not isinstance(data, dict) or "sha256" not in data or "size" not in data:
        raise ModelIntegrityError(f"{path}: not a model manifest")
    return data
