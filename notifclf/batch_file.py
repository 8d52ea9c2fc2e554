"""Classify JSONL lines into JSONL records: a bad line becomes an error record, never a silent drop."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from .errors import NotifclfError
from .notification import Notification
from .result import Classification


class _Progress(Protocol):
    def update(self, n: int = 1) -> object: ...


class _ClassifiesStreams(Protocol):
    def classify_iter(self, notifications: Iterable[Notification], *, batch_size: int) -> Iterator[Classification]: ...


@dataclass(frozen=True)
class BatchCounts:
    ok: int
    errors: int


def parse_line(line_no: int, line: str) -> tuple[dict[str, Any], Notification | None]:
    """The start of the record for one input line (``{"line", "id"?}``, or with ``"error"``) and its notification,
    or None when the line is not JSON or not a valid notification."""
    record: dict[str, Any] = {"line": line_no}
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        return {**record, "error": f"not JSON: {exc}"}, None
    if isinstance(data, dict) and "id" in data:
        record["id"] = data["id"]
    try:
        return record, Notification.coerce(data)
    except NotifclfError as exc:
        return {**record, "error": str(exc)}, None


def classify_jsonl(clf: _ClassifiesStreams, lines: Iterable[str], out: TextIO, progress: _Progress | None = None, *,
                   start_line: int = 1, fsync: bool = False, batch_size: int = 16) -> BatchCounts:
    """Write one record per non-blank input line to ``out``, in input order; the first of ``lines`` is line
    ``start_line``. Notifications are classified ``batch_size`` at a time (``classify_iter``), each record is
    written as soon as its result is ready, and with ``fsync`` it is on disk before the next record is written, so
    a killed run loses nothing it reported (``examples/batch_label.py`` resumes after the last record).
    """
    numbered = [(n, line) for n, line in enumerate(lines, start=start_line)]
    parsed = [parse_line(n, line) if line.strip() else None for n, line in numbered]
    results = clf.classify_iter((p[1] for p in parsed if p is not None and p[1] is not None), batch_size=batch_size)
    ok = errors = 0
    for item in parsed:
        if item is not None:
            record, note = item
            if note is not None:
                record = {**record, **next(results).to_dict()}
            errors += "error" in record
            ok += "error" not in record
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            out.flush()
            if fsync:
                os.fsync(out.fileno())
        if progress is not None:
            progress.update(1)
    return BatchCounts(ok=ok, errors=errors)
