"""The corrections store: persistence, undo, one correction per notification, renames, bad files, threads."""

from __future__ import annotations

import threading

import pytest

from notifclf.corrections import CorrectionStore, same_notification_key
from notifclf.errors import CacheError, InvalidPriorityError
from notifclf.notification import Notification
from notifclf.prompt import MAX_PROMPT_EXAMPLES

GYM = Notification(app="FitLife Gym", title="Spin class at 6pm", body="3 spots left")


def test_corrections_survive_a_restart_and_can_be_undone(tmp_path):
    path = tmp_path / "c.sqlite3"
    store = CorrectionStore(path)
    first = store.add(GYM, "Promotions", 1)
    second = store.add(Notification(app="Delta", title="Check in now"), "Alerts", 3)
    store.close()
    again = CorrectionStore(path)
    assert [(c.id, c.folder, c.priority) for c in again.all()] == [(first.id, "Promotions", 1), (second.id, "Alerts", 3)]
    assert again.all()[0].notification == GYM
    assert again.forget(first.id) is True and again.forget(first.id) is False
    assert [c.id for c in again.all()] == [second.id]
    assert again.clear() == 1 and again.all() == []


def test_correcting_the_same_notification_again_replaces_the_earlier_correction(tmp_path):
    store = CorrectionStore(tmp_path / "c.sqlite3")
    store.add(GYM, "Promotions", 1)
    store.add(Notification(app="fitlife gym", title="Spin class at 7pm", body="3  spots left"), "Personal", 2)
    assert [(c.folder, c.priority) for c in store.all()] == [("Personal", 2)]
    assert same_notification_key(GYM) != same_notification_key(Notification(app="FitLife Gym", title="Yoga"))


def test_examples_are_the_most_recent_in_the_current_folders(tmp_path):
    store = CorrectionStore(tmp_path / "c.sqlite3")
    for i in range(MAX_PROMPT_EXAMPLES + 5):
        store.add(Notification(app="App", title=f"note {'x' * i}"), "Work" if i % 2 else "Gone", 2)
    shown = store.examples(["Work", "Personal"])
    assert all(e.folder == "Work" for e in shown) and len(shown) == (MAX_PROMPT_EXAMPLES + 5) // 2
    assert shown[-1].notification.title == "note " + "x" * (MAX_PROMPT_EXAMPLES + 3)   # newest last
    assert len(store.examples(["Work", "Gone"])) == MAX_PROMPT_EXAMPLES
    assert store.rename_folder("Gone", "Archive") == (MAX_PROMPT_EXAMPLES + 6) // 2
    assert store.examples(["Gone"]) == () and len(store.examples(["Archive"])) > 0


def test_a_file_that_is_not_a_store_is_a_cache_error_and_left_untouched(tmp_path):
    bad = tmp_path / "c.sqlite3"
    bad.write_bytes(b"not a database at all" * 100)
    before = bad.read_bytes()
    with pytest.raises(CacheError, match="left as it is"):
        CorrectionStore(bad)
    assert bad.read_bytes() == before
    with pytest.raises(CacheError):
        CorrectionStore(tmp_path)                     # a directory


def test_bad_priority_is_refused(tmp_path):
    store = CorrectionStore(tmp_path / "c.sqlite3")
    for p in (0, 4, True, "3"):
        with pytest.raises(InvalidPriorityError):
            store.add(GYM, "Work", p)
    assert store.all() == []


def test_concurrent_writers_lose_nothing(tmp_path):
    store = CorrectionStore(tmp_path / "c.sqlite3")

    def write(k: int) -> None:
        for i in range(25):
            store.add(Notification(app="App " + "ABCD"[k], title="t" + "y" * i), "Work", 1 + i % 3)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.all()) == 100 and len({c.id for c in store.all()}) == 100
