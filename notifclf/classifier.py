"""The Classifier: the public face of notifclf. It owns one model for its whole life and sorts notifications.

It finds the model (:mod:`notifclf.models.store`), hands decoding to the engine (:mod:`notifclf.engine`), serializes
threads and guards the model's life: after :meth:`Classifier.close` every call raises ``ClassifierClosedError``.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from .corrections import Correction, CorrectionStore, same_notification_key
from .models.cache import resolve_cache_dir
from .engine import DecodeCounts, Engine, Inspection, PromptSetup, PromptStateStore
from .errors import ClassifierClosedError, InvalidFoldersError, InvalidPriorityError
from .embedding.correction_likeness import CORRECTIONS_BY, MAX_MATCHED, CorrectionLikeness
from .embedding.folder_prior import EmbeddingFolderPrior, check_installed, load_folder_prior, reader_encoder
from .folders import Folder, FolderLike, validate_folders, validate_instructions
from .lru import LRU
from .models.store import resolve_model
from .notification import Notification
from .prompt import MAX_PROMPT_EXAMPLES, PromptExample
from .models.registry import ModelSpec
from .result import Classification
from .schema import output_schema
from .stated_priority import STATED_PRIORITY_BONUS, checked_bonus

logger = logging.getLogger("notifclf")


class Classifier:
    """Sorts notifications into folders with a priority, on CPU, through llama.cpp.

    ``model`` is a registry name (see ``notifclf.available_models()``), a path to a ``.gguf`` file,
    ``hf:OWNER/REPO/FILE.gguf``, a :class:`~notifclf.models.registry.ModelSpec`, or ``None`` for the default model.
    ``folders`` defaults to Work, Personal, Promotions and Alerts; ``instructions`` are the user's free-text
    preferences. One Classifier may be shared by threads: calls are serialized. Use it as a context manager, or call
    :meth:`close`, to free the model.

    ``decoding="fast"`` (the default) picks folder and priority from logits restricted to the tokens the output
    grammar allows, several notifications per llama.cpp batch, and falls back to grammar decoding for a notification
    whenever greedy grammar decoding could differ; ``decoding="grammar"`` always decodes token by token under the
    grammar. Both give the same answers.

    The system prompt's KV state is computed once per folder set and kept in memory (LRU) and, unless
    ``persist_prompt_states=False``, in the cache directory, so a new process skips that prefill. Results of
    identical notifications under the same folder set come from an LRU of ``result_cache_size`` entries.

    The user's corrections (:meth:`correct`) are kept in a SQLite store at ``corrections_path`` (default
    ``corrections.sqlite3`` in the cache directory, created at the first correction). With
    ``corrections_by="examples"`` (the default) the most recent 24 filed under a folder of the current set are shown
    to the model as worked examples in the system prompt, whose KV is computed once per set of corrections (a
    notification pays for its own tokens only, read over a longer prompt; README). ``"likeness"`` leaves the prompt
    alone: a notification alike to a stored correction takes what that correction changed against the model's own
    answer for the corrected notification, its folder, its priority or both
    (:mod:`notifclf.embedding.correction_likeness`: the folder reader's embeddings, a bar chosen on users simulated
    from the dev split), about 10 ms per notification, applied at the next call; it follows corrections more often
    and spills more (README).

    ``folder_prior="reader"`` adds a second reader of the folder descriptions: the cosine similarity of a small
    sentence-embedding model (all-MiniLM-L6-v2 with the folder-reading LoRA trained here; its package comes with
    ``notifclf[model]`` and ``notifclf[embeddings]``), weighted, to the model's folder log-probabilities
    (:mod:`notifclf.embedding.folder_prior`); ``"embeddings"`` does the same with the encoder as published; ``"auto"``
    (the default) is the prior the model's registry entry names: the reader for the default model, none for a GGUF
    file of your own; ``None`` is the model alone. No prior applies under the four default folders, nor to a
    notification a stated preference or a stored correction may decide; the encoder is loaded at its first use. It
    helps on your own folder sets and costs about 10 ms per notification; the README's accuracy section has the
    figures.

    ``folder_orders=2`` or ``3`` also reads each notification with the folders listed in other orders (reversed,
    rotated by half) and picks the folder whose log-probabilities summed over the orders are highest: a small model
    leans on where a folder is listed, and this averages that out, at 2x or 3x the time per notification (each order
    has its own cached system prompt). The priority is the model's for that folder in the order given.

    ``stated_priority_bonus``: where a preference shares a word with the notification and states a priority ("GitHub
    can always wait", "Texts from Bogdan are priority 3"), that priority's log-probability gets this bonus before the
    priority is chosen (:mod:`notifclf.stated_priority`; the default was chosen on dev-split notifications under
    sampled rules, README); the folder is never moved by it; 0 leaves the priority to the model alone.

    ``calibrate_corrections`` (on by default; ``corrections_by="examples"`` only) takes back the pull the stored
    corrections exert on every notification: once per set of corrections, notifications that say nothing ("N/A")
    are read with and without them, and the difference in log P(folder) is added to every answer (contextual
    calibration). Corrections then spill much less onto notifications they do not describe, and are followed
    somewhat less often (the README's corrections section has both figures); ``False`` shows them to the model
    alone.
    """

    def __init__(
        self,
        model: "str | os.PathLike[str] | ModelSpec | None" = None,
        *,
        folders: Iterable[FolderLike] | None = None,
        instructions: str | None = None,
        cache_dir: "str | os.PathLike[str] | None" = None,
        n_threads: int | None = None,
        max_notification_tokens: int = 256,
        decoding: str = "fast",
        result_cache_size: int = 1024,
        progress: bool = True,
        local_files_only: bool | None = None,
        persist_prompt_states: bool = True,
        corrections_path: "str | os.PathLike[str] | None" = None,
        folder_prior: "str | EmbeddingFolderPrior | None" = "auto",
        folder_orders: int = 1,
        calibrate_corrections: bool = True,
        corrections_by: str = "examples",
        stated_priority_bonus: float = STATED_PRIORITY_BONUS,
    ) -> None:
        if not isinstance(max_notification_tokens, int) or not 16 <= max_notification_tokens <= 4096:
            raise ValueError("max_notification_tokens must be an int between 16 and 4096")
        if not isinstance(folder_orders, int) or isinstance(folder_orders, bool) or folder_orders not in (1, 2, 3):
            raise ValueError(f"folder_orders must be 1, 2 or 3, got {folder_orders!r}")
        if not isinstance(calibrate_corrections, bool):
            raise ValueError(f"calibrate_corrections must be True or False, got {calibrate_corrections!r}")
        stated_priority_bonus = checked_bonus(stated_priority_bonus)
        if decoding not in ("fast", "grammar"):
            raise ValueError(f"decoding must be 'fast' or 'grammar', got {decoding!r}")
        if corrections_by not in CORRECTIONS_BY:
            raise ValueError(f"corrections_by must be one of {', '.join(CORRECTIONS_BY)}, got {corrections_by!r}")
        self._likeness = (CorrectionLikeness(lambda: reader_encoder(cache_dir)) if corrections_by == "likeness"
                          else None)
        self._corrections_path = Path(corrections_path) if corrections_path is not None else \
            resolve_cache_dir(cache_dir) / "corrections.sqlite3"
        self._store = CorrectionStore(self._corrections_path) if self._corrections_path.exists() else None
        setup = self._setup_for(validate_folders(folders), validate_instructions(instructions))
        resolved = resolve_model(model, cache_dir=cache_dir, progress=progress, local_files_only=local_files_only)
        self._spec, self._path = resolved.spec, resolved.path
        states = PromptStateStore(resolve_cache_dir(cache_dir) / "prompt-states", self._path) if persist_prompt_states else None
        prior = load_folder_prior(folder_prior, cache_dir, model_prior=self._spec.folder_prior)
        self._engine = Engine(self._path, chat_format=self._spec.chat_format, n_threads=n_threads,
                              max_notification_tokens=max_notification_tokens, decoding=decoding,
                              result_cache_size=result_cache_size, prompt_states=states, folder_prior=prior,
                              folder_orders=folder_orders, calibrate_examples=calibrate_corrections,
                              stated_priority_bonus=stated_priority_bonus)
        self._lock = threading.RLock()
        self._closed = False
        # corrections_by="likeness": the model's own answer for a corrected notification, per setup
        self._own_answers: LRU[tuple[PromptSetup, Notification], Classification] = LRU(MAX_MATCHED)
        try:
            self._engine.prepare(setup)
        except BaseException:
            self._engine.close()
            raise
        self._setup = setup
        self._matched = self._corrections_matched(setup.folders)
        logger.info("notifclf loaded %s (%s) with a %d-token context", self._spec.name, self._path,
                    self._engine.runtime.n_ctx)

    # -- properties -------------------------------------------------------------------------------------------
    @property
    def folders(self) -> tuple[Folder, ...]:
        return self._setup.folders

    @property
    def instructions(self) -> str:
        return self._setup.instructions

    @property
    def model_path(self) -> Path:
        """The GGUF file actually loaded."""
        return self._path

    @property
    def model_spec(self) -> ModelSpec:
        return self._spec

    @property
    def folder_codes(self) -> bool:
        """Whether the model reads the folders as letter codes (A, B, ...; a model trained that way says so in its
        file, :mod:`notifclf.folder_codes`). Results always carry the folders' names."""
        return self._engine.folder_codes

    @property
    def schema(self) -> dict[str, Any]:
        """The JSON Schema every result of the current folder set satisfies."""
        return output_schema(self._setup.folders)

    @property
    def closed(self) -> bool:
        return self._closed

    # -- the model's life -------------------------------------------------------------------------------------
    @contextmanager
    def _engine_open(self) -> Iterator[Engine]:
        with self._lock:
            if self._closed:
                raise ClassifierClosedError("this Classifier is closed (its model was freed); create a new Classifier")
            yield self._engine

    def close(self) -> None:
        """Free the model and its context. Every later call that needs the model (``classify*``, ``set_folders``,
        ``inspect``, ``correct``) raises :class:`ClassifierClosedError`; properties and ``decode_counts`` stay
        readable. Closing twice is fine."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._engine.close()
                if self._store is not None:
                    self._store.close()

    def __enter__(self) -> "Classifier":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- folders and counters ---------------------------------------------------------------------------------
    def set_folders(self, folders: Iterable[FolderLike] | None, instructions: str | None = None) -> None:
        """Switch to another folder set (and instructions) at run time, without reloading the model. A set that
        does not fit raises (``InvalidFoldersError``, ``PromptTooLongError``) and the current one is kept.

        Corrections follow a renamed folder: a folder that leaves the set while exactly one new folder arrives with
        the same description is a rename, and its corrections move to the new name. Corrections filed under a folder
        that is no longer in the set are kept in the store but not shown; they come back with the folder."""
        new = validate_folders(folders)
        with self._engine_open() as engine:
            renames = self._renames(self._setup.folders, new)
            for old, name in renames.items():
                self._store.rename_folder(old, name)  # a rename needs corrections, so the store exists
            setup = self._setup_for(new, validate_instructions(instructions))
            try:
                engine.prepare(setup)
            except BaseException:
                for old, name in renames.items():
                    self._store.rename_folder(name, old)
                raise
            self._setup = setup
            self._matched = self._corrections_matched(new)

    def decode_counts(self) -> DecodeCounts:
        """How many results came from the fast path, from grammar decoding, and from the result cache."""
        with self._lock:
            return self._engine.counts

    def inspect(self, notification: "Notification | Mapping[str, Any]") -> Inspection:
        """What the model would be given for ``notification`` under the current folder set: the prompt's pieces and
        their tokens, the token budgets and the context size. Nothing is decoded."""
        note = Notification.coerce(notification)
        with self._engine_open() as engine:
            return engine.inspect(self._setup, note)

    # -- corrections ----------------------------------------------------------------------------------------------
    def _setup_for(self, folders: tuple[Folder, ...], instructions: str) -> PromptSetup:
        """The prompt setup: with ``corrections_by="examples"``, the corrections as worked examples in it."""
        examples = (self._store.examples(f.name for f in folders)
                    if self._store is not None and self._likeness is None else ())
        return PromptSetup(folders, instructions, examples)

    def _corrections_matched(self, folders: tuple[Folder, ...]) -> tuple[Correction, ...]:
        """With ``corrections_by="likeness"``: the corrections notifications are matched against."""
        if self._store is None or self._likeness is None:
            return ()
        return self._store.under((f.name for f in folders), MAX_MATCHED)

    def _renames(self, old: tuple[Folder, ...], new: tuple[Folder, ...]) -> dict[str, str]:
        if self._store is None:
            return {}
        old_names, new_names = {f.name for f in old}, {f.name for f in new}
        renames = {}
        for f in old:
            if f.name in new_names:
                continue
            same = [g.name for g in new if g.description == f.description and g.name not in old_names]
            if len(same) == 1:
                renames[f.name] = same[0]
        return renames

    def _reload_examples(self, engine: Engine) -> None:
        setup = self._setup_for(self._setup.folders, self._setup.instructions)
        engine.prepare(setup)
        self._setup = setup
        self._matched = self._corrections_matched(setup.folders)

    @property
    def corrections(self) -> list[Correction]:
        """Every stored correction, oldest first (also those filed under folders not in the current set)."""
        with self._lock:
            return self._store.all() if self._store is not None else []

    @property
    def corrections_path(self) -> Path:
        return self._corrections_path

    def correct(self, notification: "Notification | Mapping[str, Any]", *, folder: str | None = None,
                priority: int | None = None) -> Correction:
        """Record where ``notification`` belongs (``folder``, ``priority`` or both; the one not given is what the
        model answers now). The next call already reads it: similar notifications follow the correction."""
        note = Notification.coerce(notification)
        if folder is None and priority is None:
            raise ValueError("give folder, priority or both")
        names = [f.name for f in self._setup.folders]
        if folder is not None and folder not in names:
            raise InvalidFoldersError(f"folder {folder!r} is not one of the current folders: {', '.join(names)}")
        if priority is not None and (isinstance(priority, bool) or priority not in (1, 2, 3)):
            raise InvalidPriorityError(f"priority must be 1, 2 or 3, got {priority!r}")
        if self._likeness is not None:
            check_installed("reader")  # the encoder likeness needs, before anything is stored
        with self._engine_open() as engine:
            if folder is None or priority is None:
                now = engine.classify(self._setup, [note])[0]
                folder, priority = folder or now.folder, priority or now.priority
            if self._likeness is None:
                # The prompt with this correction must fit before anything is stored (PromptTooLongError otherwise).
                key = same_notification_key(note)
                stored = Notification(note.app, note.title, note.body, note.sub_text, note.category)
                shown = [e for e in self._setup.examples if same_notification_key(e.notification) != key]
                shown.append(PromptExample(stored, folder, priority))
                engine.prepare(PromptSetup(self._setup.folders, self._setup.instructions,
                                           tuple(shown[-MAX_PROMPT_EXAMPLES:])))
            if self._store is None:
                self._store = CorrectionStore(self._corrections_path)
            correction = self._store.add(note, folder, priority)
            self._reload_examples(engine)
        logger.info("correction %d: %s / %s -> %s, priority %d", correction.id, note.app, note.title, folder, priority)
        return correction

    def forget(self, correction: "Correction | int") -> bool:
        """Undo a correction (a :class:`Correction` or its id); False when there is none with that id."""
        correction_id = correction.id if isinstance(correction, Correction) else int(correction)
        with self._engine_open() as engine:
            if self._store is None or not self._store.forget(correction_id):
                return False
            self._reload_examples(engine)
            return True

    def clear_corrections(self) -> int:
        """Forget every correction; returns how many there were."""
        with self._engine_open() as engine:
            if self._store is None:
                return 0
            n = self._store.clear()
            self._reload_examples(engine)
            return n

    # -- classification ---------------------------------------------------------------------------------------
    def classify(self, notification: "Notification | Mapping[str, Any]") -> Classification:
        """Classify one notification (a :class:`Notification` or a mapping with ``app``, ``title``, ``body``...)."""
        return self.classify_many([notification])[0]

    def classify_many(self, notifications: Iterable["Notification | Mapping[str, Any]"]) -> list[Classification]:
        """Classify several notifications, batched into shared llama.cpp decodes; results come in the same order."""
        notes = [Notification.coerce(n) for n in notifications]
        with self._engine_open() as engine:
            setup = self._setup
            return self._with_corrections(engine, setup, self._matched, notes, engine.classify(setup, notes))

    def _with_corrections(self, engine: Engine, setup: PromptSetup, matched: tuple[Correction, ...],
                          notes: list[Notification], results: list[Classification]) -> list[Classification]:
        """The model's results with the stored corrections applied by likeness (``corrections_by="likeness"``): a
        notification alike to a correction takes what the correction changed, the labels in which it differs from
        the model's own answer for the corrected notification (a priority-only correction moves the priority)."""
        if self._likeness is None or not matched:
            return results
        found = self._likeness.nearest(tuple(c.notification for c in matched), notes)
        own = self._own_answers_for(engine, setup, [matched[j] for j in sorted({j for j in found if j is not None})])
        return [r if j is None else _as_corrected(r, matched[j], own[matched[j].id]) for r, j in zip(results, found)]

    def _own_answers_for(self, engine: Engine, setup: PromptSetup,
                         corrections: list[Correction]) -> dict[int, Classification]:
        """The model's answers for the corrected notifications under ``setup``, computed once per setup."""
        own = {c.id: self._own_answers.get((setup, c.notification)) for c in corrections}
        missing = [c for c in corrections if own[c.id] is None]
        if missing:
            for c, answer in zip(missing, engine.classify(setup, [c.notification for c in missing])):
                self._own_answers.put((setup, c.notification), answer)
                own[c.id] = answer
        return own

    def classify_iter(self, notifications: Iterable["Notification | Mapping[str, Any]"], *,
                      batch_size: int = 16) -> Iterator[Classification]:
        """Classify a stream: results are yielded in input order, ``batch_size`` notifications decoded together.

        ``notifications`` is read lazily, one batch ahead of the results, so it may be a generator or a file too large
        for memory. The folder set is the one current when ``classify_iter`` is called. A notification that is not
        valid raises ``InvalidNotificationError`` when its batch is reached (results before that batch were yielded).
        """
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        return self._iterate(iter(notifications), batch_size, self._setup, self._matched)

    def _iterate(self, items: Iterator[Any], batch_size: int, setup: PromptSetup,
                 matched: tuple[Correction, ...]) -> Iterator[Classification]:
        while batch := list(itertools.islice(items, batch_size)):
            notes = [Notification.coerce(n) for n in batch]
            with self._engine_open() as engine:
                results = self._with_corrections(engine, setup, matched, notes, engine.classify(setup, notes))
            yield from results


def _as_corrected(result: Classification, correction: Correction, own: Classification) -> Classification:
    """``result`` with what ``correction`` changed against ``own`` (the model's answer for the corrected
    notification): its folder, its priority or both, ``corrected_by`` its id; the model's distributions kept (the
    priority's confidence only where the folder is the model's, whose priority it rates). A correction that agrees
    with the model's own answer changes nothing."""
    if (correction.folder, correction.priority) == (own.folder, own.priority):
        return result
    folder = correction.folder if correction.folder != own.folder else result.folder
    priority = correction.priority if correction.priority != own.priority else result.priority
    return replace(result, folder=folder, priority=priority, corrected_by=correction.id,
                   folder_confidence=result.folder_distribution.get(folder),
                   priority_confidence=(result.priority_distribution.get(priority)
                                        if folder == result.folder else None))
