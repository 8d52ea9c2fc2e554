"""Speed and memory of the numpy sentence encoder (notifclf.embedding) on notification-like texts, on one thread.

    python benchmarks/embedding_bench.py [--source MODEL_DIR] [--cache-dir DIR] [--texts 200] [--batch 16] [--rounds 3]

Encodes the same texts one at a time (the runtime's case: one notification arrives) and in batches, and prints the
median over rounds of milliseconds per text for each, the mean token count, the load time and the peak RSS growth
caused by loading (the weights are memory-mapped, so mapped pages that were touched count too).
BLAS is held to one thread (OMP/OPENBLAS/MKL_NUM_THREADS=1 unless already set) so the numbers are per core.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy is imported, or BLAS has already started its threads

import argparse  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from notifclf.embedding import load_sentence_encoder  # noqa: E402

APPS = ["Uber", "Gmail", "Slack", "WhatsApp", "Amazon", "Spotify", "Chase", "Calendar", "Strava", "DoorDash",
        "Instagram", "Duolingo", "GitHub", "Airbnb", "Revolut", "Weather"]
TEMPLATES = [
    "{app}: Your driver {name} is arriving in {n} minutes in a grey Toyota Prius, plate {code}.",
    "{app}: New message from {name}: \"Are we still on for dinner tonight at {n}pm? I booked the place on Main St.\"",
    "{app}: Your order #{code} has shipped and will arrive on Thursday. Track your package in the app.",
    "{app}: {name} mentioned you in #design-review: can you take a look at the new onboarding flow before standup?",
    "{app}: Payment of ${n}.{n2} to {name} was successful. Your balance is now ${n3}.00.",
    "{app}: Reminder: Dentist appointment tomorrow at {n}:30. Reply C to confirm or R to reschedule.",
    "{app}: Your verification code is {code}. It expires in {n} minutes. Never share it with anyone.",
    "{app}: Heavy rain expected from {n}pm to {n3}pm in your area. Take an umbrella!",
    "{app}: {name} started following you. See their profile and {n} other new followers.",
    "{app}: Your weekly summary is ready: {n} runs, {n2} km, new personal best on the 5K!",
    "{app}: Security alert: a new sign-in to your account from Chrome on Windows near Berlin, Germany.",
    "{app}: Don't lose your {n}-day streak! Take a 5-minute lesson now. 🦉",
    "{app}: {name} — Re: Q3 budget review. Hi all, attached is the updated forecast; the main change is the travel "
    "line, which we cut by {n}%. Please send comments by Friday so we can finalise it before the board meeting.",
    "{app}: Your booking in Lisbon is confirmed for {n} nights. Check-in is after 3pm; {name} will send the door "
    "code and parking instructions the day before you arrive.",
    "{app}: Build #{n3} failed on main: 3 tests failed in test_payments.py (timeout after {n}s). The last commit was "
    "by {name}: \"fix rounding in currency conversion\".",
]
NAMES = ["Sarah", "Jonas", "María José", "Wei", "Olusegun", "Chloé", "Dmitri", "Aiko"]


def notification_texts(count: int, seed: int = 0) -> list[str]:
    """``count`` notification-like strings of about 20 to 60 tokens, the same for a given seed."""
    rng = random.Random(seed)
    return [rng.choice(TEMPLATES).format(app=rng.choice(APPS), name=rng.choice(NAMES), n=rng.randint(2, 59),
                                         n2=rng.randint(10, 99), n3=rng.randint(100, 9999),
                                         code=f"{rng.randint(100000, 999999)}") for _ in range(count)]


def memory_mib() -> str:
    """Current resident memory split into private (anonymous: copies, activations, the vocabulary) and file-backed
    (the memory-mapped weights, shared with other processes mapping the same file). Linux only."""
    try:
        with open("/proc/self/smaps_rollup") as fh:
            fields = {parts[0].rstrip(":"): int(parts[1]) / 1024 for parts in map(str.split, fh) if len(parts) == 3}
    except OSError:
        return "n/a"
    rss, private = fields["Rss"], fields["Anonymous"]
    return f"{rss:.0f} MiB resident = {private:.0f} private + {rss - private:.0f} file-backed"


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", help="a sentence-transformers model directory (default: the installed package)")
    parser.add_argument("--cache-dir", help="where the package's zip is extracted (default: the notifclf cache)")
    parser.add_argument("--texts", type=int, default=200)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    texts = notification_texts(args.texts)
    before, memory_before = peak_rss_mib(), memory_mib()
    start = time.perf_counter()
    encoder = load_sentence_encoder(args.source, cache_dir=args.cache_dir)
    load_s = time.perf_counter() - start
    after_load, memory_loaded = peak_rss_mib(), memory_mib()
    tokens = [len(encoder.tokenizer.encode(t)) for t in texts]
    encoder.encode(texts[:32])  # warm-up: touch the weights, let BLAS allocate its buffers

    single, batched = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        for text in texts:
            encoder.encode([text])
        single.append((time.perf_counter() - start) * 1000 / len(texts))
        start = time.perf_counter()
        for i in range(0, len(texts), args.batch):
            encoder.encode(texts[i:i + args.batch])
        batched.append((time.perf_counter() - start) * 1000 / len(texts))

    print(f"threads: OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']} "
          f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}")
    print(f"texts: {len(texts)}, tokens per text: mean {statistics.mean(tokens):.1f}, "
          f"min {min(tokens)}, max {max(tokens)} (with [CLS] and [SEP])")
    print(f"load: {load_s * 1000:.0f} ms (first call in this process; includes extraction if the cache was empty)")
    print(f"one at a time: {statistics.median(single):.2f} ms/text (rounds: {', '.join(f'{v:.2f}' for v in single)})")
    print(f"batches of {args.batch}: {statistics.median(batched):.2f} ms/text "
          f"(rounds: {', '.join(f'{v:.2f}' for v in batched)})")
    print(f"peak RSS: {before:.0f} MiB before loading, +{after_load - before:.0f} MiB after loading, "
          f"+{peak_rss_mib() - before:.0f} MiB after encoding")
    print(f"memory before loading: {memory_before}; after loading: {memory_loaded}; after encoding: {memory_mib()}")


if __name__ == "__main__":
    main()
