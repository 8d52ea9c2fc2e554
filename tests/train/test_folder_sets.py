"""Folder sets sampled from the taxonomy and the rule that labels a row under one."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from convert.train.folder_sets import FolderSet, FolderSetSampler, FolderSpec, defaults_set
from convert.train.holdout import HELD_OUT_CATEGORIES
from convert.train.taxonomy import load_taxonomy
from notifclf.folders import DEFAULT_FOLDERS, Folder

ALLOWED = sorted(set(load_taxonomy().categories) - HELD_OUT_CATEGORIES)


def _set(*specs: FolderSpec) -> FolderSet:
    return FolderSet(tuple(specs), "test")


def test_the_folder_whose_categories_contain_the_row_wins_over_defaults():
    parcels = FolderSpec(Folder("Parcels", "couriers"), categories=frozenset({"parcel_tracking"}))
    fs = _set(*(FolderSpec(f, defaults=frozenset({f.name})) for f in DEFAULT_FOLDERS), parcels)
    row = {"folder": "Alerts"}
    assert fs.folder_for(row, "parcel_tracking") == "Parcels"
    assert fs.folder_for(row, "bank") == "Alerts"
    assert fs.folder_for(row, None) is None          # unknown rows are never guessed next to category folders


def test_catch_all_takes_known_rows_no_folder_takes_and_overlaps_are_skipped():
    a = FolderSpec(Folder("A", "x"), categories=frozenset({"bank", "credit_card"}))
    b = FolderSpec(Folder("B", "y"), categories=frozenset({"credit_card"}))
    rest = FolderSpec(Folder("Rest", "z"), catch_all=True)
    fs = _set(a, b, rest)
    assert fs.folder_for({}, "bank") == "A"
    assert fs.folder_for({}, "credit_card") is None  # two folders fit: not a clean label
    assert fs.folder_for({}, "weather") == "Rest"
    assert _set(a).folder_for({}, "weather") is None


def test_sampled_sets_are_valid_and_never_use_held_out_categories():
    tax = load_taxonomy()
    sampler = FolderSetSampler(tax, ALLOWED)
    rng = random.Random(0)
    kinds, sizes, zh = set(), set(), 0
    for _ in range(1500):
        fs = sampler.sample(rng)
        kinds.add(fs.kind)
        sizes.add(len(fs.specs))
        names = [f.name.casefold() for f in fs.folders]
        assert len(names) == len(set(names))
        assert all(0 < len(f.description) <= 300 and len(f.name) <= 48 for f in fs.folders)
        used = [c for s in fs.specs for c in s.categories]
        assert not set(used) & HELD_OUT_CATEGORIES
        assert len(used) == len(set(used))            # each category in one folder at most
        zh += any(any("\u4e00" <= ch <= "\u9fff" for ch in f.description) for f in fs.folders)
    assert kinds == {"defaults", "defaults-varied", "mixed", "taxonomy"}
    assert {2, 3, 5, 8} <= sizes and max(sizes) >= 10
    assert zh > 100


def test_a_name_never_stands_for_one_meaning():
    """The same category is filed under many different names, meaningful and not."""
    sampler = FolderSetSampler(load_taxonomy(), ALLOWED)
    rng = random.Random(1)
    names_of: dict[str, set[str]] = defaultdict(set)
    meanings_of: dict[str, set[frozenset]] = defaultdict(set)
    for _ in range(3000):
        for s in sampler.taxonomy_set(rng).specs:
            for c in s.categories:
                names_of[c].add(s.folder.name)
            meanings_of[s.folder.name].add(s.categories)
    assert len(names_of["bank"]) >= 10
    assert len(meanings_of["A"]) > 20 and len(meanings_of["Kiwi"]) > 10


def test_defaults_keep_their_gold_mapping_when_varied():
    rng = random.Random(2)
    for _ in range(300):
        fs = defaults_set(rng)
        for spec in fs.specs:
            (gold,) = spec.defaults
            assert fs.folder_for({"folder": gold}, None) == spec.folder.name


def test_naming_shares_decide_how_taxonomy_sets_are_named():
    from convert.train.folder_sets import OPAQUE_NAME_SETS, UNRELATED_NAMES

    tax = load_taxonomy()
    opaque = {n for names in OPAQUE_NAME_SETS for n in names}
    for shares, pool in (((1.0, 0.0), opaque), ((0.0, 1.0), set(UNRELATED_NAMES))):
        sampler = FolderSetSampler(tax, ALLOWED, nameless_shares=shares)
        rng = random.Random(1)
        for _ in range(50):
            names = {s.folder.name for s in sampler.taxonomy_set(rng).specs if not s.catch_all}
            assert names <= pool, (shares, names - pool)
    meaningful = FolderSetSampler(tax, ALLOWED, nameless_shares=(0.0, 0.0))
    rng = random.Random(2)
    named = [s.folder.name for _ in range(50) for s in meaningful.taxonomy_set(rng).specs if not s.catch_all]
    assert not set(named) & opaque and sum(n in UNRELATED_NAMES for n in named) < len(named) / 4


def test_a_folder_defined_by_apps_takes_their_rows_whatever_they_are_about():
    uber = FolderSpec(Folder("Kiwi", "Everything from Uber"), apps=frozenset({"uber"}))
    rides = FolderSpec(Folder("Rides", "taxis"), categories=frozenset({"rides"}))
    fs = _set(rides, uber)
    assert fs.folder_for({"app_name": "Uber"}, "rides") == "Kiwi"      # the more specific folder
    assert fs.folder_for({"app_name": "Lyft"}, "rides") == "Rides"
    both = _set(uber, FolderSpec(Folder("Also Uber", "Uber again"), apps=frozenset({"uber"})))
    assert both.folder_for({"app_name": "Uber"}, "rides") is None     # two folders claim it: skipped


def test_descriptions_name_apps_of_their_categories_and_app_folders_appear():
    tax = load_taxonomy()
    apps = {"bank": ["Chase", "Revolut"], "weather": ["AccuWeather"], "news": ["BBC News", "Reuters"]}
    sampler = FolderSetSampler(tax, ALLOWED, apps_by_category=apps, app_shares=(0.5, 0.5))
    rng = random.Random(3)
    named, app_folders = 0, 0
    for _ in range(300):
        fs = sampler.sample(rng)
        for s in fs.specs:
            if s.apps:
                app_folders += 1
                assert all(any(a.casefold() == x for x in s.apps) for a in sum(apps.values(), []) if a in s.folder.description)
                continue
            for k in s.categories:
                others = {a for c, v in apps.items() if c not in s.categories for a in v}
                assert not any(a in s.folder.description for a in others), (k, s.folder.description)
            named += any(a in s.folder.description for k in s.categories for a in apps.get(k, ()))
    assert named > 20 and app_folders > 20
    # without apps the sampler draws exactly as before (evaluation sets stay put)
    plain = FolderSetSampler(tax, ALLOWED)
    again = FolderSetSampler(tax, ALLOWED, apps_by_category={})
    assert [plain.sample(random.Random(i)) for i in range(50)] == [again.sample(random.Random(i)) for i in range(50)]


def test_without_apps_the_sampler_draws_the_sets_the_evaluation_sets_were_drawn_with():
    """evals/make_heldout_sets.py samples with no apps: a training-only feature must not consume random draws
    there, or the sampled evaluation sets change (pinned: the digest of what the sets of runs/eval/data came from)."""
    import hashlib

    tax = load_taxonomy()
    sampler = FolderSetSampler(tax, ALLOWED, nameless_shares=(0.2, 0.15))
    drawn = [[(s.folder.name, s.folder.description, sorted(s.categories), sorted(s.defaults), s.catch_all)
              for s in sampler.sample(random.Random(i)).specs] for i in range(40)]
    assert hashlib.sha256(repr(drawn).encode()).hexdigest() == DRAWN_DIGEST


def test_sibling_sets_give_categories_of_one_group_a_folder_each():
    tax = load_taxonomy()
    sampler = FolderSetSampler(tax, ALLOWED, sibling_share=1.0)
    rng = random.Random(3)
    for _ in range(200):
        fs = sampler.taxonomy_set(rng)
        singles = [next(iter(s.categories)) for s in fs.specs if len(s.categories) == 1]
        groups = defaultdict(int)
        for cat in singles:
            groups[tax.categories[cat].group] += 1
        assert max(groups.values()) >= 2               # two neighbours at least, each in a folder of its own
        used = [c for s in fs.specs for c in s.categories]
        assert len(used) == len(set(used)) and not set(used) & HELD_OUT_CATEGORIES
    with pytest.raises(ValueError, match="sibling_share"):
        FolderSetSampler(tax, ALLOWED, sibling_share=1.5)


DRAWN_DIGEST = "2d49c513ebadb9c4823e6f7906e1e259399715ef68ba4229b05efee8da8e294b"
