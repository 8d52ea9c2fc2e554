"""Rows of train.jsonl: loading, the dev split (``notifclf.dev_split.is_dev``), field helpers and majority
priorities. No torch."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from notifclf.dev_split import is_dev
from notifclf.notification import Notification

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "notifai" / "train.jsonl"
DEFAULT_SEED_EMERGENT = DEFAULT_DATA.parent.parent / "seed_emergent.json"


def load_rows(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def split_rows(rows: Sequence[dict]) -> tuple[list[dict], list[dict]]:
    train = [r for r in rows if not is_dev(r["id"])]
    dev = [r for r in rows if is_dev(r["id"])]
    return train, dev


def ids_hash(ids: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode("utf-8")).hexdigest()


def notification_of(row: dict) -> Notification:
    return Notification(app=row.get("app_name") or row.get("app") or "", title=row.get("title") or "",
                        body=row.get("body") or "")


def row_text(row: dict) -> str:
    return f"{row.get('title') or ''} {row.get('body') or ''}".lower()


def row_app(row: dict) -> str:
    return (row.get("app_name") or row.get("app") or "").strip().casefold()


_DIGITS = re.compile(r"\d+")


def near_duplicate_key(row: dict) -> tuple[str, str]:
    """Rows with the same app and title (digits ignored) are near-duplicates."""
    return row_app(row), _DIGITS.sub("#", (row.get("title") or "").strip().casefold())


def majority_priorities(rows: Sequence[dict]) -> dict[str, int]:
    """For near-duplicate groups with a strict majority priority: row id -> that priority, where it differs.

    NotifAI's priorities agree only ~72% within such groups; training on the group's majority removes the noise
    that no model can learn, without inventing labels (ties keep each row's own label).
    """
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in rows:
        groups[near_duplicate_key(r)].append(r)
    changed = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        (top, n), *rest = Counter(int(r["priority"]) for r in members).most_common() + [(None, 0)]
        if n * 2 > len(members):
            changed.update({r["id"]: top for r in members if int(r["priority"]) != top})
    return changed
