"""SHA-256 of files, streamed."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

_CHUNK = 4 * 1024 * 1024


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of one file, read in 4 MiB chunks."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def sha256_files(paths: Iterable[str | Path]) -> str:
    """Hex SHA-256 over several files: the hash of their names and individual hashes, in the given order."""
    h = hashlib.sha256()
    for p in paths:
        h.update(f"{Path(p).name}\0{sha256_file(p)}\n".encode())
    return h.hexdigest()
