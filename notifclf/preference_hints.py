"""Which of the user's preferences may apply to a notification, by the words they share (issue 12).

A small model reads a rule in the system prompt hundreds of tokens before the notification, among five others, and
mostly does not apply it. For a model trained with them (GGUF metadata :data:`PREFERENCE_HINTS_KEY`), the user turn
repeats, after the notification's fields (right before the answer; a long notification is cut before it, never the
hint), the few rules that share a word with it::

    preferences that may apply: ["Put everything from Venmo in Personal."]

The match is lexical and generous on purpose: a rule is shown when one of its content words (not a function word, a
folder name or a priority word; plurals folded; Chinese by two-character pieces) occurs in the notification's app,
title, sub-text or body. The model still decides whether the rule applies (another Renata, GitLab next to a GitHub
rule): training shows rules that share a word and do not apply. The rules stay in the system prompt as well, so a
rule no word links to (a topic rule: "anything about my car" for a recall notice) is read as before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from .notification import Notification

PREFERENCE_HINTS_KEY = "notifclf.preference_hints"  # GGUF metadata: "yes" when the model was trained with hints
MAX_HINTS = 3          # rules shown per notification, in the order the user wrote them
MAX_HINT_CHARS = 200   # each rule's text as shown (the system prompt keeps it whole)
MAX_HINT_TOKENS = 128  # tokens of all that follows the notification (this line, example_hints' line), at most
HINT_LABEL = "preferences that may apply"

_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]{2,}")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])")

# Words any rule may use that say nothing about which notifications it is about.
_FUNCTION_WORDS = frozenset("""
the and for from with about into onto that this these those their there then than them they you your yours mine
are was were been being has have had not but all any every anything everything something nothing always never
should would could can will just only also even very more most less least each other others such what when where
which who whom whose how why its it's our ours his her hers him she he me my myself us we
put goes go going file filed place send sent move keep treat mark rate rated make count set want like
notification notifications message messages msg mail mails email emails alert alerts thing things stuff item items
priority priorities urgent important importance low medium high top level right away now later today tonight
attention needs need wait waits look worth unimportant matter matters folder folders label
del las los para por que con una uno todo toda todos todas prioridad van siempre
""".split())
_CJK_FUNCTION_PIECES = frozenset(["通知", "消息", "一律", "优先", "先级", "都是", "都放", "放进", "来自", "发来", "来的",
                                  "的消", "的通", "知都", "息优", "紧急", "不急", "今天", "天看", "看就", "就行"])


def _fold(word: str) -> str:
    word = word.casefold()
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _cjk_pieces(text: str) -> set[str]:
    """The text's Chinese two-character pieces, without those any rule may use (通知, 优先...)."""
    return {run[i: i + 2] for run in _CJK_RUN.findall(text) for i in range(len(run) - 1)} - _CJK_FUNCTION_PIECES


def rule_sentences(instructions: str) -> list[str]:
    """The user's preferences one rule each: their lines, split further at sentence ends."""
    return [s.strip() for line in instructions.splitlines() for s in _SENTENCE_END.split(line) if s.strip()]


def content_words(text: str, ignored: frozenset[str] = frozenset()) -> set[str]:
    """The text's words of 3+ letters, casefolded, plurals folded, without function words and ``ignored``."""
    return {_fold(w) for w in _WORD.findall(text)} - _FUNCTION_WORDS - ignored


def notification_text(notification: Notification) -> str:
    """The fields a hint is matched against: app, title, sub-text and body."""
    return " ".join((notification.app, notification.title, notification.sub_text, notification.body))


@lru_cache(maxsize=16)
def rule_keys(instructions: str, folder_names: tuple[str, ...]
              ) -> tuple[tuple[str, frozenset[str], frozenset[str]], ...]:
    """Each rule with the content words and Chinese pieces a notification is matched on (``folder_names`` are not
    content words): computed once per set of preferences, not per notification."""
    ignored = frozenset(_fold(w) for name in folder_names for w in _WORD.findall(name))
    return tuple((rule, frozenset(content_words(rule, ignored)), frozenset(_cjk_pieces(rule)))
                 for rule in rule_sentences(instructions))


def matching_preferences(instructions: str, notification: Notification, folder_names: Iterable[str] = ()
                         ) -> tuple[str, ...]:
    """The rules of ``instructions`` (at most :data:`MAX_HINTS`, each cut to :data:`MAX_HINT_CHARS`) that share a
    content word with the notification; ``folder_names`` are not content words (every rule names a folder)."""
    return tuple(rule[:MAX_HINT_CHARS] for rule in matching_rules(instructions, notification, folder_names)[:MAX_HINTS])


def matching_rules(instructions: str, notification: Notification, folder_names: Iterable[str] = ()
                   ) -> tuple[str, ...]:
    """Every rule of ``instructions`` that shares a content word (or a Chinese piece) with the notification, whole and
    in the order the user wrote them."""
    if not instructions:
        return ()
    text = notification_text(notification)
    words = content_words(text)
    return tuple(rule for rule, keys, pieces in rule_keys(instructions, tuple(folder_names))
                 if keys & words or any(p in text for p in pieces))


def hint_line(hints: Sequence[str]) -> str:
    """The line that ends the user turn ("" for no hints): the rules as a JSON list, so none can forge a field."""
    return f"{HINT_LABEL}: {json.dumps(list(hints), ensure_ascii=False)}" if hints else ""
