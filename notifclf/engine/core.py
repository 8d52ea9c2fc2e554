"""The engine: one llama.cpp model and context, and everything that decodes with it.

It sizes (and reopens) the context for each prompt setup, keeps the system prompt's KV state (:mod:`.prefix_cache`),
decodes notifications on the fast path (:mod:`.fast_choice`, several per batch) or with the grammar, caches results
and counts which path gave each. It is not thread-safe: :class:`notifclf.Classifier` serializes calls to it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .answer_paths import AnswerPaths, build_answer_paths
from ..chat_template import FALLBACK_TEMPLATES, PromptPieces, fallback_template
from ..errors import ClassifierClosedError, ModelIntegrityError, OutputValidationError, PromptTooLongError
from .fast_choice import Choice, choose, folder_distributions, priority_probs
from ..example_hints import EXAMPLE_HINTS_KEY, similar_examples
from ..folder_codes import FOLDER_LABELS, FOLDER_LABELS_KEY, code_folders
from ..folders import Folder, is_default_set
from .runtime import GrammarSampler, LlamaRuntime
from ..notification import Notification
from ..preference_hints import MAX_HINT_TOKENS, PREFERENCE_HINTS_KEY, matching_preferences
from ..prompt import PromptExample, build_prompt, notification_fields
from ..result import Classification
from ..schema import PRIORITIES, grammar_from_schema, output_schema, render_answer, validate_output
from ..stated_priority import STATED_PRIORITY_BONUS, rechoose, stated_priority
from ..lru import LRU
from .prefix_cache import PrefixCache, PromptStateStore

logger = logging.getLogger("notifclf")

_CTX_STEP = 256
# Sequences per context (the fast path gives each folder of each notification its own). llama.cpp keeps a logits row
# of n_vocab floats per sequence (0.6 MB for Qwen): 32 fits MAX_FOLDERS (24) and costs ~30 MB less peak RSS than 64,
# at the same classify_many speed (7 notifications of 4 folders per batch; the token budget binds about there).
_N_SEQ_MAX = 32
_MAX_PREPARED = 16
# Notifications that say nothing, read with and without the worked examples to measure how far the examples alone move
# the folder distribution (contextual calibration, Zhao et al. 2021): that shift is taken back from every answer.
CONTENT_FREE = (Notification(app="N/A", title="N/A", body="N/A"), Notification(title="[MASK]"),
                Notification(app="App", title="Notification"))


class FolderPrior(Protocol):
    """Log-space bonuses for the folders, one row per notification (``notifclf.embedding.folder_prior``)."""

    def bias(self, folders: tuple[Folder, ...], notes: Sequence[Notification]) -> np.ndarray: ...


@dataclass(frozen=True)
class PromptSetup:
    """What the system prompt is made of. Each setup has its own prompt state and its own cached results."""

    folders: tuple[Folder, ...]
    instructions: str = ""
    examples: tuple[PromptExample, ...] = ()


@dataclass(frozen=True)
class Inspection:
    """What the model is given for one notification (:meth:`notifclf.Classifier.inspect`).

    ``prompt`` is the rendered chat prompt cut in three: the system prompt and template text (``prefix``, its KV state
    computed once per folder set), the notification's fields (``user``, data: special tokens are never parsed in it),
    for a model trained so the preferences and examples that may bear on it (``hint``, data too) and the rest of the
    template (``suffix``). The token tuples are what llama.cpp decodes; ``user_tokens`` are the notification's, cut
    to ``max_notification_tokens`` (``user_tokens_dropped`` were cut off), then the hint's. ``user_special_tokens``
    lists control or user-defined tokens (``<|im_start|>``, ``<think>``) among ``user_tokens``: always empty, by
    construction.
    """

    prompt: PromptPieces
    prefix_tokens: tuple[int, ...]
    user_tokens: tuple[int, ...]
    suffix_tokens: tuple[int, ...]
    user_tokens_dropped: int
    user_special_tokens: tuple[int, ...]
    max_notification_tokens: int
    max_answer_tokens: int
    context_size: int
    model_context_size: int


@dataclass(frozen=True)
class DecodeCounts:
    """How many results came from each path: ``fast`` (choice from logits restricted to the grammar's tokens),
    ``grammar`` (token-by-token grammar decoding, also the fast path's fallback) and ``cached`` (the result cache)."""

    fast: int = 0
    grammar: int = 0
    cached: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def shown_setup(setup: PromptSetup, folder_labels: str) -> PromptSetup:
    """The setup as the model is shown it: the same, or with the folders (and the examples' folders) as letter codes
    for a model trained on codes (``folder_labels`` "codes" or "codes-repeated": :mod:`notifclf.folder_codes`)."""
    if folder_labels == "names":
        return setup
    folders, codes = code_folders(setup.folders, repeat_code=folder_labels == "codes-repeated")
    return PromptSetup(folders, setup.instructions, tuple(replace(e, folder=codes[e.folder]) for e in setup.examples))


@dataclass(frozen=True)
class _Prepared:
    setup: PromptSetup  # the user's folders: results, their schema and the folder prior use these
    shown: PromptSetup  # what the model reads and answers (shown_setup); folder i of one is folder i of the other
    prefix: str
    schema: dict[str, Any]
    sampler: GrammarSampler
    paths: AnswerPaths | None
    max_answer_tokens: int

    def folder_named(self, answer: str) -> str:
        """The user's folder for the name the model answered."""
        return self.setup.folders[[f.name for f in self.shown.folders].index(answer)].name


class Engine:
    """Decodes notifications with one model. ``decoding`` is ``"fast"`` or ``"grammar"``; ``max_notification_tokens``
    bounds each notification's own tokens; ``prompt_states`` keeps system-prompt states on disk across processes."""

    def __init__(self, model_path: Path, *, chat_format: str, n_threads: int | None, max_notification_tokens: int,
                 decoding: str, result_cache_size: int, prompt_states: PromptStateStore | None,
                 folder_prior: FolderPrior | None = None, folder_orders: int = 1,
                 calibrate_examples: bool = True, stated_priority_bonus: float = STATED_PRIORITY_BONUS) -> None:
        self.runtime = LlamaRuntime(model_path, n_threads=n_threads)
        self.folder_orders = folder_orders
        self.calibrate_examples = calibrate_examples
        self.stated_priority_bonus = stated_priority_bonus
        self._example_shifts: LRU[PromptSetup, np.ndarray] = LRU(_MAX_PREPARED)
        self.folder_labels = self.runtime.metadata(FOLDER_LABELS_KEY) or "names"
        if self.folder_labels not in FOLDER_LABELS:
            self.runtime.close()
            raise ModelIntegrityError(f"{model_path}: {FOLDER_LABELS_KEY} = {self.folder_labels!r} is none of "
                                      f"{', '.join(FOLDER_LABELS)}: a model file this version cannot read")
        # A model trained with the preferences that may apply repeated in the user turn (preference_hints.py).
        self.preference_hints = self.runtime.metadata(PREFERENCE_HINTS_KEY) == "yes"
        # ... and with the user's sorted notifications most like each one repeated after it (example_hints.py).
        self.example_hints = self.runtime.metadata(EXAMPLE_HINTS_KEY) == "yes"
        self.folder_prior = folder_prior
        self.max_notification_tokens = max_notification_tokens
        self._max_tail_data = max_notification_tokens + (
            MAX_HINT_TOKENS if self.preference_hints or self.example_hints else 0)
        self._decoding = decoding
        self._n_batch = max(512, -(-(self._max_tail_data + 128) // 64) * 64)
        self._template = (self.runtime.chat_template() or FALLBACK_TEMPLATES.get(chat_format)
                          or fallback_template(self.runtime.metadata("general.architecture") or ""))
        bos = self.runtime.bos_id
        self._bos_text = self.runtime.token_text(bos) if bos >= 0 else ""
        self._prefixes = PrefixCache(self.runtime, prompt_states)
        self._prepared: LRU[PromptSetup, _Prepared] = LRU(_MAX_PREPARED, on_evict=lambda p: p.sampler.close())
        self._results: LRU[tuple[Any, ...], Classification] = LRU(result_cache_size)
        self._counts = {"fast": 0, "grammar": 0, "cached": 0}
        self._closed = False

    @property
    def counts(self) -> DecodeCounts:
        return DecodeCounts(**self._counts)

    @property
    def folder_codes(self) -> bool:
        """Whether the model is shown letter codes instead of folder names."""
        return self.folder_labels != "names"

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._prepared.clear()  # frees the grammar samplers before the model they were built from
            self.runtime.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ClassifierClosedError("this Classifier is closed (its model was freed); create a new Classifier")

    # -- prompt setups ----------------------------------------------------------------------------------------
    def render(self, setup: PromptSetup, note: Notification) -> PromptPieces:
        return build_prompt(self._template, setup.folders, setup.instructions, note, examples=setup.examples,
                            bos_token=self._bos_text)

    def _hint_tokens(self, pieces: PromptPieces) -> list[int]:
        return self.runtime.tokenize_data(pieces.hint)[:MAX_HINT_TOKENS] if pieces.hint else []

    def _render_note(self, prepared: _Prepared, note: Notification) -> PromptPieces:
        """The prompt of one notification as the model is shown it, with the preferences that may apply to it and the
        examples most like it when the model was trained so."""
        setup, shown = prepared.setup, prepared.shown
        hints = (matching_preferences(setup.instructions, note, [f.name for f in setup.folders])
                 if self.preference_hints else ())
        similar = similar_examples(shown.examples, note) if self.example_hints else ()
        return build_prompt(self._template, shown.folders, shown.instructions, note, examples=shown.examples,
                            hints=hints, similar=similar, bos_token=self._bos_text)

    def _prefix_tokens(self, prefix: str) -> list[int]:
        return self.runtime.tokenize(prefix, special=True, add_bos=self.runtime.add_bos)

    def prepare(self, setup: PromptSetup) -> _Prepared:
        """Check that ``setup`` fits the model, grow the context if it needs more, compile its grammar and answer
        paths (once per setup: kept LRU). Raises :class:`PromptTooLongError` or :class:`GrammarError`."""
        self._check_open()
        found = self._prepared.get(setup)
        if found is not None:
            return found
        rt = self.runtime
        shown = shown_setup(setup, self.folder_labels)
        pieces = self.render(shown, Notification())
        n_prefix = len(self._prefix_tokens(pieces.prefix))
        n_suffix = len(rt.tokenize(pieces.suffix, special=True))
        max_answer = max(len(rt.tokenize(render_answer(f.name, 1), special=False)) for f in shown.folders) + 4
        needed = n_prefix + self._max_tail_data + n_suffix + max_answer
        if needed > rt.n_ctx_train:
            raise PromptTooLongError(
                f"the system prompt takes {n_prefix} tokens; with {self.max_notification_tokens} notification tokens it "
                f"needs {needed}, more than the model's context of {rt.n_ctx_train}; use fewer or shorter "
                "folders and instructions"
            )
        wanted_ctx = min(rt.n_ctx_train, -(-(n_prefix + self._n_batch + 2 * max_answer) // _CTX_STEP) * _CTX_STEP)
        if wanted_ctx > rt.n_ctx:
            rt.open_context(n_ctx=wanted_ctx, n_batch=self._n_batch, n_seq_max=_N_SEQ_MAX)
            self._prefixes.clear()
        paths = None
        if len(setup.folders) < _N_SEQ_MAX:  # the fast path's trie; grammar decoding jumps forward along it too
            index = rt.piece_index()
            paths = build_answer_paths([f.name for f in shown.folders], lambda t: rt.tokenize(t, special=False),
                                       rt.piece, index, index.max_len)
        grammar = grammar_from_schema(output_schema(shown.folders))
        prepared = _Prepared(setup, shown, pieces.prefix, output_schema(setup.folders), rt.grammar_sampler(grammar),
                             paths, max_answer)
        self._prepared.put(setup, prepared)
        return prepared

    def inspect(self, setup: PromptSetup, note: Notification) -> Inspection:
        prepared = self.prepare(setup)
        rt = self.runtime
        pieces = self._render_note(prepared, note)
        user = rt.tokenize_data(pieces.user)
        kept = tuple(user[: self.max_notification_tokens]) + tuple(self._hint_tokens(pieces))
        return Inspection(prompt=pieces, prefix_tokens=tuple(self._prefix_tokens(pieces.prefix)), user_tokens=kept,
                          suffix_tokens=tuple(rt.tokenize(pieces.suffix, special=True)),
                          user_tokens_dropped=max(0, len(user) - self.max_notification_tokens),
                          user_special_tokens=tuple(t for t in kept if rt.is_special(t)),
                          max_notification_tokens=self.max_notification_tokens,
                          max_answer_tokens=prepared.max_answer_tokens, context_size=rt.n_ctx,
                          model_context_size=rt.n_ctx_train)

    # -- classification ---------------------------------------------------------------------------------------
    def classify(self, setup: PromptSetup, notes: Sequence[Notification]) -> list[Classification]:
        """Results in the order of ``notes``: from the result cache, or decoded together."""
        prepared = self.prepare(setup)
        keys = [(setup, tuple(notification_fields(note))) for note in notes]
        results: list[Classification | None] = [self._results.get(key) for key in keys]
        todo = [i for i, cached in enumerate(results) if cached is None]
        self._counts["cached"] += len(notes) - len(todo)
        for i, result in zip(todo, self._decode(prepared, [notes[i] for i in todo])):
            results[i] = result
            self._results.put(keys[i], result)
        return results  # type: ignore[return-value]

    def _folder_bias(self, prepared: _Prepared, notes: list[Notification]) -> np.ndarray | None:
        """Log-space bonuses per notification and folder, or None: the folder prior's; the shift that takes back
        the worked examples' pull on everything (:meth:`_example_shift`); and, with ``folder_orders`` above 1, the
        model's own log P(folder) with the folders listed in other orders, each calibrated the same way (an ensemble
        over orders: the folder is then the argmax of the summed log-probabilities)."""
        setup = prepared.setup
        bias = self._prior_bias(setup, notes)
        shift = self._example_shift(prepared)
        if shift is not None:
            bias = np.tile(shift, (len(notes), 1)) if bias is None else bias + shift
        for order in other_orders(len(setup.folders))[: self.folder_orders - 1]:
            shuffled = self.prepare(PromptSetup(tuple(setup.folders[i] for i in order), setup.instructions,
                                                setup.examples))
            logp = np.empty((len(notes), len(order)))
            logp[:, list(order)] = np.log(np.maximum(self._model_folder_probs(shuffled, notes), 1e-12)) + (
                self._example_shift(shuffled) if shift is not None else 0.0)
            bias = logp if bias is None else bias + logp
        return bias

    def _prior_bias(self, setup: PromptSetup, notes: list[Notification]) -> np.ndarray | None:
        """The folder prior's bonuses: none under the four default folders (the fine-tuned model was trained on them
        and reads them better than any prior: README, "Your own folders"), and none for a notification that the
        user's own words may decide: a stated preference that shares a word with it (:func:`matching_preferences`)
        or a stored correction like it (:func:`similar_examples`). The model reads those, the prior cannot, so the
        prior never outvotes what the user said."""
        if self.folder_prior is None or is_default_set(setup.folders):
            return None
        names = [f.name for f in setup.folders]
        read = [i for i, note in enumerate(notes)
                if not ((setup.instructions and matching_preferences(setup.instructions, note, names))
                        or similar_examples(setup.examples, note))]
        bias = np.zeros((len(notes), len(setup.folders)))
        if read:  # only the notifications the prior reads are encoded
            bias[read] = self.folder_prior.bias(setup.folders, [notes[i] for i in read])
        return bias

    def _example_shift(self, prepared: _Prepared) -> np.ndarray | None:
        """With worked examples and ``calibrate_examples``: per folder, log P(folder) of content-free notifications
        without the examples minus with them (mean over :data:`CONTENT_FREE`), computed once per setup. Added to every
        answer's log P(folder), it takes back the pull the examples exert on everything (a user's corrections to Work
        drawing unrelated notifications to Work) and keeps what they say about notifications like them."""
        setup = prepared.setup
        if not (self.calibrate_examples and setup.examples and prepared.paths is not None):
            return None
        shift = self._example_shifts.get(setup)
        if shift is None:
            plain = self.prepare(PromptSetup(setup.folders, setup.instructions))
            notes = list(CONTENT_FREE)
            logp = lambda p: np.log(np.maximum(self._model_folder_probs(p, notes), 1e-12)).mean(axis=0)  # noqa: E731
            shift = logp(plain) - logp(prepared)
            self._example_shifts.put(setup, shift)
        return shift

    def _model_folder_probs(self, prepared: _Prepared, notes: list[Notification]) -> np.ndarray:
        """The model's own P(folder) per notification (rows) and folder of ``prepared`` (columns): the fast path's
        first decode alone, whatever ``decoding`` is."""
        rt = self.runtime
        n_prefix = self._prefixes.load(prepared.prefix, lambda: self._prefix_tokens(prepared.prefix))
        probs = []
        for group in self._groups(prepared.paths, self._tails(prepared, notes)):
            probs += folder_distributions(rt, prepared.paths, n_prefix, group)
            rt.truncate(-1, n_prefix)
        return np.array(probs)

    def _tails(self, prepared: _Prepared, notes: list[Notification]) -> list[list[int]]:
        """Each notification's tokens (cut to ``max_notification_tokens``) and the template's suffix after them."""
        rt = self.runtime
        tails = []
        for note in notes:
            pieces = self._render_note(prepared, note)
            tails.append(rt.tokenize_data(pieces.user)[: self.max_notification_tokens] + self._hint_tokens(pieces)
                         + rt.tokenize(pieces.suffix, special=True))
        return tails

    def _decode(self, prepared: _Prepared, notes: list[Notification]) -> list[Classification]:
        results = self._decode_model(prepared, notes)
        if not (self.stated_priority_bonus and prepared.setup.instructions):
            return results
        names = [f.name for f in prepared.setup.folders]
        return [self._with_stated_priority(prepared, result, stated_priority(prepared.setup.instructions, note, names))
                for note, result in zip(notes, results)]

    def _with_stated_priority(self, prepared: _Prepared, result: Classification, stated: int | None
                              ) -> Classification:
        """The result with the priority a matching preference states given its bonus (:mod:`..stated_priority`):
        the priority digit re-chosen from the model's distribution times exp(bonus), that distribution reported."""
        if stated is None or not result.priority_distribution:
            return result
        priority, fused = rechoose([result.priority_distribution[p] for p in PRIORITIES], stated,
                                   self.stated_priority_bonus)
        dist = dict(zip(PRIORITIES, fused))
        validate_output({"folder": result.folder, "priority": priority}, prepared.schema)
        return replace(result, priority=priority, priority_confidence=dist[priority], priority_distribution=dist)

    def _decode_model(self, prepared: _Prepared, notes: list[Notification]) -> list[Classification]:
        if not notes:
            return []
        rt = self.runtime
        bias = self._folder_bias(prepared, notes) if prepared.paths is not None else None
        n_prefix = self._prefixes.load(prepared.prefix, lambda: self._prefix_tokens(prepared.prefix))
        tails = self._tails(prepared, notes)
        if prepared.paths is None or (self._decoding == "grammar" and bias is None):
            return [self._grammar_result(prepared, n_prefix, tail, None) for tail in tails]
        results: list[Classification] = []
        start = 0
        for group in self._groups(prepared.paths, tails):
            group_bias = bias[start: start + len(group)] if bias is not None else None
            start += len(group)
            choices = choose(rt, prepared.paths, n_prefix, group, group_bias)
            rt.truncate(-1, n_prefix)
            for tail, choice in zip(group, choices):
                if choice.exact and not (self._decoding == "grammar" and bias is not None):
                    results.append(self._from_choice(prepared, choice))
                else:  # with a bias, the grammar decodes the priority after the folder the bias chose
                    forced = choice.folder if bias is not None else None
                    results.append(self._grammar_result(prepared, n_prefix, tail, choice.folder_probs, forced))
        return results

    def _groups(self, paths: AnswerPaths, tails: list[list[int]]) -> Iterator[list[list[int]]]:
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

    def _from_choice(self, prepared: _Prepared, choice: Choice) -> Classification:
        self._counts["fast"] += 1
        return _result(prepared, prepared.setup.folders[choice.folder].name, PRIORITIES[choice.priority_index],
                       choice.folder_probs, choice.priority_probs)

    def _grammar_result(self, prepared: _Prepared, n_prefix: int, tail: list[int],
                        folder_probs: np.ndarray | None, forced_folder: int | None = None) -> Classification:
        """Grammar-constrained greedy decoding of one notification in sequence 0. While the answer is on the
        canonical token trie, text the grammar fixes is jumped over as the fast path does (same results).
        ``forced_folder``: the head of that folder is fed instead of chosen (a folder bias chose it: the prior, other
        orders)."""
        self._counts["grammar"] += 1
        rt = self.runtime
        rt.truncate(-1, n_prefix)
        paths = prepared.paths
        node = paths.root if paths is not None else None
        sampler = prepared.sampler
        sampler.reset()
        pending, n_past = list(tail), n_prefix
        out = bytearray()
        digit_probs = None
        heads = {render_answer(f.name, 1).encode("utf-8")[:-2] for f in prepared.shown.folders}  # text before the digit
        if forced_folder is not None and paths is not None:
            head = paths.path(forced_folder)
            for step in head[1:]:
                sampler.accept(step.token)
                out += rt.piece(step.token)
                pending.append(step.token)
            node = head[-1]
        for _ in range(prepared.max_answer_tokens):
            if paths is not None and node is not None and not node.branches:
                jumped = paths.forced_from(node)[1:]
                for forced in jumped:
                    sampler.accept(forced.token)
                    out += rt.piece(forced.token)
                    pending.append(forced.token)
                node = jumped[-1]
            rt.decode_sequence(pending, start=n_past)
            n_past += len(pending)
            if paths is not None and bytes(out) in heads:
                digit_probs = priority_probs(rt.logits(-1), paths.digits)
            token = sampler.sample(-1)
            out += rt.piece(token)
            node = node.children.get(token) if node is not None else None  # None once off the canonical tokens
            if out.endswith(b"}"):
                try:
                    data = json.loads(out.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError):
                    data = None
                if isinstance(data, dict):
                    rt.truncate(-1, n_prefix)
                    return _result(prepared, prepared.folder_named(data["folder"]), data["priority"], folder_probs,
                                   digit_probs)
            pending = [token]
        raise OutputValidationError(f"the answer did not complete within {prepared.max_answer_tokens} tokens: {bytes(out)!r}")


def other_orders(n: int) -> list[tuple[int, ...]]:
    """Orders of ``n`` folders other than the given one, for an ensemble over orders: reversed, then rotated by half
    (each only where it differs from those before it)."""
    given = tuple(range(n))
    orders: list[tuple[int, ...]] = []
    for order in (given[::-1], given[n // 2:] + given[: n // 2]):
        if order != given and order not in orders:
            orders.append(order)
    return orders


def _result(prepared: _Prepared, folder: str, priority: int, folder_probs: np.ndarray | None,
            prio_probs: np.ndarray | None) -> Classification:
    """A checked result: the answer is validated against the setup's JSON schema before it is returned."""
    validate_output({"folder": folder, "priority": priority}, prepared.schema)
    names = [f.name for f in prepared.setup.folders]
    folder_dist = {n: float(p) for n, p in zip(names, folder_probs)} if folder_probs is not None else {}
    prio_dist = {p: float(q) for p, q in zip(PRIORITIES, prio_probs)} if prio_probs is not None else {}
    return Classification(folder=folder, priority=priority, folder_confidence=folder_dist.get(folder),
                          priority_confidence=prio_dist.get(priority), folder_distribution=folder_dist,
                          priority_distribution=prio_dist)
