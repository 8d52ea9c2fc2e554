"""Soak: classify many notifications on one Classifier and watch the process's resident memory (RSS).

    python benchmarks/soak.py [--model NAME_OR_PATH] [--notes 2000] [--warmup 300] [--batch 1] [--threads N]
                              [--result-cache-size 256] [--max-seconds 900] [--samples 10] [--json]

Notifications are generated, distinct except every tenth, which repeats a recent one (a result-cache hit). With
``--batch N`` chunks of N alternate between ``classify_many`` and one ``classify`` per notification. RSS is VmRSS
from /proc/self/status (Linux), read after ``gc.collect()``. *start* is taken after the warm-up (model loaded,
system-prompt state computed, result cache full: keep --warmup above --result-cache-size), so
growth = end - start is memory the steady loop kept. Prints a table of samples, then one JSON summary line.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

import notifclf
from notifclf.schema import validate_output

APPS = [("Slack", "#team-{i}", "Can you review PR {i} before the standup?"),
        ("Chase", "Payment of ${i}.00 received", "Your card ending {i4} was charged at store {i}."),
        ("Amazon", "Order {i} shipped", "Your parcel {i} arrives Thursday. Track it in the app."),
        ("WhatsApp", "Mum", "Are you coming for dinner on day {i}? Bring {i4} apples"),
        ("Zara", "{i}% off today", "New season sale on item {i}: only this weekend!"),
        ("Google", "Security alert {i}", "New sign-in from device {i4} near city {i}."),
        ("Jira", "PROJ-{i} assigned to you", "Bug: checkout fails with error {i4} on step {i}."),
        ("Instagram", "user{i} liked your photo", "and {i4} others liked it")]


def notification(k: int) -> dict[str, str]:
    """The k-th soak notification: distinct for each k, except every tenth repeats the one five before it."""
    if k % 10 == 9:
        k -= 5
    app, title, body = APPS[k % len(APPS)]
    fill = {"i": str(k), "i4": str(k * 7919 % 10_000)}
    return {"app": app, "title": title.format(**fill), "body": body.format(**fill)}


def rss_mb() -> float:
    """Resident set size of this process in MB (VmRSS, after a garbage collection)."""
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


def run(clf: notifclf.Classifier, first: int, stop: int, batch: int) -> int:
    """Classify notifications first..stop-1; return how many outputs failed the schema (always 0, or a bug)."""
    invalid = 0
    for j, start in enumerate(range(first, stop, batch)):
        chunk = [notification(k) for k in range(start, min(start + batch, stop))]
        results = clf.classify_many(chunk) if j % 2 == 0 else [clf.classify(n) for n in chunk]
        for r in results:
            try:
                validate_output(r.to_dict(), clf.schema)
            except notifclf.NotifclfError:
                invalid += 1
    return invalid


def soak(args: argparse.Namespace) -> dict[str, Any]:
    clf = notifclf.Classifier(args.model, progress=False, result_cache_size=args.result_cache_size,
                              n_threads=args.threads, decoding=args.decoding)
    invalid = run(clf, 0, args.warmup, args.batch)
    start, t0 = rss_mb(), time.perf_counter()
    samples = [(0, 0.0, start)]
    step = max(args.batch, args.notes // args.samples)
    done = 0
    while done < args.notes and time.perf_counter() - t0 < args.max_seconds:
        n = min(step, args.notes - done)
        invalid += run(clf, args.warmup + done, args.warmup + done + n, args.batch)
        done += n
        samples.append((done, time.perf_counter() - t0, rss_mb()))
    seconds = samples[-1][1]
    if not args.json:
        print(f"{'notes':>8} {'seconds':>8} {'RSS MB':>8}")
        for count, at, mb in samples:
            print(f"{count:>8} {at:>8.1f} {mb:>8.1f}")
    counts = clf.decode_counts().to_dict()
    clf.close()
    return {"model": clf.model_spec.name, "warmup": args.warmup, "notes": done, "seconds": round(seconds, 1),
            "notes_per_s": round(done / seconds, 1) if seconds else None, "invalid_outputs": invalid,
            "rss_start_mb": round(start, 1), "rss_max_mb": round(max(s[2] for s in samples), 1),
            "rss_end_mb": round(samples[-1][2], 1), "growth_mb": round(samples[-1][2] - start, 1), "decode": counts}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="registry name, .gguf path or hf:OWNER/REPO/FILE (default model)")
    ap.add_argument("--notes", type=int, default=2000, help="notifications after the warm-up")
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: its own choice)")
    ap.add_argument("--result-cache-size", type=int, default=256)
    ap.add_argument("--decoding", choices=("fast", "grammar"), default="fast")
    ap.add_argument("--max-seconds", type=float, default=900.0, help="stop early after this long (after the warm-up)")
    ap.add_argument("--samples", type=int, default=10, help="RSS samples after the warm-up")
    ap.add_argument("--json", action="store_true", help="print only the JSON summary")
    args = ap.parse_args(argv)
    if args.batch < 1 or args.notes < 1 or args.samples < 1:
        ap.error("--batch, --notes and --samples must be at least 1")
    print(json.dumps(soak(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
