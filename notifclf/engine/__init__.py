"""The llama.cpp engine: the model and its context, the cached system prompt, fast and grammar decoding.

:class:`~notifclf.engine.core.Engine` is used by :class:`notifclf.Classifier`, which adds the public interface,
locking and the model's life cycle.
"""

from .core import DecodeCounts, Engine, Inspection, PromptSetup
from .prefix_cache import PromptStateStore

__all__ = ["DecodeCounts", "Engine", "Inspection", "PromptSetup", "PromptStateStore"]
