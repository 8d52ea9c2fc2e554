"""Choosing how a preference's stated priority weighs (notifclf/stated_priority.py: ``STATED_PRIORITY_BONUS``, the
bonus, and ``RULE_LIKENESS_BAR``, the folder reader's cosine at which a rule may apply without a shared word).

Never on the evaluation suites: on dev-split notifications (rows the model never trained on) under the four default
folders and rules sampled as training samples them (``convert.train.preferences.sample_preference``: by app, sender
or category, priorities 1-3 as numbers or words, several languages), from the dev rows' own apps, chat senders and
categories. Each scenario states 1-3 rules; its rows are some that a priority rule decides (gold: the rule's
priority), some that a rule shares a word with and does not decide, and some drawn from the rest (gold: the row's
own priority; the bonus should leave both alone). The model reads each scenario once, with no bonus; each (bar,
bonus) is then applied to the priority distributions it gave (the bonus only re-chooses the last digit, so this is
what the runtime would answer). Chosen: the pair with the most right priorities, rows a rule decides and rows none
decides weighing the same (ties: the first in the grid, no likeness before a bar, lower bars and bonuses first).

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
from notifclf.embedding.folder_prior import notification_text, reader_encoder  # noqa: E402
from notifclf.folders import DEFAULT_FOLDERS  # noqa: E402
from notifclf.preference_hints import matching_rules  # noqa: E402
from notifclf.schema import PRIORITIES  # noqa: E402
from notifclf.stated_priority import priority_rules, with_bonus  # noqa: E402
from run_heldout import model_only_classifier  # noqa: E402

BONUSES = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 100.0)
BARS = (None, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6)  # None: shared words only
CHAT = ("work_chat", "family_chat", "friends_chat")
PER_RULE, SHARED, OTHERS = 3, 4, 6  # rows each rule decides, rows a rule shares a word with, other rows: per scenario



def scenarios(dev: list[dict], cats: list[str | None], n: int, seed: int) -> list[tuple[str, list[tuple[int, int, bool]]]]:
    """(instructions, [(dev row index, gold priority, a rule decides it)]) per scenario."""
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
        if not priority_rules(instructions):
            continue
        stating = {rule for rule, _ in priority_rules(instructions)}
        decided, shared, others = [], [], []
        for i, (row, cat) in enumerate(zip(dev, cats)):
            _, rule = apply_preferences(prefs, row, cat)
            if rule is not None:
                decided.append((i, rule, True))
            elif stating & set(matching_rules(instructions, notes[i], names)):
                shared.append((i, int(row["priority"]), False))
            else:
                others.append((i, int(row["priority"]), False))
        found.append((instructions, rng.sample(decided, min(PER_RULE * len(prefs), len(decided)))
                      + rng.sample(shared, min(SHARED, len(shared))) + rng.sample(others, min(OTHERS, len(others)))))
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
    notes = [notification_of(r) for r in dev]
    encoder = reader_encoder()
    rows = encoder.encode([notification_text(n) for n in notes])
    names = [f.name for f in DEFAULT_FOLDERS]
    read = []  # (a rule decides it, gold, [(shares a word, cosine, stated priority) per rule], the model's P(priority))
    clf = model_only_classifier(args.model, stated_priority_bonus=0.0)
    try:
        for instructions, picked in scenarios(dev, cats, args.scenarios, args.seed):
            rules = priority_rules(instructions)
            cosines = rows[[i for i, _, _ in picked]] @ encoder.encode([r for r, _ in rules]).T
            clf.set_folders(None, instructions)
            results = clf.classify_many([notes[i] for i, _, _ in picked])
            for (i, gold, decided), cos, result in zip(picked, cosines, results):
                shared = set(matching_rules(instructions, notes[i], names))
                read.append((decided, gold, [(r in shared, float(c), q) for (r, q), c in zip(rules, cos)],
                             [result.priority_distribution[q] for q in PRIORITIES]))
    finally:
        clf.close()
    print(f"{args.scenarios} scenarios of sampled rules over {len(dev)} dev rows: {sum(r[0] for r in read)} rows a "
          f"priority rule decides, {sum(not r[0] for r in read)} rows none decides "
          f"({sum(not r[0] and any(s for s, _, _ in r[2]) for r in read)} of them share a word with a rule)")

    def right(bar: float | None, bonus: float) -> tuple[float, float]:
        hits: dict[bool, list[bool]] = {True: [], False: []}
        for decided, gold, rules, probs in read:
            stated = [q for shared, cos, q in rules if shared or (bar is not None and cos >= bar)]
            chosen = PRIORITIES[int(np.argmax(with_bonus(probs, stated[-1], bonus) if stated else probs))]
            hits[decided].append(chosen == gold)
        return float(np.mean(hits[True])), float(np.mean(hits[False]))

    base = right(None, 0.0)
    print(f"  no bonus: rows a rule decides, priority as it says {base[0]:.1%}; rows none decides, priority right "
          f"{base[1]:.1%}")
    grid = [(bar, bonus, *right(bar, bonus)) for bar in BARS for bonus in BONUSES]
    for bar, bonus, follows, kept in grid:
        print(f"  bar {'words only' if bar is None else f'{bar:.2f}':>10}  bonus {bonus:5.1f}: {follows:.1%} / {kept:.1%}")
    bar, bonus, follows, kept = max(grid, key=lambda g: g[2] + g[3])
    print(f"chosen: bar {bar}, bonus {bonus} ({follows:.1%} / {kept:.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
