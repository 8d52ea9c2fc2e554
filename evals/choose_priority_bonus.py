"""Choosing the bonus a preference's stated priority gets (``STATED_PRIORITY_BONUS`` in notifclf/stated_priority.py).

Never on the evaluation suites: on dev-split notifications (rows the model never trained on) under the four default
folders and rules sampled as training samples them (``convert.train.preferences.sample_preference``: by app, sender
or category, priorities 1-3 as numbers or words, several languages), from the dev rows' own apps, chat senders and
categories. Each scenario states 1-3 rules; its rows are some that a priority rule decides (gold: the rule's
priority) and some that a rule shares a word with but does not decide (gold: the row's own priority; the bonus
should leave them alone). The model reads each scenario once, with no bonus; each bonus is then applied to the
priority distributions it gave (the bonus only re-chooses the last digit, so this is what the runtime would answer).
Chosen: the bonus with the most right priorities, the two kinds of rows weighing the same (ties: the smaller).

(A variant that also let a rule apply where the folder reader's cosine between rule and notification cleared a bar,
with rows no rule touches added to the second kind, chose bar 0.35 and bonus 3 here and lost on the preferences
suites: commit 4aacc2e, docs/experiments.md.)

    python evals/choose_priority_bonus.py [--model NAME|PATH] [--data train.jsonl] [--scenarios 80] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from convert.train.preferences import apply_preferences, sample_preference  # noqa: E402
from convert.train.rows import DEFAULT_DATA, load_rows, notification_of, split_rows  # noqa: E402
from convert.train.taxonomy import load_taxonomy  # noqa: E402
from notifclf.folders import DEFAULT_FOLDERS  # noqa: E402
from notifclf.schema import PRIORITIES  # noqa: E402
from notifclf.stated_priority import rechoose, stated_priority  # noqa: E402
from run_heldout import model_only_classifier  # noqa: E402

BONUSES = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 100.0)
CHAT = ("work_chat", "family_chat", "friends_chat")
PER_RULE, MISSES = 3, 4  # rows a priority rule decides (each rule), rows a rule matches and does not decide

Row = tuple[int, int, "int | None", bool]  # dev row index, gold priority, stated priority (or None), a rule decides it


def scenarios(dev: list[dict], cats: list[str | None], n: int, seed: int) -> list[tuple[str, list[Row]]]:
    """(instructions, rows) per scenario."""
    taxonomy = load_taxonomy()
    names = [f.name for f in DEFAULT_FOLDERS]
    apps = sorted(a for a, k in Counter(r.get("app_name") or "" for r in dev).items() if a and k >= 3)
    senders = sorted(t for t, k in Counter((r.get("title") or "").strip() for r, c in zip(dev, cats) if c in CHAT).items()
                     if t and k >= 2)
    topics = [(k, taxonomy.categories[k].en[0], taxonomy.categories[k].zh)
              for k, m in Counter(c for c in cats if c).items() if m >= 3]
    notes = [notification_of(r) for r in dev]
    rng = random.Random(seed)
    found = []
    while len(found) < n:
        prefs = [sample_preference(rng, names, apps, senders, topics, priorities=(1, 2, 3))
                 for _ in range(rng.choice((1, 2, 3)))]
        instructions = "\n".join(p.text for p in prefs)
        decided, missed = [], []
        for i, (row, cat) in enumerate(zip(dev, cats)):
            _, rule = apply_preferences(prefs, row, cat)
            stated = stated_priority(instructions, notes[i], names)
            if rule is not None:
                decided.append((i, rule, stated, True))
            elif stated is not None:
                missed.append((i, int(row["priority"]), stated, False))
        rows = rng.sample(decided, min(PER_RULE * len(prefs), len(decided))) + rng.sample(missed, min(MISSES, len(missed)))
        if any(stated is not None for _, _, stated, _ in rows):
            found.append((instructions, rows))
    return found


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None)
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--scenarios", type=int, default=80)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    _, dev = split_rows(load_rows(args.data))
    taxonomy = load_taxonomy()
    cats = [taxonomy.category_of(r) for r in dev]
    read = []  # (a rule decides it, gold, stated, the model's priority distribution)
    clf = model_only_classifier(args.model, stated_priority_bonus=0.0)
    try:
        for instructions, rows in scenarios(dev, cats, args.scenarios, args.seed):
            clf.set_folders(None, instructions)
            results = clf.classify_many([notification_of(dev[i]) for i, _, _, _ in rows])
            for (_, gold, stated, decided), result in zip(rows, results):
                read.append((decided, gold, stated, [result.priority_distribution[q] for q in PRIORITIES]))
    finally:
        clf.close()
    print(f"{args.scenarios} scenarios of sampled rules over {len(dev)} dev rows: {sum(r[0] for r in read)} rows a "
          f"priority rule decides ({sum(r[0] and r[2] is not None for r in read)} of them matched by a word), "
          f"{sum(not r[0] for r in read)} rows a rule matches by a word and does not decide")
    scores = []
    for bonus in BONUSES:
        right: dict[bool, list[bool]] = {True: [], False: []}
        for decided, gold, stated, probs in read:
            chosen = rechoose(probs, stated, bonus)[0] if stated else PRIORITIES[int(np.argmax(probs))]
            right[decided].append(chosen == gold)
        follows, kept = float(np.mean(right[True])), float(np.mean(right[False]))
        scores.append(follows + kept)
        print(f"  bonus {bonus:5.1f}: decided rows' priority as the rule says {follows:.1%}, "
              f"matched-not-decided rows' priority right {kept:.1%}")
    print(f"chosen: bonus {BONUSES[int(np.argmax(scores))]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
