"""Fixtures for the convert tests: tiny HF checkpoints, PEFT adapters, and llama.cpp helpers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tiny_hf import TinyAdapter, TinyModel, make_adapter, make_hf_model  # noqa: E402

PROMPT = [5, 77, 200, 31, 9, 250, 3, 120, 64, 17]  # token ids, all < 256 (byte tokens)


@contextmanager
def llama(path: Path, n_ctx: int = 64) -> Iterator["object"]:
    """A llama.cpp model with float32 KV cache and no flash attention, for exact comparisons."""
    from llama_cpp import Llama

    llm = Llama(str(path), n_ctx=n_ctx, n_batch=n_ctx, logits_all=True, type_k=0, type_v=0, flash_attn=False,
                n_threads=1, n_threads_batch=1, verbose=False)
    try:
        yield llm
    finally:
        llm.close()


def llama_logits(path: Path, tokens: list[int]) -> np.ndarray:
    with llama(path) as llm:
        llm.eval(tokens)
        return np.array(llm.scores[: len(tokens)], dtype=np.float64)


def greedy_tokens(path: Path, tokens: list[int], n: int) -> list[int]:
    out: list[int] = []
    with llama(path) as llm:
        for tok in llm.generate(tokens, temp=0.0, repeat_penalty=1.0):
            out.append(int(tok))
            if len(out) == n:
                break
    return out


def assert_close_logits(got: np.ndarray, want: np.ndarray, rtol: float = 2e-5) -> None:
    """Max abs difference within ``rtol`` of the largest logit (llama.cpp computes in float32)."""
    assert got.shape == want.shape
    scale = float(np.abs(want).max())
    err = float(np.abs(got - want).max())
    assert err <= rtol * scale, f"max |llama.cpp - reference| = {err:.3g}, allowed {rtol * scale:.3g}"


@pytest.fixture(scope="session")
def convert_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("convert")


@pytest.fixture(scope="session")
def qwen2_bf16(convert_tmp: Path) -> TinyModel:
    """Tiny Qwen2 (q/k/v biases, tied embeddings), bf16 safetensors, one file."""
    return make_hf_model(convert_tmp / "qwen2-bf16", "qwen2", dtype="bf16", seed=10)


@pytest.fixture(scope="session")
def qwen3_f16_sharded(convert_tmp: Path) -> TinyModel:
    """Tiny Qwen3 (q/k norms, head_dim 32 != hidden/heads, separate lm_head), f16, two shards."""
    return make_hf_model(convert_tmp / "qwen3-f16", "qwen3", dtype="f16", shards=2, tied=False, head_dim=32, seed=11)


@pytest.fixture(scope="session")
def qwen2_k256(convert_tmp: Path) -> TinyModel:
    """Tiny Qwen2 whose rows are multiples of 256, so K-quants apply; f32 safetensors."""
    return make_hf_model(convert_tmp / "qwen2-k256", "qwen2", dtype="f32", hidden=256, ffn=512, heads=4, kv_heads=2,
                         tied=False, seed=12)


@pytest.fixture(scope="session")
def qwen2_adapter(convert_tmp: Path, qwen2_bf16: TinyModel) -> TinyAdapter:
    return make_adapter(convert_tmp / "qwen2-adapter", qwen2_bf16.config, r=4, alpha=8, seed=20)


@pytest.fixture(scope="session")
def qwen2_zero_adapter(convert_tmp: Path, qwen2_bf16: TinyModel) -> TinyAdapter:
    return make_adapter(convert_tmp / "qwen2-zero", qwen2_bf16.config, r=4, alpha=8, zero_b=True, seed=21)


@pytest.fixture(scope="session")
def k256_adapter(convert_tmp: Path, qwen2_k256: TinyModel) -> TinyAdapter:
    return make_adapter(convert_tmp / "k256-adapter", qwen2_k256.config, r=8, alpha=16, seed=22, b_scale=0.1)


@pytest.fixture(scope="session")
def k256_zero_adapter(convert_tmp: Path, qwen2_k256: TinyModel) -> TinyAdapter:
    return make_adapter(convert_tmp / "k256-zero", qwen2_k256.config, r=8, alpha=16, zero_b=True, seed=23)
