"""The user's own sorted notifications that look most like this one, repeated after it (issue 14).

The worked examples (the user's corrections) sit in the system prompt, far from the notification; a small model
that reads "Uber: Your receipt -> Work" there tends to file all of Uber under Work. For a model trained with them
(GGUF metadata :data:`EXAMPLE_HINTS_KEY`), the user turn ends with the few examples closest to this notification,
so the model compares them with it side by side and can tell the receipt it was shown from the ad it is reading::

    sorted by this user: [{"app": "Uber", "title": "Your Tuesday trip receipt", "folder": "Work", "priority": 1}]

Closest: most content words shared (app, title and body; :func:`notifclf.preference_hints.content_words`), the same
app counting two more, ties to the most recent; an example sharing no word is never shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from .notification import Notification
from .preference_hints import content_words, notification_text

if TYPE_CHECKING:
    from .prompt import PromptExample

EXAMPLE_HINTS_KEY = "notifclf.example_hints"  # GGUF metadata: "yes" when the model was trained with them
MAX_EXAMPLE_HINTS = 2
EXAMPLE_HINT_LABEL = "sorted by this user"


@lru_cache(maxsize=256)  # the stored examples are the same for every notification: their words are read once
def _words(note: Notification) -> frozenset[str]:
    return frozenset(content_words(notification_text(note)))


def similar_examples(examples: Sequence[PromptExample], notification: Notification,
                     limit: int = MAX_EXAMPLE_HINTS) -> list[PromptExample]:
    """Up to ``limit`` of ``examples`` (oldest first, as the prompt lists them) closest to ``notification``, closest
    first; the line itself is rendered by :func:`notifclf.prompt.hint_text`."""
    words = _words(notification)
    app = notification.app.strip().casefold()
    scored = []
    for age, ex in enumerate(examples):
        shared = len(words & _words(ex.notification))
        same_app = bool(app) and ex.notification.app.strip().casefold() == app
        if shared or same_app:
            scored.append((shared + 2 * same_app, age, ex))
    scored.sort(key=lambda t: (-t[0], -t[1]))
    return [ex for _, _, ex in scored[:limit]]
