"""Corrections applied by likeness (``corrections_by="likeness"``) on real llama.cpp (tiny model) and the
real folder reader: a notification alike to a correction takes its labels, others keep the model's answer, and the
prompt never changes."""

from __future__ import annotations

import threading

import pytest

from notifclf import Classifier, Folder
from notifclf.embedding.correction_likeness import CORRECTION_BAR, CorrectionLikeness
from notifclf.notification import Notification
from notifclf.schema import validate_output

GYM = {"app": "FitLife Gym", "title": "Spin class at 6pm", "body": "3 spots left in tonight's spin class"}
GYM_AGAIN = {"app": "FitLife Gym", "title": "Spin class at 7pm", "body": "2 spots left in tonight's spin class"}
SCHOOL = {"app": "ParentSquare", "title": "Newsletter", "body": "Bake sale on Friday, volunteers welcome"}


@pytest.fixture
def clf(tiny_qwen2, tmp_path):
    c = Classifier(tiny_qwen2, progress=False, corrections_path=tmp_path / "c.sqlite3", result_cache_size=0,
                   corrections_by="likeness")
    yield c
    c.close()


def _other(clf: Classifier, note, corrected=GYM) -> tuple[str, int]:
    """A folder and a priority the model answers neither for ``note`` nor for the ``corrected`` notification."""
    own = (clf.classify(note), clf.classify(corrected))
    return (next(f.name for f in clf.folders if f.name not in {r.folder for r in own}),
            next(p for p in (3, 2, 1) if p not in {r.priority for r in own}))


def test_a_correction_moves_only_what_it_changed(clf):
    own_gym, before = clf.classify(GYM), clf.classify(GYM_AGAIN)
    _, priority = _other(clf, GYM_AGAIN)
    c = clf.correct(GYM, priority=priority)  # the folder stays the model's: only the priority is changed
    after = clf.classify(GYM_AGAIN)
    assert (after.folder, after.priority, after.corrected_by) == (before.folder, priority, c.id)
    assert clf.forget(c)
    clf.correct(GYM, folder=own_gym.folder, priority=own_gym.priority)  # agrees with the model: changes nothing
    agreed = clf.classify(GYM_AGAIN)
    assert agreed == before and agreed.corrected_by is None


def test_a_notification_alike_to_a_correction_takes_its_labels_and_the_prompt_stays(clf):
    before = clf.classify_many([GYM_AGAIN, SCHOOL])
    prefix = clf.inspect(GYM).prompt.prefix
    folder, priority = _other(clf, GYM_AGAIN)
    c = clf.correct(GYM, folder=folder, priority=priority)
    after = clf.classify_many([GYM_AGAIN, SCHOOL])
    assert (after[0].folder, after[0].priority, after[0].corrected_by) == (folder, priority, c.id)
    assert after[1] == before[1] and after[1].corrected_by is None  # nothing like it was corrected
    assert after[0].folder_distribution == pytest.approx(before[0].folder_distribution)  # the model's, kept
    assert clf.inspect(GYM).prompt.prefix == prefix  # no worked examples: the cached prompt serves on
    for r in after:
        validate_output(r.to_dict(), clf.schema)
    assert list(clf.classify_iter([GYM_AGAIN, SCHOOL])) == after


def test_corrections_persist_and_undoing_them_gives_the_model_its_say_back(tiny_qwen2, tmp_path, clf):
    own = clf.classify(GYM_AGAIN)
    folder, priority = _other(clf, GYM_AGAIN)
    c = clf.correct(GYM, folder=folder, priority=priority)
    with Classifier(tiny_qwen2, progress=False, corrections_path=tmp_path / "c.sqlite3",
                    corrections_by="likeness") as again:
        assert again.classify(GYM_AGAIN).corrected_by == c.id
    assert clf.forget(c) and clf.classify(GYM_AGAIN) == own and clf.classify(GYM_AGAIN).corrected_by is None
    clf.correct(GYM, folder=folder, priority=priority)
    assert clf.clear_corrections() == 1 and clf.classify(GYM_AGAIN).corrected_by is None


def test_renamed_folders_keep_their_corrections_and_removed_ones_stop_applying(clf):
    folders = [Folder("Gym", "Classes and bookings at my gym"), Folder("School", "My kids' school")]
    clf.set_folders(folders)
    c = clf.correct(GYM, folder="Gym", priority=2)
    clf.set_folders([Folder("Fitness", folders[0].description), folders[1]])  # Gym renamed: same description
    result = clf.classify(GYM_AGAIN)
    assert (result.folder, result.corrected_by) == ("Fitness", c.id)
    clf.set_folders([folders[1], Folder("Other", "Everything else")])  # the folder is gone: the correction waits
    assert clf.classify(GYM_AGAIN).corrected_by is None and [x.id for x in clf.corrections] == [c.id]


def test_threads_correcting_and_classifying_see_the_correction_or_not_never_half_of_it(clf):
    own = clf.classify(GYM_AGAIN)
    folder, priority = _other(clf, GYM_AGAIN)
    seen, errors = [], []

    def classify():
        try:
            for _ in range(6):
                r = clf.classify(GYM_AGAIN)
                seen.append((r.folder, r.priority, r.corrected_by is not None))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=classify) for _ in range(3)]
    for t in threads:
        t.start()
    clf.correct(GYM, folder=folder, priority=priority)
    for t in threads:
        t.join()
    assert not errors
    assert set(seen) <= {(own.folder, own.priority, False), (folder, priority, True)}
    assert clf.classify(GYM_AGAIN).corrected_by is not None


def test_only_corrections_over_the_bar_apply_and_the_most_alike_wins(encoder):
    corrected = (Notification(app="ParentSquare", title="Newsletter"),
                 Notification(app="FitLife Gym", title="Spin class at 6pm"))
    likeness = CorrectionLikeness(lambda: encoder)
    notes = [Notification(app="FitLife Gym", title="Spin class at 7pm"), Notification(app="Bank", title="Card used")]
    assert likeness.nearest(corrected, notes) == [1, None]
    assert CorrectionLikeness(lambda: encoder, bar=1.0).nearest(corrected, notes) == [None, None]
    assert likeness.nearest((), notes) == [None, None] and likeness.nearest(corrected, []) == []
    assert 0 < CORRECTION_BAR < 1


@pytest.mark.parametrize("bad", ["retrieval", None, 1])
def test_an_unknown_way_of_applying_corrections_is_refused(tiny_qwen2, tmp_path, bad):
    with pytest.raises(ValueError, match="corrections_by"):
        Classifier(tiny_qwen2, progress=False, corrections_path=tmp_path / "c.sqlite3", corrections_by=bad)
    with pytest.raises(ValueError, match="bar"):
        CorrectionLikeness(lambda: None, bar=2)


def test_the_folder_prior_and_the_likeness_encode_a_notification_once(tiny_qwen2, tmp_path, monkeypatch):
    from notifclf.embedding.folder_prior import reader_encoder

    encoder = reader_encoder()  # shared by the prior and the likeness
    embedded = []
    real_embed = encoder._embed
    monkeypatch.setattr(encoder, "_embed", lambda batch: (embedded.extend(batch), real_embed(batch))[1])
    folders = [Folder("Gym", "Classes and bookings at my gym"), Folder("School", "My kids' school")]
    with Classifier(tiny_qwen2, progress=False, corrections_path=tmp_path / "c.sqlite3", result_cache_size=0,
                    corrections_by="likeness", folder_prior="reader", folders=folders) as clf:
        clf.correct(GYM, folder="Gym", priority=2)
        clf.classify(GYM)  # the folder rows and the correction's row are read once
        embedded.clear()
        note = {"app": "Mensa", "title": "Lunch menu", "body": f"Soup of the day: {tmp_path.name}"}  # new text
        clf.classify(note)
        assert len(embedded) == 1  # read by both, encoded once


@pytest.mark.parametrize("own, want", [
    (("Work", 2), ("Personal", 3)),  # only the priority changed: the folder stays the model's
    (("Personal", 3), ("Work", 1)),  # only the folder changed: the priority stays the model's
    (("Alerts", 1), ("Work", 3)),    # both changed: both move
])
def test_an_alike_notification_takes_the_labels_the_correction_changed(own, want):
    from notifclf.classifier import _as_corrected
    from notifclf.corrections import Correction
    from notifclf.result import Classification

    folders, priorities = {"Work": 0.1, "Personal": 0.6, "Promotions": 0.1, "Alerts": 0.2}, {1: .5, 2: .3, 3: .2}
    result = Classification("Personal", 1, folder_distribution=folders, priority_distribution=priorities)
    correction = Correction(7, Notification(**GYM), "Work", 3, 0.0)  # the model said ``own`` for it
    got = _as_corrected(result, correction, Classification(*own))
    assert (got.folder, got.priority, got.corrected_by) == (*want, 7)
    assert got.folder_confidence == folders[want[0]]
    assert got.priority_confidence == (priorities[want[1]] if want[0] == "Personal" else None)
    assert _as_corrected(result, correction, Classification("Work", 3)) is result  # agrees with the model: no move
