"""Learning from corrections: accuracy with 0, 1, 3 and 5 corrections per convention, and what corrections cost.

For each simulated user in evals/conventions/*.json: the first k corrections of each convention (from the user's
pool, never an evaluated case) go into a fresh store through ``Classifier.correct``; then every case is classified.
Reported per k: on the cases a convention decides, how often the answer follows the convention (its folder and/or
priority) and folder/priority/both accuracy; on the cases no convention touches, folder and both accuracy (must
stay within 2 points of k = 0).

Cost, measured side by side in one process: ``classify`` latency with 24 stored corrections vs none (same
notifications, result cache off, interleaved rounds), and the first ``classify`` after a new correction (with
``--corrections-by examples`` the system prompt's KV is recomputed once; with likeness the corrections are embedded
once) vs a steady one.

    python evals/run_corrections.py [--model NAME|PATH] [--out runs/eval/corrections.json] [--ks 0,1,3,5]
                                    [--folder-prior auto|none|reader|embeddings] [--no-cost] [--renamed-folders]
                                    [--corrections-by likeness|examples] [--no-calibration]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import notifclf  # noqa: E402
from notifclf.embedding.correction_likeness import CORRECTIONS_BY  # noqa: E402
from notifclf.embedding.folder_prior import PRIOR_CHOICES  # noqa: E402

SUITES = Path(__file__).resolve().parent / "conventions"
FIELDS = ("app", "title", "body")


def _note(case: dict) -> dict:
    return {k: case[k] for k in FIELDS if case.get(k)}


def follows(result, convention: dict) -> bool:
    return ((convention["folder"] is None or result.folder == convention["folder"])
            and (convention["priority"] is None or result.priority == convention["priority"]))


def renamed(suite: dict, prefix: str = "My ") -> dict:
    """The suite with every folder renamed ``prefix + name`` (descriptions, conventions and labels alike): the same
    users on a folder set of their own, where a folder prior applies (none does under the four defaults)."""
    def name(folder):
        return None if folder is None else prefix + folder
    return {**suite, "folders": [{**f, "name": name(f["name"])} for f in suite["folders"]],
            **{key: [{**item, "folder": name(item["folder"])} for item in suite[key]]
               for key in ("conventions", "pool", "cases")}}


def shown_items(suite: dict, k: int) -> list[int]:
    """Indices into the pool of the first ``k`` corrections of each convention, conventions in order."""
    return [i for c in suite["conventions"]
            for i in [j for j, item in enumerate(suite["pool"]) if item["convention"] == c["id"]][:k]]


def answers_with_corrections(model: str | None, suite: dict, k: int, **options) -> list:
    """Every case classified with the first ``k`` corrections per convention stored through ``Classifier.correct``
    in a fresh store; ``options`` go to the Classifier (``corrections_by``, ``folder_prior``...)."""
    with tempfile.TemporaryDirectory() as tmp:
        clf = notifclf.Classifier(model, folders=suite["folders"], progress=False, result_cache_size=0,
                                  corrections_path=Path(tmp) / "corrections.sqlite3", **options)
        try:
            for i in shown_items(suite, k):
                item = suite["pool"][i]
                clf.correct(_note(item), folder=item["folder"], priority=item["priority"])
            return clf.classify_many([_note(c) for c in suite["cases"]])
        finally:
            clf.close()


def evaluate_user(model: str | None, suite: dict, k: int, **options) -> dict:
    results = answers_with_corrections(model, suite, k, **options)
    conventions = {c["id"]: c for c in suite["conventions"]}
    decided = [(r, c) for r, c in zip(results, suite["cases"]) if c.get("decided_by")]
    untouched = [(r, c) for r, c in zip(results, suite["cases"]) if not c.get("decided_by")]
    convention_folders = {c["folder"] for c in suite["conventions"] if c["folder"] is not None}
    pct = lambda xs: round(sum(xs) / len(xs), 4) if xs else None  # noqa: E731
    return {
        "k": k, "n_decided": len(decided), "n_untouched": len(untouched),
        "follows_convention": pct([follows(r, conventions[c["decided_by"]]) for r, c in decided]),
        "decided_folder": pct([r.folder == c["folder"] for r, c in decided]),
        "decided_priority": pct([r.priority == c["priority"] for r, c in decided]),
        "decided_both": pct([r.folder == c["folder"] and r.priority == c["priority"] for r, c in decided]),
        "untouched_folder": pct([r.folder == c["folder"] for r, c in untouched]),
        "untouched_both": pct([r.folder == c["folder"] and r.priority == c["priority"] for r, c in untouched]),
        # where the untouched cases filed wrongly went: the spill-over of corrections is a move to their folder
        "untouched_misses": [{"id": c["id"], "app": c["app"], "title": c["title"], "folder": c["folder"],
                              "answer": r.folder} for r, c in untouched if r.folder != c["folder"]],
        "untouched_to_a_convention_folder": sum(r.folder != c["folder"] and r.folder in convention_folders
                                                for r, c in untouched),
    }


def cost(model: str | None, suites: list[dict], rounds: int = 3, **options) -> dict:
    """Latency with 24 corrections vs none, and the one-off cost of a new correction (all users share the four
    default folders, so their pools give 24 distinct corrections)."""
    suite = suites[0]
    notes = [_note(c) for c in suite["cases"][:16]]
    pool = [p for s in suites for p in s["pool"]]
    with tempfile.TemporaryDirectory() as tmp:
        plain = notifclf.Classifier(model, folders=suite["folders"], progress=False, result_cache_size=0,
                                    corrections_path=Path(tmp) / "none.sqlite3", **options)
        taught = notifclf.Classifier(model, folders=suite["folders"], progress=False, result_cache_size=0,
                                     corrections_path=Path(tmp) / "24.sqlite3", **options)
        try:
            for item in pool[:24]:
                taught.correct(_note(item), folder=item["folder"], priority=item["priority"])
            assert len(taught.corrections) == 24
            plain.classify(notes[0]), taught.classify(notes[0])  # warm: prompt states computed
            times: dict[str, list[float]] = {"none": [], "24": []}
            for _ in range(rounds):
                for name, clf in (("none", plain), ("24", taught)):
                    for n in notes:
                        t = time.perf_counter()
                        clf.classify(n)
                        times[name].append(1000 * (time.perf_counter() - t))
            first, steady = [], []
            for item in pool[24:27]:
                taught.correct(_note(item), folder=item["folder"], priority=item["priority"])
                t = time.perf_counter()
                taught.classify(notes[1])
                first.append(1000 * (time.perf_counter() - t))
                t = time.perf_counter()
                taught.classify(notes[2])
                steady.append(1000 * (time.perf_counter() - t))
        finally:
            plain.close()
            taught.close()
    none, with24 = statistics.median(times["none"]), statistics.median(times["24"])
    return {"classify_ms_no_corrections": round(none, 1), "classify_ms_24_corrections": round(with24, 1),
            "ratio": round(with24 / none, 3), "first_classify_after_a_correction_ms": round(statistics.median(first), 1),
            "steady_classify_ms": round(statistics.median(steady), 1)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None)
    p.add_argument("--out", default="runs/eval/corrections.json")
    p.add_argument("--ks", default="0,1,3,5")
    p.add_argument("--folder-prior", default="auto", choices=PRIOR_CHOICES,
                   help="Classifier(folder_prior=...); none: the model alone")
    p.add_argument("--no-cost", action="store_true", help="skip the latency measurement")
    p.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: the Classifier's)")
    p.add_argument("--renamed-folders", action="store_true",
                   help='every folder renamed "My <name>": the users on folders of their own, where a prior applies')
    p.add_argument("--no-calibration", action="store_true", help="Classifier(calibrate_corrections=False)")
    p.add_argument("--corrections-by", default="examples", choices=CORRECTIONS_BY,
                   help="Classifier(corrections_by=...): worked examples in the prompt (the default) or likeness")
    args = p.parse_args(argv)
    ks = [int(k) for k in args.ks.split(",") if k.strip()]  # --ks "": the cost alone
    options = {"folder_prior": args.folder_prior, "calibrate_corrections": not args.no_calibration,
               "corrections_by": args.corrections_by}
    report: dict = {"model": args.model or "default", **options, "renamed_folders": args.renamed_folders,
                    "users": {}}
    for path in sorted(SUITES.glob("*.json")):
        suite = json.loads(path.read_text(encoding="utf-8"))
        suite = renamed(suite) if args.renamed_folders else suite
        report["users"][suite["suite"]] = [evaluate_user(args.model, suite, k, n_threads=args.threads, **options)
                                           for k in ks]
        for r in report["users"][suite["suite"]]:
            print(f"{suite['suite']:<28} k={r['k']}  follows {r['follows_convention']:.1%}  decided both "
                  f"{r['decided_both']:.1%}  untouched folder {r['untouched_folder']:.1%} both {r['untouched_both']:.1%}"
                  f"  (misfiled {len(r['untouched_misses'])}, to a convention's folder {r['untouched_to_a_convention_folder']})",
                  flush=True)
    if not args.no_cost:
        report["cost"] = cost(args.model, [json.loads(p.read_text(encoding="utf-8")) for p in sorted(SUITES.glob("*.json"))],
                              n_threads=args.threads, **options)
        print(json.dumps(report["cost"]))
    for k in ks:
        rows = [r for rs in report["users"].values() for r in rs if r["k"] == k]
        nd, nu = sum(r["n_decided"] for r in rows), sum(r["n_untouched"] for r in rows)
        report.setdefault("overall", {})[str(k)] = {
            "follows_convention": round(sum(r["follows_convention"] * r["n_decided"] for r in rows) / nd, 4),
            "untouched_folder": round(sum(r["untouched_folder"] * r["n_untouched"] for r in rows) / nu, 4),
            "untouched_both": round(sum(r["untouched_both"] * r["n_untouched"] for r in rows) / nu, 4)}
        print(f"all users k={k}: " + json.dumps(report["overall"][str(k)]))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
