"""The GGUF-base route on the real Qwen2.5-Coder-0.5B-Instruct Q4_K_M base: dequantize, merge a zero adapter,
re-quantize to Q4_K_M; the classifier's greedy answers on seed_emergent must not change."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import gguf
import numpy as np
import pytest
from tiny_hf import make_adapter

from convert.build import build_model
from convert.hashing import sha256_file
from convert.manifest import verify

pytestmark = pytest.mark.real_model

Answers = list[tuple[str, int]]


@pytest.fixture(scope="module")
def zero_adapter(real_base_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PEFT adapter on all seven linear modules of every layer, with B = 0."""
    r = gguf.GGUFReader(real_base_gguf)

    def kv(key: str) -> int:
        return int(r.get_field(f"qwen2.{key}").contents())

    cfg = {"hidden_size": kv("embedding_length"), "intermediate_size": kv("feed_forward_length"),
           "num_hidden_layers": kv("block_count"), "num_attention_heads": kv("attention.head_count"),
           "num_key_value_heads": kv("attention.head_count_kv")}
    return make_adapter(tmp_path_factory.mktemp("real") / "zero-adapter", cfg, r=8, alpha=16, zero_b=True).path


@pytest.fixture(scope="module")
def answers(seed_emergent: dict) -> Callable[[Path], Answers]:
    from notifclf import Classifier, Folder

    folders = [Folder(**f) for f in seed_emergent["folders"]]
    cases = [{k: c[k] for k in ("app", "title", "body")} for c in seed_emergent["cases"]]
    cache: dict[Path, Answers] = {}

    def run(model: Path) -> Answers:
        if model not in cache:
            with Classifier(model, folders=folders, progress=False) as clf:
                cache[model] = [(r.folder, r.priority) for r in clf.classify_many(cases)]
        return cache[model]

    return run


def _build(base: Path, adapter: Path, out: Path, **kw: object) -> Path:
    t0 = time.perf_counter()
    path = build_model(base, adapter, out, "Q4_K_M", progress=False, **kw)
    print(f"\n{out.name}: {time.perf_counter() - t0:.1f} s, steps {verify(path)['build']['timings_s']}")
    return path


def test_round_trip_reproduces_the_base_exactly(real_base_gguf: Path, zero_adapter: Path, answers, tmp_path: Path) -> None:
    out = _build(real_base_gguf, zero_adapter, tmp_path / "round-trip.gguf")
    a, b = gguf.GGUFReader(real_base_gguf), gguf.GGUFReader(out)
    tb = {t.name: t for t in b.tensors}
    assert len(tb) == len(a.tensors) == 291
    for t in a.tensors:
        assert tb[t.name].tensor_type == t.tensor_type, t.name
        assert np.array_equal(np.asarray(tb[t.name].data), np.asarray(t.data)), t.name
    m = verify(out)
    assert m["base"] == {"kind": "gguf", "source": str(real_base_gguf), "sha256": sha256_file(real_base_gguf),
                         "architecture": "qwen2"}
    assert m["build"]["kept_base_types"] is True and m["build"]["tensors_copied"] == 170
    assert answers(out) == answers(real_base_gguf)
    assert len(answers(out)) == 15


def test_full_dequantize_requantize_round_trip(real_base_gguf: Path, zero_adapter: Path, answers, tmp_path: Path) -> None:
    """Every tensor dequantized to F32 and re-quantized by llama.cpp into its base type.

    Measured: the 15 folders never change; re-quantizing K-quant blocks is not exactly idempotent, and it
    flips the priority of one borderline case (seed-08, 3 -> 1), so one priority change is tolerated here.
    """
    out = _build(real_base_gguf, zero_adapter, tmp_path / "requantized.gguf", copy_unchanged=False)
    a, b = gguf.GGUFReader(real_base_gguf), gguf.GGUFReader(out)
    assert sorted((t.name, t.tensor_type) for t in a.tensors) == sorted((t.name, t.tensor_type) for t in b.tensors)
    assert verify(out)["build"]["tensors_copied"] == 0
    base, new = answers(real_base_gguf), answers(out)
    assert [f for f, _ in new] == [f for f, _ in base]
    assert sum(x != y for x, y in zip(new, base)) <= 1
