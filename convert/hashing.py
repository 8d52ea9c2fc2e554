"""SHA-256 of files: one file (the runtime's helper, ``notifclf.files.sha256_file``) and a set of files."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from notifclf.files import sha256_file

__all__ = ["sha256_file", "sha256_files"]


def sha256_files(paths: Iterable[str | Path]) -> str:
    """Hex SHA-256 over several files: the hash of their names and individual hashes, in the given order."""
    h = hashlib.sha256()
    for p in paths:
        h.update(f"{Path(p).name}\0{sha256_file(p)}\n".encode())
    return h.hexdigest()
