"""An independent float64 numpy forward pass of Qwen2 / Qwen3 decoder models, on HF-named weights.

RMSNorm, NeoX-style RoPE (rotate halves, as HF's ``rotate_half``), grouped-query attention with a
causal mask, Qwen2's q/k/v biases, Qwen3's per-head q/k RMSNorm, SwiGLU MLP, tied or separate lm_head.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def rms_norm(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope_neox(x: np.ndarray, pos: np.ndarray, theta: float) -> np.ndarray:
    """x: (T, heads, D). Rotates pairs (i, i + D/2) by pos * theta^(-2i/D)."""
    d = x.shape[-1]
    inv = theta ** (-np.arange(0, d, 2, dtype=np.float64) / d)
    ang = pos[:, None].astype(np.float64) * inv[None, :]  # (T, D/2)
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def forward(cfg: dict[str, Any], w: dict[str, np.ndarray], tokens: list[int]) -> np.ndarray:
    """Logits (T, vocab) for ``tokens`` at positions 0..T-1."""
    w = {k: np.asarray(v, dtype=np.float64) for k, v in w.items()}
    eps, theta = cfg["rms_norm_eps"], cfg["rope_theta"]
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    d = cfg.get("head_dim") or cfg["hidden_size"] // nh
    qwen3 = cfg["model_type"] == "qwen3"
    t = len(tokens)
    pos = np.arange(t)
    mask = np.triu(np.full((t, t), -np.inf), k=1)
    x = w["model.embed_tokens.weight"][np.asarray(tokens)]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."

        def lin(name: str, h: np.ndarray, p: str = p) -> np.ndarray:
            y = h @ w[p + name + ".weight"].T
            return y + w[p + name + ".bias"] if p + name + ".bias" in w else y

        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = lin("self_attn.q_proj", h).reshape(t, nh, d)
        k = lin("self_attn.k_proj", h).reshape(t, nkv, d)
        v = lin("self_attn.v_proj", h).reshape(t, nkv, d)
        if qwen3:
            q = rms_norm(q, w[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, w[p + "self_attn.k_norm.weight"], eps)
        q, k = rope_neox(q, pos, theta), rope_neox(k, pos, theta)
        group = nh // nkv
        out = np.empty((t, nh, d))
        for head in range(nh):
            kv = head // group
            s = q[:, head, :] @ k[:, kv, :].T / np.sqrt(d) + mask
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            s /= s.sum(axis=-1, keepdims=True)
            out[:, head, :] = s @ v[:, kv, :]
        x = x + lin("self_attn.o_proj", out.reshape(t, nh * d))
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        x = x + lin("mlp.down_proj", silu(lin("mlp.gate_proj", h)) * lin("mlp.up_proj", h))
    x = rms_norm(x, w["model.norm.weight"], eps)
    head_w = w["lm_head.weight"] if "lm_head.weight" in w else w["model.embed_tokens.weight"]
    return x @ head_w.T
