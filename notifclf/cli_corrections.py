"""``notifclf correct`` and ``notifclf corrections list|forget|clear``: the user's corrections from the shell."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

from .corrections import Correction, CorrectionStore
from .models.cache import resolve_cache_dir


def corrections_path(args: argparse.Namespace) -> Path:
    """--corrections, else corrections.sqlite3 in the cache directory (as ``Classifier`` does)."""
    return Path(args.corrections) if args.corrections else resolve_cache_dir(args.cache_dir) / "corrections.sqlite3"


def correction_record(c: Correction) -> dict:
    return {"id": c.id, "app": c.notification.app, "title": c.notification.title, "body": c.notification.body,
            "folder": c.folder, "priority": c.priority,
            "created_at": dt.datetime.fromtimestamp(c.created_at, dt.timezone.utc).isoformat(timespec="seconds")}


def cmd_correct(args: argparse.Namespace, classifier_from_args: Callable, notification_from_args: Callable) -> int:
    notification = notification_from_args(args)
    with classifier_from_args(args) as clf:
        c = clf.correct(notification, folder=args.folder, priority=args.priority)
        print(json.dumps(correction_record(c), ensure_ascii=False), flush=True)
    return 0


def cmd_corrections(args: argparse.Namespace) -> int:
    path = corrections_path(args)
    if not path.exists():
        if args.action != "list":
            print(f"no corrections store at {path}")
            return 0 if args.action == "clear" else 1
        return 0
    store = CorrectionStore(path)
    try:
        if args.action == "list":
            for c in store.all():
                r = correction_record(c)
                print(json.dumps(r, ensure_ascii=False) if args.json else
                      f"{r['id']:>5}  {r['created_at']}  {r['folder']:<20} p{r['priority']}  {r['app']}: {r['title']}")
        elif args.action == "forget":
            if not store.forget(args.id):
                print(f"no correction with id {args.id} in {path}")
                return 1
        else:
            print(f"forgot {store.clear()} corrections in {path}")
    finally:
        store.close()
    return 0


def add_correction_commands(sub: argparse._SubParsersAction, add_model_options: Callable,
                            classifier_from_args: Callable, notification_from_args: Callable) -> None:
    p = sub.add_parser("correct", help="record where a notification belongs; the model reads it from then on")
    for flag in ("app", "title", "body", "sub-text", "category", "posted-at"):
        p.add_argument(f"--{flag}")
    p.add_argument("--folder", help="the folder it belongs in (one of the current folders)")
    p.add_argument("--priority", type=int, choices=(1, 2, 3), help="its priority")
    add_model_options(p)
    p.set_defaults(func=lambda a: cmd_correct(a, classifier_from_args, notification_from_args))

    p = sub.add_parser("corrections", help="list, forget or clear the stored corrections")
    p.add_argument("action", choices=("list", "forget", "clear"))
    p.add_argument("id", nargs="?", type=int, help="with forget: the correction's id (see list)")
    p.add_argument("--json", action="store_true", help="list: one JSON object per line")
    p.add_argument("--corrections", metavar="FILE", help="the corrections store (default: in the cache directory)")
    p.add_argument("--cache-dir")
    p.set_defaults(func=cmd_corrections)
