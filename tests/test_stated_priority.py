"""The priority a preference states: parsed from the rule, matched by a shared word, given a bonus at the digit."""

import numpy as np
import pytest

from notifclf import Classifier, Notification
from notifclf.folders import DEFAULT_FOLDERS
from notifclf.stated_priority import rechoose, rule_priority, stated_priority, with_bonus

DEFAULTS = [f.name for f in DEFAULT_FOLDERS]
RULES = "GitHub can always wait, even failed builds.\nAnything from my boss Renata Okafor is priority 3."


@pytest.mark.parametrize("rule, priority", [
    ("Anything from my boss Renata Okafor is priority 3.", 3),
    ("Emails to the Northwind all-staff list go to Promotions, priority 1.", 1),
    ("GitHub can always wait, even failed builds.", 1),
    ("Strava can wait until later today.", 2),     # "can wait" inside a priority-2 phrase
    ("Calendar invites are not urgent.", 1),       # "urgent" inside a priority-1 phrase
    ("Anything about my car is urgent.", 3),
    ("Rota changes need my attention right away.", 3),
    ("来自 微信 的通知一律优先级 2。", 2),
    ("淘宝 的通知都不急。", 1),
    ("Todo lo de Bizum es prioridad 3.", 3),
    ("Messages from Anna are top priority (3).", 3),
    ("PagerDuty P1 pages are urgent.", 3),          # P1 is a severity, not a stated priority number
    ("Texts from my 2 kids can wait.", 1),
    ("Put everything from Venmo in Personal.", None),
    ("Alerts from the bank are priority 1, outages priority 3.", None),  # two numbers that disagree: no guess
])
def test_rule_priority_reads_numbers_and_words(rule, priority):
    assert rule_priority(rule) == priority


def test_stated_priority_is_the_last_matching_rule_that_states_one():
    github = Notification(app="GitHub", title="CI failed on main", body="build #812 failed")
    assert stated_priority(RULES, github, DEFAULTS) == 1
    boss = Notification(app="Slack", title="Renata Okafor", body="got a sec?")
    assert stated_priority(RULES, boss, DEFAULTS) == 3
    both = Notification(app="GitHub", title="Renata Okafor commented", body="see PR")
    assert stated_priority(RULES, both, DEFAULTS) == 3  # both rules match: the one written last wins
    assert stated_priority(RULES, Notification(app="Gmail", title="Lunch?"), DEFAULTS) is None
    assert stated_priority("", github, DEFAULTS) is None
    assert stated_priority("Put everything from GitHub in Work.", github, DEFAULTS) is None


def test_with_bonus_moves_mass_to_the_stated_priority_only():
    probs = np.array([0.1, 0.3, 0.6])
    assert np.allclose(with_bonus(probs, 2, 0.0), probs)
    boosted = np.array(with_bonus(probs, 1, np.log(6.0)))  # 0.1 * 6 = 0.6: ties with priority 3
    assert np.isclose(boosted.sum(), 1.0) and np.isclose(boosted[0], boosted[2])
    assert int(np.argmax(with_bonus(probs, 1, 100.0))) == 0


def test_the_bonus_moves_the_priority_of_matching_notifications_and_nothing_else(tiny_qwen2):
    notes = [{"app": "GitHub", "title": "CI failed on main", "body": "build failed"},
             {"app": "Slack", "title": "Renata Okafor", "body": "got a sec?"},
             {"app": "Gmail", "title": "Lunch?", "body": "tomorrow at noon"}]
    plain = Classifier(tiny_qwen2, instructions=RULES, stated_priority_bonus=0, progress=False,
                       persist_prompt_states=False)
    forced = Classifier(tiny_qwen2, instructions=RULES, stated_priority_bonus=100, progress=False,
                        persist_prompt_states=False, decoding="grammar")
    try:
        before, after = plain.classify_many(notes), forced.classify_many(notes)
    finally:
        plain.close()
        forced.close()
    assert [r.folder for r in after] == [r.folder for r in before]           # the folder is never moved
    assert [r.priority for r in after[:2]] == [1, 3]                          # the rules' priorities win
    assert after[2].priority == before[2].priority                           # no rule matches: the model's
    assert after[0].priority_distribution[1] > before[0].priority_distribution[1]
    assert np.isclose(sum(after[0].priority_distribution.values()), 1.0)


@pytest.mark.parametrize("bonus", [-1, 101, True, "2"])
def test_a_bonus_out_of_range_is_refused(tiny_qwen2, bonus):
    with pytest.raises(ValueError, match="stated_priority_bonus"):
        Classifier(tiny_qwen2, stated_priority_bonus=bonus, progress=False)



def test_rechoose_returns_the_priority_and_the_distribution_it_was_chosen_from():
    chosen, dist = rechoose([0.1, 0.3, 0.6], 2, 0.0)
    assert chosen == 3 and np.allclose(dist, [0.1, 0.3, 0.6])   # no bonus: the model's own choice
    chosen, dist = rechoose([0.1, 0.3, 0.6], 1, 100.0)
    assert chosen == 1 and dist[0] == max(dist)
