"""Quantized GGUF base -> dequantize -> merge -> GGUF (the route the default model takes)."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import pytest
from conftest import PROMPT, assert_close_logits, greedy_tokens, llama_logits
from gguf.quants import dequantize
from numpy_reference import forward
from tiny_hf import TinyAdapter, TinyModel, make_adapter, merged_weights

from convert.build import build_model
from convert.quantize import quantize

_LAYER = {"input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm", "self_attn.q_proj": "attn_q",
          "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
          "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}


def gguf_weights_as_hf(path: Path, n_layers: int) -> dict[str, np.ndarray]:
    """Dequantize every tensor of a GGUF and name it the HF way (the test's own name table)."""
    r = gguf.GGUFReader(path)
    t = {x.name: x for x in r.tensors}

    def get(name: str) -> np.ndarray:
        x = t[name]
        return dequantize(np.asarray(x.data), x.tensor_type).reshape(tuple(reversed(x.shape.tolist())))

    w = {"model.embed_tokens.weight": get("token_embd.weight"), "model.norm.weight": get("output_norm.weight"),
         "lm_head.weight": get("output.weight")}
    for i in range(n_layers):
        for hf, gg in _LAYER.items():
            w[f"model.layers.{i}.{hf}.weight"] = get(f"blk.{i}.{gg}.weight")
        for n in "qkv":
            w[f"model.layers.{i}.self_attn.{n}_proj.bias"] = get(f"blk.{i}.attn_{n}.bias")
    return w


@pytest.fixture(scope="session")
def k256_bases(convert_tmp: Path, qwen2_k256: TinyModel, k256_zero_adapter: TinyAdapter) -> dict[str, Path]:
    """The tiny K-quant-sized model as F32, Q4_K_M (Q4_K + Q6_K tensors) and Q8_0 GGUF bases."""
    f32 = build_model(qwen2_k256.path, k256_zero_adapter.path, convert_tmp / "k256-f32.gguf", "F32", progress=False)
    bases = {"F32": f32}
    for q in ("Q4_K_M", "Q8_0"):
        bases[q] = convert_tmp / f"k256-{q}.gguf"
        quantize(f32, bases[q], q, progress=False, threads=1)
    types = {t.tensor_type.name for t in gguf.GGUFReader(bases["Q4_K_M"]).tensors}
    assert {"Q4_K", "Q6_K"} <= types
    return bases


@pytest.mark.parametrize("quant", ["Q4_K_M", "Q8_0"])
def test_quantized_gguf_base_merge_matches_reference(quant: str, k256_bases: dict[str, Path], qwen2_k256: TinyModel,
                                                     k256_adapter: TinyAdapter, tmp_path: Path) -> None:
    base = k256_bases[quant]
    out = build_model(base, k256_adapter.path, tmp_path / "m.gguf", "F32", progress=False)
    base_w = gguf_weights_as_hf(base, qwen2_k256.n_layers)
    want = forward(qwen2_k256.config, merged_weights(base_w, k256_adapter), PROMPT)
    assert_close_logits(llama_logits(out, PROMPT), want)


def test_dequantized_base_computes_what_llama_cpp_computes_on_the_quantized_base(k256_bases: dict[str, Path],
                                                                               k256_zero_adapter: TinyAdapter, tmp_path: Path) -> None:
    """Independent of gguf's dequantizer: llama.cpp on the Q4_K_M file vs llama.cpp on our F32 dequantization."""
    out = build_model(k256_bases["Q4_K_M"], k256_zero_adapter.path, tmp_path / "deq.gguf", "F32", progress=False)
    on_quant, on_f32 = llama_logits(k256_bases["Q4_K_M"], PROMPT), llama_logits(out, PROMPT)
    on_orig = llama_logits(k256_bases["F32"], PROMPT)
    quant_noise = np.abs(on_quant - on_orig).max()  # what Q4_K_M did to the weights
    assert quant_noise > 1e-3
    # llama.cpp multiplies Q4_K by 8-bit-quantized activations: close, but not to float32 precision
    assert np.abs(on_quant - on_f32).max() < 0.25 * quant_noise


def test_zero_adapter_round_trip_reproduces_the_base(k256_bases: dict[str, Path], k256_zero_adapter: TinyAdapter,
                                                     tmp_path: Path) -> None:
    base = k256_bases["Q4_K_M"]
    out = build_model(base, k256_zero_adapter.path, tmp_path / "rt.gguf", "Q4_K_M", progress=False)
    a, b = gguf.GGUFReader(base), gguf.GGUFReader(out)
    tb = {t.name: t for t in b.tensors}
    assert sorted(tb) == sorted(t.name for t in a.tensors)
    for t in a.tensors:
        assert tb[t.name].tensor_type == t.tensor_type, t.name
        np.testing.assert_array_equal(np.asarray(tb[t.name].data), np.asarray(t.data), err_msg=t.name)
    for key, field in a.fields.items():
        if key.startswith("GGUF."):
            continue
        assert key in b.fields, key
        assert b.fields[key].contents() == field.contents(), key
    assert greedy_tokens(out, PROMPT, 12) == greedy_tokens(base, PROMPT, 12)


def test_only_merged_tensors_are_requantized(k256_bases: dict[str, Path], qwen2_k256: TinyModel, tmp_path: Path) -> None:
    base = k256_bases["Q4_K_M"]
    ad = make_adapter(tmp_path / "ad", qwen2_k256.config, targets=["q_proj", "down_proj"], r=8, alpha=16, seed=70, b_scale=0.1)
    out = build_model(base, ad.path, tmp_path / "m.gguf", "Q4_K_M", progress=False)
    a, b = gguf.GGUFReader(base), gguf.GGUFReader(out)
    tb = {t.name: t for t in b.tensors}
    shape = {t.name: tuple(reversed(t.shape.tolist())) for t in a.tensors}
    for t in a.tensors:
        u = tb[t.name]
        assert u.tensor_type == t.tensor_type, t.name
        if t.name.endswith(("attn_q.weight", "ffn_down.weight")):
            # re-quantized from the merged float weights: within quantization error of the float merge
            i = int(t.name.split(".")[1])
            module = f"model.layers.{i}." + ("self_attn.q_proj" if "attn_q" in t.name else "mlp.down_proj")
            a_, b_, scale = ad.loras[module]
            want = dequantize(np.asarray(t.data), t.tensor_type).reshape(shape[t.name]) + scale * (b_ @ a_)
            got = dequantize(np.asarray(u.data), u.tensor_type).reshape(shape[t.name])
            assert not np.array_equal(np.asarray(u.data), np.asarray(t.data))
            assert np.sqrt(np.mean((got - want) ** 2)) < 0.1 * np.sqrt(np.mean(want**2)), t.name
        else:
            np.testing.assert_array_equal(np.asarray(u.data), np.asarray(t.data), err_msg=t.name)


def test_llama_mix_can_replace_the_base_layout(k256_bases: dict[str, Path], k256_adapter: TinyAdapter, tmp_path: Path) -> None:
    out = build_model(k256_bases["Q8_0"], k256_adapter.path, tmp_path / "mix.gguf", "Q4_K_M", progress=False,
                      keep_base_types=False)
    r = gguf.GGUFReader(out)
    assert r.get_field("general.file_type").contents() == gguf.LlamaFileType.MOSTLY_Q4_K_M
    assert {t.tensor_type.name for t in r.tensors if len(t.shape) == 2} >= {"Q4_K", "Q6_K"}
    assert len(greedy_tokens(out, PROMPT, 4)) == 4


def test_an_adapter_trained_on_letter_codes_marks_the_model_file(k256_bases: dict[str, Path], k256_adapter: TinyAdapter,
                                                                  tmp_path: Path) -> None:
    """``training.json`` saying folder_codes (and preference_hints, example_hints) survives merge and quantization as GGUF metadata
    the runtime reads."""
    import shutil

    from convert.errors import AdapterError
    from notifclf.folder_codes import FOLDER_LABELS_KEY
    from notifclf.example_hints import EXAMPLE_HINTS_KEY
    from notifclf.preference_hints import PREFERENCE_HINTS_KEY

    adapters = {"names": k256_adapter.path}
    for name, config in (("codes", '{"folder_codes": true}'),
                         ("codes-repeated", '{"folder_codes": true, "repeat_codes": true, "preference_hints": true, '
                                            '"example_hints": true}')):
        adapters[name] = tmp_path / name
        shutil.copytree(k256_adapter.path, adapters[name])
        (adapters[name] / "training.json").write_text(f'{{"config": {config}}}')
    labels, hints = {}, {}
    for name, adapter in adapters.items():
        out = build_model(k256_bases["Q8_0"], adapter, tmp_path / f"{name}.gguf", "Q4_K_M", progress=False)
        reader = gguf.GGUFReader(out)
        labels[name] = reader.get_field(FOLDER_LABELS_KEY).contents()
        hints[name] = [reader.get_field(k).contents() if reader.get_field(k) else None
                       for k in (PREFERENCE_HINTS_KEY, EXAMPLE_HINTS_KEY)]
    assert labels == {"names": "names", "codes": "codes", "codes-repeated": "codes-repeated"}
    assert hints == {"names": [None, None], "codes": [None, None], "codes-repeated": ["yes", "yes"]}
    coded = adapters["codes"]
    (coded / "training.json").write_text('{"config": ')
    with pytest.raises(AdapterError, match="training record"):
        build_model(k256_bases["Q8_0"], coded, tmp_path / "bad.gguf", "Q4_K_M", progress=False)
    assert not (tmp_path / "bad.gguf").exists()
