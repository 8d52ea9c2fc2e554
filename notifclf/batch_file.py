"""Classify JSONL lines into JSONL records: a bad line becomes an error record, never a silent drop."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from .errors import NotifclfError


class _Progress(Protocol):
    def update(self, n: int = 1) -> object: ...


class _Classifies(Protocol):
    def classify(self, notification: Any) -> Any: ...


@dataclass(frozen=True)
class BatchCounts:
    ok: int
    errors: int


def classify_line(clf: _Classifies, line_no: int, line: str) -> dict[str, Any]:
    """One output record for one input line: ``{"line", "id"?, "folder", "priority"}`` or ``{"line", "id"?, "error"}``."""
    record: dict[str, Any] = {"line": line_no}
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        return {**record, "error": f"not JSON: {exc}"}
    if isinstance(data, dict) and "id" in data:
        record["id"] = data["id"]
    try:
        return {**record, **clf.classify(data).to_dict()}
    except NotifclfError as exc:
        return {**record, "error": str(exc)}


def classify_jsonl(clf: _Classifies, lines: Iterable[str], out: TextIO, progress: _Progress | None = None, *,
                   start_line: int = 1, fsync: bool = False) -> BatchCounts:
    """Write one record per non-blank input line to ``out``; the first of ``lines`` is line ``start_line``.

    With ``fsync`` every record is on disk before the next line is classified, so a killed run loses nothing
    it reported (see ``examples/batch_label.py``, which resumes from the last record).
    """
    ok = errors = 0
    for line_no, line in enumerate(lines, start=start_line):
        if line.strip():
            record = classify_line(clf, line_no, line)
            errors += "error" in record
            ok += "error" not in record
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            out.flush()
            if fsync:
                os.fsync(out.fileno())
        if progress is not None:
            progress.update(1)
    return BatchCounts(ok=ok, errors=errors)
