"""Computed system-prompt KV states kept on disk, so a new process skips the prompt's prefill (cold start)."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from .cache import atomic_output, resolve_cache_dir
from .errors import NotifclfError

logger = logging.getLogger("notifclf")

MAX_STATES = 32


class PromptStateStore:
    """States keyed by the model file (path, size, mtime), the llama.cpp bindings' version and the prompt text.

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
            with atomic_output(self._path(prefix)) as fh:
                fh.write(hashlib.sha256(state).digest())
                fh.write(state)
            self._prune()
        except (OSError, NotifclfError) as exc:
            logger.debug("prompt state not saved: %s", exc)

    def _prune(self) -> None:
        states = sorted(self._directory.glob("*.state"), key=lambda p: p.stat().st_mtime)
        for old in states[:-MAX_STATES]:
            old.unlink(missing_ok=True)


def store_for(cache_dir: str | os.PathLike[str] | None, model_path: Path) -> PromptStateStore:
    return PromptStateStore(resolve_cache_dir(cache_dir) / "prompt-states", model_path)
