"""Label a JSONL file of notifications: JSONL in, JSONL out, with a progress bar; an interrupted run resumes.

    python examples/batch_label.py examples/sample_notifications.jsonl labeled.jsonl [--folders F.json]

One output record per non-blank input line, in input order: ``{"line", "id"?, "folder", "priority"}``, or
``{"line", "id"?, "error"}`` for a line that is not a valid notification. Notifications are classified in batches
(``Classifier.classify_iter``), and each record is fsync'd as soon as it is written, before the next one. Run the
same command again after Ctrl-C, a kill or a power cut: it checks the output against the input, drops a
half-written last record, and continues after the last complete one, so every input line ends up in the output
exactly once.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from collections.abc import Iterator
from typing import Any, TextIO

from tqdm.auto import tqdm

import notifclf
from notifclf import NotifclfError
from options import add_model_options, classifier_from_args  # examples/options.py, next to this script

logger = logging.getLogger("batch_label")


class OutputMismatchError(NotifclfError):
    """The output file exists but is not an earlier, partial run over this input."""


def _complete_records(output: Path) -> list[str]:
    """The output's complete lines; a half-written last line (a run killed mid-write) is cut off the file."""
    data = output.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    if len(complete) < len(data):
        logger.warning("dropping a half-written last record (%d bytes) left by an interrupted run", len(data) - len(complete))
        with open(output, "r+b") as f:
            f.truncate(len(complete))
            os.fsync(f.fileno())
    return complete.decode("utf-8", errors="replace").splitlines()


def _input_id(line: str) -> object:
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None
    return data.get("id") if isinstance(data, dict) else None


def lines_done(output: Path, lines: list[str]) -> int:
    """How many input lines an earlier run finished: the ``line`` of the output's last record (0 for no output)."""
    if not output.exists():
        return 0
    records = _complete_records(output)
    if not records:
        return 0
    try:
        last = json.loads(records[-1])
        done = last["line"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise OutputMismatchError(f"{output} exists but was not written by batch_label (last line {records[-1][:60]!r}); "
                                  "choose another output file") from None
    if (not isinstance(done, int) or not 0 < done <= len(lines) or last.get("id") != _input_id(lines[done - 1])
            or sum(1 for line in lines[:done] if line.strip()) != len(records)):
        raise OutputMismatchError(f"{output} holds {len(records)} records ending at line {done!r}, which does not match "
                                  f"this input ({len(lines)} lines); choose another output file")
    return done


def parse(line_no: int, line: str) -> tuple[dict[str, Any], notifclf.Notification | None]:
    """The record's start (with ``"error"`` for a bad line) and the notification to classify, if any."""
    record: dict[str, Any] = {"line": line_no}
    try:
        data = json.loads(line)
        if isinstance(data, dict) and "id" in data:
            record["id"] = data["id"]
        return record, notifclf.Notification.coerce(data)
    except json.JSONDecodeError as exc:
        return {**record, "error": f"not JSON: {exc}"}, None
    except NotifclfError as exc:
        return {**record, "error": str(exc)}, None


def label(clf: notifclf.Classifier, lines: list[str], first_line: int, out: TextIO, bar: tqdm) -> Iterator[dict]:
    """Write (and yield) one record per non-blank line, fsync'd before the next; results come in batches."""
    todo = [parse(n, line) for n, line in enumerate(lines, start=first_line) if line.strip()]
    results = clf.classify_iter((note for _, note in todo if note is not None), batch_size=16)
    for record, note in todo:
        if note is not None:
            record.update(next(results).to_dict())
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
        os.fsync(out.fileno())
        bar.n = record["line"]
        bar.refresh()
        yield record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Label a JSONL file of notifications; an interrupted run resumes.")
    parser.add_argument("input", help="JSONL: one notification object per line")
    parser.add_argument("output", help="JSONL records, appended to (resumed) if the file exists")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="hide the progress bar")
    add_model_options(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    output = Path(args.output)
    try:
        lines = Path(args.input).read_text(encoding="utf-8", errors="replace").splitlines()
        done = lines_done(output, lines)
        if done:
            logger.info("resuming after line %d of %d", done, len(lines))
        with classifier_from_args(args) as clf, open(output, "a", encoding="utf-8") as out, \
                tqdm(total=len(lines), initial=done, unit="notif", disable=not args.progress) as bar:
            errors = sum("error" in record for record in label(clf, lines[done:], done + 1, out, bar))
    except (NotifclfError, OSError) as exc:
        print(f"batch_label: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"batch_label: interrupted; run the same command again to resume {output}", file=sys.stderr)
        return 130
    print(f"batch_label: {errors} lines were not valid notifications; {output} is complete", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
