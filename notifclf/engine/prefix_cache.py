"""The system prompt's KV state, computed once per prompt setup and reused.

A prompt setup (folders, instructions, worked examples) renders one system prompt, the *prefix* of every prompt it
classifies. Its KV state is kept in memory (LRU, keyed by the prefix text) and, with a :class:`PromptStateStore`, on
disk, so a new process skips that prefill too. :meth:`PrefixCache.load` makes llama.cpp sequence 0 hold it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

from ..errors import NotifclfError
from ..files import atomic_write
from .runtime import LlamaRuntime
from ..lru import LRU

logger = logging.getLogger("notifclf")

MAX_STATES_ON_DISK = 32
MAX_STATES_IN_MEMORY = 8


class PromptStateStore:
    """States on disk, keyed by the model file (path, size, mtime), the llama.cpp bindings' version and the prefix.

    Failures to read or write are logged and ignored: the state is then simply computed again.
    """

    def __init__(self, directory: Path, model_path: Path) -> None:
        import llama_cpp

        st = model_path.stat()
        ident = f"{model_path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{llama_cpp.__version__}"
        self._directory = directory
        self._model_key = hashlib.sha256(ident.encode()).hexdigest()[:16]

    def _path(self, prefix: str) -> Path:
        return self._directory / f"{self._model_key}-{hashlib.sha256(prefix.encode()).hexdigest()[:32]}.state"

    def load(self, prefix: str) -> bytes | None:
        """The saved state, or None when absent or damaged (its SHA-256 header is checked before llama.cpp sees it)."""
        try:
            data = self._path(prefix).read_bytes()
        except OSError:
            return None
        digest, state = data[:32], data[32:]
        if len(data) <= 32 or hashlib.sha256(state).digest() != digest:
            logger.debug("damaged prompt state %s ignored", self._path(prefix).name)
            return None
        return state

    def save(self, prefix: str, state: bytes) -> None:
        try:
            self._directory.mkdir(parents=True, exist_ok=True)
            with atomic_write(self._path(prefix)) as fh:
                fh.write(hashlib.sha256(state).digest())
                fh.write(state)
            self._prune()
        except OSError as exc:
            logger.debug("prompt state not saved: %s", exc)

    def _prune(self) -> None:
        states = sorted(self._directory.glob("*.state"), key=lambda p: p.stat().st_mtime)
        for old in states[:-MAX_STATES_ON_DISK]:
            old.unlink(missing_ok=True)


class PrefixCache:
    """Prefix KV states in memory (and on disk with a store), loaded into sequence 0 of ``runtime``'s context."""

    def __init__(self, runtime: LlamaRuntime, store: PromptStateStore | None) -> None:
        self._runtime = runtime
        self._store = store
        self._states: LRU[str, tuple[int, bytes]] = LRU(MAX_STATES_IN_MEMORY)  # prefix -> (tokens, state)
        self._loaded: str | None = None

    def clear(self) -> None:
        """Forget the states held in memory (after the context was reopened, its KV cells are gone)."""
        self._states.clear()
        self._loaded = None

    def load(self, prefix: str, tokens: Callable[[], list[int]]) -> int:
        """Make sequence 0 hold exactly the KV state of ``prefix`` (tokenized by ``tokens()`` when it must be
        computed): kept in place, restored from memory or disk, or computed once. Returns its length in tokens."""
        rt = self._runtime
        cached = self._states.get(prefix)
        if cached is not None:
            n_tokens, state = cached
            if self._loaded == prefix:
                rt.truncate(-1, n_tokens)  # drop what the last notifications left after it
            else:
                rt.restore_sequence(0, state)
                self._loaded = prefix
            return n_tokens
        ids = tokens()
        saved = self._store.load(prefix) if self._store else None
        state = None
        if saved is not None:
            try:
                rt.restore_sequence(0, saved)
                state = saved
            except NotifclfError:
                logger.debug("stale prompt state on disk ignored")
        if state is None:
            rt.truncate(-1, 0)
            rt.decode_sequence(ids, start=0)
            state = rt.save_sequence(0)
            if self._store:
                self._store.save(prefix, state)
        self._states.put(prefix, (len(ids), state))
        self._loaded = prefix
        logger.debug("system prompt state ready (%s): %d tokens", "from disk" if saved is state else "computed", len(ids))
        return len(ids)
