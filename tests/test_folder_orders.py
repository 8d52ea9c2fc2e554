"""Classifier(folder_orders=k): the folder is the argmax of log P(folder) summed over k orders of the folder list.
Real llama.cpp on the tiny models (names and letter codes)."""

from __future__ import annotations

import math

import pytest

from notifclf import Classifier, Folder, output_schema
from notifclf.engine.core import other_orders
from notifclf.schema import validate_output

FOLDERS = [Folder("Rides", "Taxis and ride-hailing"), Folder("Music", "Songs, albums and podcasts"),
           Folder("Family", "Messages from my family"), Folder("Money", "Bank and card alerts"),
           Folder("Other", "Anything else")]
NOTES = [{"app": "Uber", "title": "Your driver is arriving", "body": "Toyota Prius"},
         {"app": "Spotify", "title": "New album", "body": "A playlist for you"},
         {"app": "WhatsApp", "title": "Mum", "body": "Call me"},
         {"app": "Bank", "title": "Card used", "body": "EUR 12.00 at Cafe Nero"},
         {"app": "Zara", "title": "Sale", "body": "50% off today"},
         {"app": "Slack", "title": "#ops", "body": "deploy done"}]


def _classifier(model, tmp_path, folders=FOLDERS, **kwargs) -> Classifier:
    return Classifier(model, folders=folders, progress=False, result_cache_size=0,
                      corrections_path=tmp_path / "none.sqlite3", cache_dir=tmp_path / "cache", **kwargs)


def test_other_orders_are_reversed_then_rotated_and_distinct():
    assert other_orders(5) == [(4, 3, 2, 1, 0), (2, 3, 4, 0, 1)]
    assert other_orders(2) == [(1, 0)]
    assert other_orders(1) == []


@pytest.mark.parametrize("model", ["tiny_qwen2", "tiny_qwen2_codes"])
def test_the_folder_is_the_argmax_of_the_summed_log_probabilities(model, request, tmp_path):
    path = request.getfixturevalue(model)
    dists = []
    for order in [tuple(range(len(FOLDERS)))] + other_orders(len(FOLDERS)):
        with _classifier(path, tmp_path, [FOLDERS[i] for i in order]) as clf:
            dists.append([r.folder_distribution for r in clf.classify_many(NOTES)])
    for k in (2, 3):
        with _classifier(path, tmp_path, folder_orders=k) as clf:
            results = clf.classify_many(NOTES)
            single = [clf.classify(n) for n in NOTES]
        for r, one, per_order in zip(results, single, zip(*dists[:k])):
            summed = {f.name: sum(math.log(d[f.name]) for d in per_order) for f in FOLDERS}
            assert r.folder == max(summed, key=summed.get)
            assert (one.folder, one.priority) == (r.folder, r.priority)
            validate_output(r.to_dict(), output_schema(FOLDERS))
    assert any(abs(d[f.name] - e[f.name]) > 1e-3 for d, e in zip(dists[0], dists[1]) for f in FOLDERS)  # orders differ


def test_fast_and_grammar_decoding_agree_over_orders(tiny_qwen2_codes, tmp_path):
    answers = []
    for decoding in ("fast", "grammar"):
        with _classifier(tiny_qwen2_codes, tmp_path, folder_orders=2, decoding=decoding) as clf:
            answers.append([(r.folder, r.priority) for r in clf.classify_many(NOTES)])
    assert answers[0] == answers[1]


def test_two_folders_have_one_other_order(tiny_qwen2, tmp_path):
    with _classifier(tiny_qwen2, tmp_path, FOLDERS[:2], folder_orders=2) as two, \
            _classifier(tiny_qwen2, tmp_path, FOLDERS[:2], folder_orders=3) as three:
        assert [r.to_dict() for r in two.classify_many(NOTES)] == [r.to_dict() for r in three.classify_many(NOTES)]


@pytest.mark.parametrize("bad", [0, 4, True, 2.0, "2"])
def test_folder_orders_must_be_1_2_or_3(tiny_qwen2, tmp_path, bad):
    with pytest.raises(ValueError, match="folder_orders"):
        _classifier(tiny_qwen2, tmp_path, folder_orders=bad)
