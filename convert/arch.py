"""Architectures convert supports, and the mapping between Hugging Face and GGUF tensor names.

None of the supported architectures permutes its attention weights on the way to GGUF: llama.cpp's
converter only reorders q/k rows for the ``llama`` family (its interleaved RoPE); qwen2, qwen3 and
gemma3 use NeoX-style RoPE on the HF row order, so a LoRA delta computed in HF layout is added to the
GGUF tensor of the same name unchanged.
"""

from __future__ import annotations

import re

from .errors import UnsupportedArchitectureError

#: Architectures convert can write, by GGUF name.
SUPPORTED_ARCHITECTURES: tuple[str, ...] = ("qwen2", "qwen3", "gemma3")
#: Architectures that can also be read from a Hugging Face safetensors checkpoint (gemma3 needs a
#: SentencePiece tokenizer and norm offsets, so it is only supported from a GGUF base).
HF_ARCHITECTURES: dict[str, str] = {"qwen2": "qwen2", "qwen3": "qwen3"}

#: HF linear modules a LoRA adapter may target, relative to ``model.layers.N``, and their GGUF stems.
LINEAR_MODULES: dict[str, str] = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}

_NORMS: dict[str, dict[str, str]] = {
    "qwen2": {
        "input_layernorm": "attn_norm",
        "post_attention_layernorm": "ffn_norm",
    },
    "qwen3": {
        "input_layernorm": "attn_norm",
        "post_attention_layernorm": "ffn_norm",
        "self_attn.q_norm": "attn_q_norm",
        "self_attn.k_norm": "attn_k_norm",
    },
    "gemma3": {
        "input_layernorm": "attn_norm",
        "post_attention_layernorm": "post_attention_norm",
        "pre_feedforward_layernorm": "ffn_norm",
        "post_feedforward_layernorm": "post_ffw_norm",
        "self_attn.q_norm": "attn_q_norm",
        "self_attn.k_norm": "attn_k_norm",
    },
}

_GLOBAL: dict[str, str] = {
    "model.embed_tokens": "token_embd",
    "model.norm": "output_norm",
    "lm_head": "output",
}

_HF_LAYER_RE = re.compile(r"^model\.layers\.(\d+)\.(.+)\.(weight|bias)$")
_HF_GLOBAL_RE = re.compile(r"^(.+)\.(weight|bias)$")
_HF_MODULE_RE = re.compile(r"^model\.layers\.(\d+)\.(.+)$")


def check_architecture(arch: str, *, hf: bool = False) -> str:
    """Return ``arch`` if convert supports it (from an HF checkpoint when ``hf``), else raise."""
    supported = tuple(HF_ARCHITECTURES) if hf else SUPPORTED_ARCHITECTURES
    if arch not in supported:
        where = "a Hugging Face checkpoint" if hf else "any base"
        raise UnsupportedArchitectureError(
            f"architecture {arch!r} is not supported from {where}; supported: {', '.join(supported)}"
            + ("; gemma3 is supported from a GGUF base" if hf else "")
        )
    return arch


def hf_to_gguf_name(arch: str, hf_name: str) -> str | None:
    """GGUF tensor name of an HF parameter name, or None if the parameter has no GGUF counterpart."""
    m = _HF_LAYER_RE.match(hf_name)
    if m:
        bid, module, kind = m.groups()
        stem = LINEAR_MODULES.get(module) or _NORMS[arch].get(module)
        return None if stem is None else f"blk.{bid}.{stem}.{kind}"
    m = _HF_GLOBAL_RE.match(hf_name)
    if m and m.group(1) in _GLOBAL:
        return f"{_GLOBAL[m.group(1)]}.{m.group(2)}"
    return None


def lora_module_to_gguf(module: str) -> str | None:
    """GGUF weight name a LoRA on HF module ``model.layers.N.<linear>`` is merged into, or None."""
    m = _HF_MODULE_RE.match(module)
    if not m or m.group(2) not in LINEAR_MODULES:
        return None
    return f"blk.{m.group(1)}.{LINEAR_MODULES[m.group(2)]}.weight"
