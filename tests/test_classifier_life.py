"""The Classifier's life on real llama.cpp (tiny model): close, context manager, threads racing close, classify_iter,
inspect and the decode counters."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from notifclf import (ClassifierClosedError, Classifier, DecodeCounts, Folder, InvalidNotificationError, NotifclfError,
                      Notification)

NOTES = [{"app": "Slack", "title": f"#incidents {i}", "body": "PROD DOWN"} for i in range(6)] + [
    {"app": "Chase", "title": "Payment received"}, {"app": "Mom", "title": "dinner?"}, {}]
SETS = [None, [Folder("A", "first"), Folder("B", "second")], [Folder("Only", "the only folder")]]
NAMES = {"Work", "Personal", "Promotions", "Alerts", "A", "B", "Only"}


def every_call_is_closed(clf: Classifier) -> None:
    calls = [lambda: clf.classify(NOTES[0]), lambda: clf.classify_many(NOTES), lambda: clf.set_folders(None),
             lambda: clf.inspect(NOTES[0]), lambda: next(clf.classify_iter(NOTES))]
    for call in calls:
        with pytest.raises(ClassifierClosedError, match="closed"):
            call()


def test_after_close_every_call_raises_a_clear_error(tiny_qwen2):
    clf = Classifier(tiny_qwen2, progress=False)
    clf.classify(NOTES[0])
    clf.close()
    clf.close()  # twice is fine
    assert clf.closed and issubclass(ClassifierClosedError, NotifclfError)
    every_call_is_closed(clf)
    assert [f.name for f in clf.folders] == ["Work", "Personal", "Promotions", "Alerts"]  # plain data stays readable


def test_context_manager_closes(tiny_qwen2):
    with Classifier(tiny_qwen2, progress=False) as clf:
        assert clf.classify(NOTES[0]).folder in NAMES
    every_call_is_closed(clf)


def test_threads_racing_classify_set_folders_and_close(tiny_qwen2):
    clf = Classifier(tiny_qwen2, progress=False, result_cache_size=0, persist_prompt_states=False)
    outcomes: dict[int, list[str]] = {k: [] for k in range(4)}
    failures: list[BaseException] = []
    ready = threading.Barrier(5)

    def call(k: int, i: int) -> None:
        if k == 0:
            clf.set_folders(SETS[i % len(SETS)])
        elif k == 1:
            assert all(r.folder in NAMES for r in clf.classify_iter(NOTES, batch_size=4))
        elif k == 2:
            assert all(r.folder in NAMES for r in clf.classify_many(NOTES[:3]))
        else:
            assert clf.classify(NOTES[i % len(NOTES)]).folder in NAMES

    def work(k: int) -> None:  # until three calls in a row found the Classifier closed
        ready.wait()
        i = 0
        while outcomes[k][-3:] != ["closed"] * 3 and i < 100_000:
            try:
                call(k, i)
                outcomes[k].append("ok")
            except ClassifierClosedError:
                outcomes[k].append("closed")
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)
                return
            i += 1

    def close_midway() -> None:  # once every thread got results
        ready.wait()
        while not all(o.count("ok") >= 3 for o in outcomes.values()) and not failures:
            threading.Event().wait(0.01)
        clf.close()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)] + [threading.Thread(target=close_midway)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not failures, failures
    for k, seen in outcomes.items():
        first_closed = seen.index("closed")
        assert seen.count("ok") >= 3 and set(seen[first_closed:]) == {"closed"}, (k, Counter(seen))  # never again
    every_call_is_closed(clf)


def test_classify_iter_yields_in_input_order_and_reads_one_batch_ahead(tiny_classifier):
    pulled: list[int] = []

    def stream():
        for i, note in enumerate(NOTES):
            pulled.append(i)
            yield note

    results = tiny_classifier.classify_iter(stream(), batch_size=4)
    assert pulled == []  # lazy
    first = next(results)
    assert len(pulled) == 4
    assert [first, *results] == tiny_classifier.classify_many(NOTES)
    assert list(tiny_classifier.classify_iter([], batch_size=3)) == []
    with pytest.raises(ValueError, match="batch_size"):
        tiny_classifier.classify_iter(NOTES, batch_size=0)


def test_classify_iter_keeps_its_folder_set_and_stops_at_an_invalid_notification(tiny_qwen2):
    clf = Classifier(tiny_qwen2, folders=SETS[1], progress=False)
    results = clf.classify_iter(NOTES, batch_size=2)
    clf.set_folders(SETS[2])
    assert {r.folder for r in results} <= {"A", "B"}
    bad = clf.classify_iter([NOTES[0], NOTES[1], {"title": 3}], batch_size=2)
    assert len([next(bad), next(bad)]) == 2
    with pytest.raises(InvalidNotificationError, match="title must be a str"):
        next(bad)
    clf.close()


def test_classify_iter_stops_cleanly_when_closed_midway(tiny_qwen2):
    clf = Classifier(tiny_qwen2, progress=False)
    results = clf.classify_iter(NOTES, batch_size=2)
    next(results), next(results)
    clf.close()
    with pytest.raises(ClassifierClosedError):
        next(results)


def test_inspect_shows_the_prompt_and_tokens_the_model_is_given(tiny_classifier):
    seen = tiny_classifier.inspect(Notification(app="Chase", title="Payment received"))
    assert '"Work"' in seen.prompt.prefix and seen.prompt.user == 'app: "Chase"\ntitle: "Payment received"'
    assert seen.prompt.suffix.startswith("<|im_end|>")
    assert seen.prefix_tokens and seen.user_tokens and seen.suffix_tokens and seen.user_tokens_dropped == 0
    assert len(seen.prefix_tokens) + len(seen.user_tokens) + len(seen.suffix_tokens) < seen.context_size


def test_decode_counts_count_each_path(tiny_qwen2):
    clf = Classifier(tiny_qwen2, progress=False, decoding="grammar")
    assert clf.decode_counts() == DecodeCounts()
    clf.classify_many(NOTES[:3])
    clf.classify_many(NOTES[:2])
    clf.classify(NOTES[0])
    assert clf.decode_counts() == DecodeCounts(fast=0, grammar=3, cached=3)
    assert clf.decode_counts().to_dict() == {"fast": 0, "grammar": 3, "cached": 3}
    clf.close()
