"""Load the base model (straight from its GGUF, dequantized, or from a HF directory) and add a LoRA adapter."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

import torch

DEFAULT_BASE_GGUF = "/tmp/qwen25-coder-0.5b-q4km.gguf"
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def pick_device(requested: str = "auto") -> torch.device:
    if requested != "auto":
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    if name == "float32":
        return torch.float32
    if name == "bfloat16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    return torch.bfloat16 if cpu_has_bf16() else torch.float32


def setup_threads(device: torch.device, threads: Optional[int] = None) -> None:
    if device.type == "cpu":
        n = threads or int(os.environ.get("NOTIFCLF_TRAIN_THREADS", "0")) or (os.cpu_count() or 1)
        torch.set_num_threads(n)


def _gguf_string(gguf_path: str | Path, key: str) -> Optional[str]:
    """A string value of a GGUF file's metadata, or None when the file lacks ``key``."""
    import gguf

    field = gguf.GGUFReader(str(gguf_path)).fields.get(key)
    return None if field is None else bytes(field.parts[field.data[0]]).decode("utf-8")


def read_chat_template(gguf_path: str | Path) -> str:
    """The chat template stored in the GGUF metadata (``tokenizer.chat_template``), or the runtime's fallback for
    the GGUF's architecture (the base Gemma 3 270M carries none), so training renders what the runtime renders."""
    from notifclf.chat_template import fallback_template

    template = _gguf_string(gguf_path, "tokenizer.chat_template")
    if template is not None:
        return template
    return fallback_template(_gguf_string(gguf_path, "general.architecture") or "")


def base_name(base: str | Path) -> str:
    """A readable name of the base: ``general.name`` of a GGUF, the directory name of a HF checkpoint."""
    base = Path(base)
    if base.suffix != ".gguf":
        return base.name
    return _gguf_string(base, "general.name") or base.stem


def load_tokenizer(base: str | Path):
    from transformers import AutoTokenizer

    base = Path(base)
    if base.suffix == ".gguf":
        return AutoTokenizer.from_pretrained(str(base.parent), gguf_file=base.name)
    return AutoTokenizer.from_pretrained(str(base))


def load_base(base: str | Path, device: torch.device, dtype: torch.dtype = torch.float32):
    """Return (model, tokenizer, chat_template). A ``.gguf`` path is loaded dequantized by transformers."""
    from transformers import AutoModelForCausalLM

    base = Path(base)
    tok = load_tokenizer(base)
    if base.suffix == ".gguf":
        model = AutoModelForCausalLM.from_pretrained(str(base.parent), gguf_file=base.name, dtype=dtype)
        template = read_chat_template(base)
    else:
        model = AutoModelForCausalLM.from_pretrained(str(base), dtype=dtype)
        template = getattr(tok, "chat_template", None)
    model.to(device)
    model.config.use_cache = True
    return model, tok, template


def add_lora(model, r: int = 16, alpha: int = 32, dropout: float = 0.0,
             target_modules: Sequence[str] = ALL_LINEAR, layers: Optional[Sequence[int]] = None):
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=list(target_modules),
                     layers_to_transform=list(layers) if layers is not None else None, bias="none",
                     task_type="CAUSAL_LM")
    return get_peft_model(model, cfg)


def load_lora(model, adapter_dir: str | Path, trainable: bool = True):
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=trainable)


def make_encoder(tok):
    """``encode(text, special)``: special=True parses special tokens (template text); False never does (user data)."""

    added = set(tok.get_added_vocab().values())

    def encode(text: str, special: bool) -> list[int]:
        if not text:
            return []
        ids = tok.encode(text, add_special_tokens=False, split_special_tokens=not special)
        if special or not added.intersection(ids):
            return ids
        # As LlamaRuntime.tokenize_data: an added token left in user data (Qwen2.5's <tool_call>) is plain text.
        out: list[int] = []
        for i in ids:
            marker = tok.convert_ids_to_tokens(i) if i in added else ""
            out += encode(marker[0], False) + encode(marker[1:], False) if len(marker) > 1 else [i]
        return out

    return encode


def bos_ids(tok) -> list[int]:
    """The token(s) the tokenizer puts before a text of its own accord (Gemma's ``<bos>``; none for Qwen), as
    llama.cpp does at runtime for the prompt's start."""
    plain = tok.encode("x", add_special_tokens=False)
    full = tok.encode("x", add_special_tokens=True)
    return full[: full.index(plain[0])] if plain and plain[0] in full else []


def eot_ids(tok) -> list[int]:
    """The end-of-turn token(s) the answer ends with (``<|im_end|>`` for Qwen, ``<end_of_turn>`` for Gemma)."""
    for marker in ("<|im_end|>", "<end_of_turn>"):
        tid = tok.convert_tokens_to_ids(marker)
        if isinstance(tid, int) and tid != tok.unk_token_id:
            return [tid]
    return [tok.eos_token_id]


def body_and_head(model):
    """The transformer body (embeddings + layers + final norm) and the lm_head, through a PeftModel or not."""
    inner = model
    if hasattr(inner, "base_model") and hasattr(inner.base_model, "model"):
        inner = inner.base_model.model  # PeftModel -> LoraModel -> *ForCausalLM
    return inner.model, inner.lm_head
