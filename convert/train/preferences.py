"""The user's free-text preferences, as training sees them: a sentence in the prompt and the exact rule behind it.

A ``Preference`` matches rows by app, by sender (a chat title such as "Mom" or "老板") or by category, and sets the
folder, the priority or both; its sentence says a priority as a number ("priority 3") or in words ("urgent", "can
always wait"), as users write them. A label changes exactly when a rule matches the row; rows no rule matches keep
their label, so preferences are not over-applied. A preference with an empty text is an unstated *convention*: the
user's worked examples show it (``batches.py``) and the evaluated rows follow it too. A convention may be *scoped* to
the rows of an app that the defaults file under one folder (``within``): "Uber's receipts go to Work" leaves Uber's
promotions where they were, as a user's corrections usually mean.
"""

from __future__ import annotations

import random
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
        return self.category is not None and category == self.category


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
                      categories: Sequence[tuple[str, str, str]], stated: bool = True) -> Preference:
    """One rule, its priority said as a number or in words. ``apps``/``senders``: display names; ``categories``:
    (key, English topic, Chinese topic)."""
    by = rng.choice(["app", "app", "sender", "category"] if senders else ["app", "app", "category"])
    what = rng.choice(["priority", "priority", "folder", "both"] if by == "app" else ["priority", "folder", "both"])
    p = rng.choice([1, 2, 3, 3]) if what != "folder" else None
    folder = rng.choice(list(folders)) if what != "priority" else None
    app = sender = category = None
    slots = {"p": p, "pw": rng.choice(PRIORITY_WORDS[p]) if p else "", "pv": PRIORITY_VERBS.get(p, ""),
             "pw_zh": PRIORITY_WORDS_ZH.get(p, ""), "folder": folder}
    if by == "app":
        display = rng.choice(list(apps))
        app, slots["app"] = display.casefold(), display
    elif by == "sender":
        display = rng.choice(list(senders))
        sender, slots["sender"] = display.casefold(), display
    else:
        category, topic, topic_zh = rng.choice(list(categories))
        slots["topic"], slots["topic_lc"], slots["topic_zh"] = topic[0].upper() + topic[1:], topic, topic_zh
    text = rng.choice(_TEMPLATES[(by, what)]).format(**slots) if stated else ""
    return Preference(text=text, app=app, sender=sender, category=category, folder=folder, priority=p)
