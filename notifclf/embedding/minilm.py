"""A BERT sentence encoder (all-MiniLM-L6-v2) in float32 numpy: text in, L2-normalised mean-pooled embedding out.

Why numpy and not torch: the runtime only needs the forward pass of a 22M-parameter encoder on short texts, and
numpy (already a dependency) with its BLAS does that in milliseconds; torch + transformers would add gigabytes.
The computation follows Hugging Face's ``BertModel`` and sentence-transformers' ``Pooling(mean)`` + ``Normalize``
step by step, in float32, so the embeddings match sentence-transformers to about 1e-6.

Thread safety: the weights are read-only arrays (a memory map of the safetensors file, plus the fused Q/K/V copy
made once at construction) and :meth:`SentenceEncoder.encode` keeps all its state in local variables but for the
small cache of recent texts, which a lock guards, so any number of threads may call it at once; numpy releases the
GIL inside BLAS, so they even overlap.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import ModelIntegrityError
from ..lru import LRU
from .jsonfile import read_json
from .wordpiece import WordPieceTokenizer

_F32 = np.float32
# Padding keys get this added to their attention score: exp() of it is exactly 0, as with HF's finfo.min mask.
_MASKED = np.finfo(np.float32).min
# Abramowitz & Stegun 7.1.26: erf(z) = 1 - t*(a1 + t*(a2 + ...)) * exp(-z^2), t = 1 / (1 + p z), z >= 0;
# absolute error below 1.5e-7, well under float32 noise after the layer norms (numpy has no erf of its own).
_ERF_P = 0.3275911
_ERF_A = (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)  # a5 .. a1
_INV_SQRT2 = 1.0 / math.sqrt(2.0)


@dataclass(frozen=True)
class BertConfig:
    """The parts of a Hugging Face BERT ``config.json`` the forward pass needs."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float

    @classmethod
    def from_file(cls, path: Path) -> BertConfig:
        """Read and check ``config.json``: a BERT with absolute positions and exact ("gelu") activations."""
        raw = read_json(path, "model config")
        try:
            if raw.get("model_type", "bert") != "bert":
                raise ValueError(f"model_type {raw.get('model_type')!r} is not 'bert'")
            if raw.get("hidden_act", "gelu") != "gelu":
                raise ValueError(f"hidden_act {raw.get('hidden_act')!r} is not 'gelu'")
            if raw.get("position_embedding_type", "absolute") != "absolute":
                raise ValueError(f"position_embedding_type {raw.get('position_embedding_type')!r} is not 'absolute'")
            config = cls(**{name: type_(raw[name]) for name, type_ in (
                ("vocab_size", int), ("hidden_size", int), ("num_hidden_layers", int), ("num_attention_heads", int),
                ("intermediate_size", int), ("max_position_embeddings", int), ("type_vocab_size", int),
                ("layer_norm_eps", float))})
            if config.hidden_size % config.num_attention_heads:
                raise ValueError("hidden_size is not a multiple of num_attention_heads")
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ModelIntegrityError(f"model config {path} is not a supported BERT config: {exc}") from exc
        return config


class _Layer(NamedTuple):
    """One encoder layer's weights, laid out for ``activations @ weight`` (transposed views, Q/K/V fused)."""

    qkv_w: np.ndarray  # (hidden, 3 * hidden), a copy: one matmul instead of three
    qkv_b: np.ndarray
    attn_out_w: np.ndarray  # (hidden, hidden), a transposed view of the mapped file
    attn_out_b: np.ndarray
    attn_norm_w: np.ndarray
    attn_norm_b: np.ndarray
    ffn_in_w: np.ndarray  # (hidden, intermediate)
    ffn_in_b: np.ndarray
    ffn_out_w: np.ndarray  # (intermediate, hidden)
    ffn_out_b: np.ndarray
    ffn_norm_w: np.ndarray
    ffn_norm_b: np.ndarray


class SentenceEncoder:
    """Sentence embeddings from a BERT checkpoint: ``encode(texts)`` -> float32 ``(n, dimension)``, rows of norm 1.

    Texts are tokenized (truncated to ``tokenizer.max_length`` tokens), sorted by length and run in small batches
    padded to their longest member, so short texts never pay for long ones. The embeddings of the last ``recent``
    texts are kept: readers that share the encoder (the folder prior and the corrections' likeness read the same
    notification) encode it once.
    """

    def __init__(self, tokenizer: WordPieceTokenizer, tensors: Mapping[str, np.ndarray], config: BertConfig, *,
                 lowercase_input: bool = False, batch_size: int = 16, batch_tokens: int = 2048,
                 max_padding: float = 0.1, source: str = "model.safetensors", recent: int = 256) -> None:
        if tokenizer.max_length > config.max_position_embeddings:
            raise ValueError(f"max_length {tokenizer.max_length} exceeds the model's "
                             f"{config.max_position_embeddings} positions")
        if batch_size < 1 or batch_tokens < 1:
            raise ValueError("batch_size and batch_tokens must be positive")
        self.tokenizer = tokenizer
        self.config = config
        self.lowercase_input = lowercase_input
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        self.max_padding = max_padding
        self.dimension = config.hidden_size
        self._recent: LRU[str, np.ndarray] = LRU(recent)  # text -> its read-only row
        self._recent_lock = threading.Lock()
        self._heads = config.num_attention_heads
        self._scale = _F32(1.0 / math.sqrt(config.hidden_size // config.num_attention_heads))
        self._eps = _F32(config.layer_norm_eps)
        get = _TensorGetter(tensors, source)
        h, i = config.hidden_size, config.intermediate_size
        self._word = get("embeddings.word_embeddings.weight", (config.vocab_size, h))
        self._position = get("embeddings.position_embeddings.weight", (config.max_position_embeddings, h))
        self._token_type0 = get("embeddings.token_type_embeddings.weight", (config.type_vocab_size, h))[0]
        self._emb_norm = (get("embeddings.LayerNorm.weight", (h,)), get("embeddings.LayerNorm.bias", (h,)))
        if int(self._word.shape[0]) <= max(tokenizer.vocab.values()):
            raise ModelIntegrityError(f"{source}: the tokenizer has ids beyond the {self._word.shape[0]} embeddings")
        layers: list[_Layer] = []
        for n in range(config.num_hidden_layers):
            p = f"encoder.layer.{n}."
            qkv = [get(f"{p}attention.self.{name}.weight", (h, h)) for name in ("query", "key", "value")]
            qkv_b = [get(f"{p}attention.self.{name}.bias", (h,)) for name in ("query", "key", "value")]
            layers.append(_Layer(
                qkv_w=np.ascontiguousarray(np.concatenate(qkv, axis=0).T), qkv_b=np.concatenate(qkv_b),
                attn_out_w=get(f"{p}attention.output.dense.weight", (h, h)).T,
                attn_out_b=get(f"{p}attention.output.dense.bias", (h,)),
                attn_norm_w=get(f"{p}attention.output.LayerNorm.weight", (h,)),
                attn_norm_b=get(f"{p}attention.output.LayerNorm.bias", (h,)),
                ffn_in_w=get(f"{p}intermediate.dense.weight", (i, h)).T, ffn_in_b=get(f"{p}intermediate.dense.bias", (i,)),
                ffn_out_w=get(f"{p}output.dense.weight", (h, i)).T, ffn_out_b=get(f"{p}output.dense.bias", (h,)),
                ffn_norm_w=get(f"{p}output.LayerNorm.weight", (h,)), ffn_norm_b=get(f"{p}output.LayerNorm.bias", (h,)),
            ))
        for layer in layers:
            for array in layer:
                array.flags.writeable = False
        self._layers = tuple(layers)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts``: float32 ``(len(texts), dimension)``, each row L2-normalised, in input order."""
        if isinstance(texts, (str, bytes)):
            raise TypeError("encode() takes a sequence of strings, not a single string: wrap it in a list")
        texts = list(texts)
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"encode() takes strings, but item {index} is of type {type(text).__name__}")
        out = np.empty((len(texts), self.dimension), dtype=_F32)
        with self._recent_lock:
            known = [self._recent.get(text) for text in texts]
        new = list(dict.fromkeys(text for text, row in zip(texts, known) if row is None))  # each unknown text once
        by_text: dict[str, np.ndarray] = {}
        if new:
            ids = [self.tokenizer.encode(text.lower() if self.lowercase_input else text) for text in new]
            rows = np.empty((len(new), self.dimension), dtype=_F32)
            for batch in self._batches([len(row) for row in ids]):
                rows[batch] = self._embed([ids[k] for k in batch])
            by_text = dict(zip(new, rows))
            kept = new[-self._recent.capacity:] if self._recent.capacity > 0 else []  # those the cache can hold
            with self._recent_lock:
                for text in kept:
                    row = by_text[text].copy()  # its own copy: a view would keep the whole batch alive
                    row.flags.writeable = False
                    self._recent.put(text, row)
        for index, (text, row) in enumerate(zip(texts, known)):
            out[index] = by_text[text] if row is None else row
        return out

    def _batches(self, lengths: list[int]) -> list[list[int]]:
        """Indices grouped into batches of similar length: sorted by length, a batch grows while it has fewer than
        ``batch_size`` texts, its padded size stays within ``batch_tokens`` and padding stays within
        ``max_padding`` of it (padding is pure waste; one BLAS call on more rows gains less than that costs)."""
        order = sorted(range(len(lengths)), key=lengths.__getitem__)
        batches: list[list[int]] = []
        start = 0
        while start < len(order):
            stop, real = start + 1, lengths[order[start]]
            while stop < len(order) and stop - start < self.batch_size:
                longest = lengths[order[stop]]  # sorted: the newcomer is the batch's longest
                padded = (stop - start + 1) * longest
                if padded > self.batch_tokens or padded - (real + longest) > self.max_padding * padded:
                    break
                real += longest
                stop += 1
            batches.append(order[start:stop])
            start = stop
        return batches

    def _embed(self, batch: list[list[int]]) -> np.ndarray:
        """Normalised mean-pooled embeddings of a batch of id lists (padded here to the longest)."""
        rows, length = len(batch), max(map(len, batch))
        ids = np.zeros((rows, length), dtype=np.intp)
        mask = np.zeros((rows, length), dtype=bool)
        for r, row in enumerate(batch):
            ids[r, :len(row)] = row
            mask[r, :len(row)] = True
        x = self._word[ids]  # (rows, length, hidden), a fresh array
        x += self._token_type0  # HF's order: word + token type, then + position
        x += self._position[:length]
        x = _layer_norm(x.reshape(rows * length, self.dimension), *self._emb_norm, self._eps)
        key_bias = None if mask.all() else np.where(mask, _F32(0), _MASKED).astype(_F32)[:, None, None, :]
        for layer in self._layers:
            x = self._layer(x, layer, rows, length, key_bias)
        weights = mask.astype(_F32)
        pooled = np.einsum("rtd,rt->rd", x.reshape(rows, length, self.dimension), weights)
        pooled /= np.maximum(weights.sum(axis=1, keepdims=True), _F32(1e-9))
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), _F32(1e-12))
        return pooled

    def _layer(self, x: np.ndarray, layer: _Layer, rows: int, length: int, key_bias: np.ndarray | None) -> np.ndarray:
        """One BERT layer on ``x`` of shape ``(rows * length, hidden)``."""
        hidden, heads = self.dimension, self._heads
        qkv = x @ layer.qkv_w
        qkv += layer.qkv_b
        q, k, v = qkv.reshape(rows, length, 3, heads, hidden // heads).transpose(2, 0, 3, 1, 4)
        scores = q @ k.swapaxes(-1, -2)  # (rows, heads, length, length)
        scores *= self._scale
        if key_bias is not None:
            scores += key_bias
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(rows * length, hidden)
        attended = context @ layer.attn_out_w
        attended += layer.attn_out_b
        attended += x
        x = _layer_norm(attended, layer.attn_norm_w, layer.attn_norm_b, self._eps)
        inner = x @ layer.ffn_in_w
        inner += layer.ffn_in_b
        out = _gelu(inner) @ layer.ffn_out_w
        out += layer.ffn_out_b
        out += x
        return _layer_norm(out, layer.ffn_norm_w, layer.ffn_norm_b, self._eps)


class _TensorGetter:
    """Looks tensors up by name, checking dtype and shape, so a wrong checkpoint fails with a clear message."""

    def __init__(self, tensors: Mapping[str, np.ndarray], source: str) -> None:
        self.tensors, self.source = tensors, source

    def __call__(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        array = self.tensors.get(name)
        if array is None:
            raise ModelIntegrityError(f"{self.source} lacks tensor {name!r}: not a BERT checkpoint of this config")
        if array.shape != shape or array.dtype != np.float32:
            raise ModelIntegrityError(f"{self.source}: tensor {name!r} is {array.dtype}{list(array.shape)}, "
                                      f"expected float32{list(shape)}")
        return array


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: np.float32) -> np.ndarray:
    """LayerNorm over the last axis, in place on ``x`` (which must be a fresh array)."""
    x -= x.mean(axis=-1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x)[:, None]
    var /= _F32(x.shape[-1])
    var += eps
    np.sqrt(var, out=var)
    x /= var
    x *= weight
    x += bias
    return x


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU, ``x * Phi(x)``, in place on ``x``; Phi from the erf approximation above (error < 1e-7)."""
    z = np.abs(x)
    z *= _F32(_INV_SQRT2)
    t = z * _F32(_ERF_P)
    t += _F32(1.0)
    np.reciprocal(t, out=t)
    tail = t * _F32(_ERF_A[0])
    for coefficient in _ERF_A[1:]:
        tail += _F32(coefficient)
        tail *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    tail *= z
    tail *= _F32(0.5)  # tail = Phi(-|x|) = (1 - erf(|x| / sqrt 2)) / 2
    np.subtract(_F32(1.0), tail, out=tail, where=x >= 0)  # Phi(x) = 1 - Phi(-x) for x >= 0
    x *= tail
    return x

