"""Write the held-out dev rows of train.jsonl relabelled for other folder sets, for ``notifclf eval``.

    python evals/make_dev_sets.py [--data ../shared/data/notifai/train.jsonl] [--out runs/eval-data]

Only dev rows (sha1(id) % 10 == 0, never trained on) are written, and never into the repository (the data must not
be committed). Labels come from the same rules the training augmentation uses (convert/train/data.py), so no label
contradicts the gold one; rows the rules call ambiguous are left out. Files written:

* ``mixed-custom-fit.jsonl``: rows that belong in GitHub, Appointments or Bills under the mixed set;
* ``mixed-rest.jsonl``: the other dev rows under the mixed set (their default folder);
* ``mixed.folders.json``: the four defaults plus GitHub, Appointments and Bills.

Evaluate with ``notifclf eval runs/eval-data/mixed-custom-fit.jsonl --folders runs/eval-data/mixed.folders.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from convert.train.data import DEFAULT_DATA, load_rows, row_statuses, split_rows
from convert.train.quick_eval import MIXED_EXTRA, mixed_scenario


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--out", type=Path, default=Path("runs/eval-data"))
    args = ap.parse_args()
    _, dev = split_rows(load_rows(args.data))
    scenario = mixed_scenario()
    fit, rest = [], []
    for row in dev:
        label = scenario.label(row)
        if label is None:
            continue
        case = dict(row, folder=label[0], priority=label[1])
        (fit if any(row_statuses(row)[k] == "yes" for k in MIXED_EXTRA) else rest).append(case)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("mixed-custom-fit", fit), ("mixed-rest", rest)):
        with open(args.out / f"{name}.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    folders = [{"name": f.name, "description": f.description} for f in scenario.folders]
    (args.out / "mixed.folders.json").write_text(json.dumps(folders, indent=2, ensure_ascii=False), encoding="utf-8")
    print(json.dumps({"dev_rows": len(dev), "mixed_custom_fit": len(fit), "mixed_rest": len(rest), "out": str(args.out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
