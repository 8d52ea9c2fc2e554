"""The user's corrections applied by likeness: a notification as alike to a stored correction as two notifications of
one kind usually are takes what that correction changed: its folder, its priority or both, those in which it differs
from the model's own answer for the corrected notification (``Classifier(corrections_by="likeness")``; the default
shows corrections to the model as worked examples instead). This module finds the most alike correction; the
Classifier applies it.

Likeness is the cosine of the folder reader's embeddings ("app. title. body"; all-MiniLM-L6-v2 with the reader's
LoRA adapter, :mod:`.folder_prior`), which places notifications of one kind (two airlines' check-in
notices, a PayPal and a Wise payment) near each other. The most alike correction at or over :data:`CORRECTION_BAR`
wins; a notification under the bar keeps the model's answer. The bar is chosen on users simulated from the dev split,
never on the users that measure corrections (``evals/choose_correction_bar.py``: conventions over trained categories,
three corrections each; the bar with the most right answers, the cases a convention decides and those it must not
touch weighing the same).

Against worked examples in the prompt (``corrections_by="examples"``, the default, the format the model was trained
to read): with 24 corrections the system prompt grows from about 250 tokens to about 1,750, every notification
attends over it (2.7x the time per notification) and each new correction is a prefill of that prompt (about 20 s on
one core); here the prompt never changes, a notification costs one embedding more (about 10 ms; none under folders
of one's own, where the folder prior has encoded it already: the shared encoder keeps recent texts) and a correction
applies at the next call. On the simulated users of evals/conventions/ likeness follows three corrections far more
often and spills far more onto the notifications it should not touch, which sit close to the corrected ones by
design (the same apps): README, "Learning from corrections".
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from ..lru import LRU
from ..notification import Notification
from .folder_prior import notification_text

CORRECTION_BAR = 0.45  # python evals/choose_correction_bar.py: users simulated from the dev split, registered reader
MAX_MATCHED = 512  # corrections matched against, the most recent under the current folders
CORRECTIONS_BY = ("likeness", "examples")  # how stored corrections change answers (Classifier(corrections_by=...))


class CorrectionLikeness:
    """Finds, for each notification, the most alike corrected notification over the bar. ``load_encoder`` gives the
    sentence encoder (anything with ``encode(texts) -> unit rows``); it is called at the first use, so a user without
    corrections never loads it. Thread-safe."""

    def __init__(self, load_encoder: Callable[[], object], bar: float = CORRECTION_BAR) -> None:
        if not isinstance(bar, (int, float)) or not -1 <= bar <= 1:
            raise ValueError(f"bar must be a cosine from -1 to 1, got {bar!r}")
        self.bar = float(bar)
        self._load_encoder = load_encoder
        self._encoder = None
        self._rows: LRU[tuple[Notification, ...], np.ndarray] = LRU(4)  # the last 4 sets' embeddings
        self._lock = threading.Lock()

    def _encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            if self._encoder is None:
                self._encoder = self._load_encoder()
        return self._encoder.encode(texts)

    def _corrected_rows(self, corrected: tuple[Notification, ...]) -> np.ndarray:
        with self._lock:
            rows = self._rows.get(corrected)
        if rows is None:
            rows = self._encode([notification_text(n) for n in corrected])
            with self._lock:
                self._rows.put(corrected, rows)
        return rows

    def nearest(self, corrected: tuple[Notification, ...], notes: Sequence[Notification]) -> list[int | None]:
        """For each of ``notes``, the index of the most alike of the ``corrected`` notifications if it is at least
        the bar alike, else None."""
        if not corrected or not notes:
            return [None] * len(notes)
        cos = self._encode([notification_text(n) for n in notes]) @ self._corrected_rows(corrected).T
        best = np.argmax(cos, axis=1)
        return [int(j) if cos[i, j] >= self.bar else None for i, j in enumerate(best)]
