"""Awkward notifications on a tiny real llama.cpp model: valid results, the user's object untouched, clear errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from notifclf import Classification, Classifier, InvalidNotificationError, Notification
from notifclf.schema import validate_output


@pytest.fixture(scope="module")
def clf(tiny_qwen2):
    """No result cache: equal answers for equivalent notifications must come from the model, not from the cache."""
    with Classifier(tiny_qwen2, progress=False, result_cache_size=0, persist_prompt_states=False) as classifier:
        yield classifier


def decision(r: Classification) -> tuple[Any, ...]:
    return r.folder, r.priority, dict(r.folder_distribution), dict(r.priority_distribution)


# Each awkward notification, and a plain one the model must see identically (None: no plain twin).
AWKWARD = {
    "empty fields": ({"app": "", "title": None, "body": "", "sub_text": b""}, {}),
    "whitespace only": ({"title": " \t\n ", "body": "\u3000\u00a0"}, {}),
    "emoji only": ({"title": "🎉🔥💯", "body": "👍🏽👨‍👩‍👧"}, None),
    "invalid utf-8 bytes": ({"app": b"Bank", "title": b"Pay\xffment \xc3( due", "body": b"\xed\xa0\x80"},
                            {"app": "Bank", "title": "Pay\ufffdment \ufffd( due", "body": "\ufffd\ufffd\ufffd"}),
    "control and zero-width": ({"app": "Bank\u200b", "title": "Pay\u200dment\x00 due\x07", "body": "a\tb\r\n\u2028c\ufeff"},
                               {"app": "Bank", "title": "Payment due", "body": "a b c"}),
    "right-to-left": ({"app": "WhatsApp", "title": "\u202bأمي\u202c", "body": "\u200fמתי אתה חוזר הביתה?"},
                      {"app": "WhatsApp", "title": "أمي", "body": "מתי אתה חוזר הביתה?"}),
    "unknown extra fields": ({"app": "Slack", "title": "hi", "folder": "Promotions", "priority": 3, "x": {"y": [1]}},
                             {"app": "Slack", "title": "hi"}),
}


@pytest.mark.parametrize("note,plain", AWKWARD.values(), ids=AWKWARD.keys())
def test_awkward_notification_gives_a_valid_result_and_is_left_unchanged(clf, note, plain):
    before = copy.deepcopy(note)
    result = clf.classify(note)
    validate_output(result.to_dict(), clf.schema)
    assert abs(sum(result.folder_distribution.values()) - 1) < 1e-6
    assert abs(sum(result.priority_distribution.values()) - 1) < 1e-6
    assert note == before
    if plain is not None:
        assert decision(result) == decision(clf.classify(plain))


def test_100kb_body_is_cut_to_the_token_budget_and_the_kept_head_is_what_counts(clf):
    head, filler = "Server down: payments failing for all users. ", "filler text "
    body = (head + filler * 9000)[:100_000]
    note = Notification(app="PagerDuty", title="P1", body=body)
    seen = clf.inspect(note)
    assert seen.user_tokens_dropped > 0 and len(seen.user_tokens) == seen.max_notification_tokens == 256
    result = clf.classify(note)
    assert note.body == body and len(body) == 100_000
    same_head = Notification(app="PagerDuty", title="P1", body=body[:5000] + "a completely different tail " * 3000)
    other_head = Notification(app="PagerDuty", title="P1", body="Lunch at noon? " + body[len(head):])
    assert decision(clf.classify(same_head)) == decision(result)  # past the budget nothing counts
    assert decision(clf.classify(other_head)) != decision(result)  # the kept head is what the model reads


WRONG = [
    ({"title": 3}, r"Notification\.title must be a str \(or UTF-8 bytes, or None\), got int: 3"),
    ({"body": ["x"]}, r"Notification\.body must be a str .*got list"),
    ({"app": {"name": "Slack"}}, r"Notification\.app must be a str .*got dict"),
    ({"posted_at": True}, r"posted_at must be a datetime, an ISO-8601 string or epoch milliseconds, got bool"),
    ({"posted_at": [2026]}, r"posted_at must be .*got list"),
    (["Slack", "hi"], r"must be a Notification or a mapping, got list"),
    (None, r"must be a Notification or a mapping, got NoneType"),
    ("Slack: hi", r"must be a Notification or a mapping, got str"),
]


@pytest.mark.parametrize("bad,message", WRONG)
def test_wrong_types_raise_invalid_notification_error_with_a_clear_message(clf, bad, message):
    with pytest.raises(InvalidNotificationError, match=message):
        clf.classify(bad)
    with pytest.raises(InvalidNotificationError, match=message):
        clf.classify_many([{"app": "Slack", "title": "fine"}, bad])
