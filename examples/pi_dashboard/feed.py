"""The live feed: the latest classified notifications, numbered, kept in memory and shared by request threads."""

from __future__ import annotations

import datetime as dt
import threading
from collections import deque
from typing import Any

import notifclf


class Feed:
    """The last ``size`` classified notifications, each with an increasing ``id`` (the page asks for ids after N)."""

    def __init__(self, size: int = 200) -> None:
        self._items: deque[dict[str, Any]] = deque(maxlen=size)
        self._next_id = 1
        self._lock = threading.Lock()

    def add(self, note: notifclf.Notification, result: notifclf.Classification) -> dict[str, Any]:
        item = {
            "time": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "app": note.app, "title": note.title, "body": note.body,
            "folder": result.folder, "priority": result.priority,
            "folder_confidence": result.folder_confidence, "priority_confidence": result.priority_confidence,
            "android_importance": notifclf.android_importance(result),
            "ios_interruption_level": notifclf.ios_interruption_level(result),
            "corrected": False,
        }
        with self._lock:
            item["id"] = self._next_id
            self._next_id += 1
            self._items.append(item)
        return item

    def get(self, item_id: int) -> dict[str, Any] | None:
        with self._lock:
            return next((dict(item) for item in self._items if item["id"] == item_id), None)

    def correct(self, item_id: int, folder: str, priority: int) -> dict[str, Any]:
        """The item filed as the user said (its priority's Android and iOS levels follow)."""
        with self._lock:
            item = next(item for item in self._items if item["id"] == item_id)
            item.update(folder=folder, priority=priority, corrected=True,
                        android_importance=notifclf.android_importance(priority),
                        ios_interruption_level=notifclf.ios_interruption_level(priority))
            return dict(item)

    def after(self, last_id: int) -> list[dict[str, Any]]:
        """Items with an id greater than ``last_id``, oldest first."""
        with self._lock:
            return [item for item in self._items if item["id"] > last_id]
