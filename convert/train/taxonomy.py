"""What a notification is about: fine-grained categories and the table that assigns them to rows.

Both are data, read by one function each:

* ``taxonomy/categories.json``: the categories (key, group, the default folder such rows usually get, phrases to
  write folder descriptions from, names that mean the category) and the groups they form.
* ``taxonomy/apps.tsv``: ``app <TAB> gold folder <TAB> category [<TAB> regex]``, reviewed by reading the rows of
  train.jsonl. Lines with a regex come first for an (app, folder) pair and pick rows by content (``title:`` searches
  the title only, else title + body); the line without one is the fallback. ``-`` means mixed or unclear: such rows
  get no category and are never used where a category decides the label.

Generated rows (``generator.py``) carry their category in the row itself (``category_key``).
No torch here.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

from .rows import row_app

TAXONOMY_DIR = Path(__file__).resolve().parent / "taxonomy"


@dataclass(frozen=True)
class Category:
    key: str
    group: str
    default: str                 # the NotifAI folder such notifications usually get
    en: tuple[str, ...]          # description phrases
    zh: str
    names: tuple[str, ...]       # folder names that mean this category


@dataclass(frozen=True)
class Group:
    key: str
    en: tuple[str, ...]          # how a user would describe the whole group
    zh: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class AppRule:
    app: str                     # casefolded app name
    folder: str                  # gold default folder the rule is for
    category: Optional[str]      # None for "-"
    pattern: Optional[re.Pattern]
    title_only: bool = False

    def matches(self, row: dict) -> bool:
        if self.pattern is None:
            return True
        text = row.get("title") or ""
        if not self.title_only:
            text = f"{text} {row.get('body') or ''}"
        return bool(self.pattern.search(text))


class Taxonomy:
    def __init__(self, categories: dict[str, Category], groups: dict[str, Group], rules: list[AppRule]):
        self.categories = categories
        self.groups = groups
        self._rules: dict[tuple[str, str], list[AppRule]] = {}
        for rule in rules:
            if rule.category is not None and rule.category not in categories:
                raise ValueError(f"apps.tsv: unknown category {rule.category!r} for {rule.app!r}")
            self._rules.setdefault((rule.app, rule.folder), []).append(rule)

    def category_of(self, row: dict) -> Optional[str]:
        """The row's category key, or None when its app is unknown or its rows are mixed."""
        if row.get("category_key"):
            return row["category_key"]
        for rule in self._rules.get((row_app(row), row.get("folder", "")), ()):
            if rule.matches(row):
                return rule.category
        return None

    def covers(self, row: dict) -> bool:
        """Whether the app table has a line for this row's app and gold folder (a reviewed row)."""
        return (row_app(row), row.get("folder", "")) in self._rules


def _parse_rule(fields: list[str]) -> AppRule:
    app, folder, category = fields[0].strip(), fields[1].strip(), fields[2].strip()
    pattern, title_only = None, False
    if len(fields) > 3 and fields[3].strip():
        regex = fields[3].strip()
        if regex.startswith("title:"):
            regex, title_only = regex[len("title:"):], True
        pattern = re.compile(regex, re.IGNORECASE)
    return AppRule(app.casefold(), folder, None if category == "-" else category, pattern, title_only)


def _sorted_rules(rules: list[AppRule]) -> list[AppRule]:
    """Per (app, folder): content rules in file order, then the fallback."""
    return sorted(rules, key=lambda r: r.pattern is None)


@lru_cache(maxsize=4)
def load_taxonomy(directory: Path = TAXONOMY_DIR) -> Taxonomy:
    data = json.loads((directory / "categories.json").read_text(encoding="utf-8"))
    categories = {c["key"]: Category(c["key"], c["group"], c["default"], tuple(c["en"]), c["zh"], tuple(c["names"]))
                  for c in data["categories"]}
    groups = {g["key"]: Group(g["key"], tuple(g["en"]), g["zh"], tuple(g["names"])) for g in data["groups"]}
    unknown = {c.group for c in categories.values()} - set(groups)
    if unknown:
        raise ValueError(f"categories.json: groups without a description: {sorted(unknown)}")
    with open(directory / "apps.tsv", encoding="utf-8", newline="") as fh:
        rules = [_parse_rule(f) for f in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE) if f and f[0].strip()]
    return Taxonomy(categories, groups, _sorted_rules(rules))
