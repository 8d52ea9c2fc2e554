"""The model cache: where assembled models live, SHA-256 checks, and atomic writes that fail as ``CacheError``."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NoReturn

from ..errors import CacheError, ModelIntegrityError
from ..files import atomic_write, checked_sha256

GGUF_MAGIC = b"GGUF"


def default_cache_dir() -> Path:
    """The platform's per-user cache directory for notifclf."""
    if sys.platform == "win32":
        root = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        root = Path.home() / "Library" / "Caches"
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "notifclf"


def resolve_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache directory: the argument, then ``NOTIFCLF_CACHE``, then the platform cache dir."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("NOTIFCLF_CACHE")
    return Path(env).expanduser() if env else default_cache_dir()


def check_gguf_header(path: Path) -> None:
    """Raise :class:`ModelIntegrityError` unless ``path`` starts like a GGUF file."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise ModelIntegrityError(f"cannot read model file {path}: {exc.strerror or exc}") from exc
    if len(head) < 8 or head[:4] != GGUF_MAGIC:
        raise ModelIntegrityError(f"{path} is not a GGUF file (bad magic {head[:4]!r}); it is corrupted or of another format")


def verify_file(path: Path, *, sha256: str | None, size: int | None, full: bool = False) -> None:
    """Check a model file before llama.cpp sees it.

    Size and GGUF magic are always checked. The SHA-256 is computed when ``full`` is set or when the file changed
    since it was last verified (a ``.verified`` stamp records size and mtime), so cold starts stay fast.
    """
    if not path.is_file():
        raise ModelIntegrityError(f"model file {path} does not exist")
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        raise ModelIntegrityError(f"{path} is {actual_size:,} bytes, expected {size:,}: truncated or wrong file; delete it to rebuild")
    check_gguf_header(path)
    if sha256 is not None and (actual := checked_sha256(path, sha256, full=full)) != sha256:
        raise ModelIntegrityError(f"{path} has SHA-256 {actual}, expected {sha256}: corrupted or wrong file; "
                                  "delete it to rebuild")


def ensure_writable_dir(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CacheError(f"cannot create cache directory {directory}: {exc.strerror or exc}; "
                         "pass cache_dir= or set NOTIFCLF_CACHE to a writable directory") from exc
    if not os.access(directory, os.W_OK):
        raise CacheError(f"cache directory {directory} is not writable; pass cache_dir= or set NOTIFCLF_CACHE to a writable directory")


def check_free_space(directory: Path, needed: int) -> None:
    """Raise :class:`CacheError` when ``directory`` has fewer than ``needed`` bytes free."""
    try:
        free = shutil.disk_usage(directory).free
    except OSError:
        return  # unknown: the write itself will tell
    if free < needed:
        raise CacheError(f"cache directory {directory} has {free:,} bytes free but {needed:,} are needed; "
                         "free space, or pass cache_dir= or set NOTIFCLF_CACHE to a directory with room")


_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_DENIED = (errno.EROFS, errno.EACCES, errno.EPERM)


def raise_write_error(target: Path, size: int | None, exc: OSError) -> NoReturn:
    """Re-raise ``exc`` from writing ``target``: a full or read-only cache becomes a :class:`CacheError` naming the
    directory (and the bytes needed); anything else is raised unchanged."""
    if exc.errno in _FULL:
        needed = f"{size:,} bytes are needed" if size is not None else "the disk or quota is full"
        raise CacheError(f"cannot write {target.name} into cache directory {target.parent}: {exc.strerror} ({needed}); "
                         "free space, or pass cache_dir= or set NOTIFCLF_CACHE to a directory with room") from exc
    if exc.errno in _DENIED:
        raise CacheError(f"cannot write {target.name} into cache directory {target.parent}: {exc.strerror}; "
                         "pass cache_dir= or set NOTIFCLF_CACHE to a writable directory") from exc
    raise exc


@contextlib.contextmanager
def atomic_output(target: Path, *, size: int | None = None) -> Iterator[BinaryIO]:
    """Write ``target`` through a temporary file in the same directory, renamed into place only on success.

    With ``size`` (the bytes about to be written) a directory without that much free space is refused up front.
    A crash, an exception or a full disk leaves no file at ``target`` (and no temporary file behind); a full or
    read-only directory raises :class:`CacheError`.
    """
    ensure_writable_dir(target.parent)
    if size is not None:
        check_free_space(target.parent, size)
    try:
        with atomic_write(target) as fh:
            yield fh
    except OSError as exc:
        raise_write_error(target, size, exc)
