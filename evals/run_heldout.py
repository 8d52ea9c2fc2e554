"""Reading the user's folders and preferences: accuracy on folder sets and concepts never trained on.

Runs a model through the public API (greedy, grammar-constrained, exactly as users get it) on:

* every ``<name>.jsonl`` + ``<name>.folders.json`` in --data-dir (from ``evals/make_heldout_sets.py``):
  hand-written held-out folder sets, sampled sets of held-out concepts, held-out rows under the defaults, and
  in-distribution sampled sets;
* evals/preferences*.json (the four defaults with six rules; a nurse's own five folders with six rules; for each,
  a ``-nearby`` file of 40 more cases near the rules that none decides): the cases a
  preference decides (both labels as the preference says), the cases none decides, and those same untouched cases
  without the preferences (the "no worse" check);
* evals/priority-clear.json: clear-cut priority cases.

    python evals/run_heldout.py [--model NAME|PATH] [--data-dir runs/eval/data] [--out runs/eval/heldout.json]
                                [--folder-prior auto|none|reader|embeddings] [--folder-orders 1|2|3] [--suites FILE ...]
                                [--dev-split train.jsonl]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import notifclf  # noqa: E402
from notifclf.embedding.folder_prior import PRIOR_CHOICES  # noqa: E402
from notifclf.dev_split import is_dev  # noqa: E402
from notifclf.evaluation import load_labeled  # noqa: E402
from notifclf.stated_priority import STATED_PRIORITY_BONUS  # noqa: E402

EVALS = Path(__file__).resolve().parent
NOTE_FIELDS = ("app", "title", "body", "sub_text", "category", "posted_at")


# The held-out and in-distribution sets by kind, as summaries report them (set name -> belongs to the group).
SET_GROUPS: dict[str, Callable[[str], bool]] = {
    "held-out hand-written sets": lambda n: (n.startswith("heldout-") and not n.startswith("heldout-concepts-")
                                             and n != "heldout-defaults"),
    "held-out sampled concepts": lambda n: n.startswith("heldout-concepts-"),
    "in-distribution sampled sets": lambda n: n.startswith("indist-sets-"),
}


def note_of(case: dict) -> dict:
    """The notification a case holds (its labels and its taxonomy category left out)."""
    return {k: case[k] for k in NOTE_FIELDS if case.get(k) is not None and k != "category"}


def data_sets(data_dir: Path) -> Iterator[tuple[str, list[dict], list[dict]]]:
    """``(name, folders, cases)`` of every ``<name>.folders.json`` + ``<name>.jsonl`` in ``data_dir``, by name."""
    for folders_file in sorted(data_dir.glob("*.folders.json")):
        name = folders_file.name[: -len(".folders.json")]
        cases = [json.loads(line) for line in (data_dir / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
                 if line.strip()]
        yield name, json.loads(folders_file.read_text(encoding="utf-8")), cases


def score(clf: notifclf.Classifier, cases: list[dict], *, batch: int = 8) -> dict:
    """Folder, priority and both accuracy (priority only where the case has one) and the wrong answers."""
    t0 = time.time()
    preds = []
    for i in range(0, len(cases), batch):
        preds += clf.classify_many([note_of(c) for c in cases[i: i + batch]])
    n = len(cases)
    f_ok = [p.folder == c["folder"] for p, c in zip(preds, cases)]
    with_p = [(p, c) for p, c in zip(preds, cases) if c.get("priority") is not None]
    p_ok = [p.priority == int(c["priority"]) for p, c in with_p]
    both = [p.folder == c["folder"] and p.priority == int(c["priority"]) for p, c in with_p]
    pct = lambda xs: round(sum(xs) / len(xs), 4) if xs else None  # noqa: E731
    return {"n": n, "folder": pct(f_ok), "priority": pct(p_ok), "both": pct(both),
            "ms_per_notification": round(1000 * (time.time() - t0) / max(1, n), 1),
            "wrong": [f"{c.get('app')}: {c.get('title')} -> {p.folder}/{p.priority} (want {c['folder']}/{c.get('priority')})"
                      for p, c in zip(preds, cases) if p.folder != c["folder"]][:15]}


def model_only_classifier(model: str | Path | None, **kwargs) -> notifclf.Classifier:
    """A Classifier whose corrections store does not exist: its figures are the model's own, whatever corrections
    the user has stored; and no folder prior unless ``folder_prior`` is given."""
    kwargs.setdefault("folder_prior", None)
    return notifclf.Classifier(model, progress=False, result_cache_size=0,
                               corrections_path=Path(tempfile.mkdtemp()) / "none.sqlite3", **kwargs)


DEFAULTS = [f.to_dict() for f in notifclf.DEFAULT_FOLDERS]


def dev_split_set(data: str | Path) -> tuple[str, list, list[dict]]:
    """``("dev-defaults", default folders, the dev-split rows of train.jsonl-style ``data``)``."""
    rows, _ = load_labeled(data)
    return "dev-defaults", DEFAULTS, [{**r, "app": r.get("app") or r.get("app_name")} for r in rows if is_dev(r["id"])]


def extra_sets(suites: list[str], dev_data: str | None) -> Iterator[tuple[str, list, list[dict]]]:
    """``(name, folders, cases)`` of suite files (``notifclf eval`` format; the defaults when a file has no folders)
    and of the dev split of ``dev_data`` under the defaults."""
    for path in suites:
        cases, folders = load_labeled(path)
        yield f"suite-{Path(path).stem}", folders or DEFAULTS, cases
    if dev_data:
        yield dev_split_set(dev_data)


def run(model: str | None, data_dir: Path, only: str | None, folder_prior: str | None = "auto",
        suites: tuple[str, ...] = (), dev_data: str | None = None, folder_orders: int = 1,
        stated_priority_bonus: float = STATED_PRIORITY_BONUS) -> dict:
    clf = model_only_classifier(model, folder_prior=folder_prior, folder_orders=folder_orders,
                                stated_priority_bonus=stated_priority_bonus)
    report: dict = {"model": str(model or "default"), "folder_prior": folder_prior, "folder_codes": clf.folder_codes,
                    "folder_orders": folder_orders, "stated_priority_bonus": stated_priority_bonus, "sets": {}}
    try:
        for name, folders, cases in itertools.chain(data_sets(data_dir), extra_sets(list(suites), dev_data)):
            if only and not name.startswith(only):
                continue
            clf.set_folders(folders)
            report["sets"][name] = score(clf, cases)
            print(f"{name:<32}{report['sets'][name]['n']:>5}  folder {report['sets'][name]['folder']:.1%}", flush=True)
        for path in sorted(EVALS.glob("preferences*.json")):
            if only not in (None, "preferences", path.stem):
                continue
            prefs = json.loads(path.read_text(encoding="utf-8"))
            decided = [c for c in prefs["cases"] if c.get("decided_by") is not None]
            untouched = [c for c in prefs["cases"] if c.get("decided_by") is None]
            clf.set_folders(prefs["folders"], prefs["instructions"])
            if decided:  # a suite of untouched cases only (*-nearby) has none
                report["sets"][f"{path.stem}-decided"] = score(clf, decided)
            report["sets"][f"{path.stem}-untouched"] = score(clf, untouched)
            clf.set_folders(prefs["folders"])
            report["sets"][f"{path.stem}-untouched-without-prefs"] = score(clf, untouched)
        if only is None or only == "priority-clear":
            clear = json.loads((EVALS / "priority-clear.json").read_text(encoding="utf-8"))
            clf.set_folders(clear["folders"])
            report["sets"]["priority-clear"] = score(clf, clear["cases"])
    finally:
        clf.close()
    return report


def summary(report: dict) -> str:
    lines = [f"{'set':<38}{'n':>5}{'folder':>9}{'priority':>10}{'both':>8}{'ms':>7}"]
    pct = lambda x: "-" if x is None else f"{x:.1%}"  # noqa: E731
    for name, r in report["sets"].items():
        lines.append(f"{name:<38}{r['n']:>5}{pct(r['folder']):>9}{pct(r['priority']):>10}{pct(r['both']):>8}"
                     f"{r['ms_per_notification']:>7.0f}")
    for label, pick in SET_GROUPS.items():
        rs = [r for n, r in report["sets"].items() if pick(n)]
        if rs:
            mean = sum(r["folder"] * r["n"] for r in rs) / sum(r["n"] for r in rs)
            lines.append(f"{label:<38}{sum(r['n'] for r in rs):>5}{mean:>9.1%}   (min set {min(r['folder'] for r in rs):.1%})")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None)
    p.add_argument("--data-dir", default="runs/eval/data")
    p.add_argument("--out", default="runs/eval/heldout.json")
    p.add_argument("--only", default=None, help="only sets whose name starts with this (or 'preferences', 'priority-clear')")
    p.add_argument("--folder-prior", default="auto", choices=PRIOR_CHOICES,
                   help="Classifier(folder_prior=...); none: the model alone")
    p.add_argument("--folder-orders", type=int, default=1, choices=[1, 2, 3], help="Classifier(folder_orders=...)")
    p.add_argument("--stated-priority-bonus", type=float, default=STATED_PRIORITY_BONUS,
                   help="Classifier(stated_priority_bonus=...); 0: the priority is the model's alone")
    p.add_argument("--suites", nargs="*", default=(), metavar="FILE",
                   help="also score these suite files (evals/*.json, seed_emergent.json)")
    p.add_argument("--dev-split", metavar="TRAIN_JSONL", default=None,
                   help="also score the dev split of this file under the default folders")
    args = p.parse_args(argv)
    report = run(args.model, Path(args.data_dir), args.only, args.folder_prior, args.suites, args.dev_split,
                 args.folder_orders, args.stated_priority_bonus)
    write_report(report, args.out, summary(report))
    return 0


def write_report(report: dict, out: str | Path, summary_text: str) -> None:
    """The report as JSON at ``out`` (its folder created), and its summary on stdout."""
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(report, indent=1, ensure_ascii=False))
    print(summary_text)


if __name__ == "__main__":
    sys.exit(main())
