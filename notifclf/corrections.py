"""The user's corrections: a small SQLite store the user owns, and the worked examples the prompt shows from it.

One store holds every correction, tagged with the folder *name* it was filed under. The prompt shows, as worked
examples (``notifclf.prompt.examples_block``), the most recent ``MAX_PROMPT_EXAMPLES`` corrections whose folder is
in the current folder set; a correction whose folder is not in the set is kept but not shown (it comes back when
the folder does). A correction of the same notification again (same app, title and body, digits ignored) replaces
the earlier one. Renaming a folder renames its corrections (``rename_folder``); ``Classifier.set_folders`` does
that when a folder keeps its description under a new name.

A store that is not a readable notifclf store raises ``CacheError`` and is never overwritten.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import CacheError, InvalidPriorityError
from .notification import Notification
from .prompt import MAX_PROMPT_EXAMPLES, PromptExample

SCHEMA_VERSION = "1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS corrections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    app TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL, sub_text TEXT NOT NULL, category TEXT NOT NULL,
    folder TEXT NOT NULL,
    priority INTEGER NOT NULL CHECK (priority IN (1, 2, 3)),
    same_as TEXT NOT NULL UNIQUE
);
"""
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class Correction:
    """A notification the user filed themselves."""

    id: int
    notification: Notification
    folder: str
    priority: int
    created_at: float

    def example(self) -> PromptExample:
        return PromptExample(self.notification, self.folder, self.priority)


def same_notification_key(n: Notification) -> str:
    """Corrections of the same notification (same sender and wording, digits ignored) share this key."""
    return "\x1f".join(_DIGITS.sub("#", " ".join(v.split()).casefold()) for v in (n.app, n.title, n.body))


class CorrectionStore:
    """Thread-safe; every write is one SQLite transaction (atomic, durable)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            with self._db:
                self._db.executescript(_SCHEMA)
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            (version,) = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except (sqlite3.Error, OSError) as exc:
            raise CacheError(f"corrections store {self.path} cannot be opened ({exc}); it is left as it is: "
                             "move it away or pass another corrections_path") from exc
        if version != SCHEMA_VERSION:
            raise CacheError(f"corrections store {self.path} has schema {version!r}, this notifclf reads "
                             f"{SCHEMA_VERSION!r}; it is left as it is")

    def _run(self, sql: str, args: Sequence = ()) -> list[tuple]:
        with self._lock:
            try:
                with self._db:
                    return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise CacheError(f"corrections store {self.path}: {exc}") from exc

    def add(self, notification: Notification, folder: str, priority: int) -> Correction:
        if priority not in (1, 2, 3) or isinstance(priority, bool):
            raise InvalidPriorityError(f"priority must be 1, 2 or 3, got {priority!r}")
        n = notification
        now = time.time()
        (row_id,) = self._run(
            "INSERT INTO corrections (created_at, app, title, body, sub_text, category, folder, priority, same_as) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(same_as) DO UPDATE SET created_at = excluded.created_at, "
            "app = excluded.app, title = excluded.title, body = excluded.body, sub_text = excluded.sub_text, "
            "category = excluded.category, folder = excluded.folder, priority = excluded.priority RETURNING id",
            (now, n.app, n.title, n.body, n.sub_text, n.category, folder, priority, same_notification_key(n)))[0]
        return Correction(row_id, Notification(n.app, n.title, n.body, n.sub_text, n.category), folder, priority, now)

    def all(self) -> list[Correction]:
        """Every correction, oldest first."""
        rows = self._run("SELECT id, app, title, body, sub_text, category, folder, priority, created_at "
                         "FROM corrections ORDER BY created_at, id")
        return [Correction(r[0], Notification(*r[1:6]), r[6], r[7], r[8]) for r in rows]

    def forget(self, correction_id: int) -> bool:
        """Undo one correction; False when there is none with that id."""
        return bool(self._run("DELETE FROM corrections WHERE id = ? RETURNING id", (int(correction_id),)))

    def clear(self) -> int:
        return len(self._run("DELETE FROM corrections RETURNING id"))

    def rename_folder(self, old: str, new: str) -> int:
        return len(self._run("UPDATE corrections SET folder = ? WHERE folder = ? RETURNING id", (new, old)))

    def under(self, folder_names: Iterable[str], limit: int) -> tuple[Correction, ...]:
        """The most recent ``limit`` corrections filed under one of ``folder_names``, oldest first."""
        names = set(folder_names)
        return tuple([c for c in self.all() if c.folder in names][-limit:]) if limit > 0 else ()

    def examples(self, folder_names: Iterable[str], limit: int = MAX_PROMPT_EXAMPLES) -> tuple[PromptExample, ...]:
        """The most recent ``limit`` corrections filed under one of ``folder_names`` as worked examples."""
        return tuple(c.example() for c in self.under(folder_names, limit))

    def close(self) -> None:
        with self._lock:
            self._db.close()
