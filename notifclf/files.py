"""File helpers shared by the runtime and by convert: one SHA-256 of a file (remembered while the file stays as it
was), one atomic write."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Protocol

_CHUNK = 4 * 1024 * 1024


class _Progress(Protocol):
    def update(self, n: int) -> Any: ...


def sha256_file(path: str | os.PathLike[str], progress: _Progress | None = None) -> str:
    """Hex SHA-256 of one file, read in 4 MiB chunks (each reported to ``progress.update``, e.g. a tqdm bar)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
            if progress is not None:
                progress.update(len(block))
    return digest.hexdigest()


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _fingerprint(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def checked_sha256(path: str | os.PathLike[str], expected: str, *, full: bool = False) -> str:
    """The SHA-256 of the file at ``path``, checked against ``expected``. A match is remembered in a ``.verified``
    stamp beside the file (its size and mtime), so a file unchanged since is not read again unless ``full`` is set."""
    path = Path(path)
    if not full:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(_stamp_path(path).read_text()) == {"sha256": expected, **_fingerprint(path)}:
                return expected
    actual = sha256_file(path)
    if actual == expected:
        record_sha256(path, expected)
    return actual


def has_sha256(path: str | os.PathLike[str], sha256: str, *, full: bool = False) -> bool:
    """Whether the file at ``path`` has SHA-256 ``sha256`` (:func:`checked_sha256`)."""
    return checked_sha256(path, sha256, full=full) == sha256


def record_sha256(path: Path, sha256: str) -> None:
    """Remember that ``path`` (at its current size and mtime) has SHA-256 ``sha256`` (nothing when the directory is
    read-only: the next check reads the file again)."""
    with contextlib.suppress(OSError):
        _stamp_path(path).write_text(json.dumps({"sha256": sha256, **_fingerprint(path)}))


@contextlib.contextmanager
def atomic_write(target: Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Write ``target`` through a temporary file in the same directory: flushed, fsync'd and renamed into place only
    when the block completes. An exception, a kill or a full disk leaves no file at ``target`` that could pass as
    complete (and no temporary file, unless the process dies). Errors are raised as they come (``OSError``)."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask decides, as for any new file
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
