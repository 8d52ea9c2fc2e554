"""Bad inputs and crashes give clear errors and leave no output file behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import gguf
import numpy as np
import pytest
from safetensors.numpy import load_file, save_file
from tiny_hf import TinyModel, make_adapter

from convert import build as build_mod
from convert.build import build_model
from convert.errors import (
    AdapterError,
    AdapterMismatchError,
    BaseModelError,
    ConvertError,
    QuantizeError,
    UnsupportedAdapterError,
    UnsupportedArchitectureError,
)

REPO = Path(__file__).resolve().parents[2]
P = "base_model.model.model.layers."
ALL = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def _edit_weights(d: Path, fn: Callable[[dict[str, np.ndarray]], None]) -> None:
    f = d / "adapter_model.safetensors"
    t = load_file(f)
    fn(t)
    save_file(t, f)


def _edit_config(d: Path, **kw: object) -> None:
    f = d / "adapter_config.json"
    c = json.loads(f.read_text())
    c.update(kw)
    f.write_text(json.dumps(c))


def _wrong_in_features(t: dict[str, np.ndarray]) -> None:
    a = t[P + "1.mlp.up_proj.lora_A.weight"]
    t[P + "1.mlp.up_proj.lora_A.weight"] = np.zeros((a.shape[0], a.shape[1] + 8), np.float32)


def _rank_mismatch(t: dict[str, np.ndarray]) -> None:
    t[P + "0.self_attn.q_proj.lora_B.weight"] = t[P + "0.self_attn.q_proj.lora_B.weight"][:, :3].copy()


def _add_module(name: str) -> Callable[[dict[str, np.ndarray]], None]:
    def fn(t: dict[str, np.ndarray]) -> None:
        t[f"base_model.model.{name}.lora_A.weight"] = np.zeros((4, 64), np.float32)
        t[f"base_model.model.{name}.lora_B.weight"] = np.zeros((64, 4), np.float32)
    return fn


def _nan(t: dict[str, np.ndarray]) -> None:
    t[P + "1.self_attn.o_proj.lora_B.weight"][0, 0] = np.nan


def _to_bin(d: Path) -> None:
    (d / "adapter_model.safetensors").rename(d / "adapter_model.bin")


def _truncate(d: Path) -> None:
    f = d / "adapter_model.safetensors"
    f.write_bytes(f.read_bytes()[:-100])


# name -> (how to break a fresh 7-module r=4 adapter, expected error, message fragment)
BROKEN: dict[str, tuple[Callable[[Path], None], type[Exception], str]] = {
    "wrong shape": (lambda d: _edit_weights(d, _wrong_in_features), AdapterMismatchError, "different base model"),
    "A/B rank mismatch": (lambda d: _edit_weights(d, _rank_mismatch), AdapterError, "rank r=4"),
    "missing lora_B": (lambda d: _edit_weights(d, lambda t: t.pop(P + "0.mlp.down_proj.lora_B.weight")), AdapterError,
                       "lora_B is missing for model.layers.0.mlp.down_proj"),
    "missing module": (lambda d: _edit_weights(d, lambda t: [t.pop(P + f"1.self_attn.k_proj.lora_{x}.weight") for x in "AB"]),
                       AdapterError, "missing for 1 targeted module"),
    "target module that does not exist": (lambda d: _edit_config(d, target_modules=[*ALL, "foo_proj"]),
                                          AdapterMismatchError, "'foo_proj' matches no module"),
    "weights for a module that does not exist": (lambda d: _edit_weights(d, _add_module("model.layers.0.mlp.foo_proj")),
                                                 AdapterMismatchError, "not a decoder-layer linear module"),
    "LoRA on lm_head": (lambda d: _edit_weights(d, _add_module("lm_head")), AdapterMismatchError, "lm_head"),
    "layer the base does not have": (lambda d: _edit_weights(d, _add_module("model.layers.7.self_attn.q_proj")),
                                     AdapterMismatchError, "base has 2 layers"),
    "DoRA config": (lambda d: _edit_config(d, use_dora=True), UnsupportedAdapterError, "DoRA"),
    "DoRA weights": (lambda d: _edit_weights(d, lambda t: t.update({P + "0.self_attn.q_proj.lora_magnitude_vector": np.ones(64, np.float32)})),
                     UnsupportedAdapterError, "DoRA"),
    "modules_to_save": (lambda d: _edit_config(d, modules_to_save=["lm_head"]), UnsupportedAdapterError, "modules_to_save"),
    "trained biases": (lambda d: _edit_config(d, bias="all"), UnsupportedAdapterError, "bias='all'"),
    "not LoRA": (lambda d: _edit_config(d, peft_type="IA3"), UnsupportedAdapterError, "only LORA"),
    "pickle weights": (_to_bin, AdapterError, "safe_serialization=True"),
    "no config": (lambda d: (d / "adapter_config.json").unlink(), AdapterError, "adapter_config.json is missing"),
    "truncated weights": (_truncate, AdapterError, "truncated"),
    "NaN weights": (lambda d: _edit_weights(d, _nan), ConvertError, "NaN"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_adapter_gives_a_clear_error_and_no_output(case: str, qwen2_bf16: TinyModel, tmp_path: Path) -> None:
    breaker, error, fragment = BROKEN[case]
    ad = make_adapter(tmp_path / "adapter", qwen2_bf16.config, r=4, alpha=8, seed=60)
    breaker(ad.path)
    out_dir = tmp_path / "out"
    with pytest.raises(error, match=fragment.replace("(", r"\(").replace("[", r"\[")):
        build_model(qwen2_bf16.path, ad.path, out_dir / "m.gguf", "Q8_0", progress=False)
    assert list(out_dir.iterdir()) == []


def test_adapter_for_another_base_is_rejected(qwen2_bf16: TinyModel, tmp_path: Path) -> None:
    other = dict(qwen2_bf16.config, hidden_size=96, intermediate_size=160)
    ad = make_adapter(tmp_path / "adapter", other, seed=61)
    with pytest.raises(AdapterMismatchError, match="trained on a different base"):
        build_model(qwen2_bf16.path, ad.path, tmp_path / "out" / "m.gguf", "F32", progress=False)
    assert not (tmp_path / "out" / "m.gguf").exists()


def test_unsupported_hf_architecture_lists_the_supported_ones(qwen2_bf16: TinyModel, qwen2_adapter, tmp_path: Path) -> None:
    base = tmp_path / "llama"
    shutil.copytree(qwen2_bf16.path, base)
    cfg = json.loads((base / "config.json").read_text())
    cfg.update(model_type="llama", architectures=["LlamaForCausalLM"])
    (base / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UnsupportedArchitectureError, match="'llama' is not supported.*qwen2, qwen3"):
        build_model(base, qwen2_adapter.path, tmp_path / "m.gguf", "F32", progress=False)


def test_unsupported_gguf_architecture_lists_the_supported_ones(qwen2_adapter, tmp_path: Path) -> None:
    path = tmp_path / "llama.gguf"
    w = gguf.GGUFWriter(path, "llama")
    w.add_block_count(1)
    w.add_tensor("token_embd.weight", np.zeros((8, 4), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(UnsupportedArchitectureError, match="qwen2, qwen3, gemma3"):
        build_model(path, qwen2_adapter.path, tmp_path / "m.gguf", "F32", progress=False)


@pytest.mark.parametrize("base", ["missing-dir", "not-gguf.bin"])
def test_bad_base_path(base: str, qwen2_adapter, tmp_path: Path) -> None:
    (tmp_path / "not-gguf.bin").write_bytes(b"\0" * 64)
    with pytest.raises(BaseModelError):
        build_model(tmp_path / base, qwen2_adapter.path, tmp_path / "m.gguf", "F32", progress=False)
    assert not (tmp_path / "m.gguf").exists()


def test_unknown_quant_type_is_rejected_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(QuantizeError, match="Q4_K_M"):
        build_model(tmp_path / "nothing", tmp_path / "nothing", tmp_path / "m.gguf", "Q3_X")


def test_crash_while_quantizing_keeps_the_previous_output(qwen2_bf16: TinyModel, qwen2_adapter, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    out = build_model(qwen2_bf16.path, qwen2_adapter.path, tmp_path / "m.gguf", "Q8_0", progress=False)
    before = sorted((p.name, p.read_bytes()) for p in tmp_path.iterdir())

    def crash(src: Path, dst: Path, *a: object, **k: object) -> None:
        dst.write_bytes(src.read_bytes()[:1000])  # a partial file, then the process "dies"
        raise MemoryError("simulated crash")

    monkeypatch.setattr(build_mod, "quantize", crash)
    with pytest.raises(MemoryError):
        build_model(qwen2_bf16.path, qwen2_adapter.path, out, "Q8_0", progress=False)
    assert sorted((p.name, p.read_bytes()) for p in tmp_path.iterdir()) == before


def test_crash_while_writing_leaves_nothing(qwen2_bf16: TinyModel, qwen2_adapter, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = build_mod.MergedModel.read_rows

    def flaky(self, spec, rows):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real(self, spec, rows)

    monkeypatch.setattr(build_mod.MergedModel, "read_rows", flaky)
    with pytest.raises(KeyboardInterrupt):
        build_model(qwen2_bf16.path, qwen2_adapter.path, tmp_path / "out" / "m.gguf", "F32", progress=False)
    assert list((tmp_path / "out").iterdir()) == []


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "convert", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)


def test_cli_build(qwen2_bf16: TinyModel, qwen2_adapter, tmp_path: Path) -> None:
    out = tmp_path / "cli.gguf"
    r = _cli("build", "--base", str(qwen2_bf16.path), "--adapter", str(qwen2_adapter.path), "--quant", "q8_0",
             "--out", str(out), "-q")
    assert r.returncode == 0, r.stderr
    assert str(out) in r.stdout and "sha256" in r.stdout
    assert out.is_file() and (tmp_path / "cli.gguf.manifest.json").is_file()


def test_cli_reports_errors_without_a_traceback(qwen2_bf16: TinyModel, tmp_path: Path) -> None:
    ad = make_adapter(tmp_path / "ad", qwen2_bf16.config, use_dora=True)
    r = _cli("build", "--base", str(qwen2_bf16.path), "--adapter", str(ad.path), "--out", str(tmp_path / "x.gguf"))
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith("error: ") and "DoRA" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "x.gguf").exists()


def test_temp_dirs_of_killed_builds_are_cleaned_up(qwen2_bf16: TinyModel, qwen2_adapter, tmp_path: Path) -> None:
    stale, recent = tmp_path / ".m.gguf.abc123.tmp", tmp_path / ".m.gguf.def456.tmp"
    for d in (stale, recent):
        d.mkdir()
        (d / "merged-f32.gguf").write_bytes(b"GGUF" + b"\0" * 100)
    os.utime(stale, (0, 0))
    build_model(qwen2_bf16.path, qwen2_adapter.path, tmp_path / "m.gguf", "F32", progress=False)
    assert not stale.exists()
    assert recent.exists()  # might belong to a build running right now
