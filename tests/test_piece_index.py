"""PieceIndex looks tokens up by their bytes exactly as a dict of every piece would."""

from __future__ import annotations

import random

from notifclf.engine.piece_index import PieceIndex
from notifclf.engine.runtime import LlamaRuntime


def test_lookups_equal_a_dict_of_the_same_pieces():
    rng = random.Random(0)
    pieces = [(t, bytes(rng.randrange(256) for _ in range(rng.randrange(1, 5)))) for t in range(3000)]
    pieces += [(3000, pieces[7][1]), (3001, b"\x00only"), (3002, b"x" * 40)]  # a piece with two ids, the longest
    expected: dict[bytes, list[int]] = {}
    for token, piece in pieces:
        expected.setdefault(piece, []).append(token)
    index = PieceIndex(pieces)
    assert len(index) == len(pieces) and index.max_len == 40
    for piece, ids in expected.items():
        assert index.get(piece) == sorted(ids)
    assert index.get(pieces[7][1]) == sorted([7, 3000])
    for missing in (b"", b"not a piece at all", b"x" * 39):
        assert index.get(missing) == () and index.get(missing, None) is None


def test_the_runtime_index_holds_every_token_piece(tiny_qwen2):
    rt = LlamaRuntime(tiny_qwen2, n_threads=1)
    try:
        index = rt.piece_index()
        for token in range(rt.n_vocab):
            piece = rt.piece(token, special=True)
            if piece and piece[0] != 0:
                assert token in index.get(piece)
        assert index.max_len == max(len(rt.piece(t, special=True)) for t in range(rt.n_vocab))
    finally:
        rt.close()
