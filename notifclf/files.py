"""File helpers shared by the runtime and by convert: one SHA-256 of a file, one atomic write."""

from __future__ import annotations

import contextlib
import hashlib
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
