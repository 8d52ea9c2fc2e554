"""Preferences change a label exactly when their rule matches the row."""

from __future__ import annotations

import random

from convert.train.preferences import (PRIORITY_VERBS, PRIORITY_WORDS, PRIORITY_WORDS_ZH, Preference,
                                       apply_preferences, sample_preference)

from .fixtures import ROWS

MOM = ROWS[9]      # Telegram, title "Mom"
ZARA = ROWS[6]


def test_rules_match_by_app_sender_or_category_only():
    assert Preference("x", app="zara", priority=3).applies(ZARA, "fashion_promo")
    assert not Preference("x", app="zara", priority=3).applies(MOM, "family_chat")
    assert Preference("x", sender="mom", folder="Family").applies(MOM, "family_chat")
    assert not Preference("x", sender="mom", folder="Family").applies(dict(MOM, title="Mommy blog"), None)
    assert Preference("x", category="fashion_promo", folder="F").applies(ZARA, "fashion_promo")
    assert not Preference("x", category="fashion_promo", folder="F").applies(ZARA, None)


def test_a_scoped_rule_touches_only_the_rows_the_defaults_file_under_its_folder():
    receipts = Preference("", app="zara", folder="Work", within="Alerts")
    assert receipts.applies(dict(ZARA, folder="Alerts"), "fashion_promo")
    assert not receipts.applies(ZARA, "fashion_promo")                     # Zara's ads (Promotions) stay
    assert not receipts.applies(dict(MOM, folder="Alerts"), "family_chat")  # another app, same folder


def test_later_rules_win_and_unmatched_rows_are_unchanged():
    prefs = (Preference("a", app="zara", priority=3), Preference("b", category="fashion_promo", folder="Style"),
             Preference("c", app="zara", priority=1))
    assert apply_preferences(prefs, ZARA, "fashion_promo") == ("Style", 1)
    assert apply_preferences(prefs, MOM, "family_chat") == (None, None)


def test_sampled_preferences_say_what_they_do():
    rng = random.Random(0)
    apps, senders = ["Zara", "Uber Eats"], ["Mom", "老板"]
    topics = [("weather", "weather forecasts", "天气预报")]
    seen_kinds, said = set(), set()
    for _ in range(600):
        p = sample_preference(rng, ["Family", "Kiwi"], apps, senders, topics)
        assert p.text and (p.folder is not None or p.priority is not None)
        if p.folder is not None:
            assert p.folder in p.text
        if p.priority is not None:
            in_words = (*PRIORITY_WORDS[p.priority], PRIORITY_VERBS[p.priority], PRIORITY_WORDS_ZH[p.priority])
            by_number = str(p.priority) in p.text
            assert by_number or any(w in p.text for w in in_words), p.text
            said.add((p.priority, by_number))
        if p.app is not None:
            assert p.app in {a.casefold() for a in apps}
            assert any(a in p.text for a in apps)
        if p.sender is not None:
            assert any(s in p.text for s in senders)
        seen_kinds.add((p.app is not None, p.sender is not None, p.category is not None))
        assert sample_preference(random.Random(1), ["F"], apps, senders, topics, stated=False).text == ""
    assert len(seen_kinds) == 3
    assert said == {(p, by_number) for p in (1, 2, 3) for by_number in (True, False)}  # numbers and words, all three


def test_a_mention_rule_matches_the_name_as_a_whole_word_in_the_title_or_body():
    rule = Preference("Anything mentioning Halvorsen is urgent.", mention="halvorsen", priority=3)
    assert rule.applies(dict(ZARA, body="Halvorsen approved the invoice"), None)
    assert rule.applies(dict(ZARA, title="Re: HALVORSEN contract"), None)
    assert not rule.applies(dict(ZARA, body="the Halvorsens' party"), None)
    assert not rule.applies(dict(ZARA, app_name="Halvorsen"), None)           # an app of that name is not a mention


def test_mention_rules_name_what_they_match_and_conventions_are_never_mentions():
    rng = random.Random(3)
    sampled = [sample_preference(rng, ["Family"], ["Zara"], ["Mom"], [("weather", "weather", "天气")],
                                 names=["Halvorsen"]) for _ in range(300)]
    mentions = [p for p in sampled if p.mention is not None]
    assert len(mentions) > 30 and all(p.mention == "halvorsen" and "Halvorsen" in p.text for p in mentions)
    hidden = [sample_preference(rng, ["Family"], ["Zara"], ["Mom"], [("weather", "weather", "天气")], stated=False,
                                names=["Halvorsen"]) for _ in range(100)]
    assert not any(p.mention for p in hidden)
