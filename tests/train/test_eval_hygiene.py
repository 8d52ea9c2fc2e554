"""No folder name, description or case of an evaluation suite may enter training.

Suites: every JSON file under evals/ with a "folders" list (the hand-written held-out folder sets too) and
../shared/data/seed_emergent.json. Training: the code and data tables under convert/train/. The four defaults are
exempt (the product ships them). The generated rows must not reproduce an evaluation case either.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from convert.train.generator import SLOTS, TEMPLATES
from convert.train.holdout import HELD_OUT_CATEGORIES
from convert.train.rows import DEFAULT_SEED_EMERGENT

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = {"work", "personal", "promotions", "alerts"}
TRAINING_FILES = sorted(p for p in (ROOT / "convert" / "train").rglob("*") if p.suffix in {".py", ".json"})


def _suites() -> list[tuple[str, dict]]:
    paths = sorted((ROOT / "evals").rglob("*.json")) + [Path(DEFAULT_SEED_EMERGENT)]
    out = []
    for p in paths:
        if p.exists():
            data = json.loads(p.read_text(encoding="utf-8"))
            if isinstance(data, dict) and isinstance(data.get("folders"), list):
                out.append((p.name, data))
    return out


SUITES = _suites()


def test_there_are_suites_to_check():
    assert len(SUITES) >= 8 and TRAINING_FILES


@pytest.mark.parametrize("name,suite", SUITES, ids=[n for n, _ in SUITES])
def test_suite_folders_appear_nowhere_in_training(name, suite):
    hits = []
    for path in TRAINING_FILES:
        text = path.read_text(encoding="utf-8")
        for f in suite["folders"]:
            if f["name"].casefold() in DEFAULTS:
                continue
            if re.search(r"[\"']" + re.escape(f["name"]) + r"[\"']", text):
                hits.append(f"{path.name}: name {f['name']!r}")
            if len(f.get("description", "")) > 20 and f["description"] in text:
                hits.append(f"{path.name}: description of {f['name']!r}")
    assert hits == []


def test_no_generated_row_can_reproduce_an_evaluation_case():
    """Every app x title template, with every slot value, against every case's app and title."""
    cases = [(c.get("app", "").casefold(), c.get("title", "")) for _, s in SUITES for c in s.get("cases", [])]
    hits = []
    for category, (apps, templates) in TEMPLATES.items():
        for title, _, _ in templates:
            pattern = re.escape(title)
            for slot, values in SLOTS.items():
                pattern = pattern.replace(re.escape("{" + slot + "}"), "(" + "|".join(map(re.escape, values)) + ")")
            rx = re.compile(pattern, re.IGNORECASE)
            hits += [(category, app, title) for app in apps for case_app, case_title in cases
                     if app.casefold() == case_app and rx.fullmatch(case_title)]
    assert hits == []


def test_held_out_folder_sets_are_built_from_held_out_categories():
    """Every hand-written held-out set has a folder made of held-out categories, so no sampled set can equal it."""
    sets = [s for n, s in SUITES if s.get("kind") == "held-out folder set"]
    assert len(sets) >= 3
    for s in sets:
        cats = [set(f.get("categories", [])) for f in s["folders"]]
        assert any(c and c <= HELD_OUT_CATEGORIES for c in cats), s["suite"]
