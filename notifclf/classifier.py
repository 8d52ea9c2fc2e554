"""The Classifier: owns one model for its whole life and sorts notifications into the user's folders."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .answer_paths import AnswerPaths, build_answer_paths
from .chat_template import FALLBACK_TEMPLATES, PromptPieces
from .errors import NotifclfError, OutputValidationError, PromptTooLongError
from .fast_choice import Choice, choose, priority_probs
from .folders import Folder, FolderLike, validate_folders, validate_instructions
from .llama_runtime import GrammarSampler, LlamaRuntime
from .model_store import ResolvedModel, resolve_model
from .notification import Notification
from .prompt import build_prompt, notification_fields
from .prompt_states import store_for
from .registry import ModelSpec
from .result import Classification
from .schema import PRIORITIES, grammar_from_schema, output_schema, render_answer, validate_output

logger = logging.getLogger("notifclf")

_CTX_STEP = 256
_MAX_CACHED_PREFIXES = 8
_N_SEQ_MAX = 64
_RESULT_CACHE_SIZE = 1024


@dataclass(frozen=True)
class _FolderSetup:
    folders: tuple[Folder, ...]
    instructions: str
    schema: dict[str, Any]
    sampler: GrammarSampler
    paths: AnswerPaths | None
    max_answer_tokens: int


class Classifier:
    """Sorts notifications into folders with a priority, on CPU, through llama.cpp.

    ``model`` is a registry name (see ``notifclf.available_models()``), a path to a ``.gguf`` file,
    ``hf:OWNER/REPO/FILE.gguf``, a :class:`~notifclf.registry.ModelSpec`, or ``None`` for the default model.
    ``folders`` defaults to Work, Personal, Promotions and Alerts; ``instructions`` are the user's free-text
    preferences. One Classifier may be shared by threads: calls are serialized.

    ``decoding="fast"`` (the default) picks folder and priority from logits restricted to the tokens the output
    grammar allows, several notifications per llama.cpp batch, and falls back to grammar decoding for a notification
    whenever greedy grammar decoding could differ; ``decoding="grammar"`` always decodes token by token under the
    grammar. Both give the same answers.

    The system prompt's KV state is computed once per folder set and kept in memory (LRU) and, unless
    ``persist_prompt_states=False``, in the cache directory, so a new process skips that prefill.
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
        result_cache_size: int = _RESULT_CACHE_SIZE,
        progress: bool = True,
        local_files_only: bool | None = None,
        persist_prompt_states: bool = True,
    ) -> None:
        if not isinstance(max_notification_tokens, int) or not 16 <= max_notification_tokens <= 4096:
            raise ValueError("max_notification_tokens must be an int between 16 and 4096")
        if decoding not in ("fast", "grammar"):
            raise ValueError(f"decoding must be 'fast' or 'grammar', got {decoding!r}")
        self._resolved: ResolvedModel = resolve_model(model, cache_dir=cache_dir, progress=progress,
                                                      local_files_only=local_files_only)
        self._lock = threading.RLock()
        self._max_notification_tokens = max_notification_tokens
        self._decoding = decoding
        self._n_batch = max(512, -(-(max_notification_tokens + 128) // 64) * 64)
        self._runtime = LlamaRuntime(self._resolved.path, n_threads=n_threads)
        self._state_store = store_for(cache_dir, self._resolved.path) if persist_prompt_states else None
        self._template = self._runtime.chat_template() or FALLBACK_TEMPLATES.get(self._resolved.spec.chat_format)
        self._bos_text = self._runtime.token_text(self._runtime.bos_id) if self._runtime.bos_id >= 0 else ""
        self._prefix_states: OrderedDict[str, tuple[list[int], bytes]] = OrderedDict()
        self._loaded_prefix: str | None = None
        self._setups: dict[tuple[tuple[Folder, ...], str], _FolderSetup] = {}
        self._results: OrderedDict[tuple[Any, ...], Classification] = OrderedDict()
        self._result_cache_size = result_cache_size
        self._counts = {"fast": 0, "grammar": 0, "cached": 0}
        self._setup = self._make_setup(validate_folders(folders), validate_instructions(instructions))
        logger.info("notifclf loaded %s (%s) with a %d-token context", self._resolved.spec.name, self._resolved.path,
                    self._runtime.n_ctx)

    # -- public properties ------------------------------------------------------------------------------------
    @property
    def folders(self) -> tuple[Folder, ...]:
        return self._setup.folders

    @property
    def instructions(self) -> str:
        return self._setup.instructions

    @property
    def model_path(self) -> Path:
        """The GGUF file actually loaded."""
        return self._resolved.path

    @property
    def model_spec(self) -> ModelSpec:
        return self._resolved.spec

    @property
    def schema(self) -> dict[str, Any]:
        return self._setup.schema

    def decode_counts(self) -> dict[str, int]:
        """How many results came from the fast path, from grammar decoding, and from the result cache."""
        with self._lock:
            return dict(self._counts)

    def set_folders(self, folders: Iterable[FolderLike] | None, instructions: str | None = None) -> None:
        """Switch to another folder set (and instructions) at run time, without reloading the model."""
        setup = self._make_setup(validate_folders(folders), validate_instructions(instructions))
        with self._lock:
            self._setup = setup

    # -- classification ---------------------------------------------------------------------------------------
    def classify(self, notification: "Notification | Mapping[str, Any]") -> Classification:
        """Classify one notification (a :class:`Notification` or a mapping with ``app``, ``title``, ``body``...)."""
        return self.classify_many([notification])[0]

    def classify_many(self, notifications: Iterable["Notification | Mapping[str, Any]"]) -> list[Classification]:
        """Classify several notifications, batched into shared llama.cpp decodes; results come in the same order."""
        notes = [Notification.coerce(n) for n in notifications]
        with self._lock:
            setup = self._setup
            keys = [self._result_key(setup, note) for note in notes]
            results: list[Classification | None] = [self._results.get(key) for key in keys]
            todo = [i for i, cached in enumerate(results) if cached is None]
            for key, cached in zip(keys, results):
                if cached is not None:
                    self._results.move_to_end(key)
                    self._counts["cached"] += 1
            for i, result in zip(todo, self._classify_uncached([notes[i] for i in todo], setup)):
                results[i] = result
                self._remember(keys[i], result)
            return results  # type: ignore[return-value]

    def close(self) -> None:
        with self._lock:
            self._setups.clear()
            self._runtime.close()

    def __enter__(self) -> "Classifier":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- folder sets and the cached system prompt -------------------------------------------------------------
    def _render(self, setup: _FolderSetup, note: Notification) -> PromptPieces:
        return build_prompt(self._template, setup.folders, setup.instructions, note, bos_token=self._bos_text)

    def _prefix_tokens(self, prefix: str) -> list[int]:
        return self._runtime.tokenize(prefix, special=True, add_bos=self._runtime.add_bos)

    def _make_setup(self, folders: tuple[Folder, ...], instructions: str) -> _FolderSetup:
        key = (folders, instructions)
        with self._lock:
            if key in self._setups:
                return self._setups[key]
            rt = self._runtime
            schema = output_schema(folders)
            pieces = build_prompt(self._template, folders, instructions, Notification(), bos_token=self._bos_text)
            n_prefix = len(self._prefix_tokens(pieces.prefix))
            n_suffix = len(rt.tokenize(pieces.suffix, special=True))
            max_answer = max(len(rt.tokenize(render_answer(f.name, 1), special=False)) for f in folders) + 4
            needed = n_prefix + self._max_notification_tokens + n_suffix + max_answer
            if needed > rt.n_ctx_train:
                raise PromptTooLongError(
                    f"the system prompt takes {n_prefix} tokens; with {self._max_notification_tokens} notification tokens it "
                    f"needs {needed}, more than the model's context of {rt.n_ctx_train}; use fewer or shorter "
                    "folders and instructions"
                )
            wanted_ctx = min(rt.n_ctx_train, -(-(n_prefix + self._n_batch + 2 * max_answer) // _CTX_STEP) * _CTX_STEP)
            if wanted_ctx > rt.n_ctx:
                rt.open_context(n_ctx=wanted_ctx, n_batch=self._n_batch, n_seq_max=_N_SEQ_MAX)
                self._prefix_states.clear()
                self._loaded_prefix = None
                self._setups.clear()
            paths = None
            if self._decoding == "fast" and len(folders) < _N_SEQ_MAX:
                index, longest = rt.piece_index()
                paths = build_answer_paths([f.name for f in folders], lambda t: rt.tokenize(t, special=False),
                                           rt.piece, index, longest)
            setup = _FolderSetup(folders, instructions, schema, rt.grammar_sampler(grammar_from_schema(schema)), paths,
                                 max_answer)
            self._setups[key] = setup
            return setup

    def _load_prefix(self, prefix: str) -> int:
        """Make sequence 0 hold the KV state of ``prefix``: reused, restored from the cache, or computed once."""
        rt = self._runtime
        cached = self._prefix_states.get(prefix)
        if cached is not None:
            self._prefix_states.move_to_end(prefix)
            tokens, state = cached
            if self._loaded_prefix == prefix:
                rt.truncate(-1, len(tokens))
            else:
                rt.restore_sequence(0, state)
                self._loaded_prefix = prefix
            return len(tokens)
        tokens = self._prefix_tokens(prefix)
        saved = self._state_store.load(prefix) if self._state_store else None
        state = None
        if saved is not None:
            try:
                rt.restore_sequence(0, saved)
                state = saved
            except NotifclfError:
                logger.debug("stale prompt state on disk ignored")
        if state is None:
            rt.truncate(-1, 0)
            rt.decode_sequence(tokens, start=0)
            state = rt.save_sequence(0)
            if self._state_store:
                self._state_store.save(prefix, state)
        self._prefix_states[prefix] = (tokens, state)
        self._loaded_prefix = prefix
        while len(self._prefix_states) > _MAX_CACHED_PREFIXES:
            self._prefix_states.popitem(last=False)
        logger.debug("system prompt state ready (%s): %d tokens", "from disk" if saved is state else "computed", len(tokens))
        return len(tokens)

    # -- results cache ----------------------------------------------------------------------------------------
    def _result_key(self, setup: _FolderSetup, note: Notification) -> tuple[Any, ...]:
        return (setup.folders, setup.instructions, tuple(notification_fields(note)))

    def _remember(self, key: tuple[Any, ...], result: Classification) -> None:
        if self._result_cache_size <= 0:
            return
        self._results[key] = result
        while len(self._results) > self._result_cache_size:
            self._results.popitem(last=False)

    # -- decoding ---------------------------------------------------------------------------------------------
    def _classify_uncached(self, notes: list[Notification], setup: _FolderSetup) -> list[Classification]:
        if not notes:
            return []
        rt = self._runtime
        rendered = [self._render(setup, note) for note in notes]
        n_prefix = self._load_prefix(rendered[0].prefix)  # the same for every note of a folder set
        tails = [rt.tokenize_data(p.user)[: self._max_notification_tokens] + rt.tokenize(p.suffix, special=True)
                 for p in rendered]
        if setup.paths is None:
            return [self._grammar_result(setup, n_prefix, tail, None) for tail in tails]
        results: list[Classification] = []
        for group in self._groups(setup.paths, tails):
            choices = choose(rt, setup.paths, n_prefix, group)
            rt.truncate(-1, n_prefix)
            for tail, choice in zip(group, choices):
                results.append(self._from_choice(setup, choice) if choice.exact
                               else self._grammar_result(setup, n_prefix, tail, choice.folder_probs))
        return results

    def _groups(self, paths: AnswerPaths, tails: list[list[int]]) -> Iterable[list[list[int]]]:
        """Split notifications into groups that fit one batch and the sequence limit."""
        n_folders = len(paths.heads)
        per_note_extra = len(paths.shared_nodes) + max(len(h) for h in paths.heads)
        max_notes = max(1, (_N_SEQ_MAX - 1) // n_folders)
        group: list[list[int]] = []
        used = 0
        for tail in tails:
            cost = len(tail) + per_note_extra
            if group and (used + cost > self._n_batch or len(group) == max_notes):
                yield group
                group, used = [], 0
            group.append(tail)
            used += cost
        if group:
            yield group

    def _from_choice(self, setup: _FolderSetup, choice: Choice) -> Classification:
        self._counts["fast"] += 1
        return self._result(setup, setup.folders[choice.folder].name, PRIORITIES[choice.priority_index],
                            choice.folder_probs, choice.priority_probs)

    def _result(self, setup: _FolderSetup, folder: str, priority: int, folder_probs: np.ndarray | None,
                prio_probs: np.ndarray | None) -> Classification:
        data = {"folder": folder, "priority": priority}
        validate_output(data, setup.schema)
        names = [f.name for f in setup.folders]
        folder_dist = {n: float(p) for n, p in zip(names, folder_probs)} if folder_probs is not None else {}
        prio_dist = {p: float(q) for p, q in zip(PRIORITIES, prio_probs)} if prio_probs is not None else {}
        return Classification(folder=folder, priority=priority, folder_confidence=folder_dist.get(folder),
                              priority_confidence=prio_dist.get(priority), folder_distribution=folder_dist,
                              priority_distribution=prio_dist)

    def _grammar_result(self, setup: _FolderSetup, n_prefix: int, tail: list[int],
                        folder_probs: np.ndarray | None) -> Classification:
        """Grammar-constrained greedy decoding of one notification in sequence 0."""
        self._counts["grammar"] += 1
        rt = self._runtime
        rt.truncate(-1, n_prefix)
        rt.decode_sequence(tail, start=n_prefix)
        n_past = n_prefix + len(tail)
        sampler = setup.sampler
        sampler.reset()
        out = bytearray()
        digit_probs = None
        heads = {render_answer(f.name, 1).encode("utf-8")[:-2] for f in setup.folders}  # answer text before the digit
        for _ in range(setup.max_answer_tokens):
            if setup.paths is not None and bytes(out) in heads:
                digit_probs = priority_probs(rt.logits(-1), setup.paths.digits)
            token = sampler.sample(-1)
            out += rt.piece(token)
            if out.endswith(b"}"):
                try:
                    data = json.loads(out.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError):
                    data = None
                if isinstance(data, dict):
                    rt.truncate(-1, n_prefix)
                    return self._result(setup, data["folder"], data["priority"], folder_probs, digit_probs)
            rt.decode_sequence([token], start=n_past)
            n_past += 1
        raise OutputValidationError(f"the answer did not complete within {setup.max_answer_tokens} tokens: {bytes(out)!r}")
