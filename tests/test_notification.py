import datetime as dt

import pytest

from notifclf import InvalidNotificationError, Notification


def test_mapping_with_aliases_and_unknown_fields():
    n = Notification.from_mapping({"app": "chase", "app_name": "Chase", "title": "Payment received", "text": "ok",
                                   "extra": [1, 2], "when": 1_700_000_000_000})
    assert (n.app, n.title, n.body) == ("Chase", "Payment received", "ok")
    assert n.posted_at_text() == "2023-11-14 22:13"


def test_package_id_is_kept_as_app():
    assert Notification.from_mapping({"package": "com.chase.sig.android"}).app == "com.chase.sig.android"


def test_none_fields_become_empty_and_bytes_are_decoded_with_replacement():
    n = Notification(app=None, title=b"caf\xc3\xa9 \xff\xfe", body=bytearray(b"ok"))
    assert n.app == ""
    assert n.title == "café \ufffd\ufffd"
    assert n.body == "ok"


@pytest.mark.parametrize("bad", [{"title": 3}, {"body": ["x"]}, {"app": {"a": 1}}, {"posted_at": True}, {"posted_at": [1]}])
def test_wrong_types_raise_clear_errors(bad):
    with pytest.raises(InvalidNotificationError, match="must be"):
        Notification.from_mapping(bad)


def test_non_mapping_is_rejected():
    with pytest.raises(InvalidNotificationError, match="mapping"):
        Notification.coerce(["Slack", "hi"])


def test_is_frozen_and_mapping_is_not_modified():
    data = {"app": "Slack", "title": "x\u200b\u0000y", "body": "  a \n b  "}
    before = dict(data)
    n = Notification.coerce(data)
    assert data == before
    with pytest.raises(AttributeError):
        n.title = "other"  # type: ignore[misc]


@pytest.mark.parametrize("value,expected", [
    (dt.datetime(2026, 1, 2, 3, 4), "2026-01-02 03:04"),
    ("2026-01-02T03:04:05", "2026-01-02 03:04"),
    ("not a date", ""),
    (None, ""),
])
def test_posted_at_forms(value, expected):
    assert Notification(posted_at=value).posted_at_text() == expected
