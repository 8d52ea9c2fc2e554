"""The BERT WordPiece tokenizer of a sentence-transformers model, read from its ``tokenizer.json``, in pure Python.

Why not the ``tokenizers`` package: it is a compiled dependency that the runtime would need only for this. The
pipeline below reproduces, id for id, what ``tokenizers`` does for a ``BertNormalizer`` + ``BertPreTokenizer`` +
``WordPiece`` + ``[CLS] $A [SEP]`` tokenizer (tests/test_sentence_encoder.py compares the two over every code point
and a varied corpus):

1. special tokens written in the raw text (``[CLS]``, ``[SEP]``, ``[MASK]``...) are matched first, case-sensitive,
   and become their own ids, as ``tokenizers`` does for added tokens that are not normalised;
2. normalisation: delete control/format characters, map white space to a space, pad CJK ideographs with spaces,
   NFD then drop non-spacing marks (strip_accents), lower-case (per character, as Rust does: no final sigma);
3. pre-tokenisation: split on white space, isolate each punctuation character;
4. WordPiece: greedy longest match from the left with ``##`` continuations; a word with no full cover, or longer
   than ``max_input_chars_per_word`` characters, becomes one ``[UNK]``;
5. truncate to ``max_length - 2`` tokens and wrap in ``[CLS]`` ... ``[SEP]`` (as sentence-transformers does with
   ``max_seq_length``).

The character classes come from :mod:`.unicode_tables`, not :mod:`unicodedata`, because ``tokenizers`` uses Unicode
tables of other versions than Python's (see there).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ModelIntegrityError
from . import unicode_tables as tables
from .jsonfile import read_json

_REMOVED = re.compile(f"[{tables.regex_class(tables.REMOVED)}]+")
_CLEAN_SPACE = {a: " " for first, last in tables.parse_ranges(tables.CLEAN_SPACE) for a in range(first, last + 1)}
_CJK = re.compile(f"[{tables.regex_class(tables.CJK_IDEOGRAPHS)}]")
_MARKS = re.compile(f"[{tables.regex_class(tables.NONSPACING_MARKS)}]+")
_NFD_UNCHANGED = re.compile(f"([{tables.regex_class(tables.NFD_UNCHANGED)}])")
_LOWER_EXTRA = tables.lowercase_extra()
_PUNCT = tables.regex_class(tables.PUNCTUATION)
_SPACE = tables.regex_class(tables.SPLIT_SPACE)
_WORDS = re.compile(f"[{_PUNCT}]|[^{_PUNCT}{_SPACE}]+")
# ASCII fast path: the ASCII part of REMOVED deleted, \t \n \r made spaces (no marks, CJK or NFD changes in ASCII).
_ASCII_CLEAN = {**{c: None for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]},
                **{c: " " for c in (0x09, 0x0A, 0x0D)}}

_WORD_CACHE_SIZE = 65536


class WordPieceTokenizer:
    """Text to BERT input ids: ``[CLS]`` + WordPiece ids (at most ``max_length - 2``) + ``[SEP]``.

    Immutable after construction and safe to share between threads (the word cache is an ``lru_cache``).
    """

    def __init__(self, vocab: dict[str, int], *, max_length: int, unk_token: str = "[UNK]", cls_token: str = "[CLS]",
                 sep_token: str = "[SEP]", special_tokens: dict[str, int] | None = None,
                 continuing_subword_prefix: str = "##", max_input_chars_per_word: int = 100,
                 clean_text: bool = True, handle_chinese_chars: bool = True, strip_accents: bool = True,
                 lowercase: bool = True) -> None:
        for token in (unk_token, cls_token, sep_token):
            if token not in vocab:
                raise ValueError(f"special token {token!r} is not in the vocabulary")
        if max_length < 2:
            raise ValueError(f"max_length must leave room for [CLS] and [SEP], got {max_length}")
        self.vocab = vocab
        self.max_length = max_length
        self.unk_id = vocab[unk_token]
        self.cls_id = vocab[cls_token]
        self.sep_id = vocab[sep_token]
        self.prefix = continuing_subword_prefix
        self.max_input_chars_per_word = max_input_chars_per_word
        self.clean_text = clean_text
        self.handle_chinese_chars = handle_chinese_chars
        self.strip_accents = strip_accents
        self.lowercase = lowercase
        self._longest_piece = max(map(len, vocab))
        self.special_tokens = dict(special_tokens or {})
        # Leftmost-longest, as tokenizers' Aho-Corasick matcher: longer alternatives first.
        names = sorted(self.special_tokens, key=len, reverse=True)
        self._special = re.compile("|".join(map(re.escape, names))) if names else None
        self._word_ids = functools.lru_cache(maxsize=_WORD_CACHE_SIZE)(self._word_ids_uncached)

    @classmethod
    def from_file(cls, path: str | Path, *, max_length: int) -> WordPieceTokenizer:
        """Read a ``tokenizer.json`` (HF ``tokenizers`` format), refusing any pipeline this class does not reproduce."""
        path = Path(path)
        spec = read_json(path, "tokenizer file")
        try:
            return cls(**_options_from_spec(spec), max_length=max_length)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelIntegrityError(f"tokenizer file {path} is not a supported BERT WordPiece tokenizer: {exc}") from exc

    # -- the pipeline -----------------------------------------------------------------------------------------------

    def normalize(self, text: str) -> str:
        """BertNormalizer: clean, space out CJK ideographs, strip accents, lower-case."""
        if text.isascii():
            if self.clean_text:
                text = text.translate(_ASCII_CLEAN)
            return text.lower() if self.lowercase else text
        if self.clean_text:
            text = _REMOVED.sub("", text).translate(_CLEAN_SPACE)
        if self.handle_chinese_chars:
            text = _CJK.sub(r" \g<0> ", text)
        if self.strip_accents:
            text = _MARKS.sub("", _nfd(text))
        if self.lowercase:
            # Rust lower-cases character by character: a final capital sigma becomes σ, never ς.
            text = text.translate(_LOWER_EXTRA).replace("\u03a3", "\u03c3").lower()
        return text

    def words(self, text: str) -> Iterator[str]:
        """BertPreTokenizer on normalised text: white space separates words, each punctuation character is a word."""
        return (match.group() for match in _WORDS.finditer(text))

    def _word_ids_uncached(self, word: str) -> tuple[int, ...]:
        """WordPiece ids of one word: greedy longest match; a word that cannot be covered is one [UNK]."""
        if len(word) > self.max_input_chars_per_word:
            return (self.unk_id,)
        vocab, start, n = self.vocab, 0, len(word)
        ids: list[int] = []
        while start < n:
            end = min(n, start + self._longest_piece)
            while end > start:
                piece = word[start:end] if start == 0 else self.prefix + word[start:end]
                token_id = vocab.get(piece)
                if token_id is not None:
                    ids.append(token_id)
                    break
                end -= 1
            else:
                return (self.unk_id,)
            start = end
        return tuple(ids)

    def encode(self, text: str) -> list[int]:
        """Input ids of one text, with [CLS] and [SEP], truncated to ``max_length``."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        budget = self.max_length - 2
        ids: list[int] = [self.cls_id]
        for segment, special_id in self._segments(text):
            if special_id is not None:
                ids.append(special_id)
            else:
                for word in self.words(self.normalize(segment)):
                    ids.extend(self._word_ids(word))
                    if len(ids) > budget:
                        break
            if len(ids) > budget:
                break
        del ids[budget + 1:]
        ids.append(self.sep_id)
        return ids

    def _segments(self, text: str) -> Iterator[tuple[str, int | None]]:
        """The raw text cut around special tokens: ``(text, None)`` pieces and ``("", id)`` for each special token."""
        if self._special is None:
            yield text, None
            return
        start = 0
        for match in self._special.finditer(text):
            if match.start() > start:
                yield text[start:match.start()], None
            yield "", self.special_tokens[match.group()]
            start = match.end()
        if start < len(text):
            yield text[start:], None


def _nfd(text: str) -> str:
    """NFD as tokenizers' tables do it: characters they cannot decompose stay whole."""
    if _NFD_UNCHANGED.search(text) is None:
        return unicodedata.normalize("NFD", text)
    return "".join(part if i % 2 else unicodedata.normalize("NFD", part)
                   for i, part in enumerate(_NFD_UNCHANGED.split(text)))


def _options_from_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Constructor options from a parsed tokenizer.json; raises ValueError for anything but BERT's pipeline."""
    model = spec["model"]
    if model.get("type") != "WordPiece":
        raise ValueError(f"model type {model.get('type')!r}, expected 'WordPiece'")
    normalizer = spec.get("normalizer") or {}
    if normalizer.get("type") != "BertNormalizer":
        raise ValueError(f"normalizer {normalizer.get('type')!r}, expected 'BertNormalizer'")
    pre_tokenizer = spec.get("pre_tokenizer") or {}
    if pre_tokenizer.get("type") != "BertPreTokenizer":
        raise ValueError(f"pre-tokenizer {pre_tokenizer.get('type')!r}, expected 'BertPreTokenizer'")
    cls_token, sep_token = _cls_sep(spec.get("post_processor") or {})
    special: dict[str, int] = {}
    for added in spec.get("added_tokens", []):
        if added.get("normalized") or added.get("lstrip") or added.get("rstrip") or added.get("single_word"):
            raise ValueError(f"added token {added['content']!r} uses matching options this tokenizer does not implement")
        special[added["content"]] = int(added["id"])
    lowercase = bool(normalizer.get("lowercase", True))
    strip_accents = normalizer.get("strip_accents")
    vocab = model["vocab"]
    if not isinstance(vocab, dict) or not vocab:
        raise ValueError("the WordPiece vocabulary is empty")
    return {
        "vocab": {str(k): int(v) for k, v in vocab.items()},
        "unk_token": model.get("unk_token", "[UNK]"),
        "cls_token": cls_token,
        "sep_token": sep_token,
        "special_tokens": special,
        "continuing_subword_prefix": model.get("continuing_subword_prefix", "##"),
        "max_input_chars_per_word": int(model.get("max_input_chars_per_word", 100)),
        "clean_text": bool(normalizer.get("clean_text", True)),
        "handle_chinese_chars": bool(normalizer.get("handle_chinese_chars", True)),
        "strip_accents": lowercase if strip_accents is None else bool(strip_accents),
        "lowercase": lowercase,
    }


def _cls_sep(post: dict[str, Any]) -> tuple[str, str]:
    """The [CLS] and [SEP] tokens of a ``[CLS] $A [SEP]`` post-processor (TemplateProcessing or BertProcessing)."""
    if post.get("type") == "BertProcessing":
        return str(post["cls"][0]), str(post["sep"][0])
    if post.get("type") == "TemplateProcessing":
        single = post["single"]
        if (len(single) == 3 and "SpecialToken" in single[0] and "Sequence" in single[1] and "SpecialToken" in single[2]
                and single[1]["Sequence"]["id"] == "A"):
            return str(single[0]["SpecialToken"]["id"]), str(single[2]["SpecialToken"]["id"])
    raise ValueError(f"post-processor {post.get('type')!r} is not [CLS] $A [SEP]")
