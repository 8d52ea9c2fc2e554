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

from convert.train.rows import DEFAULT_DATA, load_rows, row_app


def shared_groups(rows: list[dict]) -> list[list[dict]]:
    """Groups of two or more rows with the same app and title (digits ignored)."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        groups[row_app(row), re.sub(r"\d+", "#", row.get("title", "").strip().lower())].append(row)
    return [g for g in groups.values() if len(g) > 1]


def majority_share(groups: list[list[dict]], label: str) -> float:
    """Share of the grouped rows that carry their group's most common ``label``."""
    n = sum(len(g) for g in groups)
    return sum(Counter(r[label] for r in g).most_common(1)[0][1] for g in groups) / n if n else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    args = ap.parse_args()
    rows = load_rows(args.data)
    groups = shared_groups(rows)
    print(json.dumps({"rows": len(rows), "groups_same_app_and_title": len(groups),
                      "rows_in_groups": sum(len(g) for g in groups),
                      "priority_majority_share": round(majority_share(groups, "priority"), 4),
                      "folder_majority_share": round(majority_share(groups, "folder"), 4)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
