"""A thin, owned layer over llama.cpp's C API (through llama-cpp-python's ctypes bindings).

It loads one model with one context, tokenizes, decodes token batches into numbered sequences, saves and restores
a sequence's KV state, and reads logits. Everything notifclf does with llama.cpp goes through here.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import numpy as np

import llama_cpp.llama_cpp as C

from ..errors import GrammarError, ModelIntegrityError, NotifclfError
from .llama_log import init_backend
from .piece_index import PieceIndex


def default_threads() -> int:
    return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)))


class LlamaRuntime:
    """One llama.cpp model and its context. Not thread-safe: callers serialize access (the Classifier holds a lock)."""

    def __init__(self, path: Path, *, n_threads: int | None = None) -> None:
        init_backend()
        self.path = path
        self.n_threads = n_threads or default_threads()
        mparams = C.llama_model_default_params()
        mparams.use_mmap = True
        self._model = C.llama_model_load_from_file(str(path).encode("utf-8"), mparams)
        if not self._model:
            raise ModelIntegrityError(f"llama.cpp could not load {path}: not a valid GGUF model of a supported architecture")
        self._vocab = C.llama_model_get_vocab(self._model)
        self.n_vocab = int(C.llama_vocab_n_tokens(self._vocab))
        self.n_ctx_train = int(C.llama_model_n_ctx_train(self._model))
        self.bos_id = int(C.llama_vocab_bos(self._vocab))
        self.add_bos = bool(C.llama_vocab_get_add_bos(self._vocab))
        self._ctx = None
        self._batch = None
        self.n_ctx = 0
        self._piece_index: PieceIndex | None = None

    def open_context(self, *, n_ctx: int, n_batch: int = 512, n_seq_max: int = 1) -> None:
        """(Re)create the context; any KV state of an earlier context is gone."""
        self._close_context()
        cparams = C.llama_context_default_params()
        cparams.n_ctx = n_ctx
        cparams.n_batch = n_batch
        cparams.n_ubatch = n_batch
        cparams.n_seq_max = n_seq_max
        cparams.n_threads = self.n_threads
        cparams.n_threads_batch = self.n_threads
        cparams.no_perf = True
        cparams.kv_unified = True  # sequences share one KV buffer (and the cached system prompt's cells)
        # CPU flash attention rounds queries to f16, so logits depend on how tokens are batched (differences of
        # ~0.1 seen); the plain kernel keeps batched and token-by-token decoding equal to ~1e-5.
        cparams.flash_attn_type = C.LLAMA_FLASH_ATTN_TYPE_DISABLED
        self._ctx = C.llama_init_from_model(self._model, cparams)
        if not self._ctx:
            raise NotifclfError(f"llama.cpp could not create a context of {n_ctx} tokens for {self.path}")
        self.n_ctx = int(C.llama_n_ctx(self._ctx))
        self.n_batch = n_batch
        self.n_seq_max = n_seq_max
        self._mem = C.llama_get_memory(self._ctx)
        self._batch = C.llama_batch_init(n_batch, 0, n_seq_max)

    # -- metadata ---------------------------------------------------------------------------------------------
    def chat_template(self) -> str | None:
        raw = C.llama_model_chat_template(self._model, None)
        return raw.decode("utf-8") if raw else None

    def metadata(self, key: str) -> str | None:
        """A GGUF metadata value as text (e.g. ``general.architecture``), or None when the file lacks ``key``."""
        buf = ctypes.create_string_buffer(256)
        n = C.llama_model_meta_val_str(self._model, key.encode("utf-8"), buf, len(buf))
        if n >= len(buf):  # the value's length without the terminator: read it again whole
            buf = ctypes.create_string_buffer(n + 1)
            n = C.llama_model_meta_val_str(self._model, key.encode("utf-8"), buf, len(buf))
        return buf.value.decode("utf-8", errors="replace") if n >= 0 else None

    def token_text(self, token: int) -> str:
        return self.piece(token, special=True).decode("utf-8", errors="replace")

    # -- tokens -----------------------------------------------------------------------------------------------
    def tokenize(self, text: str, *, special: bool, add_bos: bool = False) -> list[int]:
        """Tokenize ``text``; ``special`` parses special tokens such as ``<|im_start|>`` (never for user data)."""
        data = text.encode("utf-8")
        n_max = len(data) + 8
        buf = (C.llama_token * n_max)()
        n = C.llama_tokenize(self._vocab, data, len(data), buf, n_max, add_bos, special)
        if n < 0:
            n_max = -n
            buf = (C.llama_token * n_max)()
            n = C.llama_tokenize(self._vocab, data, len(data), buf, n_max, add_bos, special)
        if n < 0:
            raise NotifclfError(f"tokenization failed for a text of {len(data)} bytes")
        return list(buf[:n])

    def piece(self, token: int, *, special: bool = False) -> bytes:
        buf = ctypes.create_string_buffer(64)
        n = C.llama_token_to_piece(self._vocab, token, buf, 64, 0, special)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = C.llama_token_to_piece(self._vocab, token, buf, -n, 0, special)
        return buf.raw[:n]

    def piece_index(self) -> PieceIndex:
        """Every token's piece mapped to its ids (empty pieces left out, as llama.cpp's grammar does). Built once
        per model."""
        if self._piece_index is None:
            pieces = ((token, self.piece(token, special=True)) for token in range(self.n_vocab))
            self._piece_index = PieceIndex((t, p) for t, p in pieces if p and p[0] != 0)
        return self._piece_index

    def is_special(self, token: int) -> bool:
        """True for control tokens (``<|im_start|>``) and user-defined added tokens of two or more characters (Qwen3's
        ``<think>``): tokens plain text should not produce. Gemma marks ``\n`` user-defined; one character is plain
        text whichever token carries it."""
        attr = C.llama_vocab_get_attr(self._vocab, token)
        if attr & C.LLAMA_TOKEN_ATTR_CONTROL:
            return True
        return bool(attr & C.LLAMA_TOKEN_ATTR_USER_DEFINED) and len(self.piece(token, special=True).decode(
            "utf-8", errors="replace")) > 1

    def tokenize_data(self, text: str) -> list[int]:
        """Tokenize untrusted text so that it holds no special token at all.

        llama.cpp's ``parse_special=false`` still matches user-defined tokens such as ``<think>`` or ``<tool_call>``;
        each one found is tokenized again as plain text, its first character apart from the rest.
        """
        tokens = self.tokenize(text, special=False)
        if not any(map(self.is_special, tokens)):
            return tokens
        out: list[int] = []
        for token in tokens:
            marker = self.piece(token, special=True).decode("utf-8", errors="replace") if self.is_special(token) else ""
            if len(marker) < 2:
                out.append(token)
            else:
                out += self.tokenize(marker[0], special=False) + self.tokenize_data(marker[1:])
        return out

    # -- decoding ---------------------------------------------------------------------------------------------
    def decode(self, items: "list[tuple[int, int, tuple[int, ...], bool]]") -> list[int]:
        """Decode ``(token, position, seq_ids, want_logits)`` items in one batch (at most ``n_batch`` items).

        Returns the batch indices of the items that asked for logits, for :meth:`logits`.
        """
        if len(items) > self.n_batch:
            raise NotifclfError(f"a batch of {len(items)} tokens exceeds n_batch={self.n_batch}")
        batch = self._batch
        wanted = []
        for i, (token, pos, seqs, want) in enumerate(items):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = len(seqs)
            for j, seq in enumerate(seqs):
                batch.seq_id[i][j] = seq
            batch.logits[i] = want
            if want:
                wanted.append(i)
        batch.n_tokens = len(items)
        rc = C.llama_decode(self._ctx, batch)
        if rc != 0:
            raise NotifclfError(f"llama_decode failed with code {rc} (context of {self.n_ctx} tokens full?)")
        return wanted

    def decode_sequence(self, tokens: list[int], *, start: int, seq_id: int = 0) -> None:
        """Decode ``tokens`` at positions ``start..`` of one sequence, in chunks; the last token's logits are kept."""
        for at in range(0, len(tokens), self.n_batch):
            chunk = tokens[at:at + self.n_batch]
            last = at + len(chunk) == len(tokens)
            self.decode([(t, start + at + i, (seq_id,), last and i == len(chunk) - 1) for i, t in enumerate(chunk)])

    def logits(self, index: int) -> np.ndarray:
        """The logits of output ``index`` of the last decode (``-1`` for the last), as a fresh float32 array."""
        ptr = C.llama_get_logits_ith(self._ctx, index)
        if not ptr:
            raise NotifclfError(f"no logits for output {index}")
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy()

    # -- KV memory --------------------------------------------------------------------------------------------
    def truncate(self, seq_id: int, keep: int) -> None:
        """Drop positions ``keep..`` of a sequence (``seq_id=-1``: of every sequence; ``keep=0`` empties it)."""
        C.llama_memory_seq_rm(self._mem, seq_id, keep, -1)

    def share_prefix(self, src: int, dst: int, upto: int) -> None:
        """Let sequence ``dst`` see positions ``0..upto`` of ``src`` (shared cells, no copy of data)."""
        C.llama_memory_seq_cp(self._mem, src, dst, 0, upto)

    def save_sequence(self, seq_id: int) -> bytes:
        size = C.llama_state_seq_get_size(self._ctx, seq_id)
        buf = (ctypes.c_uint8 * size)()
        n = C.llama_state_seq_get_data(self._ctx, buf, size, seq_id)
        return bytes(buf[:n])

    def restore_sequence(self, seq_id: int, state: bytes) -> None:
        self.truncate(-1, 0)
        buf = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        if C.llama_state_seq_set_data(self._ctx, buf, len(state), seq_id) == 0:
            raise NotifclfError("llama.cpp refused to restore a cached prompt state")

    # -- grammar ----------------------------------------------------------------------------------------------
    def grammar_sampler(self, gbnf: str) -> "GrammarSampler":
        return GrammarSampler(self, gbnf)

    def _close_context(self) -> None:
        if getattr(self, "_batch", None) is not None:
            C.llama_batch_free(self._batch)
            self._batch = None
        if getattr(self, "_ctx", None):
            C.llama_free(self._ctx)
            self._ctx = None

    def close(self) -> None:
        self._close_context()
        if getattr(self, "_model", None):
            C.llama_model_free(self._model)
            self._model = None

    def __del__(self) -> None:
        self.close()


class GrammarSampler:
    """Greedy sampling constrained by a compiled GBNF grammar. A grammar that fails to compile raises GrammarError."""

    def __init__(self, runtime: LlamaRuntime, gbnf: str) -> None:
        self._runtime = runtime
        grammar = C.llama_sampler_init_grammar(runtime._vocab, gbnf.encode("utf-8"), b"root")
        if not grammar:
            raise GrammarError("the output grammar failed to compile in llama.cpp; refusing to decode without it:\n" + gbnf)
        self._chain = C.llama_sampler_chain_init(C.llama_sampler_chain_default_params())
        C.llama_sampler_chain_add(self._chain, grammar)
        C.llama_sampler_chain_add(self._chain, C.llama_sampler_init_greedy())

    def reset(self) -> None:
        C.llama_sampler_reset(self._chain)

    def sample(self, index: int = -1) -> int:
        """Pick and accept the best grammar-allowed token from output ``index`` of the last decode."""
        return int(C.llama_sampler_sample(self._chain, self._runtime._ctx, index))

    def accept(self, token: int) -> None:
        """Advance the grammar over ``token`` without sampling (jump-forward over text the grammar fixes)."""
        C.llama_sampler_accept(self._chain, token)

    def close(self) -> None:
        if getattr(self, "_chain", None):
            C.llama_sampler_free(self._chain)
            self._chain = None

    def __del__(self) -> None:
        self.close()
