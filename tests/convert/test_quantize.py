"""Quantized outputs: right types, they load in llama.cpp, stay close to the float model, generate; manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import gguf
import numpy as np
import pytest
from conftest import PROMPT, greedy_tokens, llama_logits
from numpy_reference import forward
from tiny_hf import TinyAdapter, TinyModel, merged_weights

from convert.build import build_model
from convert.manifest import manifest_path, verify


# Relative max logit error and correlation vs the float64 reference of the merged model. Without the
# adapter merged the error would be 0.87 and the correlation 0.63, so these bounds also check the merge.
@pytest.mark.parametrize(("quant", "types", "max_err", "min_corr"), [
    ("Q4_K_M", {"Q4_K", "Q6_K"}, 0.3, 0.97),
    ("Q4_0", {"Q4_0", "Q6_K"}, 0.3, 0.97),
    ("IQ4_NL", {"IQ4_NL", "Q6_K"}, 0.3, 0.97),
    ("Q5_K_M", {"Q5_K", "Q6_K"}, 0.2, 0.99),
    ("Q8_0", {"Q8_0"}, 0.05, 0.999),
    ("F16", {"F16"}, 0.003, 0.99999),
])
def test_quantized_output_loads_generates_and_stays_close(quant: str, types: set[str], max_err: float, min_corr: float,
                                                          qwen2_k256: TinyModel,
                                                          k256_adapter: TinyAdapter, tmp_path: Path) -> None:
    out = build_model(qwen2_k256.path, k256_adapter.path, tmp_path / f"m-{quant}.gguf", quant, progress=False, threads=1)
    r = gguf.GGUFReader(out)
    assert r.get_field("general.file_type").contents() == gguf.LlamaFileType[f"MOSTLY_{quant}"]
    assert {t.tensor_type.name for t in r.tensors if len(t.shape) == 2} == types
    assert {t.tensor_type.name for t in r.tensors if len(t.shape) == 1} == {"F32"}

    want = forward(qwen2_k256.config, merged_weights(qwen2_k256.weights, k256_adapter), PROMPT)
    got = llama_logits(out, PROMPT)
    err = np.abs(got - want).max() / np.abs(want).max()
    assert err < max_err, f"{quant}: relative logit error {err:.4f}"
    assert np.corrcoef(got.ravel(), want.ravel())[0, 1] > min_corr

    gen = greedy_tokens(out, PROMPT, 8)
    assert len(gen) == 8 and all(0 <= t < qwen2_k256.config["vocab_size"] for t in gen)


def test_manifest_describes_the_output(qwen2_bf16: TinyModel, qwen2_adapter: TinyAdapter, tmp_path: Path) -> None:
    out = build_model(qwen2_bf16.path, qwen2_adapter.path, tmp_path / "m.gguf", "Q8_0", progress=False)
    m = json.loads(manifest_path(out).read_text())
    assert m == verify(out)
    assert m["file"] == "m.gguf" and m["quant"] == "Q8_0" and m["architecture"] == "qwen2"
    assert m["size"] == out.stat().st_size
    assert m["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert m["adapter"]["sha256"] == hashlib.sha256((qwen2_adapter.path / "adapter_model.safetensors").read_bytes()).hexdigest()
    assert m["adapter"]["r"] == 4 and m["adapter"]["modules"] == 14
    assert m["base"]["kind"] == "hf" and m["base"]["source"] == str(qwen2_bf16.path) and len(m["base"]["sha256"]) == 64
    assert m["tool"]["gguf"] and m["tool"]["llama_cpp_python"] and m["tool"]["version"]
    assert set(m["build"]["timings_s"]) >= {"read base", "quantize Q8_0"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.gguf", "m.gguf.manifest.json"]


def test_verify_detects_a_modified_model(qwen2_bf16: TinyModel, qwen2_adapter: TinyAdapter, tmp_path: Path) -> None:
    from convert.errors import ConvertError

    out = build_model(qwen2_bf16.path, qwen2_adapter.path, tmp_path / "m.gguf", "Q8_0", progress=False)
    data = bytearray(out.read_bytes())
    data[-1] ^= 1
    out.write_bytes(bytes(data))
    with pytest.raises(ConvertError, match="does not match its manifest"):
        verify(out)


def test_tensor_type_override_pins_one_tensor_on_top_of_the_mix(qwen2_k256: TinyModel, k256_adapter: TinyAdapter,
                                                                tmp_path: Path) -> None:
    from convert.errors import ConvertError

    out = build_model(qwen2_k256.path, k256_adapter.path, tmp_path / "m.gguf", "IQ4_NL", progress=False, threads=1,
                      tensor_type_overrides={"output.weight": "Q8_0"})
    types = {t.name: t.tensor_type.name for t in gguf.GGUFReader(out).tensors if len(t.shape) == 2}
    assert types["output.weight"] == "Q8_0"
    assert types["blk.0.attn_q.weight"] == "IQ4_NL"  # the rest keeps llama.cpp's IQ4_NL mix
    assert json.loads(manifest_path(out).read_text())["build"]["tensor_type_overrides"] == {"output.weight": "Q8_0"}
    with pytest.raises(ConvertError, match="no tensor 'nope.weight'"):
        build_model(qwen2_k256.path, k256_adapter.path, tmp_path / "x.gguf", "IQ4_NL", progress=False,
                    tensor_type_overrides={"nope.weight": "Q8_0"})
    with pytest.raises(ConvertError, match="unknown ggml type"):
        build_model(qwen2_k256.path, k256_adapter.path, tmp_path / "y.gguf", "IQ4_NL", progress=False,
                    tensor_type_overrides={"output.weight": "Q9_9"})
