"""The Notification type: Android-style fields, validated on construction, never modified by notifclf."""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Union

from .errors import InvalidNotificationError

logger = logging.getLogger("notifclf")

PostedAt = Union[_dt.datetime, str, int, float, None]

# Keys accepted from a mapping besides the field names, mapped onto a field.
_ALIASES = {"app_name": "app", "package": "app", "package_name": "app", "text": "body", "subText": "sub_text",
            "when": "posted_at", "time": "posted_at"}


@dataclass(frozen=True)
class Notification:
    """One notification as Android posts it.

    ``app`` is a display name ("Slack") or a package id ("com.chase.sig.android").
    ``category`` is an Android ``Notification.CATEGORY_*`` value such as "msg" or "email".
    ``posted_at`` is a datetime, an ISO-8601 string or epoch milliseconds (Android's ``when``).
    Text fields may be ``bytes``: they are decoded as UTF-8, invalid sequences replaced by U+FFFD.
    """

    app: str = ""
    title: str = ""
    body: str = ""
    sub_text: str = ""
    category: str = ""
    posted_at: PostedAt = None

    def __post_init__(self) -> None:
        for f in ("app", "title", "body", "sub_text", "category"):
            value = getattr(self, f)
            if value is None:
                object.__setattr__(self, f, "")
            elif isinstance(value, (bytes, bytearray)):
                object.__setattr__(self, f, bytes(value).decode("utf-8", errors="replace"))
            elif not isinstance(value, str):
                raise InvalidNotificationError(
                    f"Notification.{f} must be a str (or UTF-8 bytes, or None), got {type(value).__name__}: {value!r:.60}"
                )
        posted = self.posted_at
        if posted is not None and (isinstance(posted, bool) or not isinstance(posted, (_dt.datetime, str, int, float))):
            raise InvalidNotificationError(
                "Notification.posted_at must be a datetime, an ISO-8601 string or epoch milliseconds, "
                f"got {type(posted).__name__}"
            )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "Notification":
        """Build from a dict such as ``{"app": "Chase", "title": "Payment received"}``.

        Aliases ``app_name``, ``package``, ``text``, ``subText`` and ``when`` are understood; ``app_name`` wins over
        ``app`` when both are present (it is the display name). Other unknown keys are ignored.
        """
        if not isinstance(data, Mapping):
            raise InvalidNotificationError(f"a notification must be a Notification or a mapping, got {type(data).__name__}")
        names = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key in names:
                values.setdefault(key, value)
        for alias, target in _ALIASES.items():
            if alias in data and data[alias] not in (None, ""):
                if alias == "app_name" or target not in values or values[target] in (None, ""):
                    values[target] = data[alias]
        unknown = [k for k in data if k not in names and k not in _ALIASES]
        if unknown:
            logger.debug("ignoring unknown notification fields: %s", ", ".join(map(str, unknown)))
        return cls(**values)

    @classmethod
    def coerce(cls, value: "Notification | Mapping[str, Any]") -> "Notification":
        """Return ``value`` if it is a Notification, else build one from a mapping."""
        if isinstance(value, Notification):
            return value
        return cls.from_mapping(value)

    def posted_at_text(self) -> str:
        """``posted_at`` as ``YYYY-MM-DD HH:MM`` (local time as given), or "" when unknown or unparseable."""
        posted = self.posted_at
        try:
            if isinstance(posted, _dt.datetime):
                moment = posted
            elif isinstance(posted, str) and posted.strip():
                moment = _dt.datetime.fromisoformat(posted.strip())
            elif isinstance(posted, (int, float)):
                moment = _dt.datetime.fromtimestamp(posted / 1000.0, tz=_dt.timezone.utc)
            else:
                return ""
        except (ValueError, OverflowError, OSError):
            logger.debug("unparseable posted_at %r ignored", posted)
            return ""
        return moment.strftime("%Y-%m-%d %H:%M")
