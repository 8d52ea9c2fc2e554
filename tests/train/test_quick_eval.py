"""quick_eval's grammar step logic and scoring, without a model."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from convert.train.quick_eval import Case, TokenBytes, score  # noqa: E402


def _tb(pieces):
    tb = TokenBytes.__new__(TokenBytes)
    tb.by_bytes = {p.encode(): i for i, p in enumerate(pieces)}
    tb.bytes_of = {i: p.encode() for i, p in enumerate(pieces)}
    tb.ids_of = {b: (i,) for b, i in tb.by_bytes.items()}
    tb.max_piece_len = max(map(len, tb.by_bytes))
    return tb


def test_allowed_tokens_keep_the_text_a_prefix_of_some_answer():
    tb = _tb(['{"', '{', 'folder', '": "', 'Work', 'W', 'Wor', 'Personal', 'P', '", "priority": ', '1', '2', '}', 'x', 'Work"'])
    targets = [b'{"folder": "Work", "priority": 1}', b'{"folder": "Personal", "priority": 2}']
    assert tb.allowed(b"", targets) == {0, 1}
    at_folder = b'{"folder": "'
    assert {tb.bytes_of[i] for i in tb.allowed(at_folder, targets)} == {b"Work", b"W", b"Wor", b"Personal", b"P", b'Work"'}
    assert tb.allowed(targets[0], targets) == set()


def test_score_counts_invalid_and_both():
    cases = [Case({}, "Work", 1), Case({}, "Work", 2), Case({}, "Alerts", 3)]
    res = score([("Work", 1), ("Work", 3), None], cases)
    assert res["folder_acc"] == pytest.approx(2 / 3, abs=1e-3)
    assert res["priority_acc"] == pytest.approx(1 / 3, abs=1e-3)
    assert res["both_acc"] == pytest.approx(1 / 3, abs=1e-3)
    assert res["invalid"] == 1
