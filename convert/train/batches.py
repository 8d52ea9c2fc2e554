"""Training batches: a scenario (folder set, preferences, worked examples) and rows labelled under it, tokenized.

A batch shares one system prompt, so its KV state is computed once. ``BatchSampler.batch(step)`` depends only on
(seed, step): resuming needs no sampler state. The mix per batch:

* folder set (``folder_sets.py``): 30% the defaults (as shipped or varied), 20% defaults + category folders, 50%
  folder sets built from the taxonomy; 30% of category descriptions name 1-3 of the category's apps (apps with 3+
  trainable rows), and 20% of the non-default sets get a folder defined by 1-4 apps, which wins for those apps' rows;
* 40% of batches (``preferences_rate``) state 1-3 preferences (``rules_per_batch``; ``preferences.py``: rules by app,
  sender, category or a name the row mentions, from ``mentioned_names``); about half the rows are ones a preference
  decides,
  and (with ``near_misses``) about 15% (``near_miss_rate`` 0.3) are near misses it does not decide: the same
  category from other apps or senders, or the same group from other categories, so a rule is learnt as narrowly as
  it is written; with ``hint_miss_rate``, a further share shares a word with a stated rule it does not decide, so
  that, with hints, a listed rule is sometimes one to reject; a rule's priority is drawn from ``rule_priorities``
  (1, 2, 3, 3 unless set), and with ``disagreeing_rows`` a share of a priority rule's rows are those whose own
  priority is the farthest from the rule's (a rule of 1 on an urgent row);
* 35% (``examples_rate``) carry 1-24 worked examples of the user's own sorting; in half of those the examples follow
  an unstated convention (an app, sender or topic filed or rated differently), shown by 1-5 examples, and the rows it
  touches follow it too (with ``conventions_per_batch``, several conventions; with ``corrections_only``, a share of
  those batches show the conventions' examples and nothing else, like a user's corrections; with
  ``shared_convention_folder``, a share of the batches with several conventions have them all move rows to one
  folder, as a user's corrections do); otherwise the examples
  are ordinary and change nothing. With ``scoped_conventions``, that
  share of the app conventions are about an app whose rows the defaults file under several folders, and touch only one
  of them (its receipts, not its ads);
* a share of rows carries a planted prompt injection with the true label kept (``injection.py``);
* with ``preference_hints`` / ``example_hints``, each row's user turn ends like the runtime's for a model trained so:
  the stated preferences that share a word with it, the worked examples most like it.

Rows of held-out categories and dev rows are never used. No torch here.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Optional

from notifclf.folder_codes import CODES, code_folders
from notifclf.folders import Folder
from notifclf.notification import Notification
from notifclf.example_hints import similar_examples
from notifclf.preference_hints import (MAX_HINT_TOKENS, content_words, matching_preferences, notification_text,
                                       rule_keys)
from notifclf.prompt import MAX_PROMPT_EXAMPLES, PromptExample, build_prompt, training_answer

from .folder_sets import FolderSet, FolderSetSampler
from .holdout import trainable_category
from .injection import inject
from .preferences import Preference, apply_preferences, mentions, sample_preference
from .rows import is_dev, majority_priorities, notification_of, row_app
from .taxonomy import Taxonomy

Label = tuple[str, int]


@dataclass(frozen=True)
class Scenario:
    """What the system prompt says (folders, preferences, examples) and the rules that label rows under it."""

    folder_set: FolderSet
    preferences: tuple[Preference, ...] = ()
    examples: tuple[PromptExample, ...] = ()
    shown_folders: Optional[tuple[Folder, ...]] = None  # what the prompt lists, when not the set's own folders

    @property
    def folders(self) -> tuple[Folder, ...]:
        return self.shown_folders if self.shown_folders is not None else self.folder_set.folders

    @property
    def instructions(self) -> str:
        return "\n".join(p.text for p in self.preferences if p.text)

    @property
    def kind(self) -> str:
        tags = [self.folder_set.kind]
        if any(p.text for p in self.preferences):
            tags.append("prefs")
        if any(not p.text for p in self.preferences):
            tags.append("convention")
        if self.examples:
            tags.append(f"examples{len(self.examples)}")
        return "+".join(tags)

    def label(self, row: dict, category: Optional[str], priority: Optional[int] = None) -> Optional[Label]:
        """(folder, priority) of ``row`` here, or None when it does not fit unambiguously."""
        pref_folder, pref_priority = apply_preferences(self.preferences, row, category)
        folder = pref_folder or self.folder_set.folder_for(row, category)
        if folder is None:
            return None
        base = int(row["priority"]) if priority is None else priority
        return folder, pref_priority if pref_priority is not None else base


@dataclass
class Example:
    """One training example after the shared prefix: ``ids`` = user + suffix + answer tokens."""

    ids: list[int]
    n_answer: int      # the last n_answer ids are the answer (+ end-of-turn) and carry the loss
    folder: str
    priority: int


class ExampleBuilder:
    """Tokenizes prompts exactly like the runtime: prefix (special tokens parsed), user (not parsed), suffix (parsed).

    ``encode(text, special: bool) -> list[int]`` is injected so this class needs no HF import and can be tested
    with a fake tokenizer.
    """

    def __init__(self, template: str | None, encode: Callable[[str, bool], list[int]], eot_ids: list[int],
                 max_user_tokens: int = 160, bos_ids: Sequence[int] = ()):
        self.template = template
        self.encode = encode
        self.eot_ids = list(eot_ids)
        self.max_user_tokens = max_user_tokens
        self.bos_ids = list(bos_ids)  # what the runtime's tokenizer puts before the prompt (Gemma's <bos>)

    def pieces(self, sc: Scenario, row: dict, hints: Sequence[str] = (), similar: Sequence[PromptExample] = ()):
        return build_prompt(self.template, sc.folders, sc.instructions, notification_of(row), examples=sc.examples,
                            hints=hints, similar=similar)

    def prefix_ids(self, sc: Scenario) -> list[int]:
        pieces = build_prompt(self.template, sc.folders, sc.instructions, Notification(title="x"),
                              examples=sc.examples)
        return self.bos_ids + self.encode(pieces.prefix, True)

    def example(self, sc: Scenario, row: dict, folder: str, priority: int, hints: Sequence[str] = (),
                similar: Sequence[PromptExample] = ()) -> Example:
        pieces = self.pieces(sc, row, hints, similar)
        user = self.encode(pieces.user, False)[: self.max_user_tokens]
        if pieces.hint:
            user += self.encode(pieces.hint, False)[:MAX_HINT_TOKENS]
        suffix = self.encode(pieces.suffix, True)
        answer = self.encode(training_answer(folder, priority), False) + self.eot_ids
        return Example(ids=user + suffix + answer, n_answer=len(answer), folder=folder, priority=priority)


@dataclass
class Batch:
    scenario: Scenario
    prefix: list[int]
    examples: list[Example]
    row_ids: list[str]


# Capitalized words that are not names a rule would be about.
_NOT_NAMES = frozenset("monday tuesday wednesday thursday friday saturday sunday january february march april june "
                       "july august september october november december".split())
_CAPITALIZED = re.compile(r"(?<![\w'])[A-Z][a-z]{3,}(?![\w'])")
_MID_SENTENCE = re.compile(r"(?<=[a-z,] )[A-Z][a-z]{3,}(?![\w'])")
_LOWER = re.compile(r"(?<![\w'])[a-z]{4,}(?![\w'])")


def mentioned_names(rows: Sequence[dict], apps: set[str], fewest: int = 4, most: int = 80) -> dict[str, list[int]]:
    """Names that titles and bodies mention (capitalized words written so in mid-sentence and never in lower case:
    Halvorsen, Figma), in ``fewest``-``most`` rows and not an app's own name -> the indices of the rows that mention
    them."""
    lower: set[str] = set()
    mid: set[str] = set()
    found: dict[str, set[int]] = {}
    for i, r in enumerate(rows):
        text = f"{r.get('title') or ''}\n{r.get('body') or ''}"
        lower.update(_LOWER.findall(text))
        mid.update(w.casefold() for w in _MID_SENTENCE.findall(text))
        for word in _CAPITALIZED.findall(text):
            found.setdefault(word.casefold(), set()).add(i)
    return {name: [i for i in sorted(idx) if mentions(rows[i], name)] for name, idx in found.items()
            if fewest <= len(idx) <= most and name in mid and name not in lower and name not in apps
            and name not in _NOT_NAMES}


class BatchSampler:
    """Deterministic batches over the trainable rows (no dev rows, no held-out categories)."""

    def __init__(self, rows: Sequence[dict], builder: Optional[ExampleBuilder], taxonomy: Taxonomy, batch_size: int = 8,
                 seed: int = 0, inject_rate: float = 0.0, majority_priority: bool = True, folder_codes: bool = False,
                 near_misses: bool = False, random_codes: bool = False, repeat_codes: bool = False,
                 near_miss_rate: float = 0.3, scoped_conventions: float = 0.0, examples_rate: float = 0.35,
                 preference_hints: bool = False, example_hints: bool = False, preferences_rate: float = 0.4,
                 rules_per_batch: Sequence[int] = (1, 1, 2, 3), hint_miss_rate: float = 0.0,
                 conventions_per_batch: Sequence[int] = (1,), corrections_only: float = 0.0,
                 shared_convention_folder: float = 0.0, sibling_sets: float = 0.0,
                 catch_all_sets: float = 0.4, rule_priorities: Sequence[int] = (1, 2, 3, 3),
                 disagreeing_rows: float = 0.0):
        """``folder_codes``: list the folders as letter codes and train the code as the answer (folder_codes.py).
        ``random_codes`` (with ``folder_codes``): in half of the batches the codes are random letters in alphabetical
        order (A, D, K... instead of A, B, C...), so every letter is trained about as often as every other and a
        code's meaning cannot lean on its letter or its position.
        ``repeat_codes`` (with ``folder_codes``): the code is shown again after each description ("codes-repeated").
        ``near_misses``: in batches with preferences or a convention, draw rows that look like a rule's but that
        it does not decide (see the module doc); ``near_miss_rate`` is the chance that a row not drawn from a rule's
        own rows is drawn from its near misses.
        ``scoped_conventions``: the share of app conventions that are about an app whose rows the defaults file under
        several folders, limited to one of those folders (``Preference.within``); the app's other rows are then its
        first near misses.
        ``examples_rate``: the share of batches with worked examples (half of them showing a convention).
        ``preferences_rate``: the share of batches that state preferences, ``rules_per_batch`` how many (drawn from
        the sequence, e.g. ``(1, 1, 2, 3)``).
        ``preference_hints``: open each row's user turn with the stated preferences that share a word with it, as
        the runtime does for a model trained so (``notifclf.preference_hints``); ``example_hints``: end it with the
        worked examples most like the row (``notifclf.example_hints``).
        ``hint_miss_rate``: in batches that state preferences, the chance that a row is one a stated rule shares a
        word with but does not decide (GitLab beside a GitHub rule, a bank's notice that mentions Venmo): the rows
        :func:`~notifclf.preference_hints.matching_preferences` lists the rule for by mistake, so a model trained
        with hints learns to reject a listed rule as well as to apply one.
        ``conventions_per_batch``: how many unstated conventions a batch showing one has (drawn from the sequence);
        ``corrections_only``: the share of those batches whose worked examples are only the conventions' own, as in a
        user's store of corrections, which holds the model's mistakes and nothing else.
        ``shared_convention_folder``: the share of batches with two or more conventions in which every convention
        that moves rows moves them to one folder, as a real user's corrections mostly go to one folder (the
        expenses, the school mail, the clients: all to Work); the rows none of them touches keep their labels. (Measured
        once, README: it made the model follow more and spill more onto untouched rows.)
        ``sibling_sets``: the share of taxonomy folder sets with a folder for each of 2-4 categories of one group
        (``FolderSetSampler``'s ``sibling_share``); ``catch_all_sets``: of taxonomy sets with a catch-all folder.
        ``rule_priorities``: what a rule's (or a convention's) priority is drawn from: the default favours 3, and the
        rows are mostly priority 1, so rules that raise a priority are far more common than rules that lower one.
        ``disagreeing_rows``: the chance that a row drawn for a rule that sets a priority is one whose own priority is
        the farthest from the rule's (a rule of 1 on an urgent row), so that a stated priority is learnt to win over
        the row's own urgency in both directions."""
        for name, rate in (("near_miss_rate", near_miss_rate), ("scoped_conventions", scoped_conventions),
                           ("examples_rate", examples_rate), ("preferences_rate", preferences_rate),
                           ("hint_miss_rate", hint_miss_rate), ("corrections_only", corrections_only),
                           ("shared_convention_folder", shared_convention_folder),
                           ("disagreeing_rows", disagreeing_rows)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {rate}")
        self.scoped_conventions = scoped_conventions
        self.preference_hints = preference_hints
        self.example_hints = example_hints
        self.preferences_rate = preferences_rate
        if not rules_per_batch or min(rules_per_batch) < 1:
            raise ValueError(f"rules_per_batch must be counts of 1 or more, got {rules_per_batch}")
        self.rules_per_batch = tuple(rules_per_batch)
        if not conventions_per_batch or min(conventions_per_batch) < 1:
            raise ValueError(f"conventions_per_batch must be counts of 1 or more, got {conventions_per_batch}")
        self.conventions_per_batch = tuple(conventions_per_batch)
        if not rule_priorities or not set(rule_priorities) <= {1, 2, 3}:
            raise ValueError(f"rule_priorities must be priorities 1-3, got {rule_priorities}")
        self.rule_priorities = tuple(rule_priorities)
        self.disagreeing_rows = disagreeing_rows
        self._disagreeing_cache: dict[Preference, list[int]] = {}
        self.corrections_only = corrections_only
        self.shared_convention_folder = shared_convention_folder
        self.examples_rate = examples_rate
        self.builder = builder
        self.folder_codes = folder_codes
        self.random_codes = random_codes
        self.repeat_codes = repeat_codes
        self.near_misses = near_misses
        self.near_miss_rate = near_miss_rate
        self.hint_miss_rate = hint_miss_rate
        self.batch_size = batch_size
        self.seed = seed
        self.inject_rate = inject_rate
        kept = [(r, taxonomy.category_of(r)) for r in rows if not is_dev(r["id"])]
        kept = [(r, c) for r, c in kept if trainable_category(c)]
        self.rows = [r for r, _ in kept]
        self.cats = [c for _, c in kept]
        relabel = majority_priorities(self.rows) if majority_priority else {}
        self.priorities = [relabel.get(r["id"], int(r["priority"])) for r in self.rows]
        self.n_relabelled = len(relabel)
        self.by_category: dict[str, list[int]] = {}
        self.by_app: dict[str, list[int]] = {}
        self.by_sender: dict[str, list[int]] = {}
        for i, (r, c) in enumerate(kept):
            if c is not None:
                self.by_category.setdefault(c, []).append(i)
            self.by_app.setdefault(row_app(r), []).append(i)
            if c in ("work_chat", "family_chat", "friends_chat"):
                self.by_sender.setdefault((r.get("title") or "").strip().casefold(), []).append(i)
        self.app_names = sorted({r.get("app_name") or "" for r in self.rows
                                 if len(self.by_app[row_app(r)]) >= 8 and r.get("app_name")})
        self.senders = sorted({(r.get("title") or "").strip() for r in self.rows
                               if len(self.by_sender.get((r.get("title") or "").strip().casefold(), ())) >= 6})
        self.by_mention = mentioned_names(self.rows, {row_app(r) for r in self.rows})
        self.names = sorted({self._display_name(k) for k in self.by_mention})
        allowed = [k for k, idx in self.by_category.items() if len(idx) >= 5]
        self.topics = [(k, taxonomy.categories[k].en[0], taxonomy.categories[k].zh) for k in allowed]
        apps_by_category: dict[str, set[str]] = {}
        for r, c in kept:
            if c in allowed and r.get("app_name") and len(self.by_app[row_app(r)]) >= 3:
                apps_by_category.setdefault(c, set()).add(r["app_name"].strip())
        self.folder_sets = FolderSetSampler(taxonomy, allowed, apps_by_category=apps_by_category,
                                            sibling_share=sibling_sets, catch_all_share=catch_all_sets)
        self.group_of = {k: c.group for k, c in taxonomy.categories.items()}
        self.app_scopes: dict[str, list[str]] = {}  # app -> the default folders holding 3+ of its rows, if 2+
        for app, idx in self.by_app.items():
            folders = sorted(f for f, n in Counter(self.rows[i]["folder"] for i in idx).items() if n >= 3)
            if len(folders) >= 2:
                self.app_scopes[app] = folders
        self._rule_rows_cache: dict[Preference, list[int]] = {}
        self.by_group: dict[str, list[int]] = {}
        self._near_miss_cache: dict[Preference, list[int]] = {}
        self._hint_miss_cache: dict[Preference, list[int]] = {}
        self._texts: list[str] = []  # each row's text as the hint matcher reads it, and its words -> rows
        self._by_word: dict[str, list[int]] = {}
        if hint_miss_rate:
            self._texts = [notification_text(notification_of(r)) for r in self.rows]
            for i, text in enumerate(self._texts):
                for w in content_words(text):
                    self._by_word.setdefault(w, []).append(i)
        for k, idx in self.by_category.items():
            self.by_group.setdefault(self.group_of.get(k, k), []).extend(idx)

    def _display_name(self, key: str) -> str:
        return key[0].upper() + key[1:]

    def label(self, sc: Scenario, i: int) -> Optional[Label]:
        return sc.label(self.rows[i], self.cats[i], self.priorities[i])

    def _rule_rows(self, p: Preference) -> list[int]:
        """The rows a rule decides."""
        if p.app is not None:
            rows = self.by_app.get(p.app, [])
        elif p.sender is not None:
            rows = self.by_sender.get(p.sender, [])
        elif p.mention is not None:
            rows = self.by_mention.get(p.mention, [])
        else:
            rows = self.by_category.get(p.category or "", [])
        if p.within is None:
            return rows
        if p not in self._rule_rows_cache:
            self._rule_rows_cache[p] = [i for i in rows if p.applies(self.rows[i], self.cats[i])]
        return self._rule_rows_cache[p]

    def _disagreeing_rows(self, p: Preference) -> list[int]:
        """The rows a priority rule decides whose own priority is the farthest from the rule's (none when all agree)."""
        if p not in self._disagreeing_cache:
            rows = self._rule_rows(p) if p.priority is not None else []
            far = max((abs(self.priorities[i] - p.priority) for i in rows), default=0)
            self._disagreeing_cache[p] = [i for i in rows if far and abs(self.priorities[i] - p.priority) == far]
        return self._disagreeing_cache[p]

    def _near_miss_rows(self, p: Preference) -> list[int]:
        """Rows like the rule's own that it does not decide: for a scoped rule, its app's other rows; for an app or
        a sender, its category's other rows (its group's when the category has no others); for a category, its
        group's other categories."""
        if p not in self._near_miss_cache:
            category = p.category
            if category is None:
                common = Counter(self.cats[i] for i in self._rule_rows(p) if self.cats[i] is not None).most_common(1)
                category = common[0][0] if common else None
            sources = [self.by_app.get(p.app, [])] if p.app is not None and p.within is not None else []
            if category is not None:
                if p.category is None:
                    sources.append(self.by_category[category])
                sources.append(self.by_group.get(self.group_of.get(category, ""), []))
            near: list[int] = []
            for like in sources:
                near = [i for i in like if not p.applies(self.rows[i], self.cats[i])]
                if near:
                    break
            self._near_miss_cache[p] = near
        return self._near_miss_cache[p]

    def _hint_miss_rows(self, p: Preference) -> list[int]:
        """Rows sharing a content word (or a Chinese piece) with a stated rule that the rule does not decide."""
        if p not in self._hint_miss_cache:
            keys = rule_keys(p.text, (p.folder,) if p.folder else ())  # as the runtime's matcher reads the rule
            words = {w for _, rule_words, _ in keys for w in rule_words}
            pieces = {piece for _, _, rule_pieces in keys for piece in rule_pieces}
            found = {i for w in words for i in self._by_word.get(w, ())}
            if pieces:
                found |= {i for i, text in enumerate(self._texts) if any(piece in text for piece in pieces)}
            self._hint_miss_cache[p] = sorted(i for i in found if not p.applies(self.rows[i], self.cats[i]))
        return self._hint_miss_cache[p]

    def _draw(self, rng: random.Random, sc: Scenario) -> int:
        """A row index: often one a rule decides (or a near miss) or one of the set's categories, else any row."""
        u = rng.random()
        if sc.preferences and u < 0.5:
            p = rng.choice(sc.preferences)
            pool = self._rule_rows(p)
            # drawn only when set, so that older streams stay as they were
            if self.disagreeing_rows and rng.random() < self.disagreeing_rows:
                pool = self._disagreeing_rows(p) or pool
            if pool:
                return rng.choice(pool)
        stated = [p for p in sc.preferences if p.text] if self.hint_miss_rate else []
        if stated and rng.random() < self.hint_miss_rate:
            pool = self._hint_miss_rows(rng.choice(stated))
            if pool:
                return rng.choice(pool)
        if self.near_misses and sc.preferences and rng.random() < self.near_miss_rate:
            p = rng.choice(sc.preferences)
            pool = self._near_miss_rows(p)
            if pool:
                return rng.choice(pool)
        apps = [a for s in sc.folder_set.specs for a in sorted(s.apps)]  # sorted: a set's order varies by process
        if apps and u < 0.65:
            pool = self.by_app.get(rng.choice(apps), [])
            if pool:
                return rng.choice(pool)
        cats = [c for s in sc.folder_set.specs for c in sorted(s.categories)]
        if cats and u < 0.8:
            pool = self.by_category.get(rng.choice(cats), [])
            if pool:
                return rng.choice(pool)
        return rng.randrange(len(self.rows))

    def _labelled(self, rng: random.Random, sc: Scenario, n: int, exclude: set[int]) -> list[tuple[int, Label]]:
        picked: list[tuple[int, Label]] = []
        seen = set(exclude)
        for _ in range(n * 40):
            if len(picked) >= n:
                break
            i = self._draw(rng, sc)
            if i in seen:
                continue
            lab = self.label(sc, i)
            if lab is not None:
                seen.add(i)
                picked.append((i, lab))
        return picked

    def _examples(self, rng: random.Random, sc: Scenario, exclude: set[int]
                  ) -> tuple[tuple[PromptExample, ...], tuple[Preference, ...]]:
        """Worked examples (the convention's own rows, then ordinary ones, shuffled) and the preferences they keep:
        a convention no example shows is dropped."""
        chosen: list[tuple[int, Label]] = []
        kept = []
        for p in sc.preferences:
            shown = 0
            if not p.text:
                pool = [i for i in self._rule_rows(p) if i not in exclude]
                for i in rng.sample(pool, min(len(pool), rng.choice([1, 2, 3, 3, 5]))):
                    lab = self.label(sc, i)
                    if lab is not None:
                        chosen.append((i, lab))
                        shown += 1
            if p.text or shown:
                kept.append(p)
        plain = Scenario(sc.folder_set, tuple(p for p in sc.preferences if p.text))
        if chosen and self.corrections_only and rng.random() < self.corrections_only:
            n_other = 0  # like a user's corrections: nothing but the conventions' own examples
        else:
            n_other = (rng.randint(0, MAX_PROMPT_EXAMPLES - len(chosen)) if chosen
                       else rng.randint(1, MAX_PROMPT_EXAMPLES))
        taken = exclude | {i for i, _ in chosen}
        chosen += [(i, lab) for i, lab in self._labelled(rng, plain, n_other, taken)
                   if not any(p.applies(self.rows[i], self.cats[i]) for p in sc.preferences if not p.text)]
        rng.shuffle(chosen)
        return tuple(PromptExample(notification_of(self.rows[i]), f, p) for i, (f, p) in chosen), tuple(kept)

    def scenario(self, rng: random.Random) -> tuple[Scenario, bool]:
        """A scenario and whether its batch shows worked examples (a convention only comes with examples)."""
        fs = self.folder_sets.sample(rng)
        names = [f.name for f in fs.folders]
        prefs: list[Preference] = []
        if rng.random() < self.preferences_rate:
            for _ in range(rng.choice(self.rules_per_batch)):
                prefs.append(sample_preference(rng, names, self.app_names, self.senders, self.topics,
                                               names=self.names, priorities=self.rule_priorities))
        with_examples = rng.random() < self.examples_rate
        if with_examples and rng.random() < 0.5:
            counts = self.conventions_per_batch  # drawn only when there is a choice, so (1,) keeps older streams
            for _ in range(rng.choice(counts) if len(counts) > 1 else counts[0]):
                convention = sample_preference(rng, names, self.app_names, self.senders, self.topics, stated=False,
                                               priorities=self.rule_priorities)
                scoped = convention.app and self.app_scopes and self.scoped_conventions
                if scoped and rng.random() < self.scoped_conventions:
                    app = rng.choice(sorted(self.app_scopes))  # one of the apps whose rows span several folders
                    convention = replace(convention, app=app, within=rng.choice(self.app_scopes[app]))
                prefs.append(convention)
            prefs = self._share_folder(rng, prefs)
        return Scenario(fs, tuple(prefs)), with_examples

    def _share_folder(self, rng: random.Random, prefs: list[Preference]) -> list[Preference]:
        """With ``shared_convention_folder``, sometimes every convention that moves rows moves them to the first
        one's folder (drawn only when that rate is set and there are two conventions, so older streams stay)."""
        conventions = [p for p in prefs if not p.text]
        movers = [p.folder for p in conventions if p.folder is not None]
        if not self.shared_convention_folder or len(conventions) < 2 or not movers:
            return prefs
        if rng.random() >= self.shared_convention_folder:
            return prefs
        return [replace(p, folder=movers[0]) if not p.text and p.folder is not None else p for p in prefs]

    def episode(self, step: int, n: int) -> tuple[tuple[Folder, ...], list[tuple[dict, str]], frozenset[str]]:
        """A sampled folder set alone (no preferences, no examples), up to ``n`` rows with their folder under it, and
        the names of its catch-all folders: what the folder reader trains on (``reader.py``). Depends only on
        (seed, step), like :meth:`batch`."""
        rng = random.Random(f"{self.seed}:{step}:episode")
        sc, picked = Scenario(self.folder_sets.sample(rng)), []
        for _attempt in range(20):
            picked = self._labelled(rng, sc, n, set())
            if len(picked) >= 2 and len({f for _, (f, _p) in picked}) >= 2:
                break
            sc = Scenario(self.folder_sets.sample(rng))
        catch_alls = frozenset(spec.folder.name for spec in sc.folder_set.specs if spec.catch_all)
        return sc.folders, [(self.rows[i], f) for i, (f, _p) in picked], catch_alls

    def _letters(self, step: int, n: int) -> str:
        """The codes of a batch's folders; its own random stream, so the rows and labels drawn stay the same."""
        rng = random.Random(f"{self.seed}:{step}:codes")
        if not self.random_codes or rng.random() < 0.5:
            return CODES[:n]
        return "".join(sorted(rng.sample(CODES, n)))

    def batch(self, step: int) -> Batch:
        rng = random.Random(f"{self.seed}:{step}")
        picked: list[tuple[int, Label]] = []
        for _attempt in range(20):
            sc, with_examples = self.scenario(rng)
            picked = self._labelled(rng, sc, self.batch_size, set())
            if len(picked) >= max(2, self.batch_size // 2):
                break
        if with_examples:
            shown, kept = self._examples(rng, sc, {i for i, _ in picked})
            if kept != sc.preferences:  # a convention without examples: relabel the rows without it
                sc = Scenario(sc.folder_set, kept)
                picked = [(i, lab) for i, _ in picked if (lab := self.label(sc, i)) is not None]
            sc = replace(sc, examples=shown)
        names = [f.name for f in sc.folders]
        codes: dict[str, str] = {}  # folder name -> what the answer says instead (with folder_codes)
        if self.folder_codes:
            shown, codes = code_folders(sc.folders, self._letters(step, len(sc.folders)), self.repeat_codes)
            sc = replace(sc, shown_folders=shown, examples=tuple(
                replace(ex, folder=codes[ex.folder]) for ex in sc.examples))
        examples = []
        for i, (f, p) in picked:
            row = self.rows[i]
            if self.inject_rate and rng.random() < self.inject_rate:
                row = inject(row, rng, names, (f, p))  # the label (f, p) comes from the original row
            note = notification_of(row)
            hints = matching_preferences(sc.instructions, note, names) if self.preference_hints else ()
            similar = similar_examples(sc.examples, note) if self.example_hints else ()
            examples.append(self.builder.example(sc, row, codes.get(f, f), p, hints, similar))
        return Batch(scenario=sc, prefix=self.builder.prefix_ids(sc), examples=examples,
                     row_ids=[self.rows[i]["id"] for i, _ in picked])
