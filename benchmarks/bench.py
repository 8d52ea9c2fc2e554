"""Speed benchmark: naive llama-cpp-python vs notifclf classify / classify_many vs two floors, side by side.

    python benchmarks/bench.py [--model NAME_OR_PATH] [--rounds 3] [--notes 16] [--data ../shared/data/notifai/train.jsonl]
                               [--with-prior] [--folder-orders 2|3]

Methods run in interleaved rounds (a new random order each round) over the same notifications, so machine noise hits
them alike; per-notification medians over rounds are printed with their ratios. Cold start (import to first result,
model already cached) and peak RSS are measured in fresh child processes that load notifclf only. ``--with-prior``
adds ``classify`` with ``folder_prior="reader"`` to the same rounds (under the defaults renamed, same descriptions:
no prior applies under the defaults themselves), ``--folder-orders K`` ``classify`` with ``folder_orders=K``.

The floors: the notification's own tokens; and those plus the fixed text every method must evaluate after them
before the answer's first choice (end of turn, assistant header, ``{"folder": "``), in one decode with one logits
row: the least any method that decodes the answer after the notification can do.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import notifclf
from notifclf.engine.runtime import LlamaRuntime
from notifclf.folder_codes import code_folders
from notifclf.models.store import resolve_model
from notifclf.prompt import system_prompt, user_message
from notifclf.schema import render_answer

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "notifai" / "train.jsonl"
FLOOR = "floor: notification tokens only"
FLOOR2 = "floor: notification + fixed suffix"
PRIOR = "notifclf classify + folder reader (renamed defaults)"
ORDERS = "notifclf classify, folder_orders=K"

CHILD = r"""
import resource, sys, time
t0 = time.perf_counter()
import notifclf
clf = notifclf.Classifier(sys.argv[1], progress=False)
clf.classify({"app": "Slack", "title": "#incidents", "body": "PROD DOWN - payments returning 500s"})
first = time.perf_counter() - t0
import json
notes = json.loads(sys.argv[2])
clf.classify_many(notes)
for n in notes:
    clf.classify(n)
# ru_maxrss survives fork+exec (it would report the parent's size); VmHWM belongs to this process image alone.
try:
    peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"cold_start_s": first, "peak_rss_mb": peak}))
"""


def load_notes(path: Path, n: int, seed: int) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    random.Random(seed).shuffle(rows)
    return [{"app": r.get("app_name") or r.get("app", ""), "title": r.get("title", ""), "body": r.get("body", "")} for r in rows[:n]]


def naive_runner(model_path: Path, folders, threads: int | None, folder_codes: bool):
    """What a user would write: create_chat_completion with a json_schema response format, greedy (showing a
    letter-code model the codes, and writing the folder's name into the answer, as notifclf does)."""
    from llama_cpp import Llama

    llm = Llama(str(model_path), n_ctx=2048, n_threads=threads, verbose=False)
    shown, codes = code_folders(folders) if folder_codes else (folders, {f.name: f.name for f in folders})
    names = {code: name for name, code in codes.items()}
    schema = notifclf.output_schema(shown)
    system = system_prompt(shown)

    def run(note: dict) -> dict:
        out = llm.create_chat_completion(
            messages=[{"role": "system", "content": system},
                      {"role": "user", "content": user_message(notifclf.Notification.coerce(note))}],
            response_format={"type": "json_object", "schema": schema}, temperature=0.0, max_tokens=40)
        answer = json.loads(out["choices"][0]["message"]["content"])
        return {**answer, "folder": names[answer["folder"]]}

    return run


def answer_scaffold(rt: LlamaRuntime, folders) -> list[int]:
    """The answer tokens every folder's answer starts with (``{"folder": "``): fixed text, decoded by any method."""
    answers = [rt.tokenize(render_answer(f.name, 1), special=False) for f in folders]
    n = 0
    while all(len(a) > n and a[n] == answers[0][n] for a in answers):
        n += 1
    return answers[0][:n]


def floor_runner(clf: notifclf.Classifier, threads: int | None,
                 with_suffix: bool) -> tuple[LlamaRuntime, Callable[[dict], int]]:
    """Evaluate, on top of the system prompt (decoded once), the notification's own tokens, and with ``with_suffix``
    also the fixed text after them (end of turn, assistant header, the answer's ``{"folder": "``) in the same batch:
    the least any method that reads the answer after the notification can do. One logits row, as a method needs at
    least. Its own llama.cpp context, sized and fed with exactly the tokens ``clf.inspect`` reports."""
    seen = clf.inspect({})
    rt = LlamaRuntime(clf.model_path, n_threads=threads)
    rt.open_context(n_ctx=seen.context_size, n_batch=512)
    n_prefix = len(seen.prefix_tokens)
    rt.decode_sequence(list(seen.prefix_tokens), start=0)
    shown = code_folders(clf.folders)[0] if clf.folder_codes else clf.folders
    fixed = list(seen.suffix_tokens) + answer_scaffold(rt, shown) if with_suffix else []

    def run(note: dict) -> int:
        tokens = list(clf.inspect(note).user_tokens) + fixed
        rt.truncate(-1, n_prefix)
        rt.decode_sequence(tokens, start=n_prefix)
        return len(tokens)

    return rt, run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--notes", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--with-prior", action="store_true", help="also time classify with folder_prior='reader'")
    ap.add_argument("--folder-orders", type=int, choices=[2, 3], help="also time classify with folder_orders=K")
    args = ap.parse_args()

    model_path = resolve_model(args.model, progress=False).path
    notes = load_notes(args.data, args.notes, args.seed)
    fast = notifclf.Classifier(model_path, n_threads=args.threads, progress=False, result_cache_size=0)
    grammar = notifclf.Classifier(model_path, n_threads=args.threads, progress=False, result_cache_size=0, decoding="grammar")
    folders = fast.folders
    naive = naive_runner(model_path, folders, args.threads, fast.folder_codes)
    floor_rt, floor = floor_runner(fast, args.threads, with_suffix=False)
    floor2_rt, floor2 = floor_runner(fast, args.threads, with_suffix=True)
    methods = {
        "naive create_chat_completion+json_schema": lambda: [naive(n) for n in notes],
        "notifclf grammar decoding": lambda: [grammar.classify(n) for n in notes],
        "notifclf classify": lambda: [fast.classify(n) for n in notes],
        "notifclf classify_many": lambda: fast.classify_many(notes),
        FLOOR: lambda: [floor(n) for n in notes],
        FLOOR2: lambda: [floor2(n) for n in notes],
    }
    prior = None
    if args.with_prior:
        renamed = [notifclf.Folder(f"My {f.name}", f.description) for f in notifclf.DEFAULT_FOLDERS]
        prior = notifclf.Classifier(model_path, folders=renamed, n_threads=args.threads, progress=False,
                                    result_cache_size=0, folder_prior="reader")
        methods[PRIOR] = lambda: [prior.classify(n) for n in notes]
    orders = None
    if args.folder_orders:
        orders = notifclf.Classifier(model_path, n_threads=args.threads, progress=False, result_cache_size=0,
                                     folder_orders=args.folder_orders)
        methods[ORDERS] = lambda: [orders.classify(n) for n in notes]
    for run in methods.values():  # warm-up: caches the system prompt everywhere
        run()
    times: dict[str, list[float]] = {name: [] for name in methods}
    rng = random.Random(args.seed)
    for _ in range(args.rounds):
        order = list(methods)
        rng.shuffle(order)
        for name in order:
            started = time.perf_counter()
            methods[name]()
            times[name].append(1000 * (time.perf_counter() - started) / len(notes))

    fast_results = [fast.classify(n) for n in notes]
    grammar_results = [grammar.classify(n) for n in notes]
    naive_results = [naive(n) for n in notes]
    n_tokens = statistics.fmean(floor(n) for n in notes)
    n_tokens2 = statistics.fmean(floor2(n) for n in notes)

    med = {name: statistics.median(v) for name, v in times.items()}
    print(f"model {model_path.name}; {len(notes)} notifications x {args.rounds} interleaved rounds; "
          f"threads {floor_rt.n_threads}; mean tokens: notification {n_tokens:.1f}, with the fixed suffix {n_tokens2:.1f}")
    print(f"{'method':<50}{'ms/notif (median)':>18}{'min':>8}{'max':>8}{'x floor':>9}{'x floor+suffix':>16}")
    for name, v in times.items():
        print(f"{name:<50}{med[name]:>18.1f}{min(v):>8.1f}{max(v):>8.1f}{med[name] / med[FLOOR]:>9.2f}"
              f"{med[name] / med[FLOOR2]:>16.2f}")
    print(f"speed-up of classify over naive: {med['naive create_chat_completion+json_schema'] / med['notifclf classify']:.2f}x")
    print(f"throughput of classify_many over classify: {med['notifclf classify'] / med['notifclf classify_many']:.2f}x")
    agree = sum(a == b for a, b in zip(fast_results, grammar_results))
    agree_naive = sum(a.to_dict() == b for a, b in zip(fast_results, naive_results))
    print(f"identical answers: classify vs grammar decoding {agree}/{len(notes)}; classify vs naive {agree_naive}/{len(notes)}")
    print(f"decode paths used by classify: {fast.decode_counts()}")
    if prior is not None:
        print(f"classify with the folder reader (renamed defaults) over classify (defaults): {med[PRIOR] / med['notifclf classify']:.2f}x "
              f"(+{med[PRIOR] - med['notifclf classify']:.1f} ms/notif)")
        prior.close()
    if orders is not None:
        print(f"classify with folder_orders={args.folder_orders} over classify: "
              f"{med[ORDERS] / med['notifclf classify']:.2f}x")
        orders.close()
    fast.close()
    grammar.close()
    floor_rt.close()
    floor2_rt.close()

    child = [json.loads(subprocess.run([sys.executable, "-c", CHILD, str(model_path), json.dumps(notes)], check=True,
                                       capture_output=True, text=True).stdout) for _ in range(3)]
    print(f"cold start (import to first result, model cached), median of 3: "
          f"{statistics.median(c['cold_start_s'] for c in child):.2f} s")
    print(f"peak RSS of a process using notifclf (classify + classify_many), max of 3: "
          f"{max(c['peak_rss_mb'] for c in child):.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
