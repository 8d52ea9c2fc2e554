"""The dev split of labeled rows, shared by training (never trains on these) and evaluation (``--dev-split``)."""

from __future__ import annotations

import hashlib


def is_dev(row_id: str) -> bool:
    """A row is dev iff sha1(id) % 10 == 0 (about 10%)."""
    return int(hashlib.sha1(str(row_id).encode("utf-8")).hexdigest(), 16) % 10 == 0
