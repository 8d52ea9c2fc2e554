"""Classify the desktop notifications of a Linux session as they arrive (freedesktop notifications over D-Bus).

    python examples/desktop_listener.py [--jsonl notifications.jsonl] [--mode auto|monitor|server]

Every ``Notify`` call sent to ``org.freedesktop.Notifications`` on the session bus (``notify-send``, browsers, mail
clients...) is classified with the default model and printed: app, summary, folder, priority and confidences.

* ``monitor``: a notification server (GNOME Shell, KDE Plasma, dunst, mako...) owns the name. The listener becomes a
  D-Bus monitor (``org.freedesktop.DBus.Monitoring.BecomeMonitor``) for ``Notify`` method calls and only watches:
  the server still shows every notification as before. The session bus allows this to the session's own user.
* ``server``: no notification server runs (a headless session, a Pi). The listener owns the name and answers
  ``Notify``, ``GetCapabilities``, ``GetServerInformation`` and ``CloseNotification`` itself, so senders succeed.
* ``auto`` (default): ``monitor`` when the name has an owner, else ``server``.

Needs the ``desktop`` extra (jeepney, pure Python) and a session bus (``$DBUS_SESSION_BUS_ADDRESS``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import html
import itertools
import json
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any, TextIO

try:
    from jeepney import HeaderFields, MatchRule, Message, MessageType, new_error, new_method_return
    from jeepney.bus_messages import DBusNameFlags, Monitoring, message_bus
    from jeepney.io.blocking import DBusConnection, open_dbus_connection
except ImportError as exc:
    raise SystemExit(f"desktop_listener needs jeepney ({exc}): pip install -e '.[model,desktop]'") from None

import notifclf
from options import add_model_options, classifier_from_args  # examples/options.py, next to this script

logger = logging.getLogger("desktop_listener")

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
_NOTIFY_RULE = MatchRule(type="method_call", interface=NAME, member="Notify")
# freedesktop category prefixes -> Android CATEGORY_* values the model knows.
_CATEGORIES = {"email": "email", "im": "msg", "call": "call"}
_TAG = re.compile(r"<[^>]*>")


def to_notification(body: tuple[Any, ...]) -> notifclf.Notification:
    """A Notification from the arguments of ``Notify(app_name, replaces_id, app_icon, summary, body, actions,
    hints, expire_timeout)``; the body's markup (``<b>``, ``<a href>``...) is dropped."""
    app_name, _replaces, _icon, summary, text, _actions, hints = body[:7]
    app = app_name or hints.get("desktop-entry", ("s", ""))[1]
    category = _CATEGORIES.get(str(hints.get("category", ("s", ""))[1]).split(".")[0], "")
    return notifclf.Notification(app=app, title=summary, body=html.unescape(_TAG.sub("", text)), category=category)


def report(clf: notifclf.Classifier, note: notifclf.Notification, jsonl: TextIO | None) -> dict[str, Any]:
    """Classify one notification, append a JSON record to ``jsonl``, print a line; return the record."""
    result = clf.classify(note)
    record = {"time": dt.datetime.now().astimezone().isoformat(timespec="seconds"), "app": note.app,
              "summary": note.title, "body": note.body, "folder": result.folder, "priority": result.priority,
              "folder_confidence": result.folder_confidence, "priority_confidence": result.priority_confidence}
    if jsonl is not None:  # the record is on disk before the line is printed: a reader of the line finds it
        jsonl.write(json.dumps(record, ensure_ascii=False) + "\n")
        jsonl.flush()
    print(f"{note.app or '?'} | {note.title} -> {result.folder} p{result.priority} "
          f"(folder {result.folder_confidence:.2f}, priority {result.priority_confidence:.2f})", flush=True)
    return record


def name_has_owner(conn: DBusConnection) -> bool:
    return bool(conn.send_and_get_reply(message_bus.NameHasOwner(NAME), timeout=5).body[0])


def incoming(conn: DBusConnection) -> Iterator[Message]:
    """Incoming messages. The wait wakes twice a second: the kernel may deliver Ctrl-C (SIGINT) to one of llama.cpp's
    worker threads, and Python only acts on it once the main thread is back in the interpreter."""
    while True:
        try:
            yield conn.receive(timeout=0.5)
        except TimeoutError:
            continue


def monitor(conn: DBusConnection) -> Iterator[notifclf.Notification]:
    """Watch Notify calls to the running notification server; the connection can do nothing else afterwards."""
    reply = conn.send_and_get_reply(Monitoring().BecomeMonitor([_NOTIFY_RULE.serialise()]), timeout=5)
    if reply.header.message_type == MessageType.error:
        raise RuntimeError(f"the session bus refused BecomeMonitor: {reply.body}")
    logger.info("listening as a monitor: the running notification server keeps showing notifications")
    for msg in incoming(conn):
        if _NOTIFY_RULE.matches(msg):
            yield to_notification(msg.body)


def _answer(msg: Message, ids: Iterator[int]) -> Message:
    member = msg.header.fields.get(HeaderFields.member)
    if msg.header.fields.get(HeaderFields.interface) in (NAME, None):
        if member == "Notify":
            replaces = msg.body[1]
            return new_method_return(msg, "u", (replaces or next(ids),))
        if member == "GetCapabilities":
            return new_method_return(msg, "as", (["body"],))
        if member == "GetServerInformation":
            return new_method_return(msg, "ssss", ("notifclf desktop_listener", "notifclf", notifclf.__version__, "1.2"))
        if member == "CloseNotification":
            return new_method_return(msg)
    return new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod", "s", (f"no method {member!r} here",))


def serve(conn: DBusConnection) -> Iterator[notifclf.Notification]:
    """Own org.freedesktop.Notifications and answer it; each Notify is answered before it is classified."""
    code = conn.send_and_get_reply(message_bus.RequestName(NAME, DBusNameFlags.do_not_queue), timeout=5).body[0]
    if code != 1:  # 1: DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER
        raise RuntimeError(f"could not own {NAME} (reply {code}); another notification server runs: use --mode monitor")
    logger.info("listening as the notification server %s (no other server was running)", NAME)
    ids = itertools.count(1)
    for msg in incoming(conn):
        if msg.header.message_type != MessageType.method_call:
            continue
        conn.send(_answer(msg, ids))
        if _NOTIFY_RULE.matches(msg):
            yield to_notification(msg.body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Classify desktop notifications as they arrive (session D-Bus).")
    parser.add_argument("--mode", choices=("auto", "monitor", "server"), default="auto",
                        help="monitor a running notification server, be the server, or choose by whether one runs")
    parser.add_argument("--jsonl", metavar="FILE", help="also append one JSON record per notification to FILE")
    add_model_options(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        clf = classifier_from_args(args)
        conn = open_dbus_connection(bus="SESSION")
    except notifclf.NotifclfError as exc:
        print(f"desktop_listener: error: {exc}", file=sys.stderr)
        return 2
    except (KeyError, OSError) as exc:  # KeyError: no $DBUS_SESSION_BUS_ADDRESS
        print(f"desktop_listener: error: cannot reach the session bus: {exc}", file=sys.stderr)
        return 2
    mode = args.mode if args.mode != "auto" else ("monitor" if name_has_owner(conn) else "server")
    try:
        with open(args.jsonl, "a", encoding="utf-8") if args.jsonl else contextlib.nullcontext() as jsonl:
            for note in (monitor if mode == "monitor" else serve)(conn):
                report(clf, note, jsonl)
    except KeyboardInterrupt:
        return 0
    except (RuntimeError, OSError) as exc:
        print(f"desktop_listener: error: {exc}", file=sys.stderr)
        return 2
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
