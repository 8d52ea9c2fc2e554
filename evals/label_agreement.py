"""How far the text determines the labels: rows sharing app and title, and how often their labels agree.

    python evals/label_agreement.py [--data ../shared/data/notifai/train.jsonl]

Rows are grouped by (app, title) with digits replaced by '#'. For every group of two or more rows, the most common
priority (and folder) is counted; the share of rows that carry their group's most common label bounds what any
classifier that sees little more than app and title could reach on them. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "notifai" / "train.jsonl"


def _key(row: dict) -> tuple[str, str]:
    app = (row.get("app_name") or row.get("app") or "").strip().lower()
    return app, re.sub(r"\d+", "#", row.get("title", "").strip().lower())


def agreement(rows: list[dict], label: str) -> tuple[int, int, float]:
    """(groups, rows in them, share of those rows that carry their group's most common ``label``)."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        groups[_key(row)].append(row)
    shared = [g for g in groups.values() if len(g) > 1]
    n = sum(len(g) for g in shared)
    majority = sum(Counter(r[label] for r in g).most_common(1)[0][1] for g in shared)
    return len(shared), n, majority / n if n else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args()
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    groups, n, priority = agreement(rows, "priority")
    _, _, folder = agreement(rows, "folder")
    print(json.dumps({"rows": len(rows), "groups_same_app_and_title": groups, "rows_in_groups": n,
                      "priority_majority_share": round(priority, 4), "folder_majority_share": round(folder, 4)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
