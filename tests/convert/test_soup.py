"""``python -m convert soup``: the merged soup is the base plus the mean of the adapters' deltas, through real builds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import PROMPT, assert_close_logits, llama_logits
from numpy_reference import forward
from tiny_hf import TinyModel, make_adapter

from convert.adapter import load_adapter
from convert.build import build_model
from convert.cli import main
from convert.errors import AdapterError, UnsupportedAdapterError
from convert.soup import soup_adapters


def _with_record(adapter_dir: Path, **config: object) -> Path:
    (adapter_dir / "training.json").write_text(json.dumps({"config": config, "examples_seen": 8}), encoding="utf-8")
    return adapter_dir


def test_the_soup_merges_to_the_mean_delta(qwen2_bf16: TinyModel, tmp_path: Path) -> None:
    one = make_adapter(tmp_path / "one", qwen2_bf16.config, r=4, alpha=8, seed=41, b_scale=0.2)
    two = make_adapter(tmp_path / "two", qwen2_bf16.config, r=4, alpha=8, seed=42, b_scale=0.2)
    assert main(["soup", str(one.path), str(two.path), "--out", str(tmp_path / "soup")]) == 0

    soup = load_adapter(tmp_path / "soup")
    for pair in soup.pairs.values():
        (a1, b1, s1), (a2, b2, s2) = one.loras[pair.module], two.loras[pair.module]
        mean = (s1 * b1 @ a1 + s2 * b2 @ a2) / 2
        np.testing.assert_allclose(pair.scale * pair.b @ pair.a, mean, rtol=1e-5, atol=1e-7)
    assert soup.config["r"] == 8 and soup.config["lora_alpha"] == 8
    record = json.loads((tmp_path / "soup" / "training.json").read_text())
    assert [s["adapter"] for s in record["soup_of"]] == [str(one.path), str(two.path)]

    # built: the same logits as the base with the mean delta merged, computed independently in numpy
    out = build_model(qwen2_bf16.path, tmp_path / "soup", tmp_path / "soup.gguf", "F32", progress=False)
    weights = {k: v.astype(np.float64) for k, v in qwen2_bf16.weights.items()}
    for module, (a1, b1, s1) in one.loras.items():
        a2, b2, s2 = two.loras[module]
        weights[module + ".weight"] += (s1 * b1.astype(np.float64) @ a1 + s2 * b2.astype(np.float64) @ a2) / 2
    assert_close_logits(llama_logits(out, PROMPT), forward(qwen2_bf16.config, weights, PROMPT))


def test_a_soup_of_one_adapter_twice_builds_that_adapter(qwen2_bf16: TinyModel, qwen2_adapter, tmp_path: Path) -> None:
    soup = soup_adapters([qwen2_adapter.path, qwen2_adapter.path], tmp_path / "twice")
    alone = llama_logits(build_model(qwen2_bf16.path, qwen2_adapter.path, tmp_path / "a.gguf", "F32", progress=False),
                         PROMPT)
    twice = llama_logits(build_model(qwen2_bf16.path, soup, tmp_path / "t.gguf", "F32", progress=False), PROMPT)
    assert_close_logits(twice, alone)


def test_adapters_that_differ_are_refused(qwen2_bf16: TinyModel, tmp_path: Path) -> None:
    cfg = qwen2_bf16.config
    base = make_adapter(tmp_path / "base", cfg, r=4, alpha=8, seed=1).path
    cases = {
        "rank": (make_adapter(tmp_path / "r8", cfg, r=8, alpha=8, seed=2).path, AdapterError, "r 8"),
        "alpha": (make_adapter(tmp_path / "a16", cfg, r=4, alpha=16, seed=3).path, AdapterError, "lora_alpha"),
        "targets": (make_adapter(tmp_path / "qv", cfg, r=4, alpha=8, seed=4, targets=["q_proj", "v_proj"]).path,
                    AdapterError, "target_modules"),
        "pattern": (make_adapter(tmp_path / "pat", cfg, r=4, alpha=8, seed=5, rank_pattern={"q_proj": 2}).path,
                    UnsupportedAdapterError, "rank_pattern"),
    }
    for name, (other, error, said) in cases.items():
        with pytest.raises(error, match=said):
            soup_adapters([base, other], tmp_path / f"out-{name}")
        assert not (tmp_path / f"out-{name}").exists()  # nothing written for a refused soup

    codes = _with_record(make_adapter(tmp_path / "codes", cfg, r=4, alpha=8, seed=6).path, folder_codes=True)
    names = _with_record(make_adapter(tmp_path / "names", cfg, r=4, alpha=8, seed=7).path, folder_codes=False)
    with pytest.raises(AdapterError, match="folder_codes.*different prompts"):
        soup_adapters([codes, names], tmp_path / "out-prompt")
    with pytest.raises(AdapterError, match="two or more"):
        soup_adapters([base], tmp_path / "out-one")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    with pytest.raises(AdapterError, match="not an empty directory"):
        soup_adapters([base, base], tmp_path / "taken")
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"
    assert main(["soup", str(base), "--out", str(tmp_path / "cli-one")]) == 2  # a clear error, exit status 2


def test_the_prompt_flags_carry_over_to_the_soup(qwen2_bf16: TinyModel, tmp_path: Path) -> None:
    flags = dict(folder_codes=True, repeat_codes=True, preference_hints=True, example_hints=True, seed=3)
    one = _with_record(make_adapter(tmp_path / "one", qwen2_bf16.config, r=4, alpha=8, seed=8).path, **flags)
    two = _with_record(make_adapter(tmp_path / "two", qwen2_bf16.config, r=4, alpha=8, seed=9).path,
                       **{**flags, "seed": 4})
    soup = load_adapter(soup_adapters([one, two], tmp_path / "soup"))
    assert (soup.folder_labels, soup.preference_hints, soup.example_hints) == ("codes-repeated", True, True)
