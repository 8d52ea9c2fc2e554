"""Token ids looked up by the token's bytes, for the vocabulary's 150k tokens in a few MB.

A dict of 150k ``bytes -> [ids]`` entries costs ~35 MB of Python objects, kept for the life of the model; here the
pieces live in one bytes blob, and their hashes, offsets and ids in sorted numpy arrays (~3 MB). Lookups (a few
hundred per folder set, when its answer paths are built) binary-search the hash and compare the bytes.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


class PieceIndex:
    """``get(piece)``: the ids of the tokens whose bytes are ``piece`` (ascending), like ``dict.get``."""

    def __init__(self, pieces: Iterable[tuple[int, bytes]]) -> None:
        ids: list[int] = []
        hashes: list[int] = []
        ends: list[int] = []
        blob = bytearray()
        for token, piece in pieces:
            ids.append(token)
            hashes.append(hash(piece))  # per-process salt: the index never leaves the process
            blob += piece
            ends.append(len(blob))
        order = np.lexsort((np.array(ids, dtype=np.int64), np.array(hashes, dtype=np.int64)))
        end = np.array(ends, dtype=np.int64)
        start = np.concatenate([[0], end[:-1]]).astype(np.int64)
        self._hashes = np.array(hashes, dtype=np.int64)[order]
        self._ids = np.array(ids, dtype=np.int64)[order]
        self._start, self._end = start[order], end[order]
        self._blob = bytes(blob)
        self.max_len = int((end - start).max()) if ids else 0

    def __len__(self) -> int:
        return len(self._ids)

    def get(self, piece: bytes, default: Iterable[int] = ()) -> "list[int] | Iterable[int]":
        h = hash(piece)
        lo = int(np.searchsorted(self._hashes, h, side="left"))
        found = []
        while lo < len(self._hashes) and self._hashes[lo] == h:
            if self._blob[self._start[lo]: self._end[lo]] == piece:
                found.append(int(self._ids[lo]))
            lo += 1
        return found or default
