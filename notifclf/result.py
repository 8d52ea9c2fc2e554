"""The result of classifying one notification."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Classification:
    """A folder (one of the user's) and a priority: 1 can wait, 2 worth checking today, 3 needs attention now.

    ``folder_distribution`` maps every folder to the model's probability for it, ``priority_distribution`` maps
    1, 2, 3 to theirs (each sums to 1; with a folder prior, the folder distribution is the combined one the folder
    was chosen from); ``folder_confidence`` and ``priority_confidence`` are the chosen entries. ``corrected_by`` is
    the id of the stored correction the answer follows (``corrections_by="likeness"``: the notification is alike to
    it), None for the model's own answer; the distributions stay the model's.
    Two results are equal when they make the same decision (folder and priority).
    """

    folder: str
    priority: int
    folder_confidence: float | None = field(default=None, compare=False)
    priority_confidence: float | None = field(default=None, compare=False)
    folder_distribution: Mapping[str, float] = field(default_factory=dict, compare=False)
    priority_distribution: Mapping[int, float] = field(default_factory=dict, compare=False)
    corrected_by: int | None = field(default=None, compare=False)

    def to_dict(self, *, include_confidence: bool = False) -> dict[str, Any]:
        """The result as the published JSON object, valid against ``output_schema(folders)``; with
        ``include_confidence`` a ``confidence`` object is added (then it no longer matches that schema)."""
        data: dict[str, Any] = {"folder": self.folder, "priority": self.priority}
        if include_confidence:
            data["confidence"] = {
                "folder": self.folder_confidence,
                "priority": self.priority_confidence,
                "folders": dict(self.folder_distribution),
                "priorities": {str(k): v for k, v in self.priority_distribution.items()},
            }
        return data

    def to_json(self, *, include_confidence: bool = False) -> str:
        return json.dumps(self.to_dict(include_confidence=include_confidence), ensure_ascii=False)
