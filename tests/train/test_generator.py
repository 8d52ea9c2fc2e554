"""Generated rows for thin categories: training only, labelled by category, never held-out."""

from __future__ import annotations

from collections import Counter

from convert.train.generator import TEMPLATES, generate_rows
from convert.train.holdout import HELD_OUT_CATEGORIES
from convert.train.taxonomy import load_taxonomy


def test_generated_rows_fill_thin_categories_to_the_target():
    tax = load_taxonomy()
    rows = generate_rows(tax, {"weather": 35, "school": 0}, target=40, seed=0)
    by_cat = Counter(r["category_key"] for r in rows)
    assert by_cat["weather"] == 5 and by_cat["school"] == 40
    assert set(by_cat) <= set(TEMPLATES) and not set(by_cat) & HELD_OUT_CATEGORIES
    for r in rows:
        assert r["id"].startswith("gen-") and r["generated"] is True
        assert "{" not in r["title"] + r["body"]                       # every slot filled
        assert r["folder"] == tax.categories[r["category_key"]].default and r["priority"] in (1, 2, 3)
        assert tax.category_of(r) == r["category_key"]
    assert len({(r["app_name"], r["title"], r["body"]) for r in rows}) > 0.7 * len(rows)  # apps, slots vary (76% distinct here)
    assert rows == generate_rows(tax, {"weather": 35, "school": 0}, target=40, seed=0)


def test_every_templated_category_exists_and_is_not_held_out():
    tax = load_taxonomy()
    assert set(TEMPLATES) <= set(tax.categories)
    assert not set(TEMPLATES) & HELD_OUT_CATEGORIES
    ids = [r["id"] for r in generate_rows(tax, {}, target=40)]
    assert len(ids) == len(set(ids)) and all(i.startswith("gen-") for i in ids)  # never a train.jsonl id (t00000)
