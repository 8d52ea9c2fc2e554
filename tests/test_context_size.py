"""The llama.cpp context is sized from the system prompt, the notification token budget and the answer."""

from __future__ import annotations

import pytest

from notifclf import Classifier, Folder, Notification, PromptTooLongError

FULL_BUDGET_NOTE = {"app": "Mail", "title": "long", "body": "word " * 5000}  # far more tokens than any budget
LONG_FOLDERS = [Folder(f"Folder number {i}", "Banking payments and bills " * 7) for i in range(12)]


def needed_tokens(clf: Classifier) -> int:
    """System prompt + notification budget + the end of the user turn + the longest answer, for the current folders."""
    seen = clf.inspect(Notification())
    return len(seen.prefix_tokens) + seen.max_notification_tokens + len(seen.suffix_tokens) + seen.max_answer_tokens


def context_size(clf: Classifier) -> int:
    return clf.inspect(Notification()).context_size


def test_context_grows_with_the_notification_budget_and_stays_far_below_the_models(tiny_qwen2):
    sizes = []
    for budget in (64, 1024):
        with Classifier(tiny_qwen2, max_notification_tokens=budget, progress=False, persist_prompt_states=False) as clf:
            needed, n_ctx = needed_tokens(clf), context_size(clf)
            assert needed <= n_ctx < needed + 1024 < clf.inspect(Notification()).model_context_size == 8192
            assert clf.classify(FULL_BUDGET_NOTE).folder in {f.name for f in clf.folders}
            sizes.append(n_ctx)
    assert sizes[0] < sizes[1]


def test_longer_folder_set_reopens_a_larger_context(tiny_qwen2):
    with Classifier(tiny_qwen2, progress=False, persist_prompt_states=False) as clf:
        before = context_size(clf)
        clf.set_folders(LONG_FOLDERS)
        assert needed_tokens(clf) <= context_size(clf) and context_size(clf) > before
        assert clf.classify(FULL_BUDGET_NOTE).folder in {f.name for f in LONG_FOLDERS}


def test_folder_set_too_long_for_the_model_is_refused_and_the_old_set_kept(tiny_qwen2):
    with Classifier(tiny_qwen2, progress=False, persist_prompt_states=False) as clf:
        folders = clf.folders
        too_long = [Folder(f"Folder number {i}", "d" * 300) for i in range(24)]  # about 8,200 prompt tokens
        with pytest.raises(PromptTooLongError, match=r"system prompt takes \d+ tokens.*more than the model's context of 8192"):
            clf.set_folders(too_long)
        assert clf.folders == folders
        assert clf.classify({"app": "Slack", "title": "hi"}).folder in {f.name for f in folders}
