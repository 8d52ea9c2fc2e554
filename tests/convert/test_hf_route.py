"""HF safetensors base -> merged F32 GGUF, checked against llama.cpp and an independent numpy forward pass."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import pytest
from conftest import PROMPT, assert_close_logits, llama, llama_logits
from numpy_reference import forward
from tiny_hf import CHAT_TEMPLATE, TinyModel, make_adapter, make_hf_model, merged_weights

from convert.build import build_model
from convert.manifest import manifest_path, verify


def _field(reader: gguf.GGUFReader, key: str):  # type: ignore[no-untyped-def]
    return reader.get_field(key).contents()


@pytest.mark.parametrize("arch", ["qwen2", "qwen3"])
def test_merged_f32_logits_match_numpy_reference(arch: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    model: TinyModel = request.getfixturevalue("qwen2_bf16" if arch == "qwen2" else "qwen3_f16_sharded")
    adapter = make_adapter(tmp_path / "ad", model.config, r=4, alpha=8, seed=31, b_scale=0.2)
    out = build_model(model.path, adapter.path, tmp_path / "m.gguf", "F32", progress=False)

    got = llama_logits(out, PROMPT)
    want = forward(model.config, merged_weights(model.weights, adapter), PROMPT)
    unmerged = forward(model.config, merged_weights(model.weights, None), PROMPT)
    assert np.abs(want - unmerged).max() > 100 * 2e-5 * np.abs(want).max()  # the adapter matters
    assert_close_logits(got, want)
    assert verify(out)["quant"] == "F32"


def test_zero_adapter_output_is_bit_identical_to_the_base(qwen2_bf16: TinyModel, qwen2_zero_adapter, tmp_path: Path) -> None:
    out = build_model(qwen2_bf16.path, qwen2_zero_adapter.path, tmp_path / "z.gguf", "F32", progress=False)
    reader = gguf.GGUFReader(out)
    names = {t.name: t for t in reader.tensors}
    assert "output.weight" not in names  # tied embeddings stay tied
    hf_to_gguf = {
        "model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
    }
    for i in range(qwen2_bf16.n_layers):
        for hf, gg in [("input_layernorm", "attn_norm"), ("post_attention_layernorm", "ffn_norm"),
                       ("self_attn.q_proj", "attn_q"), ("self_attn.k_proj", "attn_k"), ("self_attn.v_proj", "attn_v"),
                       ("self_attn.o_proj", "attn_output"), ("mlp.gate_proj", "ffn_gate"), ("mlp.up_proj", "ffn_up"),
                       ("mlp.down_proj", "ffn_down")]:
            hf_to_gguf[f"model.layers.{i}.{hf}.weight"] = f"blk.{i}.{gg}.weight"
        for n in "qkv":
            hf_to_gguf[f"model.layers.{i}.self_attn.{n}_proj.bias"] = f"blk.{i}.attn_{n}.bias"
    assert set(hf_to_gguf.values()) == set(names)
    for hf, gg in hf_to_gguf.items():
        t = names[gg]
        assert t.tensor_type == gguf.GGMLQuantizationType.F32
        np.testing.assert_array_equal(np.asarray(t.data).reshape(qwen2_bf16.weights[hf].shape), qwen2_bf16.weights[hf])
    assert_close_logits(llama_logits(out, PROMPT), forward(qwen2_bf16.config, merged_weights(qwen2_bf16.weights, None), PROMPT))


@pytest.mark.parametrize("variant", ["rank_alpha_patterns", "rslora_unprefixed", "named_adapter_bf16", "layers_to_transform"])
def test_peft_adapter_variants_merge_exactly(variant: str, qwen2_bf16: TinyModel, tmp_path: Path) -> None:
    """rank_pattern/alpha_pattern, rsLoRA, keys without ``base_model.model.``, ``lora_A.default`` names, bf16,
    layers_to_transform."""
    if variant == "rank_alpha_patterns":
        ad = make_adapter(tmp_path / "ad", qwen2_bf16.config, targets=["q_proj", "v_proj", "down_proj"], seed=40, b_scale=0.2,
                          rank_pattern={"down_proj": 2, r"layers\.1\.self_attn\.q_proj": 6}, alpha_pattern={"v_proj": 3.0})
        assert {a.shape[0] for a, _, _ in ad.loras.values()} == {2, 4, 6}
    elif variant == "rslora_unprefixed":
        ad = make_adapter(tmp_path / "ad", qwen2_bf16.config, prefix="", use_rslora=True, seed=41, b_scale=0.2)
    elif variant == "named_adapter_bf16":
        ad = make_adapter(tmp_path / "ad", qwen2_bf16.config, dtype="bf16", adapter_name="default", seed=42, b_scale=0.2)
    else:
        ad = make_adapter(tmp_path / "ad", qwen2_bf16.config, layers=[1], seed=43, b_scale=0.2)
        assert {m.split(".")[2] for m in ad.loras} == {"1"}
    out = build_model(qwen2_bf16.path, ad.path, tmp_path / "m.gguf", "F32", progress=False)
    assert_close_logits(llama_logits(out, PROMPT), forward(qwen2_bf16.config, merged_weights(qwen2_bf16.weights, ad), PROMPT))


def test_tokenizer_and_chat_template_are_carried_over(qwen2_bf16: TinyModel, qwen2_zero_adapter, tmp_path: Path) -> None:
    out = build_model(qwen2_bf16.path, qwen2_zero_adapter.path, tmp_path / "t.gguf", "F32", progress=False)
    r = gguf.GGUFReader(out)
    assert _field(r, "tokenizer.ggml.model") == "gpt2"
    assert _field(r, "tokenizer.ggml.pre") == "qwen2"
    assert _field(r, "tokenizer.chat_template") == CHAT_TEMPLATE
    assert _field(r, "tokenizer.ggml.eos_token_id") == qwen2_bf16.specials["<|im_end|>"]
    assert _field(r, "tokenizer.ggml.padding_token_id") == qwen2_bf16.specials["<|endoftext|>"]
    assert _field(r, "tokenizer.ggml.add_bos_token") is False
    tokens, types = _field(r, "tokenizer.ggml.tokens"), _field(r, "tokenizer.ggml.token_type")
    assert len(tokens) == len(types) == qwen2_bf16.config["vocab_size"]
    for tok, i in qwen2_bf16.specials.items():
        assert tokens[i] == tok and types[i] == gguf.TokenType.CONTROL
    assert tokens[-1].startswith("[PAD") and types[-1] == gguf.TokenType.UNUSED
    assert _field(r, "qwen2.context_length") == 512 and _field(r, "qwen2.attention.head_count_kv") == 2

    tokenizers = pytest.importorskip("tokenizers")
    hf = tokenizers.Tokenizer.from_file(str(qwen2_bf16.path / "tokenizer.json"))
    texts = ["Your order shipped!", "Payment received from Chase, 10:30 today.", "we're   going\n\nout; I'll call",
             "<|im_start|>user\nhello<|im_end|>", "naïve café — 123456"]
    with llama(out) as llm:
        for text in texts:
            ids = llm.tokenize(text.encode(), add_bos=False, special=True)
            assert ids == hf.encode(text, add_special_tokens=False).ids, text
            assert llm.detokenize(ids, special=True).decode() == text


def test_qwen3_head_dim_and_lm_head_are_written(qwen3_f16_sharded: TinyModel, tmp_path: Path) -> None:
    ad = make_adapter(tmp_path / "ad", qwen3_f16_sharded.config, targets=["q_proj", "o_proj"], seed=50)
    out = build_model(qwen3_f16_sharded.path, ad.path, tmp_path / "q3.gguf", "F32", progress=False)
    r = gguf.GGUFReader(out)
    assert _field(r, "general.architecture") == "qwen3"
    assert _field(r, "qwen3.attention.key_length") == 32 == _field(r, "qwen3.attention.value_length")
    names = {t.name for t in r.tensors}
    assert {"output.weight", "blk.0.attn_q_norm.weight", "blk.1.attn_k_norm.weight"} <= names
    assert manifest_path(out).is_file()


def test_sharded_checkpoint_with_missing_shard_is_rejected(tmp_path: Path) -> None:
    from convert.errors import BaseModelError

    m = make_hf_model(tmp_path / "m", "qwen2", shards=2, seed=3)
    next(m.path.glob("model-00002-*.safetensors")).unlink()
    ad = make_adapter(tmp_path / "ad", m.config)
    with pytest.raises(BaseModelError, match="missing"):
        build_model(m.path, ad.path, tmp_path / "x.gguf", "F32", progress=False)
    assert not (tmp_path / "x.gguf").exists()


def test_hub_repo_id_is_fetched_with_huggingface_hub(qwen2_bf16: TinyModel, qwen2_adapter, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    calls = []

    def fake_snapshot_download(repo_id: str, allow_patterns: list[str]) -> str:
        calls.append((repo_id, allow_patterns))
        return str(qwen2_bf16.path)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    out = build_model("Qwen/Tiny-Test", qwen2_adapter.path, tmp_path / "hub.gguf", "F32", progress=False)
    assert calls and calls[0][0] == "Qwen/Tiny-Test" and "*.safetensors" in calls[0][1]
    assert verify(out)["base"]["source"] == "Qwen/Tiny-Test"
    assert_close_logits(llama_logits(out, PROMPT), forward(qwen2_bf16.config, merged_weights(qwen2_bf16.weights, qwen2_adapter), PROMPT))
