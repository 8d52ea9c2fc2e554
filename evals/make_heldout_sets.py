"""Labeled files for the held-out evaluation, made from train.jsonl (written under --out, never committed).

For each folder set: ``<name>.jsonl`` (rows with their gold folder and priority) and ``<name>.folders.json``.

* ``heldout-<set>``: the hand-written folder sets in evals/heldout-sets/ (each has folders made of held-out
  categories). Cases: every row of a held-out category, and dev rows of the other categories the set names; with a
  catch-all, also dev rows of known categories no folder takes. At most --per-folder rows per folder.
* ``heldout-concepts-<k>``: folder sets sampled like training's, but only from held-out categories (names and
  descriptions from the taxonomy's phrases, never used in training), with a catch-all over dev rows.
* ``heldout-defaults``: rows of held-out categories under the four default folders (gold: their NotifAI folder).
* ``indist-sets-<k>``: folder sets sampled exactly like training's, over dev rows (in-distribution folder sets).

Gold labels follow the training rule (``convert.train.folder_sets.FolderSet.folder_for``): a row whose category is
in a folder goes there; otherwise the catch-all; rows without a category are left out.

    python evals/make_heldout_sets.py [--data train.jsonl] [--out runs/eval/data] [--per-folder 15]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from convert.train.folder_sets import FolderSet, FolderSetSampler, FolderSpec  # noqa: E402
from convert.train.holdout import HELD_OUT_CATEGORIES  # noqa: E402
from convert.train.rows import DEFAULT_DATA, load_rows  # noqa: E402
from convert.train.taxonomy import Taxonomy, load_taxonomy  # noqa: E402
from notifclf.dev_split import is_dev  # noqa: E402
from notifclf.folders import DEFAULT_FOLDERS, Folder  # noqa: E402

SETS_DIR = Path(__file__).resolve().parent / "heldout-sets"
# The naming shares these sets were first drawn with (opaque, unrelated words): pinned, so that changing training's
# shares (convert/train/folder_sets.py) does not change the evaluation sets.
NAMELESS = (0.2, 0.15)


def load_set(path: Path) -> tuple[str, FolderSet]:
    data = json.loads(path.read_text(encoding="utf-8"))
    specs = tuple(FolderSpec(Folder(f["name"], f["description"]), categories=frozenset(f.get("categories", ())),
                             catch_all=bool(f.get("catch_all"))) for f in data["folders"])
    return data["suite"], FolderSet(specs, "held-out")


def eligible(row: dict, category: str | None) -> bool:
    """Held-out categories: any row (never trained on). Other categories: dev rows only."""
    return category is not None and (category in HELD_OUT_CATEGORIES or is_dev(row["id"]))


def cases_for(fs: FolderSet, rows: list[dict], tax: Taxonomy, per_folder: int, rng: random.Random) -> list[dict]:
    by_folder: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        cat = tax.category_of(r)
        if not eligible(r, cat):
            continue
        folder = fs.folder_for(r, cat)
        if folder is not None:
            by_folder[folder].append({"id": r["id"], "app": r.get("app_name") or r.get("app", ""),
                                      "title": r.get("title", ""), "body": r.get("body", ""), "folder": folder,
                                      "priority": int(r["priority"]), "category": cat})
    out = []
    for folder in [f.name for f in fs.folders]:
        members = by_folder.get(folder, [])
        out += rng.sample(members, min(per_folder, len(members)))
    return out


def write(out: Path, name: str, fs: FolderSet, cases: list[dict]) -> None:
    (out / f"{name}.folders.json").write_text(json.dumps(
        [{"name": f.name, "description": f.description} for f in fs.folders], ensure_ascii=False, indent=1))
    with open(out / f"{name}.jsonl", "w", encoding="utf-8") as fh:
        for c in cases:
            fh.write(json.dumps(c, ensure_ascii=False) + "\n")
    print(f"{name}: {len(cases)} cases, {len(fs.folders)} folders")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--out", default="runs/eval/data")
    p.add_argument("--per-folder", type=int, default=15)
    p.add_argument("--defaults-cap", type=int, default=150, help="rows in heldout-defaults")
    p.add_argument("--sampled", type=int, default=3, help="sampled folder sets of held-out concepts")
    p.add_argument("--indist", type=int, default=8, help="sampled in-distribution folder sets (dev rows)")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tax = load_taxonomy()
    rows = load_rows(args.data)
    for path in sorted(SETS_DIR.glob("*.json")):
        name, fs = load_set(path)
        write(out, name, fs, cases_for(fs, rows, tax, args.per_folder, random.Random(name)))
    held = sorted(HELD_OUT_CATEGORIES)
    for k in range(args.sampled):
        rng = random.Random(f"heldout-concepts:{k}")
        sampled = FolderSetSampler(tax, held, group_words=False, nameless_shares=NAMELESS).taxonomy_set(rng)
        if not any(s.catch_all for s in sampled.specs):
            sampled = FolderSet(sampled.specs + (FolderSpec(Folder("Rest", "Notifications no other folder is for"),
                                                            catch_all=True),), sampled.kind)
        write(out, f"heldout-concepts-{k}", sampled, cases_for(sampled, rows, tax, args.per_folder, rng))
    defaults = FolderSet(tuple(FolderSpec(f, defaults=frozenset({f.name})) for f in DEFAULT_FOLDERS), "defaults")
    held_rows = [r for r in rows if tax.category_of(r) in HELD_OUT_CATEGORIES]
    held_rows = random.Random("heldout-defaults").sample(held_rows, min(args.defaults_cap, len(held_rows)))
    write(out, "heldout-defaults", defaults, [{"id": r["id"], "app": r.get("app_name", ""), "title": r.get("title", ""),
                                               "body": r.get("body", ""), "folder": r["folder"],
                                               "priority": int(r["priority"]), "category": tax.category_of(r)}
                                              for r in held_rows])
    trained = sorted(set(tax.categories) - HELD_OUT_CATEGORIES)
    dev_rows = [r for r in rows if is_dev(r["id"])]
    for k in range(args.indist):
        rng = random.Random(f"indist-sets:{k}")
        fs = FolderSetSampler(tax, trained, nameless_shares=NAMELESS).taxonomy_set(rng)
        write(out, f"indist-sets-{k}", fs, cases_for(fs, dev_rows, tax, args.per_folder, rng))
    return 0


if __name__ == "__main__":
    sys.exit(main())
