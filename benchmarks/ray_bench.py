"""Ray benchmark: rows/s of label_dataset with 1 actor x 2 threads and 2 actors x 1 thread vs one process's
classify_many, on the same rows, one run each; and what Ray adds on a small input.

    python benchmarks/ray_bench.py [--rows 96] [--small 4] [--batch-size 16] [--model NAME_OR_PATH] [--cpus 2]

Rows are distinct notifications from train.jsonl (no result-cache hits). Ray runs are end to end: actor start and
model load (from the node's cache) included, as a job pays them; "after start" rows/s subtracts the small run's wall
time from the big one's ((rows - small) / (wall - small wall)). Memory is the peak RSS of each actor process.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import threading
import time
from pathlib import Path

import ray
import ray.data

import notifclf
from notifclf.ray import label_dataset

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "notifai" / "train.jsonl"


def load_rows(path: Path, n: int, seed: int) -> list[dict]:
    """``n`` distinct notifications, shuffled with ``seed``."""
    seen: set[tuple[str, str, str]] = set()
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        note = {"app": r.get("app_name") or r.get("app", ""), "title": r.get("title", ""), "body": r.get("body", "")}
        key = (note["app"], note["title"], note["body"])
        if key not in seen:
            seen.add(key)
            rows.append(note)
    random.Random(seed).shuffle(rows)
    return [{"id": i, **note} for i, note in enumerate(rows[:n])]


def actor_pids() -> list[int]:
    """Processes that are Ray Data map actors (Ray titles them ``ray::MapWorker(...)``)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(b"ray::MapWorker"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


class ActorMemory:
    """Peak RSS (VmHWM) of each classifier actor process of one run, sampled while it goes on."""

    def __init__(self) -> None:
        self.peak_mb: dict[int, float] = {}
        self._earlier = set(actor_pids())  # actors of an earlier run, still shutting down
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for pid in set(actor_pids()) - self._earlier:
                try:
                    status = Path(f"/proc/{pid}/status").read_text().splitlines()
                    hwm = next(line for line in status if line.startswith("VmHWM:"))
                except (OSError, StopIteration):
                    continue
                self.peak_mb[pid] = max(self.peak_mb.get(pid, 0.0), int(hwm.split()[1]) / 1024)

    def __enter__(self) -> "ActorMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def single_process(model: str | None, rows: list[dict], threads: int) -> dict:
    start = time.perf_counter()
    clf = notifclf.Classifier(model, n_threads=threads, progress=False)
    loaded = time.perf_counter()
    results = clf.classify_many(rows)
    done = time.perf_counter()
    clf.close()
    return {"load_s": loaded - start, "classify_s": done - loaded, "wall_s": done - start,
            "rows_per_s": len(rows) / (done - loaded), "results": [(r.folder, r.priority) for r in results]}


def on_ray(model: str | None, rows: list[dict], actors: int, threads: int, batch_size: int) -> dict:
    with ActorMemory() as memory:
        start = time.perf_counter()
        labeled = label_dataset(ray.data.from_items(rows), model=model, concurrency=actors, threads_per_actor=threads,
                                batch_size=batch_size).take_all()
        wall = time.perf_counter() - start
    assert [r["id"] for r in labeled] == [r["id"] for r in rows] and not any(r["error"] for r in labeled)
    return {"wall_s": wall, "rows_per_s": len(rows) / wall, "actor_peak_rss_mb": sorted(memory.peak_mb.values()),
            "results": [(r["folder"], r["priority"]) for r in labeled]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--rows", type=int, default=96)
    ap.add_argument("--small", type=int, default=4, help="rows of the small input that measures Ray's overhead")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--cpus", type=int, default=2, help="logical CPUs of the local Ray (default 2, this machine)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    rows = load_rows(args.data, args.rows, args.seed)
    small = rows[: args.small]
    print(f"{len(rows)} distinct rows, {os.cpu_count()} cores, load average at start {os.getloadavg()[0]:.2f}")
    report: dict[str, dict] = {"single 1 process x 2 threads": single_process(args.model, rows, 2)}
    report["single, small input"] = single_process(args.model, small, 2)

    start = time.perf_counter()
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    ray_init_s = time.perf_counter() - start
    ray.data.DataContext.get_current().enable_progress_bars = False
    for name, actors, threads in (("ray 1 actor x 2 threads", 1, 2), ("ray 2 actors x 1 thread", 2, 1)):
        report[name] = on_ray(args.model, rows, actors, threads, args.batch_size)
        report[name + ", small input"] = on_ray(args.model, small, actors, threads, args.batch_size)
        big, little = report[name], report[name + ", small input"]
        big["after_start_rows_per_s"] = (len(rows) - len(small)) / (big["wall_s"] - little["wall_s"])
    ray.shutdown()

    reference = report["single 1 process x 2 threads"]["results"]
    print(f"ray.init: {ray_init_s:.1f} s; load average at end {os.getloadavg()[0]:.2f}")
    print(f"{'method':<42} {'wall s':>7} {'rows/s':>7} {'after start':>11}  notes")
    for name, r in report.items():
        notes = []
        if "load_s" in r:
            notes.append(f"load {r['load_s']:.1f} s + classify {r['classify_s']:.1f} s")
        if r.get("actor_peak_rss_mb"):
            notes.append("actor peak RSS " + ", ".join(f"{m:.0f} MB" for m in r["actor_peak_rss_mb"]))
        if len(r["results"]) == len(reference):
            notes.append("same answers" if r["results"] == reference else
                         f"{sum(a != b for a, b in zip(r['results'], reference))} answers differ")
        after = f"{r['after_start_rows_per_s']:.2f}" if "after_start_rows_per_s" in r else ""
        print(f"{name:<42} {r['wall_s']:>7.1f} {r['rows_per_s']:>7.2f} {after:>11}  {'; '.join(notes)}")
    small_single = report["single, small input"]["wall_s"]
    for name in ("ray 1 actor x 2 threads", "ray 2 actors x 1 thread"):
        extra = report[name + ", small input"]["wall_s"] - small_single
        print(f"Ray overhead on {len(small)} rows ({name}): {extra:+.1f} s over one process (load included), "
              f"plus ray.init {ray_init_s:.1f} s once")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
