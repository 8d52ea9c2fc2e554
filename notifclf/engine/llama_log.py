"""The one owner of llama.cpp's process-wide log callback, and of its backend initialisation.

llama.cpp has a single log callback per process. notifclf installs one, once, that sends every line to the
``notifclf.llama`` logger at DEBUG (quiet unless asked for, e.g. ``notifclf -vv``) and to the listeners registered
with :func:`listening` (convert's quantizer reads its progress and errors that way). Nothing else sets it.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import llama_cpp.llama_cpp as C

_llama_logger = logging.getLogger("notifclf.llama")
_lock = threading.Lock()
_listeners: list[Callable[[str], None]] = []
_initialized = False


@C.llama_log_callback
def _log_callback(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
    line = (text or b"").decode("utf-8", errors="replace").rstrip()
    if not line:
        return
    for listener in tuple(_listeners):
        listener(line)
    if _llama_logger.isEnabledFor(logging.DEBUG):
        _llama_logger.debug("%s", line)


def init_backend() -> None:
    """Install the log callback and initialise llama.cpp's backend, once per process."""
    global _initialized
    with _lock:
        if not _initialized:
            C.llama_log_set(_log_callback, ctypes.c_void_p(0))
            C.llama_backend_init()
            _initialized = True


@contextmanager
def listening(listener: Callable[[str], None]) -> Iterator[None]:
    """Also hand every llama.cpp log line to ``listener`` while the block runs (the logger keeps getting them)."""
    init_backend()
    with _lock:
        _listeners.append(listener)
    try:
        yield
    finally:
        with _lock:
            _listeners.remove(listener)
