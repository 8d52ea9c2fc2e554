"""Choosing the likeness bar of corrections (``notifclf.correction_likeness.CORRECTION_BAR``) on the dev split.

A stored correction is applied to a notification at least this alike to it (cosine of the folder reader's
embeddings). The bar is chosen here, never on the simulated users of evals/conventions/ that measure corrections: on
dev rows of the taxonomy's trained categories (rows the reader never trained on), every pair of rows from different
near-duplicate groups is "the same kind" when both rows have one category, and the bar is the cosine at which "as
alike as the bar or more: the same kind" is right for the most pairs. Why plain accuracy: a correction applied where
it should not be and one missed where it should apply each cost one wrong answer.

    python evals/choose_correction_bar.py [--data train.jsonl] [--rows 1200] [--encoder reader|published]
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from convert.train.holdout import HELD_OUT_CATEGORIES  # noqa: E402
from convert.train.rows import DEFAULT_DATA, load_rows, near_duplicate_key, notification_of, split_rows  # noqa: E402
from convert.train.taxonomy import load_taxonomy  # noqa: E402
from notifclf.embedding.files import load_sentence_encoder  # noqa: E402
from notifclf.embedding.folder_prior import READER_ADAPTER, notification_text  # noqa: E402
from notifclf.models.built import adapters_dir  # noqa: E402


def best_bar(cos: np.ndarray, same: np.ndarray) -> tuple[float, float, float, float]:
    """(bar, accuracy, share of same-kind pairs over it, share of other-kind pairs over it) of the bar at which
    "over the bar: the same kind" is right for the most pairs."""
    order = np.argsort(-cos)
    tp, fp = np.cumsum(same[order]), np.cumsum(~same[order])
    n_same, n_other = max(1, int(same.sum())), max(1, int((~same).sum()))
    accuracy = (tp + n_other - fp) / len(cos)
    best = int(np.argmax(accuracy))
    return float(cos[order][best]), float(accuracy[best]), float(tp[best] / n_same), float(fp[best] / n_other)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--rows", type=int, default=1200, help="dev rows sampled (pairs: rows * (rows - 1) / 2)")
    p.add_argument("--encoder", default="reader", choices=["reader", "published"])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    taxonomy = load_taxonomy()
    _, dev = split_rows(load_rows(args.data))
    kept = [(r, c) for r in dev if (c := taxonomy.category_of(r)) and c not in HELD_OUT_CATEGORIES]
    random.Random(args.seed).shuffle(kept)
    kept = kept[: args.rows]
    encoder = load_sentence_encoder(adapter=adapters_dir() / READER_ADAPTER if args.encoder == "reader" else None)
    rows = encoder.encode([notification_text(notification_of(r)) for r, _ in kept])
    categories = np.array([c for _, c in kept])
    groups = np.array([hash(near_duplicate_key(r)) for r, _ in kept])
    upper = np.triu_indices(len(kept), k=1)
    apart = groups[upper[0]] != groups[upper[1]]
    cos = (rows @ rows.T)[upper][apart]
    same = (categories[upper[0]] == categories[upper[1]])[apart]
    bar, accuracy, tpr, fpr = best_bar(cos, same)
    print(f"{len(kept)} dev rows of {len(set(categories))} trained categories, {len(cos)} pairs ({same.mean():.1%} of "
          f"one category), encoder {args.encoder}: bar {bar:.3f} (right for {accuracy:.1%} of the pairs; "
          f"same kind {tpr:.1%} over it, other kinds {fpr:.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
