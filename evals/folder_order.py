"""Does the answer depend on the order the folders are listed in? Folder accuracy of the held-out sets (and any other
set in --data-dir) with the folders as given, reversed and rotated by half, and of the ensembles that add the
log-probabilities of the folder distributions of the first two and of all three orders: what
``Classifier(folder_orders=2)`` and ``folder_orders=3`` answer (tests/test_folder_orders.py checks they agree).

A model that reads the descriptions gives the same answers in every order; a large spread means it leans on a
folder's position or its letter code. "3 if p<t": the given order's answer where its top folder has probability t or
more, the three-order ensemble elsewhere (an ensemble paid for only where the model is unsure); "reread<t" is the
share of notifications that would be read twice more.

    python evals/folder_order.py --model F [--data-dir runs/eval/data] [--only heldout-] [--out runs/eval/order.json]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_heldout import SET_GROUPS, data_sets, model_only_classifier, note_of, write_report  # noqa: E402

from notifclf.engine.core import other_orders  # noqa: E402

ORDERS = ("given", "reversed", "rotated")
ENSEMBLES = {"2 orders": 2, "3 orders": 3}
SURE = (0.6, 0.8, 0.9)


def ensemble(dists: list[dict[str, float]]) -> str:
    """The folder with the largest summed log-probability over the orders' distributions (floored as the engine
    floors them, so this is what ``folder_orders=k`` answers)."""
    return max(dists[0], key=lambda name: sum(math.log(max(d[name], 1e-12)) for d in dists))


def run(model: str | None, data_dir: Path, only: str) -> dict:
    clf = model_only_classifier(model)
    report: dict = {"model": str(model or "default"), "folder_codes": clf.folder_codes, "sets": {}}
    try:
        for name, folders, cases in data_sets(data_dir):
            if not name.startswith(only):
                continue
            notes = [note_of(c) for c in cases]
            distinct = []  # per distinct order (few folders: rotating by half is reversing, or nothing)
            for order in [tuple(range(len(folders))), *other_orders(len(folders))]:
                clf.set_folders([folders[i] for i in order])
                distinct.append([r.folder_distribution for r in clf.classify_many(notes)])
            answers = {name_: [max(d, key=d.get) for d in distinct[min(i, len(distinct) - 1)]]
                       for i, name_ in enumerate(ORDERS)}
            for label, k in ENSEMBLES.items():
                answers[label] = [ensemble(list(ds)[:k]) for ds in zip(*distinct)]
            unsure = {t: [max(d.values()) < t for d in distinct[0]] for t in SURE}
            for t in SURE:
                answers[f"3 if p<{t}"] = [three if u else given for given, three, u
                                          in zip(answers["given"], answers["3 orders"], unsure[t])]
            report["sets"][name] = {"n": len(cases), **{
                order: round(sum(a == c["folder"] for a, c in zip(got, cases)) / len(cases), 4)
                for order, got in answers.items()}, **{f"reread<{t}": round(sum(u) / len(cases), 4)
                                                        for t, u in unsure.items()}}
            print(name, report["sets"][name], flush=True)
    finally:
        clf.close()
    return report


def summary(report: dict) -> str:
    columns = [*ORDERS, *ENSEMBLES, *(f"{kind}{t}" for t in SURE for kind in ("3 if p<", "reread<"))]
    lines = [f"{'sets':<32}{'n':>5}" + "".join(f"{c:>12}" for c in columns)]
    for group, member in SET_GROUPS.items():
        sets = [s for name, s in report["sets"].items() if member(name)]
        if sets:
            n = sum(s["n"] for s in sets)
            means = (sum(s[c] * s["n"] for s in sets) / n for c in columns)
            lines.append(f"{group:<32}{n:>5}" + "".join(f"{m:>12.1%}" for m in means))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None)
    p.add_argument("--data-dir", default="runs/eval/data")
    p.add_argument("--only", default="heldout-", help="only sets whose name starts with this ('' for all)")
    p.add_argument("--out", default="runs/eval/order.json")
    args = p.parse_args(argv)
    report = run(args.model, Path(args.data_dir), args.only)
    write_report(report, args.out, summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
