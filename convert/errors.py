"""The convert exception family: everything convert raises on purpose derives from ConvertError."""

from __future__ import annotations


class ConvertError(Exception):
    """Base class of every error convert raises on purpose."""


class BaseModelError(ConvertError, ValueError):
    """The base model cannot be read: missing files, bad config, unknown tensors, bad tokenizer."""


class UnsupportedArchitectureError(BaseModelError):
    """The base model's architecture is not one convert can write."""


class AdapterError(ConvertError, ValueError):
    """The PEFT adapter is malformed: missing files or keys, wrong shapes."""


class UnsupportedAdapterError(AdapterError):
    """The adapter uses a PEFT feature convert does not merge (DoRA, modules_to_save, ...)."""


class AdapterMismatchError(AdapterError):
    """The adapter does not fit the base: unknown target modules, wrong layer count or shapes."""


class QuantizeError(ConvertError):
    """llama.cpp refused or failed to quantize the merged model."""


class DependencyError(ConvertError, ImportError):
    """An optional package convert needs for this input is not installed."""
