"""Generate tiny GGUF language models with random weights and a byte-level BPE vocabulary, for fast real-llama.cpp tests.

The files are real qwen2 / qwen3 models as far as llama.cpp is concerned: real tokenizer, real chat template,
real tensors; only the sizes are tiny and the weights random.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

from convert.hf_tokenizer import bytes_to_unicode

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
# The part of Qwen3's template that matters here: the no-think switch closes an empty think block.
QWEN3_CHATML = CHATML[: CHATML.rindex("{% if add_generation_prompt %}")] + (
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
    "{% if enable_thinking is defined and enable_thinking is false %}{{ '<think>\\n\\n</think>\\n\\n' }}{% endif %}"
    "{% endif %}"
)

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
_MERGES = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("o", "r"), ("Ġ", "a"), ("e", "r"), ("Ġ", "s"),
           ("o", "l"), ("d", "e"), ("f", "ol"), ("fol", "de"), ("folde", "r"), ("r", "i"), ("p", "ri")]


def vocabulary(with_merges: bool = True) -> tuple[list[str], list[int], list[str]]:
    """Tokens, token types and merges of the tiny byte-level BPE tokenizer (one token per byte without merges)."""
    table = bytes_to_unicode()
    tokens = [table[b] for b in range(256)]
    types = [gguf.TokenType.NORMAL] * len(tokens)
    merges = []
    # Without merges llama.cpp still needs one: join the pieces of bytes 0x00 and 0x01, which prompts never contain.
    for left, right in _MERGES if with_merges else [("Ā", "ā")]:
        merges.append(f"{left} {right}")
        tokens.append(left + right)
        types.append(gguf.TokenType.NORMAL)
    for special in SPECIAL_TOKENS:
        tokens.append(special)
        types.append(gguf.TokenType.CONTROL if special.startswith("<|") else gguf.TokenType.USER_DEFINED)
    return tokens, [int(t) for t in types], merges


def write_tiny_model(path: Path, *, arch: str = "qwen2", seed: int = 0, n_embd: int = 64, n_layer: int = 2,
                     n_head: int = 4, n_head_kv: int = 2, n_ff: int = 128, context_length: int = 8192,
                     chat_template: str | None = None, scale: float = 0.5, with_merges: bool = True,
                     extra_metadata: dict[str, str] | None = None) -> Path:
    """Write a tiny ``qwen2`` or ``qwen3`` GGUF with random float32 weights and return its path.
    ``extra_metadata``: string keys added to the file's metadata (e.g. ``notifclf.folder_labels``)."""
    if arch not in ("qwen2", "qwen3"):
        raise ValueError(f"arch must be qwen2 or qwen3, got {arch}")
    rng = np.random.default_rng(seed)
    tokens, types, merges = vocabulary(with_merges)
    n_vocab = len(tokens)
    head_dim = n_embd // n_head

    def rand(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * scale / np.sqrt(shape[-1])).astype(np.float32)

    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name(f"tiny-{arch}-{seed}")
    writer.add_context_length(context_length)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head_kv)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    eot = tokens.index("<|endoftext|>")
    writer.add_bos_token_id(eot)
    writer.add_eos_token_id(tokens.index("<|im_end|>"))
    writer.add_pad_token_id(eot)
    writer.add_add_bos_token(False)
    writer.add_chat_template(chat_template if chat_template is not None else (QWEN3_CHATML if arch == "qwen3" else CHATML))
    for key, value in (extra_metadata or {}).items():
        writer.add_string(key, value)

    writer.add_tensor("token_embd.weight", rand(n_vocab, n_embd) * 4)
    writer.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    writer.add_tensor("output.weight", rand(n_vocab, n_embd) * 4)
    for i in range(n_layer):
        p = f"blk.{i}."
        writer.add_tensor(p + "attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(p + "attn_q.weight", rand(n_head * head_dim, n_embd))
        writer.add_tensor(p + "attn_k.weight", rand(n_head_kv * head_dim, n_embd))
        writer.add_tensor(p + "attn_v.weight", rand(n_head_kv * head_dim, n_embd))
        if arch == "qwen2":
            writer.add_tensor(p + "attn_q.bias", rand(n_head * head_dim))
            writer.add_tensor(p + "attn_k.bias", rand(n_head_kv * head_dim))
            writer.add_tensor(p + "attn_v.bias", rand(n_head_kv * head_dim))
        else:
            writer.add_tensor(p + "attn_q_norm.weight", np.ones(head_dim, dtype=np.float32))
            writer.add_tensor(p + "attn_k_norm.weight", np.ones(head_dim, dtype=np.float32))
        writer.add_tensor(p + "attn_output.weight", rand(n_embd, n_head * head_dim))
        writer.add_tensor(p + "ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(p + "ffn_gate.weight", rand(n_ff, n_embd))
        writer.add_tensor(p + "ffn_up.weight", rand(n_ff, n_embd))
        writer.add_tensor(p + "ffn_down.weight", rand(n_embd, n_ff))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
