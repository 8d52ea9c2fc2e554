"""Quantization types side by side: speed, accuracy, file size and peak RSS of the same model quantized several ways.

    python -m convert build --base BASE.gguf --adapter models/... --quant IQ4_NL --out runs/quant/iq4_nl.gguf
    python benchmarks/quant_bench.py runs/quant/q4_k_m.gguf runs/quant/q4_0.gguf runs/quant/iq4_nl.gguf \
        [--notes 16] [--rounds 3] [--dev-rows 300] [--heldout-dir runs/eval/data --heldout-prefix heldout-]

Speed: every model is loaded at once and ``classify`` runs over the same notifications in interleaved rounds (a new
random order each round), so machine noise hits them alike; medians per notification and the ratio to the first
model. Accuracy: the first --dev-rows rows of the dev split (default folders) and the held-out folder sets written by
``evals/make_heldout_sets.py``. Peak RSS and cold start come from fresh child processes (as in bench.py).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "evals"))

import notifclf  # noqa: E402
from bench import CHILD, DEFAULT_DATA, load_notes  # noqa: E402
from notifclf.dev_split import is_dev  # noqa: E402
from notifclf.evaluation import evaluate  # noqa: E402
from notifclf.models.store import resolve_model  # noqa: E402
from run_heldout import model_only_classifier, score  # noqa: E402


def dev_rows(path: Path, n: int) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if is_dev(r["id"])][:n]


def heldout_sets(data_dir: Path, prefix: str) -> dict[str, tuple[list, list[dict]]]:
    sets = {}
    for folders_file in sorted(data_dir.glob(f"{prefix}*.folders.json")):
        name = folders_file.name[: -len(".folders.json")]
        cases = [json.loads(line) for line in (data_dir / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
                 if line.strip()]
        sets[name] = (json.loads(folders_file.read_text(encoding="utf-8")), cases)
    return sets


def speed(paths: list[Path], notes: list[dict], rounds: int, threads: int | None, seed: int) -> dict[Path, list[float]]:
    clfs = {p: model_only_classifier(p, n_threads=threads) for p in paths}
    try:
        for clf in clfs.values():  # warm-up: the system prompt's state
            clf.classify(notes[0])
        times: dict[Path, list[float]] = {p: [] for p in paths}
        rng = random.Random(seed)
        for _ in range(rounds):
            order = list(paths)
            rng.shuffle(order)
            for p in order:
                started = time.perf_counter()
                for note in notes:
                    clfs[p].classify(note)
                times[p].append(1000 * (time.perf_counter() - started) / len(notes))
        return times
    finally:
        for clf in clfs.values():
            clf.close()


def accuracy(path: Path, rows: list[dict], sets: dict, threads: int | None) -> dict[str, float]:
    clf = model_only_classifier(path, n_threads=threads)
    try:
        out = {}
        if rows:
            report = evaluate(clf, rows)
            out["dev folder"], out["dev priority"] = report.folder_accuracy, report.priority_accuracy
        for name, (folders, cases) in sets.items():
            clf.set_folders(folders)
            out[name] = score(clf, cases)["folder"]
        return out
    finally:
        clf.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="model files or registry names; ratios are against the first")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--notes", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dev-rows", type=int, default=300)
    ap.add_argument("--heldout-dir", type=Path, default=ROOT / "runs" / "eval" / "data")
    ap.add_argument("--heldout-prefix", default="heldout-")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    paths = [resolve_model(m, progress=False).path for m in args.models]
    notes = load_notes(args.data, args.notes, args.seed)
    times = speed(paths, notes, args.rounds, args.threads, args.seed)
    rows = dev_rows(args.data, args.dev_rows) if args.dev_rows else []
    sets = heldout_sets(args.heldout_dir, args.heldout_prefix) if args.heldout_dir.is_dir() else {}
    acc = {p: accuracy(p, rows, sets, args.threads) for p in paths}
    child = {p: [json.loads(subprocess.run([sys.executable, "-c", CHILD, str(p), json.dumps(notes)], check=True,
                                           capture_output=True, text=True).stdout) for _ in range(2)] for p in paths}

    med = {p: statistics.median(v) for p, v in times.items()}
    first = paths[0]
    print(f"{platform.machine()} ({platform.processor() or 'cpu'}); {len(notes)} notifications x {args.rounds} "
          f"interleaved rounds; dev rows {len(rows)}; held-out sets {len(sets)}")
    metrics = list(acc[first])
    header = f"{'model':<40}{'MB':>7}{'ms/notif':>10}{'x first':>9}{'RSS MB':>8}{'cold s':>8}"
    print(header + "".join(f"{m[:18]:>20}" for m in metrics))
    for p in paths:
        rss = max(c["peak_rss_mb"] for c in child[p])
        cold = statistics.median(c["cold_start_s"] for c in child[p])
        line = (f"{p.name[:39]:<40}{p.stat().st_size / 1e6:>7.0f}{med[p]:>10.1f}{med[p] / med[first]:>9.2f}"
                f"{rss:>8.0f}{cold:>8.2f}")
        print(line + "".join(f"{acc[p].get(m, float('nan')):>20.1%}" for m in metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
