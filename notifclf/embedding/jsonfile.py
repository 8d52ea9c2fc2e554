"""Reading the model directory's JSON files: a missing or broken one is a ModelIntegrityError naming it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ModelIntegrityError


def read_json(path: Path, what: str) -> Any:
    """The parsed content of ``path``; ``what`` names the file in the error ("model config", "tokenizer file")."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelIntegrityError(f"{what} {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelIntegrityError(f"{what} {path} is unreadable or not JSON: {exc}") from exc
