"""The user's free-text preferences, as training sees them: a sentence in the prompt and the exact rule behind it.

A ``Preference`` matches rows by app, by sender (a chat title such as "Mom" or "老板", sometimes introduced as "my
colleague Mom"), by a name the title or body mentions (a shop, a project, a person: "Anything mentioning Halvorsen")
or by category, and sets the folder, the priority or both; its sentence says a priority as a number ("priority 3")
or in words ("urgent", "can always wait"), as users write them. A label changes exactly when a rule matches the
row; rows no rule matches keep their label, so preferences are not over-applied. A preference with an empty text is an unstated *convention*: the
user's worked examples show it (``batches.py``) and the evaluated rows follow it too. A convention may be *scoped* to
the rows of an app that the defaults file under one folder (``within``): "Uber's receipts go to Work" leaves Uber's
promotions where they were, as a user's corrections usually mean.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

from .rows import row_app

# How a rule says a priority without its number: "{app} is {pw}", "{app} {pv}", "{app} 的通知都{pw_zh}".
PRIORITY_WORDS = {1: ("low priority", "not urgent", "unimportant"),
                  2: ("medium priority", "worth a look today", "for later today"),
                  3: ("urgent", "top priority", "important right away")}
PRIORITY_VERBS = {1: "can always wait", 2: "can wait until later today", 3: "needs my attention right away"}
PRIORITY_WORDS_ZH = {1: "不急", 2: "今天看就行", 3: "紧急"}
# How a sender rule may introduce the sender ("Anything from my landlord Anna"): who they are is not what matches.
SENDER_ROLES = ("", "", "", "my colleague ", "my friend ", "my landlord ", "my coach ", "my sister ", "my neighbour ",
                "my client ", "my teacher ", "my manager ")

_TEMPLATES = {
    ("app", "priority"): ("Anything from {app} is priority {p}.", "{app} notifications are always priority {p}.",
                          "来自 {app} 的通知一律优先级 {p}。", "Todo lo de {app} es prioridad {p}.",
                          "Treat {app} as {pw} (priority {p}).", "{app} is {pw}.", "{app} {pv}.",
                          "{app} 的通知都{pw_zh}。"),
    ("app", "folder"): ("Put everything from {app} in {folder}.", "{app} notifications go to {folder}.",
                        "{app} 的通知都放进「{folder}」。", "Las notificaciones de {app} van a {folder}."),
    ("app", "both"): ("{app}: always {folder}, priority {p}.", "File {app} under {folder} at priority {p}.",
                      "{app} 的通知放进「{folder}」，优先级 {p}。", "{app} goes in {folder} and is {pw}."),
    ("sender", "priority"): ("Anything from {sender} is priority {p}.", "Messages from {sender} are {pw} ({p}).",
                             "{sender} 发来的消息优先级都是 {p}。", "Los mensajes de {sender} son prioridad {p}.",
                             "Anything from {sender} is {pw}.", "Anything {sender} sends {pv}."),
    ("sender", "folder"): ("Messages from {sender} go to {folder}.", "{sender} 的消息放进「{folder}」。",
                           "Put {sender}'s messages in {folder}."),
    ("sender", "both"): ("Messages from {sender}: {folder}, priority {p}.", "{sender} goes in {folder} and is {pw}."),
    ("mention", "priority"): ("Anything mentioning {kw} is priority {p}.", "Anything about {kw} is {pw}.",
                              "Notifications that mention {kw} {pv}.", "提到 {kw} 的通知优先级都是 {p}。",
                              "Lo que mencione {kw} es prioridad {p}."),
    ("mention", "folder"): ("Anything about {kw} goes in {folder}.", "Put anything mentioning {kw} in {folder}.",
                            "提到 {kw} 的都放进「{folder}」。"),
    ("mention", "both"): ("Anything about {kw}: {folder}, priority {p}.",
                          "Anything mentioning {kw} goes in {folder} and is {pw}."),
    ("category", "folder"): ("{topic}: put those in {folder}.", "I want {topic_lc} in {folder}.",
                             "{topic_zh}都放进「{folder}」。", "Anything about {topic_lc} goes in {folder}."),
    ("category", "priority"): ("{topic} are always priority {p} for me.", "Rate {topic_lc} as priority {p}.",
                               "{topic_zh}一律优先级 {p}。", "Anything about {topic_lc} is {pw}.",
                               "Anything about {topic_lc} {pv}."),
    ("category", "both"): ("{topic}: {folder}, priority {p}.", "Put {topic_lc} in {folder}; they are {pw}."),
}


@dataclass(frozen=True)
class Preference:
    text: str                         # the sentence in the prompt; "" for a convention shown only by examples
    app: Optional[str] = None         # casefolded app name
    sender: Optional[str] = None      # casefolded title of a chat message
    mention: Optional[str] = None     # casefolded name, matched as a whole word in the title or body
    category: Optional[str] = None
    folder: Optional[str] = None
    priority: Optional[int] = None
    within: Optional[str] = None      # only rows whose own default folder is this ("Uber's receipts", not its ads)

    def applies(self, row: dict, category: Optional[str]) -> bool:
        if self.within is not None and row.get("folder") != self.within:
            return False
        if self.app is not None:
            return row_app(row) == self.app
        if self.sender is not None:
            return (row.get("title") or "").strip().casefold() == self.sender
        if self.mention is not None:
            return mentions(row, self.mention)
        return self.category is not None and category == self.category


def _person_like(name: str) -> bool:
    """A chat title that reads as a person's name ("Anna", "Tom Becker"), which a role may introduce."""
    return name.isascii() and name[:1].isupper() and name.replace(" ", "").isalpha()


def mentions(row: dict, name: str) -> bool:
    """Whether the row's title or body has ``name`` (casefolded) as a whole word."""
    text = f"{row.get('title') or ''} {row.get('body') or ''}".casefold()
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text) is not None


def apply_preferences(prefs: Sequence[Preference], row: dict, category: Optional[str]
                      ) -> tuple[Optional[str], Optional[int]]:
    """The folder and priority the rules set for this row (None: no rule says); later rules win."""
    folder = priority = None
    for p in prefs:
        if p.applies(row, category):
            folder = p.folder if p.folder is not None else folder
            priority = p.priority if p.priority is not None else priority
    return folder, priority


def sample_preference(rng: random.Random, folders: Sequence[str], apps: Sequence[str], senders: Sequence[str],
                      categories: Sequence[tuple[str, str, str]], stated: bool = True,
                      names: Sequence[str] = (), priorities: Sequence[int] = (1, 2, 3, 3)) -> Preference:
    """One rule, its priority (drawn from ``priorities``) said as a number or in words. ``apps``/``senders``/``names``
    (names mentioned in rows): display forms; ``categories``: (key, English topic, Chinese topic). Conventions
    (``stated=False``) are never about a mention."""
    kinds = ["app", "app", "category"] + (["sender"] if senders else []) + (["mention"] if names and stated else [])
    by = rng.choice(kinds)
    what = rng.choice(["priority", "priority", "folder", "both"] if by == "app" else ["priority", "folder", "both"])
    p = rng.choice(list(priorities)) if what != "folder" else None
    folder = rng.choice(list(folders)) if what != "priority" else None
    app = sender = category = mention = None
    slots = {"p": p, "pw": rng.choice(PRIORITY_WORDS[p]) if p else "", "pv": PRIORITY_VERBS.get(p, ""),
             "pw_zh": PRIORITY_WORDS_ZH.get(p, ""), "folder": folder}
    if by == "app":
        display = rng.choice(list(apps))
        app, slots["app"] = display.casefold(), display
    elif by == "sender":
        display = rng.choice(list(senders))
        role = rng.choice(SENDER_ROLES) if _person_like(display) else ""
        sender, slots["sender"] = display.casefold(), role + display
    elif by == "mention":
        display = rng.choice(list(names))
        mention, slots["kw"] = display.casefold(), display
    else:
        category, topic, topic_zh = rng.choice(list(categories))
        slots["topic"], slots["topic_lc"], slots["topic_zh"] = topic[0].upper() + topic[1:], topic, topic_zh
    text = rng.choice(_TEMPLATES[(by, what)]).format(**slots) if stated else ""
    return Preference(text=text, app=app, sender=sender, mention=mention, category=category, folder=folder,
                      priority=p)
