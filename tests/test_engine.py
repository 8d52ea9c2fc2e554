"""The engine directly, on a tiny real model: a prompt setup's worked examples are part of its cached state."""

from __future__ import annotations

from notifclf.engine import Engine, PromptSetup
from notifclf.folders import DEFAULT_FOLDERS
from notifclf.notification import Notification
from notifclf.prompt import PromptExample


def test_worked_examples_change_the_prompt_state_and_never_share_results(tiny_qwen2, tmp_path):
    engine = Engine(tiny_qwen2, chat_format="chatml", n_threads=1, max_notification_tokens=64, decoding="fast",
                    result_cache_size=16, prompt_states=None)
    note = Notification(app="Chase", title="Payment received")
    plain = PromptSetup(DEFAULT_FOLDERS)
    taught = PromptSetup(DEFAULT_FOLDERS, examples=(PromptExample(note, "Work", 3),))
    assert plain == PromptSetup(DEFAULT_FOLDERS, "", ())  # examples default to none
    shown = engine.inspect(taught, note).prompt.prefix
    assert "sorted themselves" in shown and shown != engine.inspect(plain, note).prompt.prefix
    first = engine.classify(plain, [note])
    engine.classify(taught, [note])
    assert engine.counts.cached == 0  # the same notification under another setup is decoded again
    assert engine.classify(plain, [note]) == first and engine.counts.cached == 1
    engine.close()


def test_runtime_metadata_reads_short_and_long_values_whole(tiny_qwen3):
    from notifclf.engine.runtime import LlamaRuntime

    rt = LlamaRuntime(tiny_qwen3, n_threads=1)
    try:
        assert rt.metadata("general.architecture") == "qwen3"
        template = rt.chat_template()
        assert template is not None and len(template) > 256  # longer than the first read's buffer
        assert rt.metadata("tokenizer.chat_template") == template
        assert rt.metadata("no.such.key") is None
    finally:
        rt.close()
