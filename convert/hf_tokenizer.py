"""Turn a Hugging Face ``tokenizer.json`` (byte-level BPE) into GGUF tokenizer metadata, without transformers.

llama.cpp's converter identifies the pre-tokenizer by hashing what ``transformers`` produces on a test
string; here it is identified from the regex in ``tokenizer.json`` instead, and an unknown one is an
error rather than a silent fallback (a wrong pre-tokenizer gives a model that loads but splits text
differently from the one it was trained with).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import gguf

from .errors import BaseModelError

log = logging.getLogger("notifclf.convert")

#: Split regexes of known byte-level BPE pre-tokenizers -> llama.cpp ``tokenizer.ggml.pre`` names.
KNOWN_PRE_TOKENIZERS: dict[str, str] = {
    # Qwen1.5, Qwen2, Qwen2.5, Qwen3
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+": "qwen2",
}


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte-to-printable-character table, as used by byte-level BPE vocabularies (Qwen's included)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def _looks_special(token: str) -> bool:
    return (token.startswith("<|") and token.endswith("|>")) or token in ("<pad>", "<mask>")


def _pre_tokenizer(tok: dict[str, Any], path: Path) -> str:
    pre = tok.get("pre_tokenizer") or {}
    parts = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    regexes = [p.get("pattern", {}).get("Regex") for p in parts if p.get("type") == "Split"]
    byte_level = [p for p in parts if p.get("type") == "ByteLevel"]
    if len(regexes) == 1 and regexes[0] in KNOWN_PRE_TOKENIZERS and byte_level and not byte_level[0].get("use_regex", True):
        return KNOWN_PRE_TOKENIZERS[regexes[0]]
    raise BaseModelError(
        f"{path}: unrecognised pre-tokenizer {json.dumps(pre)[:200]}; supported: {', '.join(sorted(set(KNOWN_PRE_TOKENIZERS.values())))}"
    )


def add_tokenizer(writer: gguf.GGUFWriter, model_dir: Path, vocab_size: int) -> None:
    """Add tokens, token types, merges, special token ids, add-BOS/EOS flags and the chat template."""
    path = model_dir / "tokenizer.json"
    try:
        tok = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise BaseModelError(f"{model_dir}: tokenizer.json is missing (only fast byte-level BPE tokenizers are supported)") from e
    except (OSError, ValueError) as e:
        raise BaseModelError(f"{path}: cannot read: {e}") from e
    model = tok.get("model") or {}
    if model.get("type") != "BPE" or model.get("byte_fallback"):
        raise BaseModelError(f"{path}: only byte-level BPE tokenizers are supported, got {model.get('type')!r}")
    pre = _pre_tokenizer(tok, path)

    vocab: dict[str, int] = model.get("vocab") or {}
    added: list[dict[str, Any]] = tok.get("added_tokens") or []
    ids = list(vocab.values()) + [a["id"] for a in added]
    if not ids:
        raise BaseModelError(f"{path}: empty vocabulary")
    if max(ids) >= vocab_size:
        raise BaseModelError(f"{path}: token id {max(ids)} does not fit the model's vocab_size {vocab_size}")

    tokens = [f"[PAD{i}]" for i in range(vocab_size)]
    types = [int(gguf.TokenType.UNUSED)] * vocab_size
    for text, i in vocab.items():
        tokens[i], types[i] = text, int(gguf.TokenType.NORMAL)
    for a in added:
        special = a.get("special", False) or _looks_special(a["content"])
        tokens[a["id"]] = a["content"]
        types[a["id"]] = int(gguf.TokenType.CONTROL if special else gguf.TokenType.USER_DEFINED)

    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)

    special = gguf.SpecialVocab(model_dir, load_merges=True, n_vocab=vocab_size)
    if not special.merges:
        raise BaseModelError(f"{path}: no BPE merges found")
    if pre == "qwen2" and "bos" not in special.add_special_token:
        special.add_special_token["bos"] = False  # Qwen never prepends a BOS token
    special.add_to_gguf(writer, quiet=True)
    if special.chat_template is None:
        log.warning("%s: no chat template found (tokenizer_config.json or chat_template.jinja)", model_dir)
