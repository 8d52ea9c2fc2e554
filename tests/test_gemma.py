"""Gemma 3 270M (the [gemma] extra): its base GGUF carries no chat template, so the runtime and training both fall
back to Gemma's turn format by the file's architecture, and tokenize the prompt the same way."""

from __future__ import annotations

from pathlib import Path

import pytest

from notifclf import Classifier, output_schema
from notifclf.chat_template import GEMMA_TEMPLATE
from notifclf.schema import validate_output

pytestmark = pytest.mark.real_model

NOTE = {"app": "Slack", "title": "Dana (#ops)", "body": "deploy is blocked, can you look now?"}


@pytest.fixture(scope="module")
def gemma_base() -> Path:
    from notifclf.errors import ModelNotFoundError
    from notifclf.models.store import resolve_model

    try:
        return resolve_model("gemma-3-270m-q4_k_m", progress=False).path
    except ModelNotFoundError as exc:
        pytest.skip(f"Gemma 3 270M not installed: {exc}")


def test_a_gemma_file_without_a_template_is_prompted_in_gemma_turns(gemma_base):
    with Classifier(model=str(gemma_base), progress=False) as clf:  # a path: no registry entry names the format
        prompt = clf.inspect(NOTE).prompt
        assert prompt.prefix.startswith("<start_of_turn>user\nYou sort phone notifications")
        assert "<|im_start|>" not in prompt.text
        assert prompt.suffix == "<end_of_turn>\n<start_of_turn>model\n"
        validate_output(clf.classify(NOTE).to_dict(), output_schema(clf.folders))


def test_training_renders_and_tokenizes_gemma_prompts_as_the_runtime_does(gemma_base):
    pytest.importorskip("transformers")
    from convert.train.batches import ExampleBuilder, Scenario
    from convert.train.folder_sets import FolderSet, FolderSpec
    from convert.train.model import bos_ids, eot_ids, load_tokenizer, make_encoder, read_chat_template
    from notifclf.engine.runtime import LlamaRuntime
    from notifclf.folders import DEFAULT_FOLDERS

    assert read_chat_template(gemma_base) == GEMMA_TEMPLATE
    tok = load_tokenizer(gemma_base)
    assert eot_ids(tok) == [tok.convert_tokens_to_ids("<end_of_turn>")]
    builder = ExampleBuilder(read_chat_template(gemma_base), make_encoder(tok), eot_ids(tok), bos_ids=bos_ids(tok))
    sc = Scenario(FolderSet(tuple(FolderSpec(f) for f in DEFAULT_FOLDERS), "test"), (), ())
    row = {"id": "g", "app_name": NOTE["app"], "title": NOTE["title"], "body": NOTE["body"], "folder": "Work",
           "priority": 3}
    pieces = builder.pieces(sc, row)
    rt = LlamaRuntime(gemma_base, n_threads=1)
    try:
        assert builder.prefix_ids(sc) == rt.tokenize(pieces.prefix, special=True, add_bos=True)
        user, suffix = rt.tokenize_data(pieces.user), rt.tokenize(pieces.suffix, special=True)
        ex = builder.example(sc, row, "Work", 3)
        assert ex.ids[: len(user) + len(suffix)] == user + suffix
        assert ex.ids[-1] == tok.convert_tokens_to_ids("<end_of_turn>")
    finally:
        rt.close()
