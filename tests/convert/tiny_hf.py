"""Generators for tiny Hugging Face checkpoints, byte-level BPE tokenizers and PEFT LoRA adapters.

Everything here is written independently of ``convert`` (its own safetensors writer, its own BPE
trainer) so the tests compare convert's output with an independent construction. It is one file of about 300 lines
on purpose: that independent reference reads best in one place.
"""

from __future__ import annotations

import json
import re
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

QWEN2_REGEX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CORPUS = (
    "Your order shipped. Payment received from Chase. Package delivered by FedEx today! "
    "The meeting starts at 10:30, don't be late. Boarding pass ready for flight 123. "
    "Hello hello world, the weather is nice; we're going out and I'll call you."
)
LINEAR = {
    "q_proj": "self_attn.q_proj", "k_proj": "self_attn.k_proj", "v_proj": "self_attn.v_proj",
    "o_proj": "self_attn.o_proj", "gate_proj": "mlp.gate_proj", "up_proj": "mlp.up_proj", "down_proj": "mlp.down_proj",
}


# ---------------------------------------------------------------- safetensors (independent writer)

def _bf16_round(x: np.ndarray) -> np.ndarray:
    """Round float32 to the nearest bfloat16 (ties to even), returned as uint16 bits."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype(np.uint16)


def stored(x: np.ndarray, dtype: str) -> np.ndarray:
    """The float32 value a tensor has once stored as ``dtype`` (f32, f16, bf16)."""
    if dtype == "f16":
        return x.astype(np.float16).astype(np.float32)
    if dtype == "bf16":
        return (_bf16_round(x).astype(np.uint32) << 16).view(np.float32)
    return x.astype(np.float32)


def write_safetensors(path: Path, tensors: dict[str, np.ndarray], dtype: str = "f32") -> None:
    code = {"f32": "F32", "f16": "F16", "bf16": "BF16"}[dtype]
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    blobs, offset = [], 0
    for name, x in tensors.items():
        raw = (_bf16_round(x) if dtype == "bf16" else x.astype({"f32": "<f4", "f16": "<f2"}[dtype])).tobytes()
        header[name] = {"dtype": code, "shape": list(x.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    path.write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


# ---------------------------------------------------------------- tokenizer
from convert.hf_tokenizer import bytes_to_unicode  # noqa: E402

def make_tokenizer(n_merges: int = 60) -> tuple[dict[str, int], list[list[str]]]:
    """A byte-level BPE vocabulary (256 bytes + merges) trained on CORPUS, deterministic."""
    b2u = bytes_to_unicode()
    vocab = {b2u[b]: i for i, b in enumerate(sorted(b2u))}
    words = Counter(tuple(b2u[b] for b in w.encode()) for w in re.findall(r" ?\w+| ?[^\w\s]+|\s+", CORPUS))
    merges: list[list[str]] = []
    for _ in range(n_merges):
        pairs: Counter[tuple[str, str]] = Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        (a, b), _count = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        merges.append([a, b])
        vocab.setdefault(a + b, len(vocab))
        new_words: Counter[tuple[str, ...]] = Counter()
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new_words[tuple(out)] += c
        words = new_words
    return vocab, merges


def write_tokenizer(d: Path, vocab: dict[str, int], merges: list[list[str]], special_ids: dict[str, int]) -> None:
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": True} for t, i in special_ids.items()]
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN2_REGEX}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        ]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }
    (d / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False), encoding="utf-8")
    cfg = {
        "add_prefix_space": False,
        "added_tokens_decoder": {str(i): {k: v for k, v in a.items() if k != "id"} for a, i in zip(added, special_ids.values())},
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "chat_template": CHAT_TEMPLATE,
        "model_max_length": 512,
        "tokenizer_class": "Qwen2Tokenizer",
        "errors": "replace",
    }
    (d / "tokenizer_config.json").write_text(json.dumps(cfg, indent=1), encoding="utf-8")


# ---------------------------------------------------------------- checkpoints

@dataclass
class TinyModel:
    """A generated HF checkpoint: its directory, config, and float32 weights exactly as stored."""

    path: Path
    config: dict[str, Any]
    weights: dict[str, np.ndarray]
    specials: dict[str, int] = field(default_factory=dict)

    @property
    def n_layers(self) -> int:
        return int(self.config["num_hidden_layers"])


def make_config(arch: str, *, hidden: int = 64, ffn: int = 128, layers: int = 2, heads: int = 4, kv_heads: int = 2,
                head_dim: int | None = None, vocab_size: int, tied: bool = True, special_ids: dict[str, int]) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "architectures": ["Qwen2ForCausalLM" if arch == "qwen2" else "Qwen3ForCausalLM"],
        "model_type": arch,
        "hidden_size": hidden,
        "intermediate_size": ffn,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "max_position_embeddings": 512,
        "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0,
        "vocab_size": vocab_size,
        "tie_word_embeddings": tied,
        "bos_token_id": special_ids["<|endoftext|>"],
        "eos_token_id": special_ids["<|im_end|>"],
        "hidden_act": "silu",
        "torch_dtype": "bfloat16",
        "rope_scaling": None,
        "use_sliding_window": False,
    }
    if arch == "qwen3":
        cfg["head_dim"] = head_dim or hidden // heads
        cfg["attention_bias"] = False
    return cfg


def random_weights(cfg: dict[str, Any], seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    h, f, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    d = cfg.get("head_dim") or h // nh
    qwen3 = cfg["model_type"] == "qwen3"

    def mat(o: int, i: int) -> np.ndarray:
        return (rng.standard_normal((o, i)) / np.sqrt(i)).astype(np.float32)

    def norm(n: int) -> np.ndarray:
        return (1.0 + 0.2 * rng.standard_normal(n)).astype(np.float32)

    w = {"model.embed_tokens.weight": rng.standard_normal((v, h)).astype(np.float32)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = norm(h)
        w[p + "self_attn.q_proj.weight"] = mat(nh * d, h)
        w[p + "self_attn.k_proj.weight"] = mat(nkv * d, h)
        w[p + "self_attn.v_proj.weight"] = mat(nkv * d, h)
        if qwen3:
            w[p + "self_attn.q_norm.weight"] = norm(d)
            w[p + "self_attn.k_norm.weight"] = norm(d)
        else:
            for n, o in (("q", nh * d), ("k", nkv * d), ("v", nkv * d)):
                w[p + f"self_attn.{n}_proj.bias"] = (0.3 * rng.standard_normal(o)).astype(np.float32)
        w[p + "self_attn.o_proj.weight"] = mat(h, nh * d)
        w[p + "post_attention_layernorm.weight"] = norm(h)
        w[p + "mlp.gate_proj.weight"] = mat(f, h)
        w[p + "mlp.up_proj.weight"] = mat(f, h)
        w[p + "mlp.down_proj.weight"] = mat(h, f)
    w["model.norm.weight"] = norm(h)
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = mat(v, h)
    return w


def make_hf_model(d: Path, arch: str = "qwen2", *, dtype: str = "bf16", shards: int = 1, seed: int = 0,
                  extra_vocab: int = 13, **cfg_kw: Any) -> TinyModel:
    """Write a tiny random HF checkpoint with a tokenizer and chat template into ``d``."""
    d.mkdir(parents=True, exist_ok=True)
    vocab, merges = make_tokenizer()
    special_ids = {t: len(vocab) + k for k, t in enumerate(SPECIALS)}
    vocab_size = len(vocab) + len(SPECIALS) + extra_vocab  # padded, like Qwen's 151936 > 151665
    write_tokenizer(d, vocab, merges, special_ids)
    cfg = make_config(arch, vocab_size=vocab_size, special_ids=special_ids, **cfg_kw)
    (d / "config.json").write_text(json.dumps(cfg, indent=1), encoding="utf-8")
    raw = random_weights(cfg, seed)
    weights = {k: stored(x, dtype) for k, x in raw.items()}
    names = list(raw)
    if shards == 1:
        write_safetensors(d / "model.safetensors", raw, dtype)
    else:
        weight_map = {}
        for s in range(shards):
            part = names[s::shards]
            fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
            write_safetensors(d / fname, {k: raw[k] for k in part}, dtype)
            weight_map.update({k: fname for k in part})
        (d / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return TinyModel(d, cfg, weights, special_ids)


# ---------------------------------------------------------------- PEFT adapters

@dataclass
class TinyAdapter:
    path: Path
    config: dict[str, Any]
    # HF module name -> (A, B, scale), float32 values as stored
    loras: dict[str, tuple[np.ndarray, np.ndarray, float]]


def linear_shapes(cfg: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """(out, in) of every linear module, by HF module name."""
    h, f = cfg["hidden_size"], cfg["intermediate_size"]
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    d = cfg.get("head_dim") or h // nh
    per = {"q_proj": (nh * d, h), "k_proj": (nkv * d, h), "v_proj": (nkv * d, h), "o_proj": (h, nh * d),
           "gate_proj": (f, h), "up_proj": (f, h), "down_proj": (h, f)}
    return {f"model.layers.{i}.{LINEAR[k]}": s for i in range(cfg["num_hidden_layers"]) for k, s in per.items()}


ALL_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def make_adapter(d: Path, cfg: dict[str, Any], *, targets: list[str] | tuple[str, ...] | str = ALL_TARGETS,
                 r: int = 4, alpha: float = 8, zero_b: bool = False, seed: int = 1, dtype: str = "f32",
                 prefix: str = "base_model.model.", rank_pattern: dict[str, int] | None = None,
                 alpha_pattern: dict[str, float] | None = None, use_rslora: bool = False,
                 b_scale: float = 0.5, adapter_name: str | None = None, layers: list[int] | None = None,
                 **config_overrides: Any) -> TinyAdapter:
    """Write a PEFT-style LoRA adapter for ``cfg``'s linear modules, named and laid out as PEFT saves them."""
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    targets = list(targets) if not isinstance(targets, str) else targets
    rank_pattern, alpha_pattern = rank_pattern or {}, alpha_pattern or {}
    tensors: dict[str, np.ndarray] = {}
    loras: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}
    for module, (o, i) in linear_shapes(cfg).items():
        short = module.rsplit(".", 1)[1]
        if isinstance(targets, str) or short not in targets:
            continue
        if layers is not None and int(module.split(".")[2]) not in layers:
            continue
        rr = next((v for k, v in rank_pattern.items() if re.match(rf"(.*\.)?({k})$", module)), r)
        aa = next((v for k, v in alpha_pattern.items() if re.match(rf"(.*\.)?({k})$", module)), alpha)
        a = (rng.standard_normal((rr, i)) / np.sqrt(i)).astype(np.float32)
        b = np.zeros((o, rr), np.float32) if zero_b else (b_scale * rng.standard_normal((o, rr))).astype(np.float32)
        infix = f".{adapter_name}" if adapter_name else ""  # PEFT's in-memory names: lora_A.default.weight
        tensors[f"{prefix}{module}.lora_A{infix}.weight"] = a
        tensors[f"{prefix}{module}.lora_B{infix}.weight"] = b
        loras[module] = (stored(a, dtype), stored(b, dtype), aa / (np.sqrt(rr) if use_rslora else rr))
    config = {
        "alpha_pattern": alpha_pattern, "auto_mapping": None, "base_model_name_or_path": "tiny",
        "bias": "none", "fan_in_fan_out": False, "inference_mode": True, "init_lora_weights": True,
        "layer_replication": None, "layers_pattern": None, "layers_to_transform": layers,
        "loftq_config": {}, "lora_alpha": alpha, "lora_dropout": 0.0, "megatron_config": None,
        "megatron_core": "megatron.core", "modules_to_save": None, "peft_type": "LORA", "r": r,
        "rank_pattern": rank_pattern, "revision": None, "target_modules": targets, "task_type": "CAUSAL_LM",
        "use_dora": False, "use_rslora": use_rslora,
    }
    config.update(config_overrides)
    (d / "adapter_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    write_safetensors(d / "adapter_model.safetensors", tensors, dtype)
    return TinyAdapter(d, config, loras)


def merged_weights(model_weights: dict[str, np.ndarray], adapter: TinyAdapter | None) -> dict[str, np.ndarray]:
    """HF weights with the adapter merged, computed in float64."""
    w = {k: v.astype(np.float64) for k, v in model_weights.items()}
    if adapter is not None:
        for module, (a, b, scale) in adapter.loras.items():
            w[module + ".weight"] = w[module + ".weight"] + scale * (b.astype(np.float64) @ a.astype(np.float64))
    return w
