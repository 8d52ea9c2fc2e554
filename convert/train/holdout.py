"""What training never sees, so that evaluation measures reading, not memory.

* Held-out categories: no row of these categories is trained on (under any folder set, defaults included), and no
  sampled folder set contains them. The evaluation (``evals/make_heldout_sets.py``) builds folder sets from them.
* Dev rows (``rows.is_dev``): never trained on.
* The hand-written folder sets in ``evals/heldout-sets/`` each contain held-out categories, so no sampled set equals
  them; their names and descriptions appear nowhere in training code (``tests/train/test_eval_hygiene.py``).
"""

from __future__ import annotations

HELD_OUT_CATEGORIES = frozenset({
    "dating", "gaming", "crypto", "food_delivery", "rides", "video_streaming", "learning", "fitness", "recruiting",
    "lodging", "music_audio", "secondhand",
})


def trainable_category(category: str | None) -> bool:
    return category not in HELD_OUT_CATEGORIES
