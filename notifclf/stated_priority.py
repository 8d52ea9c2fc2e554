"""The priority a user's preference states, given weight where the rule may apply (issue 12).

A small model reads "GitHub can always wait, even failed builds" and still rates a failed build 3: the rule is read,
and outweighed by urgent content. Where a rule shares a word with the notification
(:func:`notifclf.preference_hints.matching_rules`, the same generous lexical match the preference hints use) and
states a priority, as a number ("priority 3", "prioridad 1", "优先级 3") or in words ("urgent", "can always wait",
"worth a look today", "不急"), that priority gets a bonus in log space over the model's own distribution of the
priority digit (the last choice of the answer, so the folder is never touched). The model's distribution keeps a say:
the bonus is bounded (:data:`STATED_PRIORITY_BONUS`, chosen on notifications of the dev split under rules sampled as
training writes them, never on the evaluation suites: ``evals/choose_priority_bonus.py``), so a rule that only shares
a word (another Okafor than the boss) moves a priority the model was unsure of, not one it was sure of. When several
matching rules state a priority, the last one the user wrote wins, as for labels in training.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from .notification import Notification
from .preference_hints import matching_rules, rule_sentences

# log-space bonus for the stated priority (evals/choose_priority_bonus.py; 0 turns it off)
STATED_PRIORITY_BONUS = 0.5
MAX_STATED_PRIORITY_BONUS = 100  # far past any model's confidence: the stated priority forced


def checked_bonus(value: object) -> float:
    """``value`` as a bonus, or ValueError: a number from 0 to :data:`MAX_STATED_PRIORITY_BONUS` (not a bool, not NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_STATED_PRIORITY_BONUS:
        raise ValueError(f"stated_priority_bonus must be a number from 0 to {MAX_STATED_PRIORITY_BONUS}, got {value!r}")
    return float(value)

# Only a number that follows a word for priority: "P1 incidents are urgent" or "my 3 kids" state no number.
_NUMBERED = re.compile(r"(?:priority|prioridad|priorité|priorität|prioridade|优先级(?:为|是)?)\s*:?\s*([123])(?!\d)",
                       re.IGNORECASE)
# Checked in this order: "can wait until later today" is 2, not "can wait"; "not urgent" is 1, not "urgent".
_WORDED: tuple[tuple[int, re.Pattern[str]], ...] = tuple((p, re.compile(w, re.IGNORECASE)) for p, w in (
    (2, r"later today|worth a look|medium priority|normal priority|check (?:it |them )?today|今天看|para hoy"),
    (1, r"can (?:always )?wait|low priority|not urgent|never urgent|unimportant|not important|no rush|不急|不重要"
        r"|puede esperar|no es urgente|baja prioridad"),
    (3, r"urgent|top priority|high priority|right away|immediately|asap|straight away|at once|紧急|马上|立刻"
        r"|urgente|alta prioridad|de inmediato"),
))


def rule_priority(rule: str) -> int | None:
    """The priority one rule states (None when it states none, or numbers that disagree)."""
    numbers = {int(m.group(1)) for m in _NUMBERED.finditer(rule)}
    if numbers:
        return numbers.pop() if len(numbers) == 1 else None
    for priority, pattern in _WORDED:
        if pattern.search(rule):
            return priority
    return None


@lru_cache(maxsize=16)
def priority_rules(instructions: str) -> tuple[tuple[str, int], ...]:
    """The user's rules that state a priority, with it, in the order written."""
    return tuple((rule, p) for rule in rule_sentences(instructions) if (p := rule_priority(rule)) is not None)


def stated_priority(instructions: str, notification: Notification, folder_names: Iterable[str] = ()) -> int | None:
    """The priority stated by the last rule that shares a word with the notification and states one, or None."""
    rules = priority_rules(instructions)
    if not rules:
        return None
    shared = set(matching_rules(instructions, notification, folder_names))
    stated = [priority for rule, priority in rules if rule in shared]
    return stated[-1] if stated else None


def with_bonus(probs: Sequence[float], priority: int, bonus: float) -> list[float]:
    """P(priority 1, 2, 3) times exp(``bonus``) for ``priority``, renormalised."""
    logp = [math.log(max(float(p), 1e-12)) + (bonus if level == priority else 0.0)
            for level, p in enumerate(probs, start=1)]
    top = max(logp)
    fused = [math.exp(x - top) for x in logp]
    return [x / sum(fused) for x in fused]


def rechoose(probs: Sequence[float], priority: int, bonus: float) -> tuple[int, list[float]]:
    """The priority (1-3) chosen from ``probs`` with ``bonus`` on ``priority`` (ties: the lower), and that distribution."""
    fused = with_bonus(probs, priority, bonus)
    return fused.index(max(fused)) + 1, fused
