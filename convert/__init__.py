"""notifclf.convert: build notifclf's GGUF models (LoRA merge, GGUF write, quantize) with llama-cpp-python,
gguf and numpy only.

    python -m convert build --base <GGUF | HF dir | HF repo id> --adapter <PEFT dir> --quant Q4_K_M --out model.gguf

or from Python: ``convert.build.build_model(base, adapter, out, quant)``.
"""

from __future__ import annotations

from .errors import (
    AdapterError,
    AdapterMismatchError,
    BaseModelError,
    ConvertError,
    DependencyError,
    QuantizeError,
    UnsupportedAdapterError,
    UnsupportedArchitectureError,
)

__version__ = "0.1.0"

__all__ = [
    "AdapterError",
    "AdapterMismatchError",
    "BaseModelError",
    "ConvertError",
    "DependencyError",
    "QuantizeError",
    "UnsupportedAdapterError",
    "UnsupportedArchitectureError",
    "__version__",
]
