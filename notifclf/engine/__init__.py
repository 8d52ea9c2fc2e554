"""The llama.cpp engine: the model and its context, the cached system prompt, fast and grammar decoding.

* ``runtime``: a thin owned layer over llama.cpp's C API (model, context, batches, KV sequences, grammar sampler);
  ``llama_log`` owns llama.cpp's process-wide log callback.
* ``core``: :class:`Engine`, which sizes the context per prompt setup and decodes; ``prefix_cache``: the system
  prompt's KV state; ``answer_paths`` and ``fast_choice``: the fast path (choice from restricted logits).

:class:`notifclf.Classifier` uses the engine and adds the public interface, locking and the model's life cycle.
"""

from .core import DecodeCounts, Engine, Inspection, PromptSetup
from .prefix_cache import PromptStateStore

__all__ = ["DecodeCounts", "Engine", "Inspection", "PromptSetup", "PromptStateStore"]
