"""Folder sets for training, sampled from the taxonomy, and the rule that labels a row under one.

A folder set is a tuple of ``FolderSpec``: a ``Folder`` (name + description the model reads) plus what it takes:
categories, default NotifAI folders, or everything no other folder takes (a catch-all). A row's label under a set:

0. the one folder whose apps contain the row's app (a folder defined by apps: "everything from Uber and Duolingo,
   whatever it is about"), when the set has one; two such folders -> the row is skipped;
1. else the one folder whose categories contain the row's category (more specific wins over a default-style folder);
   two such folders -> the row is skipped;
2. else, for default-style folders, the one that takes the row's gold default folder;
3. else the catch-all, if any, when the row's category is known (an unknown row might fit a folder);
4. else the row is skipped.

Rows without a category are used only in sets without category folders. Names of taxonomy sets are meaningful in
half of them, opaque (A, Box 3) or unrelated words (Kiwi) in the other half, so a name never stands for one meaning; descriptions are written from the categories' phrases
in several styles and two languages, and (when the sampler knows the apps of each category) sometimes name a few
of the category's apps ("..., e.g. Spotify, Deezer"), so the model learns that an app named in a description claims
that app's notifications. Held-out categories (``holdout.py``) never appear in a sampled set.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Optional

from notifclf.folders import CATCH_ALL_EXAMPLES, DEFAULT_FOLDERS, Folder

from .rows import row_app
from .taxonomy import Taxonomy

DEFAULT_NAMES = tuple(f.name for f in DEFAULT_FOLDERS)  # Work, Personal, Promotions, Alerts

# Names that carry no meaning: the model has to read the description.
OPAQUE_NAME_SETS: tuple[tuple[str, ...], ...] = (
    tuple("ABCDEFGHIJ"),
    tuple(f"Box {i}" for i in range(1, 11)),
    tuple(f"Bucket {c}" for c in "ABCDEFGHIJ"),
    ("Red", "Blue", "Green", "Orange", "Purple", "Teal", "Gold", "Silver", "Black", "White"),
    ("α", "β", "γ", "δ", "ε", "ζ", "η", "θ", "ι", "κ"),
    ("一号", "二号", "三号", "四号", "五号", "六号", "七号", "八号", "九号", "十号"),
    ("Tray 1", "Tray 2", "Tray 3", "Tray 4", "Tray 5", "Tray 6", "Tray 7", "Tray 8", "Tray 9", "Tray 10"),
)
UNRELATED_NAMES = ("Kiwi", "Orion", "Maple", "Saturn", "Pebble", "Willow", "Comet", "Basil", "Juniper", "Nova",
                   "Falcon", "Harbor", "Cedar", "Aurora", "Mango", "Quartz", "Tango", "Zephyr", "Lotus", "Echo")
CATCH_ALLS = CATCH_ALL_EXAMPLES  # shared with the runtime's folder reader

# The defaults under other wordings; names never those of the evaluation suites.
DEFAULT_RENAMES: dict[str, tuple[str, ...]] = {
    "Work": ("Workplace", "Office", "Professional", "Business", "Work stuff", "职场", "Trabajo", "Arbeit", "仕事"),
    "Personal": ("Friends & Family", "Home", "Me", "Personal life", "私人", "Familia", "Privat", "プライベート"),
    "Promotions": ("Marketing", "Offers", "Ads", "Promos", "Sales pitches", "广告", "Ofertas", "Angebote"),
    "Alerts": ("Notifications", "System", "Updates", "Account alerts", "Heads-up", "通知", "Avisos", "Hinweise"),
}
DEFAULT_PARAPHRASES: dict[str, tuple[str, ...]] = {
    "Work": ("Anything about my job: colleagues, meetings, projects, code reviews, work tools",
             "Work messages and tools: coworkers, managers, clients, tickets, deploys, meeting invites",
             "工作相关：同事和客户的消息、会议邀请、项目进展、工作应用"),
    "Personal": ("Friends and family, private chats, social networks and my own life outside work",
                 "Messages from people I know personally, family group chats, social media activity",
                 "个人生活：家人朋友的消息、私人聊天、社交媒体"),
    "Promotions": ("Ads, coupons, sales, discounts and marketing newsletters from brands and shops",
                   "Anything trying to sell me something: deals, promo codes, marketing emails",
                   "促销广告：打折、优惠券、营销推送、新闻简报"),
    "Alerts": ("Automated account and system notices: security, deliveries, bills, payments, reminders",
               "Service notifications: package tracking, sign-in alerts, payments due, app updates, reminders",
               "系统和账户通知：安全提醒、快递、账单、付款、提醒事项"),
}


@dataclass(frozen=True)
class FolderSpec:
    folder: Folder
    categories: frozenset[str] = frozenset()
    defaults: frozenset[str] = frozenset()   # gold default folders this folder takes
    catch_all: bool = False
    apps: frozenset[str] = frozenset()      # casefolded app names this folder takes whatever the row is about


@dataclass(frozen=True)
class FolderSet:
    specs: tuple[FolderSpec, ...]
    kind: str

    @property
    def folders(self) -> tuple[Folder, ...]:
        return tuple(s.folder for s in self.specs)

    @property
    def has_category_folders(self) -> bool:
        return any(s.categories for s in self.specs)

    def folder_for(self, row: dict, category: Optional[str]) -> Optional[str]:
        """The folder name the row belongs in, or None when it fits none or several (see the module doc)."""
        by_app = [s.folder.name for s in self.specs if row_app(row) in s.apps]
        if by_app:
            return by_app[0] if len(by_app) == 1 else None
        if category is None and self.has_category_folders:
            return None
        if category is not None:
            hits = [s.folder.name for s in self.specs if category in s.categories]
            if len(hits) > 1:
                return None
            if hits:
                return hits[0]
        by_default = [s.folder.name for s in self.specs if row.get("folder") in s.defaults]
        if len(by_default) == 1:
            return by_default[0]
        if category is not None:
            rest = [s.folder.name for s in self.specs if s.catch_all]
            if rest:
                return rest[0]
        return None


def _join(items: Sequence[str], rng: random.Random) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + rng.choice((" and ", " or ", ", ")) + items[-1]


def unique_names(folders: Sequence[Folder]) -> bool:
    return len({f.name.casefold() for f in folders}) == len(folders)


def defaults_set(rng: random.Random) -> FolderSet:
    """The four defaults: as shipped, paraphrased, renamed, shuffled or with one dropped."""
    r = rng.random()
    if r < 0.45:
        return FolderSet(tuple(FolderSpec(f, defaults=frozenset({f.name})) for f in DEFAULT_FOLDERS), "defaults")
    specs = []
    opaque = list(rng.choice(OPAQUE_NAME_SETS)) if rng.random() < 0.25 else None
    for i, f in enumerate(DEFAULT_FOLDERS):
        name = opaque[i] if opaque else (rng.choice(DEFAULT_RENAMES[f.name]) if rng.random() < 0.6 else f.name)
        desc = rng.choice(DEFAULT_PARAPHRASES[f.name]) if rng.random() < 0.5 else f.description
        specs.append(FolderSpec(Folder(name, desc), defaults=frozenset({f.name})))
    if rng.random() < 0.25:
        specs.pop(rng.randrange(len(specs)))
    rng.shuffle(specs)
    return FolderSet(tuple(specs), "defaults-varied")


class FolderSetSampler:
    """Draws taxonomy folder sets from the categories allowed in training (held-out ones never)."""

    def __init__(self, taxonomy: Taxonomy, allowed: Sequence[str], group_words: bool = True,
                 nameless_shares: tuple[float, float] = (0.25, 0.25),
                 apps_by_category: Optional[Mapping[str, Sequence[str]]] = None,
                 app_shares: tuple[float, float] = (0.3, 0.2), sibling_share: float = 0.0,
                 catch_all_share: float = 0.4):
        """``group_words``: a folder taking a whole group may be named and described with the group's words (off
        where ``allowed`` holds only parts of groups, e.g. sets made of held-out categories). ``nameless_shares``:
        the shares of taxonomy sets named opaquely and with unrelated words (evaluation sets pin their own, so a
        change of training's shares does not change them). ``apps_by_category``: app display names per category;
        with it, ``app_shares`` are the shares of category descriptions that name a few of their apps and of sets
        that get a folder defined by apps (without it, neither: the sampler draws as before). ``sibling_share``: the
        share of taxonomy sets that give two to four categories of one group a folder each (music apart from video,
        a bank apart from card payments), so that telling neighbours apart needs the descriptions' details (0: no
        draw, sets as before). ``catch_all_share``: the share of taxonomy sets with a catch-all folder."""
        for what, share in (("sibling_share", sibling_share), ("catch_all_share", catch_all_share)):
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{what} must be in [0, 1], got {share}")
        self.sibling_share = sibling_share
        self.catch_all_share = catch_all_share
        self.tax = taxonomy
        self.apps = {k: sorted(v) for k, v in (apps_by_category or {}).items() if v}
        self.app_shares = app_shares
        self.allowed = sorted(allowed)
        self.group_words = group_words
        self.nameless_shares = nameless_shares
        self.groups: dict[str, list[str]] = {}
        for key in self.allowed:
            self.groups.setdefault(taxonomy.categories[key].group, []).append(key)

    # ------------------------------------------------------------------------------------------- descriptions

    def describe(self, cats: Sequence[str], rng: random.Random, group: Optional[str] = None,
                 excluded: Sequence[str] = ()) -> str:
        c = self.tax.categories
        zh = rng.random() < 0.15
        apps = self._example_apps(cats, rng)
        if zh:
            whole_group = group and not excluded and rng.random() < 0.4
            parts = [self.tax.groups[group].zh] if whole_group else [c[k].zh for k in cats]
            text = "、".join(parts)
            if apps:
                text += "（如" + "、".join(apps) + "）"
            if excluded:
                text += "，但不包括" + "、".join(c[k].zh for k in excluded)
            return text[:290]
        if group and not excluded and rng.random() < 0.4:
            text = rng.choice(self.tax.groups[group].en)
        else:
            phrases = [rng.choice(c[k].en) for k in cats]
            style = rng.random()
            if style < 0.4:
                text = "; ".join(phrases)
            elif style < 0.7:
                text = ", ".join(phrases[:-1]) + (" and " if len(phrases) > 1 else "") + phrases[-1]
            else:
                text = "Anything about " + " or ".join(phrases)
        if apps:
            text += rng.choice((" (e.g. {})", ", such as {}", " like {}", " - {}")).format(_join(apps, rng))
        if excluded:
            text += ", but not " + " or ".join(rng.choice(c[k].en) for k in excluded)
        text = text[0].upper() + text[1:]
        return text[:290]

    def _example_apps(self, cats: Sequence[str], rng: random.Random) -> list[str]:
        """A few apps of these categories to name in a description (``app_shares[0]`` of descriptions), else none."""
        if not self.apps or rng.random() >= self.app_shares[0]:  # no draw without apps: sets stay as drawn before
            return []
        pool = sorted({a for k in cats for a in self.apps.get(k, ())})
        return rng.sample(pool, min(len(pool), rng.choice([1, 2, 2, 3]))) if pool else []

    def app_folder(self, rng: random.Random, name: Optional[str]) -> FolderSpec:
        """A folder defined by 1-4 apps, whatever their notifications are about ("more specific wins")."""
        pool = sorted({a for k, apps in self.apps.items() for a in apps})
        apps = rng.sample(pool, min(len(pool), rng.choice([1, 1, 2, 3, 4])))
        r = rng.random()
        if r < 0.15:
            desc = "、".join(apps) + "的所有通知"
        elif r < 0.5:
            desc = rng.choice(("Everything from {}, whatever it is about", "All notifications from {}",
                               "Anything {} sends me", "{} notifications")).format(_join(apps, rng))
        else:
            desc = rng.choice(("Only {}", "The {} apps", "{}: all of it")).format(_join(apps, rng))
        return FolderSpec(Folder(name or (apps[0] if len(apps) == 1 else f"{apps[0]} etc."), desc[:290]),
                          apps=frozenset(a.casefold() for a in apps))

    def name_for(self, cats: Sequence[str], rng: random.Random, group: Optional[str]) -> str:
        """A name that means the folder: the group's, the category's, two categories joined, else an unrelated word."""
        if group and len(cats) > 1:
            return rng.choice(self.tax.groups[group].names)
        names = [rng.choice(self.tax.categories[k].names) for k in cats]
        if len(names) == 1:
            return names[0]
        return " & ".join(names) if len(names) == 2 else rng.choice(UNRELATED_NAMES)

    # ------------------------------------------------------------------------------------------------ sampling

    def _folder_cats(self, rng: random.Random, free: set[str]) -> tuple[list[str], Optional[str], list[str]]:
        """Categories for one folder: a whole group, a group minus one (said in the description), one category,
        or a few categories from different groups."""
        groups = [g for g, ks in self.groups.items() if set(ks) & free]
        r = rng.random()
        if r < 0.55 and groups:
            g = rng.choice(groups)
            cats = [k for k in self.groups[g] if k in free]
            excluded: list[str] = []
            if len(cats) > 2 and rng.random() < 0.25:
                excluded = [cats.pop(rng.randrange(len(cats)))]
            whole = self.group_words and len(cats) + len(excluded) == len(self.groups[g])
            # the group's own words only when the folder really takes the whole group (else they would claim
            # categories another folder takes)
            return cats, g if whole else None, excluded
        if r < 0.85:
            return [rng.choice(sorted(free))], None, []
        k = min(len(free), rng.choice([2, 2, 3]))
        return rng.sample(sorted(free), k), None, []

    def _siblings(self, rng: random.Random) -> list[str]:
        """Two to four categories of one group, each to get a folder of its own."""
        groups = sorted(g for g, ks in self.groups.items() if len(ks) >= 2)
        if not groups:
            return []
        cats = list(self.groups[rng.choice(groups)])
        return rng.sample(cats, min(len(cats), rng.choice([2, 2, 3, 4])))

    def taxonomy_set(self, rng: random.Random) -> FolderSet:
        n = rng.choice([2, 3, 3, 4, 4, 5, 5, 6, 7, 8, 10])
        free = set(self.allowed)
        specs: list[FolderSpec] = []
        naming = rng.random()
        p_opaque, p_unrelated = self.nameless_shares
        opaque = list(rng.choice(OPAQUE_NAME_SETS)) if naming < p_opaque else None
        unrelated = rng.sample(UNRELATED_NAMES, 10) if p_opaque <= naming < p_opaque + p_unrelated else None
        siblings = self._siblings(rng) if self.sibling_share and rng.random() < self.sibling_share else []
        while len(specs) < max(n, len(siblings)) and free:
            if len(specs) < len(siblings):
                cats, group, excluded = [siblings[len(specs)]], None, []
            else:
                cats, group, excluded = self._folder_cats(rng, free)
            free -= set(cats)
            i = len(specs)
            name = opaque[i] if opaque else unrelated[i] if unrelated else self.name_for(cats, rng, group)
            desc = self.describe(cats, rng, group, excluded)
            specs.append(FolderSpec(Folder(name, desc), categories=frozenset(cats)))
        if self.apps and rng.random() < self.app_shares[1]:
            names = opaque or unrelated or []
            specs.append(self.app_folder(rng, names[len(specs)] if len(specs) < len(names) else None))
        if rng.random() < self.catch_all_share:
            name, desc = rng.choice(CATCH_ALLS)
            specs.append(FolderSpec(Folder(name, desc), catch_all=True))
        rng.shuffle(specs)
        return FolderSet(tuple(specs), "taxonomy")

    def mixed_set(self, rng: random.Random) -> FolderSet:
        """Defaults (perhaps varied) plus 1-3 category folders that win for their rows."""
        base = defaults_set(rng)
        taken = set()
        specs = list(base.specs)
        for _ in range(rng.choice([1, 1, 2, 3])):
            free = set(self.allowed) - taken
            if not free:
                break
            cats, group, _ = self._folder_cats(rng, free)
            cats = cats[:3]
            taken |= set(cats)
            specs.append(FolderSpec(Folder(self.name_for(cats, rng, group), self.describe(cats, rng, group)),
                                    categories=frozenset(cats)))
        if self.apps and rng.random() < self.app_shares[1]:
            specs.append(self.app_folder(rng, None))
        rng.shuffle(specs)
        return FolderSet(tuple(specs), "mixed")

    def sample(self, rng: random.Random) -> FolderSet:
        for _ in range(20):
            r = rng.random()
            fs = defaults_set(rng) if r < 0.3 else self.mixed_set(rng) if r < 0.5 else self.taxonomy_set(rng)
            if unique_names(fs.folders) and len(fs.specs) >= 2:
                return fs
        return defaults_set(rng)
