"""Map notifclf priorities (1 can wait, 2 worth checking today, 3 needs attention now) onto platform levels.

* Android: ``NotificationChannel`` importance: 1 -> ``IMPORTANCE_LOW`` (2), 2 -> ``IMPORTANCE_DEFAULT`` (3),
  3 -> ``IMPORTANCE_HIGH`` (4), the integer constants of ``android.app.NotificationManager``.
* iOS: ``UNNotificationInterruptionLevel``: 1 -> ``passive``, 2 -> ``active``, 3 -> ``timeSensitive`` (the
  ``interruption-level`` values of an APNs payload).
"""

from __future__ import annotations

from typing import Protocol

from .errors import InvalidPriorityError

ANDROID_IMPORTANCE_LOW = 2
ANDROID_IMPORTANCE_DEFAULT = 3
ANDROID_IMPORTANCE_HIGH = 4

_ANDROID = {1: ("IMPORTANCE_LOW", ANDROID_IMPORTANCE_LOW), 2: ("IMPORTANCE_DEFAULT", ANDROID_IMPORTANCE_DEFAULT),
            3: ("IMPORTANCE_HIGH", ANDROID_IMPORTANCE_HIGH)}
_IOS = {1: "passive", 2: "active", 3: "timeSensitive"}


class _HasPriority(Protocol):
    @property
    def priority(self) -> int: ...


PriorityLike = int | _HasPriority


def _priority(value: PriorityLike) -> int:
    priority = getattr(value, "priority", value)
    if isinstance(priority, bool) or not isinstance(priority, int) or priority not in _IOS:
        raise InvalidPriorityError(f"priority must be 1, 2 or 3 (or a Classification), got {priority!r:.40}")
    return priority


def android_importance(priority: PriorityLike) -> int:
    """The Android ``NotificationManager.IMPORTANCE_*`` integer for a priority or a Classification: 2, 3 or 4."""
    return _ANDROID[_priority(priority)][1]


def android_importance_name(priority: PriorityLike) -> str:
    """The constant's name: ``"IMPORTANCE_LOW"``, ``"IMPORTANCE_DEFAULT"`` or ``"IMPORTANCE_HIGH"``."""
    return _ANDROID[_priority(priority)][0]


def ios_interruption_level(priority: PriorityLike) -> str:
    """The iOS interruption level for a priority or a Classification: ``passive``, ``active`` or ``timeSensitive``."""
    return _IOS[_priority(priority)]
