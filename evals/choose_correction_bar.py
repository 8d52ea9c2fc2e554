"""Choosing the likeness bar of corrections (``CORRECTION_BAR`` in notifclf/embedding/correction_likeness.py).

A stored correction is applied to a notification at least this alike to it (cosine of the folder reader's
embeddings). The bar is chosen here, never on the simulated users of evals/conventions/ that measure corrections, but
on users simulated the same way from dev rows of the taxonomy's trained categories (rows the reader never trained
on): each user has two conventions, each a category whose notifications the user files differently, and has
corrected ``k`` of its rows (3, as the issue's target); the rest of the category's rows are the cases the convention
decides, and rows of the other categories of its group (the near misses: a bank's notices next to a payment app's)
and of other groups are the cases it must not touch. For each bar: how many decided cases are as alike as the bar to
one of the user's corrections (followed), and how many untouched ones are not (kept). Chosen: the bar with the most
right answers, decided and untouched cases weighing the same.

``--seen N`` (an experiment, not how the bar is chosen): each user has also seen N notifications of other categories
and not moved them (never the cases evaluated); a case then follows a correction only if it is also more alike to it
than to every notification seen, the runtime's likeness with that evidence against a correction.

    python evals/choose_correction_bar.py [--data train.jsonl] [--users 300] [--k 3] [--encoder reader|published]
                                          [--seen N]
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from convert.train.holdout import HELD_OUT_CATEGORIES  # noqa: E402
from convert.train.rows import DEFAULT_DATA, load_rows, notification_of, split_rows  # noqa: E402
from convert.train.taxonomy import load_taxonomy  # noqa: E402
from notifclf.embedding.files import load_sentence_encoder  # noqa: E402
from notifclf.embedding.folder_prior import notification_text, reader_encoder  # noqa: E402

BARS = np.round(np.arange(0.30, 0.951, 0.025), 3)
CASES = 8  # decided cases per convention, near-miss and far untouched cases per user (each at most)


def simulated_users(by_category: dict[str, list[int]], group_of: dict[str, str], n_users: int, k: int,
                    seed: int) -> list[tuple[list[int], list[int], list[int]]]:
    """(corrections, decided cases, untouched cases) per user: row indices."""
    rng = random.Random(seed)
    usable = sorted(c for c, rows in by_category.items() if len(rows) >= k + 2)
    users = []
    for _ in range(n_users):
        first = rng.choice(usable)
        second = rng.choice([c for c in usable if group_of[c] != group_of[first]])
        corrections, decided = [], []
        for category in (first, second):
            rows = rng.sample(by_category[category], len(by_category[category]))
            corrections += rows[:k]
            decided += rows[k: k + CASES]
        near = [r for c in by_category if c not in (first, second) and group_of[c] in (group_of[first], group_of[second])
                for r in by_category[c]]
        far = [r for c in by_category if group_of[c] not in (group_of[first], group_of[second]) for r in by_category[c]]
        untouched = rng.sample(near, min(CASES, len(near))) + rng.sample(far, min(CASES, len(far)))
        users.append((corrections, decided, untouched))
    return users


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--users", type=int, default=300)
    p.add_argument("--k", type=int, default=3, help="corrections per convention")
    p.add_argument("--encoder", default="reader", choices=["reader", "published"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seen", type=int, default=0, help="notifications each user saw and did not move (experiment)")
    args = p.parse_args(argv)
    taxonomy = load_taxonomy()
    _, dev = split_rows(load_rows(args.data))
    kept = [(r, c) for r in dev if (c := taxonomy.category_of(r)) and c not in HELD_OUT_CATEGORIES]
    by_category: dict[str, list[int]] = defaultdict(list)
    for i, (_, c) in enumerate(kept):
        by_category[c].append(i)
    group_of = {c: taxonomy.categories[c].group for c in by_category}
    encoder = reader_encoder() if args.encoder == "reader" else load_sentence_encoder()
    rows = encoder.encode([notification_text(notification_of(r)) for r, _ in kept])
    followed, untouched_kept = np.zeros(len(BARS)), np.zeros(len(BARS))
    n_decided = n_untouched = 0
    rng = random.Random(args.seed + 1)
    for corrections, decided, untouched in simulated_users(by_category, group_of, args.users, args.k, args.seed):
        conventions, evaluated = {kept[i][1] for i in corrections}, set(untouched)
        others = [i for i, (_, c) in enumerate(kept) if c not in conventions and i not in evaluated]
        seen = rng.sample(others, min(args.seen, len(others)))

        def follows(cases: list[int]) -> np.ndarray:
            """(cases, bars): the case follows a correction at that bar."""
            likeness = (rows[cases] @ rows[corrections].T).max(axis=1)
            against = (rows[cases] @ rows[seen].T).max(axis=1) if seen else np.full(len(cases), -np.inf)
            return (likeness[:, None] >= BARS) & (likeness > against)[:, None]

        followed += follows(decided).sum(axis=0)
        untouched_kept += (~follows(untouched)).sum(axis=0)
        n_decided, n_untouched = n_decided + len(decided), n_untouched + len(untouched)
    score = followed / n_decided + untouched_kept / n_untouched
    print(f"{args.users} users simulated from {len(kept)} dev rows of {len(by_category)} trained categories, "
          f"{args.k} corrections per convention, encoder {args.encoder}, {args.seen} notifications seen each")
    for bar, f, u in zip(BARS, followed / n_decided, untouched_kept / n_untouched):
        print(f"  bar {bar:.3f}: decided cases followed {f:.1%}, untouched cases kept {u:.1%}")
    best = int(np.argmax(score))
    print(f"chosen: bar {BARS[best]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
