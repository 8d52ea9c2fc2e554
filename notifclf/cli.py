"""The ``notifclf`` command: classify, batch, eval, correct, corrections, models."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cli_corrections import add_correction_commands
from .embedding.correction_likeness import CORRECTIONS_BY
from .embedding.folder_prior import PRIOR_CHOICES
from .errors import InvalidNotificationError, NotifclfError
from .folders import load_folders_file
from .ray_batch import add_ray_options
from .stated_priority import MAX_STATED_PRIORITY_BONUS, STATED_PRIORITY_BONUS, checked_bonus

if TYPE_CHECKING:
    from .classifier import Classifier

logger = logging.getLogger("notifclf")


def add_model_options(p: argparse.ArgumentParser) -> None:
    """--model, --cache-dir, --folders, --instructions, --threads: shared by the commands."""
    p.add_argument("--model", help="registry name, path to a .gguf file, or hf:OWNER/REPO/FILE.gguf (default: the default model)")
    p.add_argument("--cache-dir", help="model cache directory (default: $NOTIFCLF_CACHE, then the platform cache dir)")
    p.add_argument("--folders", metavar="FILE.json", help='JSON list of {"name", "description"}, or an object with a "folders" key')
    p.add_argument("--instructions", help='free-text preferences, e.g. "anything from my manager Dana is priority 3"')
    p.add_argument("--threads", type=int, help="CPU threads for llama.cpp (default: all available, at most 8)")
    p.add_argument("--corrections", metavar="FILE",
                   help="the user's corrections store (default: in the cache directory)")
    p.add_argument("--corrections-by", choices=CORRECTIONS_BY, default="examples",
                   help="how stored corrections change answers: 'examples' (default: worked examples in the "
                        "model's prompt) or 'likeness' (a notification alike to a correction takes what it changed: "
                        "faster, follows more, spills more; README)")
    p.add_argument("--folder-prior", choices=PRIOR_CHOICES, default="auto",
                   help="'embeddings': add a sentence-embedding reading of the folder descriptions; 'reader': the "
                        "same with the encoder fine-tuned here to read folders (both need the [embeddings] extra; "
                        "see the README's accuracy section); 'auto' (default): the model's own (the reader for "
                        "the default model); 'none': the model alone")
    p.add_argument("--folder-orders", type=int, choices=[1, 2, 3], default=1,
                   help="read each notification with the folder list in this many orders and sum the folder "
                        "log-probabilities (steadier on your own folders, that many times slower)")
    p.add_argument("--stated-priority-bonus", type=_bonus, default=STATED_PRIORITY_BONUS,
                   metavar=f"0-{MAX_STATED_PRIORITY_BONUS}",
                   help="weight (log space) given to the priority a matching preference states, e.g. 'GitHub can "
                        f"always wait' (default {STATED_PRIORITY_BONUS}; 0: the model's own priority; README)")


def _bonus(text: str) -> float:
    try:
        return checked_bonus(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a number from 0 to {MAX_STATED_PRIORITY_BONUS}, got {text!r}") from None


def reading_options(args: argparse.Namespace) -> dict[str, Any]:
    """The Classifier options of :func:`add_model_options` that change how notifications are read, the same for
    ``classify``, ``batch``, ``eval`` and ``batch --ray``."""
    return {"corrections_path": args.corrections, "folder_prior": args.folder_prior,
            "folder_orders": args.folder_orders, "corrections_by": args.corrections_by,
            "stated_priority_bonus": args.stated_priority_bonus}


def classifier_from_args(args: argparse.Namespace) -> Classifier:
    """A Classifier built from the options of :func:`add_model_options`."""
    from .classifier import Classifier

    folders = load_folders_file(args.folders) if args.folders else None
    return Classifier(args.model, folders=folders, instructions=args.instructions, cache_dir=args.cache_dir,
                      n_threads=args.threads, progress=sys.stderr.isatty(), **reading_options(args))


def _notification_from_args(args: argparse.Namespace) -> dict[str, Any]:
    fields = {"app": args.app, "title": args.title, "body": args.body, "sub_text": args.sub_text,
              "category": args.category, "posted_at": args.posted_at}
    given = {k: v for k, v in fields.items() if v is not None}
    if given:
        return given
    if sys.stdin is None or sys.stdin.isatty():
        raise InvalidNotificationError("give the notification as flags (--app, --title, --body, ...) or as a JSON object on stdin")
    text = sys.stdin.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidNotificationError(f"stdin is not a JSON object: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidNotificationError("stdin must hold one JSON object such as {\"app\": \"Chase\", \"title\": \"Payment received\"}")
    return data


def _label_map(text: str) -> dict[str, str]:
    """``Work=Job,Personal=Private`` -> {"Work": "Job", "Personal": "Private"}."""
    pairs = [pair.split("=", 1) for pair in text.split(",")]
    if any(len(pair) != 2 or not pair[0].strip() or not pair[1].strip() for pair in pairs):
        raise argparse.ArgumentTypeError(f"expected OLD=NEW pairs separated by commas, got {text!r}")
    return {old.strip(): new.strip() for old, new in pairs}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def cmd_classify(args: argparse.Namespace) -> int:
    notification = _notification_from_args(args)
    with classifier_from_args(args) as clf:
        result = clf.classify(notification)
    print(result.to_json(), flush=True)
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    if args.ray:
        from .ray_batch import run_batch

        return run_batch(args, reading_options(args))
    from tqdm.auto import tqdm

    from .batch_file import classify_jsonl

    clf = classifier_from_args(args)
    lines = Path(args.input).read_text(encoding="utf-8", errors="replace").splitlines()
    out_path = Path(args.output) if args.output else None
    out = open(out_path, "w", encoding="utf-8") if out_path else sys.stdout
    try:
        with tqdm(total=len(lines), unit="notif", disable=not args.progress) as bar:
            counts = classify_jsonl(clf, lines, out, progress=bar, batch_size=args.batch_size)
    finally:
        if out_path:
            out.close()
        clf.close()
    print(f"classified {counts.ok}, errors {counts.errors}, of {len(lines)} lines", file=sys.stderr)
    return 0 if counts.errors == 0 else 1


def cmd_eval(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from .classifier import Classifier
    from .evaluation import evaluate, load_labeled

    rows, suite_folders = load_labeled(args.data)
    if args.dev_split:
        from .dev_split import is_dev

        rows = [r for r in rows if is_dev(r.get("id", ""))]
    if args.limit:
        rows = rows[: args.limit]
    if args.label_map:
        rows = [{**r, "folder": args.label_map.get(r.get("folder"), r.get("folder"))} for r in rows]
    folders = load_folders_file(args.folders) if args.folders else suite_folders
    clf = Classifier(args.model, folders=folders, instructions=args.instructions, cache_dir=args.cache_dir,
                     n_threads=args.threads, progress=sys.stderr.isatty(), result_cache_size=0,
                     **reading_options(args))
    with clf, tqdm(total=len(rows), unit="notif", disable=not args.progress) as bar:
        report = evaluate(clf, rows, progress=bar)
    print(report.table())
    if args.report:
        Path(args.report).write_text(json.dumps(report.to_dict(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"report written to {args.report}", file=sys.stderr)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from .models.inventory import model_rows

    for row in model_rows(cache_dir=args.cache_dir, verify=args.verify):
        print(json.dumps(row, ensure_ascii=False) if args.json else
              f"{row['name']:<38} {row['source']:<12} {row['status']:<14} {row['path'] or '-'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="notifclf", description="Sort notifications into folders and priorities, offline.")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="-v: log what notifclf does (INFO); -vv: also DEBUG, with llama.cpp's own log")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("classify", help="classify one notification given as flags or as JSON on stdin; prints one JSON line")
    for flag in ("app", "title", "body", "sub-text", "category", "posted-at"):
        p.add_argument(f"--{flag}")
    add_model_options(p)
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("batch", help="classify a JSONL file; bad lines give error records, the rest are classified")
    p.add_argument("input", help="input JSONL: one notification object per line")
    p.add_argument("-o", "--output", help="output JSONL (default: stdout)")
    p.add_argument("--batch-size", type=_positive_int, default=16,
                   help="notifications decoded together; with --ray, rows per classify_many call in an actor (default 16)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="hide the progress bar")
    add_model_options(p)
    add_ray_options(p)
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("eval", help="accuracy, confusion, calibration and latency on labeled notifications (JSONL)")
    p.add_argument("data", help="JSONL rows (notification fields plus 'folder' and optionally 'priority'), or a suite "
                                "JSON object with 'folders' and 'cases' (see evals/)")
    p.add_argument("--report", metavar="OUT.json", help="write the full report as JSON")
    p.add_argument("--limit", type=int, help="evaluate only the first N rows")
    p.add_argument("--dev-split", action="store_true",
                   help="keep only the held-out dev rows of the training file (sha1(id) %% 10 == 0), never trained on")
    p.add_argument("--label-map", metavar="OLD=NEW,...", type=_label_map,
                   help="rename gold folder labels, e.g. Work=Job,Personal=Private to evaluate renamed folders")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="hide the progress bar")
    add_model_options(p)
    p.set_defaults(func=cmd_eval)

    add_correction_commands(sub, add_model_options, classifier_from_args, _notification_from_args)

    p = sub.add_parser("models", help="list known models, where each is cached, and verify them")
    p.add_argument("--cache-dir")
    p.add_argument("--verify", action="store_true", help="recompute each cached file's SHA-256")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=cmd_models)
    for p in sub.choices.values():  # -v/-vv after the command works too
        p.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def _configure_logging(verbose: int) -> None:
    """WARNING by default; -v: notifclf's INFO; -vv: DEBUG, including llama.cpp's own log (``notifclf.llama``)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("notifclf").setLevel({0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    try:
        return int(args.func(args))
    except NotifclfError as exc:
        print(f"notifclf: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into a reader that closed early (e.g. `| head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
