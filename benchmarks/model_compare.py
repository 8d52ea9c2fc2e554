"""Two models side by side: is the small one good enough, and how much faster is it?

Speed: ``classify`` of the same notifications with both models, interleaved rounds in one process (one thread each
by default, as on a loaded Pi core); peak RSS and cold start in fresh processes (as benchmarks/bench.py). Accuracy:
read from two ``evals/run_all.sh`` output folders (every set of the README), with the gap per set and right answers per
second of ``classify`` (accuracy / latency).

    OUT=runs/eval-small MODEL=<small> bash evals/run_all.sh ; OUT=runs/eval-default bash evals/run_all.sh
    python benchmarks/model_compare.py --model <small> --eval runs/eval-small --baseline-eval runs/eval-default
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from notifclf.models.registry import DEFAULT_MODEL
from notifclf.models.store import resolve_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import CHILD, DEFAULT_DATA, load_notes  # noqa: E402
from quant_bench import speed  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evals"))
from run_heldout import SET_GROUPS  # noqa: E402

# Groups of the held-out report: (set name -> belongs, the figure compared).
GROUPS = {**{label: (pick, "folder") for label, pick in SET_GROUPS.items()},
          "held-out rows, defaults": (lambda n: n == "heldout-defaults", "folder"),
          "preferences decided (both)": (lambda n: n == "preferences-decided", "both"),
          "clear-cut priority (priority)": (lambda n: n == "priority-clear", "priority")}


def accuracies(out: Path) -> dict[str, float]:
    """Folder accuracy per set of a run_all output folder, and each held-out group's figure."""
    found = {f.stem: json.loads(f.read_text())["folder_accuracy"] for f in sorted(out.glob("*.json"))}
    sets = json.loads((out / "heldout" / "report.json").read_text())["sets"]
    for label, (pick, key) in GROUPS.items():
        rs = [r for n, r in sets.items() if pick(n)]
        if rs:
            found[label] = sum(r[key] * r["n"] for r in rs) / sum(r["n"] for r in rs)
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="the candidate (registry name or GGUF path)")
    ap.add_argument("--baseline", default=DEFAULT_MODEL)
    ap.add_argument("--eval", type=Path, required=True, help="run_all.sh output folder of --model")
    ap.add_argument("--baseline-eval", type=Path, required=True, help="run_all.sh output folder of --baseline")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--notes", type=int, default=24)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    paths = {"candidate": resolve_model(args.model, progress=False).path,
             "baseline": resolve_model(args.baseline, progress=False).path}
    notes = load_notes(args.data, args.notes, args.seed)
    times = speed(list(paths.values()), notes, args.rounds, args.threads, args.seed)
    ms = {name: statistics.median(times[path]) for name, path in paths.items()}
    child = {name: [json.loads(subprocess.run([sys.executable, "-c", CHILD, str(path), json.dumps(notes[:8])],
                                              check=True, capture_output=True, text=True).stdout) for _ in range(3)]
             for name, path in paths.items()}
    print(f"candidate {paths['candidate'].name} vs baseline {paths['baseline'].name}; {len(notes)} notifications x "
          f"{args.rounds} interleaved rounds, {args.threads} thread(s)")
    for name in paths:
        print(f"{name:<10} classify {ms[name]:7.1f} ms/notif   cold start {statistics.median(c['cold_start_s'] for c in child[name]):.2f} s"
              f"   peak RSS {max(c['peak_rss_mb'] for c in child[name]):.0f} MB")
    print(f"speed-up of the candidate: {ms['baseline'] / ms['candidate']:.2f}x")

    cand, base = accuracies(args.eval), accuracies(args.baseline_eval)
    print(f"\n{'set':<34}{'candidate':>10}{'baseline':>10}{'gap':>8}{'ok/s cand':>11}{'ok/s base':>11}")
    worst = 0.0
    for name in [n for n in base if n in cand]:
        gap = cand[name] - base[name]
        worst = min(worst, gap)
        print(f"{name:<34}{cand[name]:>10.1%}{base[name]:>10.1%}{100 * gap:>+8.1f}"
              f"{1000 * cand[name] / ms['candidate']:>11.2f}{1000 * base[name] / ms['baseline']:>11.2f}")
    print(f"largest drop: {-100 * worst:.1f} points (ok/s: right answers per second of classify, accuracy / latency)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
