"""The Classifier: owns one model for its whole life and sorts notifications into the user's folders."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .chat_template import FALLBACK_TEMPLATES
from .errors import OutputValidationError, PromptTooLongError
from .folders import Folder, FolderLike, validate_folders, validate_instructions
from .llama_runtime import GrammarSampler, LlamaRuntime
from .model_store import ResolvedModel, resolve_model
from .notification import Notification
from .prompt import build_prompt
from .registry import ModelSpec
from .result import Classification
from .schema import grammar_from_schema, output_schema, render_answer, validate_output

logger = logging.getLogger("notifclf")

NotificationLike = "Notification | Mapping[str, Any]"
_CTX_STEP = 256
_MAX_CACHED_PREFIXES = 8


@dataclass(frozen=True)
class _FolderSetup:
    folders: tuple[Folder, ...]
    instructions: str
    schema: dict[str, Any]
    sampler: GrammarSampler
    max_answer_tokens: int
    n_ctx_needed: int


class Classifier:
    """Sorts notifications into folders with a priority, on CPU, through llama.cpp.

    ``model`` is a registry name (see ``notifclf.available_models()``), a path to a ``.gguf`` file,
    ``hf:OWNER/REPO/FILE.gguf``, a :class:`~notifclf.registry.ModelSpec`, or ``None`` for the default model.
    ``folders`` defaults to Work, Personal, Promotions and Alerts; ``instructions`` are the user's free-text
    preferences. One Classifier may be shared by threads: calls are serialized.
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
        progress: bool = True,
        local_files_only: bool | None = None,
    ) -> None:
        if not isinstance(max_notification_tokens, int) or not 16 <= max_notification_tokens <= 4096:
            raise ValueError("max_notification_tokens must be an int between 16 and 4096")
        self._resolved: ResolvedModel = resolve_model(model, cache_dir=cache_dir, progress=progress,
                                                      local_files_only=local_files_only)
        self._lock = threading.RLock()
        self._max_notification_tokens = max_notification_tokens
        self._runtime = LlamaRuntime(self._resolved.path, n_threads=n_threads)
        self._template = self._runtime.chat_template() or FALLBACK_TEMPLATES.get(self._resolved.spec.chat_format)
        self._bos_text = self._runtime.token_text(self._runtime.bos_id) if self._runtime.bos_id >= 0 else ""
        self._prefix_states: OrderedDict[str, tuple[list[int], bytes]] = OrderedDict()
        self._loaded_prefix: list[int] | None = None
        self._setups: dict[tuple[tuple[Folder, ...], str], _FolderSetup] = {}
        self._setup = self._make_setup(validate_folders(folders), validate_instructions(instructions))
        logger.info("notifclf loaded %s (%s) with a %d-token context", self._resolved.spec.name, self._resolved.path, self._runtime.n_ctx)

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

    def set_folders(self, folders: Iterable[FolderLike] | None, instructions: str | None = None) -> None:
        """Switch to another folder set (and instructions) at run time, without reloading the model."""
        setup = self._make_setup(validate_folders(folders), validate_instructions(instructions))
        with self._lock:
            self._setup = setup

    # -- classification ---------------------------------------------------------------------------------------
    def classify(self, notification: "Notification | Mapping[str, Any]") -> Classification:
        """Classify one notification (a :class:`Notification` or a mapping with ``app``, ``title``, ``body``...)."""
        note = Notification.coerce(notification)
        with self._lock:
            return self._classify_locked(note, self._setup)

    def classify_many(self, notifications: Iterable["Notification | Mapping[str, Any]"]) -> list[Classification]:
        """Classify several notifications; results come in the same order."""
        notes = [Notification.coerce(n) for n in notifications]
        with self._lock:
            setup = self._setup
            return [self._classify_locked(n, setup) for n in notes]

    def close(self) -> None:
        with self._lock:
            self._setups.clear()
            self._runtime.close()

    def __enter__(self) -> "Classifier":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------------------------------
    def _render(self, setup: _FolderSetup, note: Notification):
        return build_prompt(self._template, setup.folders, setup.instructions, note, bos_token=self._bos_text)

    def _prefix_tokens(self, prefix: str) -> list[int]:
        return self._runtime.tokenize(prefix, special=True, add_bos=self._runtime.add_bos)

    def _make_setup(self, folders: tuple[Folder, ...], instructions: str) -> _FolderSetup:
        key = (folders, instructions)
        with self._lock:
            if key in self._setups:
                return self._setups[key]
            schema = output_schema(folders)
            pieces = build_prompt(self._template, folders, instructions, Notification(), bos_token=self._bos_text)
            n_prefix = len(self._prefix_tokens(pieces.prefix))
            n_suffix = len(self._runtime.tokenize(pieces.suffix, special=True))
            max_answer = max(len(self._runtime.tokenize(render_answer(f.name, 1), special=False)) for f in folders) + 4
            needed = n_prefix + self._max_notification_tokens + n_suffix + max_answer
            if needed > self._runtime.n_ctx_train:
                raise PromptTooLongError(
                    f"the system prompt takes {n_prefix} tokens; with {self._max_notification_tokens} notification tokens it "
                    f"needs {needed}, more than the model's context of {self._runtime.n_ctx_train}; use fewer or shorter "
                    "folders and instructions"
                )
            if needed > self._runtime.n_ctx:
                self._runtime.open_context(n_ctx=-(-needed // _CTX_STEP) * _CTX_STEP)
                self._prefix_states.clear()
                self._loaded_prefix = None
                self._setups.clear()
            setup = _FolderSetup(folders, instructions, schema, self._runtime.grammar_sampler(grammar_from_schema(schema)),
                                 max_answer, needed)
            self._setups[key] = setup
            return setup

    def _load_prefix(self, prefix: str) -> int:
        """Make sequence 0 hold the KV state of ``prefix``: reused, restored from the cache, or computed once."""
        cached = self._prefix_states.get(prefix)
        if cached is not None:
            self._prefix_states.move_to_end(prefix)
            tokens, state = cached
            if self._loaded_prefix != tokens:
                self._runtime.restore_sequence(0, state)
                self._loaded_prefix = tokens
            return len(tokens)
        tokens = self._prefix_tokens(prefix)
        self._runtime.truncate(0, 0)
        self._runtime.decode_sequence(tokens, start=0)
        self._prefix_states[prefix] = (tokens, self._runtime.save_sequence(0))
        self._loaded_prefix = tokens
        while len(self._prefix_states) > _MAX_CACHED_PREFIXES:
            self._prefix_states.popitem(last=False)
        logger.debug("computed the system prompt state: %d tokens", len(tokens))
        return len(tokens)

    def _classify_locked(self, note: Notification, setup: _FolderSetup) -> Classification:
        rt = self._runtime
        pieces = self._render(setup, note)
        n_past = self._load_prefix(pieces.prefix)
        user = rt.tokenize(pieces.user, special=False)[: self._max_notification_tokens]
        tail = user + rt.tokenize(pieces.suffix, special=True)
        rt.truncate(0, n_past)
        rt.decode_sequence(tail, start=n_past)
        n_past += len(tail)
        text = self._decode_answer(setup, n_past)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise OutputValidationError(f"the model's constrained output {text!r} is not JSON") from exc
        validate_output(data, setup.schema)
        return Classification(folder=data["folder"], priority=data["priority"])

    def _decode_answer(self, setup: _FolderSetup, n_past: int) -> str:
        """Grammar-constrained greedy decoding until the JSON answer is complete."""
        rt = self._runtime
        sampler = setup.sampler
        sampler.reset()
        out = bytearray()
        for _ in range(setup.max_answer_tokens):
            token = sampler.sample(-1)
            out += rt.piece(token)
            if out.endswith(b"}"):
                try:
                    json.loads(out.decode("utf-8"))
                    return out.decode("utf-8")
                except (UnicodeDecodeError, json.JSONDecodeError):
                    pass
            rt.decode_sequence([token], start=n_past)
            n_past += 1
        raise OutputValidationError(f"the answer did not complete within {setup.max_answer_tokens} tokens: {bytes(out)!r}")
