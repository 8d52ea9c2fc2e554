"""The fast path (restricted choice over the answer trie, batched) against grammar-constrained greedy decoding."""

import math
import random

import pytest
from tiny_gguf import write_tiny_model

from notifclf import Classifier, Folder

FOLDER_SETS = [
    None,
    [Folder("Work", "jobs"), Folder("Workout", "gym"), Folder("Work travel", "business trips"), Folder("W", "w")],
    [Folder('Say "hi"', "quotes"), Folder("财务", "银行"), Folder("财经", "股票"), Folder("a\\b}{", "odd")],
    [Folder("Only", "the only folder")],
]
WORDS = "alpha beta gamma delta ship order bank pay meet urgent sale mom 支付 快递 🎉".split()


def _notes(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    return [{"app": rng.choice(WORDS), "title": " ".join(rng.choices(WORDS, k=3)), "body": " ".join(rng.choices(WORDS, k=8))}
            for _ in range(n)]


@pytest.fixture(scope="module")
def byte_model(tmp_path_factory):
    # One token per byte: the canonical tokenization is the only one, so greedy grammar decoding stays on it and
    # the comparison exercises the fast path itself rather than its fallback.
    return write_tiny_model(tmp_path_factory.mktemp("bytes") / "bytes.gguf", with_merges=False, seed=3, scale=2.0)


@pytest.fixture(scope="module")
def merged_model(tmp_path_factory):
    return write_tiny_model(tmp_path_factory.mktemp("merges") / "merges.gguf", seed=6, scale=2.0)


@pytest.mark.parametrize("model_fixture,n_notes", [("byte_model", 40), ("merged_model", 10)])
def test_fast_path_equals_grammar_greedy_on_hundreds_of_cases(request, model_fixture, n_notes):
    path = request.getfixturevalue(model_fixture)
    fast = Classifier(path, progress=False, result_cache_size=0)
    grammar = Classifier(path, progress=False, result_cache_size=0, decoding="grammar")
    notes = _notes(n_notes, seed=11)
    compared = 0
    for folders in FOLDER_SETS:
        fast.set_folders(folders)
        grammar.set_folders(folders)
        expected = [grammar.classify(n) for n in notes]
        assert [fast.classify(n) for n in notes] == expected
        assert fast.classify_many(notes) == expected
        compared += 2 * len(notes)
    counts = fast.decode_counts()
    if model_fixture == "byte_model":
        assert compared == 320
        assert counts.grammar == 0 and counts.fast == compared  # no fallback needed: the fast path decided all
    else:
        # Text the grammar fixes ("folder", the rest of a decided name) is jumped over in both paths; where folders
        # part, random weights with merges sometimes prefer a non-canonical piece ("Wo" over "Work"): those fall back.
        assert counts.grammar > 0


def test_distributions_sum_to_one_and_match_the_choice(byte_model):
    clf = Classifier(byte_model, folders=FOLDER_SETS[1], progress=False)
    for r in clf.classify_many(_notes(20, seed=2)):
        assert set(r.folder_distribution) == {f.name for f in clf.folders}
        assert set(r.priority_distribution) == {1, 2, 3}
        assert math.isclose(sum(r.folder_distribution.values()), 1.0, rel_tol=1e-9)
        assert math.isclose(sum(r.priority_distribution.values()), 1.0, rel_tol=1e-9)
        assert r.folder_confidence == r.folder_distribution[r.folder]
        assert r.priority_confidence == max(r.priority_distribution.values()) == r.priority_distribution[r.priority]
        conf = r.to_dict(include_confidence=True)["confidence"]
        assert conf["folder"] == r.folder_confidence and set(conf["priorities"]) == {"1", "2", "3"}


def test_single_folder_set_is_certain(byte_model):
    r = Classifier(byte_model, folders=FOLDER_SETS[3], progress=False).classify({"title": "x"})
    assert (r.folder, r.folder_confidence) == ("Only", 1.0)


def test_result_cache_returns_identical_results_and_stays_bounded(byte_model):
    clf = Classifier(byte_model, progress=False, result_cache_size=5)
    notes = _notes(8, seed=4)
    first = clf.classify_many(notes)
    again = clf.classify(notes[-1])
    assert again is first[-1]
    assert clf.decode_counts().cached == 1
    assert clf.classify(notes[2]) == first[2] and clf.decode_counts().cached == 1  # the 3 oldest of 8 were pushed out
    assert clf.classify(notes[4]) is first[4] and clf.decode_counts().cached == 2  # 5 kept
    clf.set_folders(FOLDER_SETS[1])  # another folder set never reuses those results
    assert clf.classify(notes[-1]).folder in {f.name for f in clf.folders}
    assert clf.decode_counts().cached == 2
