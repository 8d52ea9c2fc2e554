"""convert.train.rows: the dev split and near-duplicate majority priorities."""

from __future__ import annotations

import hashlib

from convert.train.rows import majority_priorities, near_duplicate_key, split_rows
from notifclf.dev_split import is_dev


def test_split_is_the_sha1_rule_and_deterministic():
    ids = [f"t{i:05d}" for i in range(2000)]
    dev = [i for i in ids if is_dev(i)]
    assert dev == [i for i in ids if int(hashlib.sha1(i.encode()).hexdigest(), 16) % 10 == 0]
    assert 150 < len(dev) < 250
    rows = [{"id": i} for i in ids]
    tr, dv = split_rows(rows)
    assert [r["id"] for r in dv] == dev and not {r["id"] for r in tr} & set(dev)


def _row(i: str, title: str, priority: int, app: str = "Bank") -> dict:
    return {"id": i, "app_name": app, "title": title, "priority": priority}


def test_near_duplicates_ignore_digits_and_case():
    assert near_duplicate_key(_row("a", "Code 1234 sent", 1)) == near_duplicate_key(_row("b", "code 98 SENT", 3))
    assert near_duplicate_key(_row("a", "x", 1, "Bank")) != near_duplicate_key(_row("a", "x", 1, "Shop"))


def test_majority_priority_relabels_only_groups_with_a_strict_majority():
    rows = [_row("a", "Balance 10", 2), _row("b", "Balance 20", 2), _row("c", "Balance 30", 3),  # 2 wins
            _row("d", "Sale 1", 1), _row("e", "Sale 2", 3),                                      # tie: kept
            _row("f", "Alone", 3)]
    assert majority_priorities(rows) == {"c": 2}
