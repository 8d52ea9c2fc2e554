"""Corrections through the Classifier on real llama.cpp (tiny model): stored, shown to the model at once, persistent,
undone, following renames, refusing bad input, safe under threads."""

from __future__ import annotations

import threading

import pytest

from notifclf import CacheError, Classifier, Folder, InvalidFoldersError, InvalidPriorityError

GYM = {"app": "FitLife Gym", "title": "Spin class at 6pm", "body": "3 spots left"}
SCHOOL = {"app": "ParentSquare", "title": "Newsletter", "body": "Bake sale on Friday"}


def _prefix(clf: Classifier, note=GYM) -> str:
    return clf.inspect(note).prompt.prefix


@pytest.fixture
def clf(tiny_qwen2, tmp_path):
    c = Classifier(tiny_qwen2, progress=False, corrections_path=tmp_path / "c.sqlite3")
    yield c
    c.close()


def test_a_correction_is_in_the_next_prompt_and_survives_a_restart(tiny_qwen2, tmp_path, clf):
    assert not (tmp_path / "c.sqlite3").exists() and "sorted themselves" not in _prefix(clf)
    before = clf.classify(SCHOOL)
    c = clf.correct(GYM, folder="Promotions", priority=1)
    assert (c.folder, c.priority) == ("Promotions", 1) and [x.id for x in clf.corrections] == [c.id]
    prefix = _prefix(clf)
    assert '"FitLife Gym"' in prefix and '{"folder": "Promotions", "priority": 1}' in prefix
    after = clf.classify(SCHOOL)
    assert after.folder in [f.name for f in clf.folders] and before.folder in [f.name for f in clf.folders]
    with Classifier(tiny_qwen2, progress=False, corrections_path=tmp_path / "c.sqlite3") as again:
        assert [x.id for x in again.corrections] == [c.id] and _prefix(again) == prefix


def test_the_label_not_given_is_the_current_answer(clf):
    now = clf.classify(GYM)
    c = clf.correct(GYM, priority=3)
    assert (c.folder, c.priority) == (now.folder, 3)


def test_undo_and_clear_take_corrections_out_of_the_prompt(clf):
    plain = _prefix(clf)
    a = clf.correct(GYM, folder="Promotions", priority=1)
    b = clf.correct(SCHOOL, folder="Work")
    assert clf.forget(a) is True and clf.forget(a.id) is False
    assert "FitLife" not in _prefix(clf) and "ParentSquare" in _prefix(clf)
    assert clf.clear_corrections() == 1 and clf.corrections == [] and _prefix(clf) == plain
    assert b.id not in [x.id for x in clf.corrections]


def test_renamed_folders_keep_their_corrections_removed_ones_are_kept_but_not_shown(clf):
    clf.correct(GYM, folder="Promotions", priority=1)
    clf.correct(SCHOOL, folder="Work", priority=2)
    renamed = [Folder("Deals and ads" if f.name == "Promotions" else f.name, f.description) for f in clf.folders]
    clf.set_folders(renamed)
    assert {c.folder for c in clf.corrections} == {"Deals and ads", "Work"}
    assert '"folder": "Deals and ads"' in _prefix(clf)
    clf.set_folders([f for f in renamed if f.name != "Work"])
    assert len(clf.corrections) == 2 and "ParentSquare" not in _prefix(clf) and "FitLife" in _prefix(clf)
    clf.set_folders(renamed)
    assert "ParentSquare" in _prefix(clf)                           # back with its folder


def test_bad_corrections_are_refused_and_nothing_is_stored(clf, tmp_path):
    with pytest.raises(InvalidFoldersError, match="not one of the current folders"):
        clf.correct(GYM, folder="Fitness")
    for p in (0, 4, True):
        with pytest.raises(InvalidPriorityError):
            clf.correct(GYM, priority=p)
    with pytest.raises(ValueError):
        clf.correct(GYM)
    assert clf.corrections == [] and not (tmp_path / "c.sqlite3").exists()


def test_a_corrupt_store_is_a_clear_error_and_is_not_overwritten(tiny_qwen2, tmp_path):
    bad = tmp_path / "c.sqlite3"
    bad.write_bytes(b"garbage" * 200)
    with pytest.raises(CacheError, match="left as it is"):
        Classifier(tiny_qwen2, progress=False, corrections_path=bad)
    assert bad.read_bytes() == b"garbage" * 200


def test_threads_correcting_and_classifying_see_consistent_prompts(clf):
    errors, results = [], []

    def corrector(k: int) -> None:
        try:
            for i in range(5):
                clf.correct({"app": f"App {'ABCD'[k]}", "title": "x" * (i + 1)}, folder="Work", priority=1 + i % 3)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    def classifier() -> None:
        try:
            for _ in range(10):
                results.append(clf.classify(GYM))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=corrector, args=(k,)) for k in range(2)] + [threading.Thread(target=classifier)
                                                                                   for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == 20 and len(clf.corrections) == 10
    assert all(r.folder in [f.name for f in clf.folders] for r in results)
    fresh = clf.classify(dict(GYM, body="another body"))
    assert _prefix(clf).count('{"folder": "Work"') == 10 and fresh.priority in (1, 2, 3)
