"""The result of classifying one notification."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Classification:
    """A folder (one of the user's) and a priority: 1 can wait, 2 worth checking today, 3 needs attention now."""

    folder: str
    priority: int

    def to_dict(self) -> dict[str, Any]:
        """The result as the published JSON object; valid against ``output_schema(folders)``."""
        return {"folder": self.folder, "priority": self.priority}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)
