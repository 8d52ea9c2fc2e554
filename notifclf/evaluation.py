"""Accuracy, calibration and latency of a Classifier on labeled notifications (``notifclf eval``)."""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import InvalidNotificationError, NotifclfError, OutputValidationError
from .result import Classification

_ECE_BINS = 10
ERROR_LABEL = "(error)"  # the prediction of a row that raised, in the confusion matrices


@dataclass(frozen=True)
class EvalReport:
    n: int
    folder_accuracy: float
    priority_accuracy: float | None
    both_accuracy: float | None
    per_folder: dict[str, dict[str, float]]
    per_priority: dict[str, dict[str, float]]
    folder_confusion: dict[str, dict[str, int]]  # gold -> predicted -> count
    priority_confusion: dict[str, dict[str, int]]
    invalid_outputs: int  # errors that were outputs failing the schema (OutputValidationError)
    skipped: int  # rows whose gold folder is not in the folder set
    folder_ece: float | None
    priority_ece: float | None
    latency_ms_mean: float
    latency_ms_p50: float
    latency_ms_p95: float
    model: str = ""
    folders: list[str] = field(default_factory=list)
    errors: int = 0  # rows that raised a NotifclfError: counted in n and as wrong in every accuracy
    error_messages: list[str] = field(default_factory=list)  # "row N: ErrorType: message", in row order

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        """A readable summary: headline figures, per-class accuracy, the folder confusion matrix."""
        pct = lambda x: "  -  " if x is None else f"{100 * x:5.1f}%"  # noqa: E731
        lines = [f"model {self.model}   {self.n} notifications   errors {self.errors} (counted wrong)   "
                 f"invalid outputs {self.invalid_outputs}   skipped {self.skipped}",
                 f"folder {pct(self.folder_accuracy)}   priority {pct(self.priority_accuracy)}   both {pct(self.both_accuracy)}",
                 f"calibration (ECE): folder {self.folder_ece if self.folder_ece is None else round(self.folder_ece, 3)}   "
                 f"priority {self.priority_ece if self.priority_ece is None else round(self.priority_ece, 3)}",
                 f"latency per notification: mean {self.latency_ms_mean:.0f} ms  p50 {self.latency_ms_p50:.0f} ms  "
                 f"p95 {self.latency_ms_p95:.0f} ms", "", "per folder:"]
        lines += [f"  {name:<24} n={v['n']:<5.0f} {pct(v['accuracy'])}" for name, v in self.per_folder.items()]
        if self.per_priority:
            lines += ["per priority:"] + [f"  {p:<24} n={v['n']:<5.0f} {pct(v['accuracy'])}" for p, v in self.per_priority.items()]
        if self.error_messages:
            shown = self.error_messages[:5]
            lines += ["errors:"] + [f"  {m}" for m in shown] + ([f"  ... {self.errors - len(shown)} more"]
                                                                 if self.errors > len(shown) else [])
        names = self.folders + ([ERROR_LABEL] if self.errors else [])
        width = max([len(n) for n in names] + [6])
        lines += ["", "folder confusion (rows: gold, columns: predicted):",
                  " " * (width + 2) + " ".join(f"{n[:8]:>8}" for n in names)]
        for gold in self.folders:
            row = self.folder_confusion.get(gold, {})
            lines.append(f"  {gold:<{width}}" + " ".join(f"{row.get(p, 0):>8}" for p in names))
        return "\n".join(lines)


def load_labeled(path: str | Path) -> tuple[list[dict[str, Any]], list[dict[str, str]] | None]:
    """Labeled notifications and, for a suite file, its folders.

    Either JSONL (notification fields plus ``folder`` and optionally ``priority`` per line) or a suite: one JSON
    object with ``folders`` (name + description each) and ``cases`` (labeled notifications).
    """
    text = Path(path).read_text(encoding="utf-8")
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict) and "cases" in whole:
        return list(whole["cases"]), whole.get("folders")
    rows = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InvalidNotificationError(f"{path}:{line_no} is not JSON: {exc}") from exc
    return rows, None


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], bins: int = _ECE_BINS) -> float | None:
    """ECE with equal-width confidence bins: sum over bins of |accuracy - mean confidence| weighted by bin size."""
    if not confidences:
        return None
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        members = [i for i, c in enumerate(confidences) if lo < c <= hi or (b == 0 and c == 0.0)]
        if members:
            acc = sum(correct[i] for i in members) / len(members)
            conf = sum(confidences[i] for i in members) / len(members)
            total += len(members) / len(confidences) * abs(acc - conf)
    return total


def _per_class(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, dict[str, float]]:
    counts: Counter[str] = Counter(gold)
    hits: Counter[str] = Counter(g for g, p in zip(gold, predicted) if g == p)
    return {g: {"n": counts[g], "accuracy": hits[g] / counts[g]} for g in sorted(counts)}


def _confusion(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = defaultdict(dict)
    for g, p in zip(gold, predicted):
        table[g][p] = table[g].get(p, 0) + 1
    return dict(table)


def evaluate(clf: Any, rows: Iterable[Mapping[str, Any]], *, progress: Any = None) -> EvalReport:
    """Classify each labeled row one at a time (timing each) and compare with its labels.

    A row whose gold folder is not in the folder set is skipped. A row that raises a :class:`NotifclfError` (not a
    valid notification, an output failing the schema) is an error: reported, and counted as wrong.
    """
    names = [f.name for f in clf.folders]
    known = set(names)
    results: list[tuple[Mapping[str, Any], Classification | None]] = []
    latencies: list[float] = []
    messages: list[str] = []
    invalid = skipped = 0
    for i, row in enumerate(rows, start=1):
        if progress is not None:
            progress.update(1)
        if row.get("folder") not in known:
            skipped += 1
            continue
        started = time.perf_counter()
        try:
            result: Classification | None = clf.classify(row)
        except NotifclfError as exc:
            invalid += isinstance(exc, OutputValidationError)
            messages.append(f"row {i}: {type(exc).__name__}: {exc}")
            results.append((row, None))
            continue
        latencies.append(1000 * (time.perf_counter() - started))
        results.append((row, result))
    n = len(results)
    ok = [(r, c) for r, c in results if c is not None]
    gold_f = [str(r["folder"]) for r, _ in results]
    pred_f = [c.folder if c else ERROR_LABEL for _, c in results]
    with_p = [(r, c) for r, c in results if r.get("priority") in (1, 2, 3)]
    gold_p = [str(r["priority"]) for r, _ in with_p]
    pred_p = [str(c.priority) if c else ERROR_LABEL for _, c in with_p]
    folder_ok = [g == p for g, p in zip(gold_f, pred_f)]
    prio_ok = [g == p for g, p in zip(gold_p, pred_p)]
    both_ok = [c is not None and r["folder"] == c.folder and r["priority"] == c.priority for r, c in with_p]
    # Calibration is a property of the answers given: errors have no confidence and are left out of it.
    f_conf = [c.folder_confidence for _, c in ok if c.folder_confidence is not None]
    f_ok = [str(r["folder"]) == c.folder for r, c in ok]
    ok_p = [(r, c) for r, c in with_p if c is not None]
    p_conf = [c.priority_confidence for _, c in ok_p if c.priority_confidence is not None]
    p_ok = [r["priority"] == c.priority for r, c in ok_p]
    ordered = sorted(latencies) or [0.0]
    return EvalReport(
        n=n,
        folder_accuracy=sum(folder_ok) / n if n else 0.0,
        priority_accuracy=sum(prio_ok) / len(prio_ok) if prio_ok else None,
        both_accuracy=sum(both_ok) / len(both_ok) if both_ok else None,
        per_folder=_per_class(gold_f, pred_f),
        per_priority=_per_class(gold_p, pred_p),
        folder_confusion=_confusion(gold_f, pred_f),
        priority_confusion=_confusion(gold_p, pred_p),
        invalid_outputs=invalid,
        skipped=skipped,
        folder_ece=expected_calibration_error(f_conf, f_ok) if len(f_conf) == len(ok) else None,
        priority_ece=expected_calibration_error(p_conf, p_ok) if len(p_conf) == len(ok_p) else None,
        latency_ms_mean=statistics.fmean(ordered),
        latency_ms_p50=ordered[len(ordered) // 2],
        latency_ms_p95=ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        model=str(clf.model_spec.name),
        folders=names,
        errors=len(messages),
        error_messages=messages,
    )
