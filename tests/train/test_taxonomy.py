"""The taxonomy tables: categories and the app table, read by one function each."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from convert.train.holdout import HELD_OUT_CATEGORIES
from convert.train.rows import DEFAULT_DATA, load_rows
from convert.train.taxonomy import load_taxonomy

from .fixtures import ROWS


def test_categories_are_fine_grained_and_complete():
    tax = load_taxonomy()
    assert len(tax.categories) >= 50
    for c in tax.categories.values():
        assert c.en and c.zh and c.names and c.group in tax.groups
        assert c.default in {"Work", "Personal", "Promotions", "Alerts"}
    assert HELD_OUT_CATEGORIES <= set(tax.categories) and len(HELD_OUT_CATEGORIES) >= 10


def test_rows_get_categories_by_app_and_content():
    tax = load_taxonomy()
    got = {r["id"]: tax.category_of(r) for r in ROWS[:10]}
    assert got["t1"] == "code_hosting" and got["t2"] == "parcel_tracking" and got["t5"] == "marketplace_promo"
    assert got["t4"] == "family_chat" and got["t10"] == "family_chat"   # chat app: the sender decides
    assert got["t6"] == "monitoring"                                   # team chat about an outage
    assert tax.category_of(dict(ROWS[5], body="lunch anyone?")) == "work_chat"
    assert tax.category_of({"app_name": "Unknown App", "title": "x", "folder": "Work"}) is None
    assert tax.category_of({"app_name": "WeChat", "title": "News Bot", "folder": "Personal"}) is None  # "-" rule
    assert tax.category_of({"app_name": "Anything", "category_key": "weather"}) == "weather"


def test_the_app_table_covers_every_app_of_the_training_data():
    if not Path(DEFAULT_DATA).exists():
        pytest.skip("train.jsonl not present")
    tax = load_taxonomy()
    rows = load_rows(DEFAULT_DATA)
    assert [r["id"] for r in rows if not tax.covers(r)] == []   # every (app, gold folder) was reviewed
    counts = Counter(tax.category_of(r) for r in rows)
    assert counts[None] < 0.12 * len(rows)          # most rows have a category
    assert sum(1 for k in tax.categories if counts[k] >= 5) >= 45
