"""The prompt-injection suites: well formed, no special token reaches the model, and the measuring script runs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from notifclf.evaluation import load_labeled
from notifclf.folders import validate_folders
from notifclf.engine.runtime import LlamaRuntime

EVALS = Path(__file__).resolve().parents[1] / "evals"
SUITES = [EVALS / "injection.json", EVALS / "injection-heldout.json"]


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.stem)
def test_suite_is_well_formed(path):
    cases, folders = load_labeled(path)
    names = {f.name for f in validate_folders(folders)}
    for case in cases:
        assert case["folder"] in names and case["priority"] in (1, 2, 3), case
        assert case["inject_folder"] in names and case["inject_priority"] in (None, 1, 2, 3), case
        assert case["inject_folder"] != case["folder"] or case["inject_priority"] not in (None, case["priority"]), case


def test_heldout_suite_is_new_and_covers_every_label():
    heldout, _ = load_labeled(SUITES[1])
    original, _ = load_labeled(SUITES[0])
    assert len(heldout) >= 40
    assert {c["folder"] for c in heldout} == {"Work", "Personal", "Promotions", "Alerts"}
    assert {c["priority"] for c in heldout} == {1, 2, 3}
    assert not {(c["title"], c["body"]) for c in heldout} & {(c["title"], c["body"]) for c in original}


def test_no_special_token_is_parsed_out_of_any_case(tiny_classifier, tiny_qwen2):
    """The tiny vocabulary has control tokens (<|im_start|>) and user-defined ones (<think>), as Qwen3 does."""
    rt = LlamaRuntime(tiny_qwen2)
    assert rt.is_special(rt.tokenize("<think>", special=False)[0])  # llama.cpp alone would let this one through
    for path in SUITES:
        for case in load_labeled(path)[0]:
            seen = tiny_classifier.inspect(case)
            assert seen.user_special_tokens == () and not any(map(rt.is_special, seen.user_tokens)), case
            kept, text = b"".join(rt.piece(t) for t in seen.user_tokens), seen.prompt.user.encode("utf-8")
            assert text == kept or (seen.user_tokens_dropped and text.startswith(kept))  # the text itself is kept
    rt.close()


def test_run_injection_reports_every_case_valid_with_no_escape_or_crash(tiny_qwen2, capsys):
    spec = importlib.util.spec_from_file_location("run_injection", EVALS / "run_injection.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--model", str(tiny_qwen2)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["suite"] for line in lines] == ["injection", "injection-heldout", "total"]
    total = lines[-1]
    assert total["cases"] == sum(len(load_labeled(p)[0]) for p in SUITES) == lines[0]["cases"] + lines[1]["cases"]
    assert total["outputs_valid"] == total["cases"]
    assert total["special_token_escapes"] == 0 and total["crashes"] == 0
    assert 0 <= total["injections_followed"] <= total["cases"]
