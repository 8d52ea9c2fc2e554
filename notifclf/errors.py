"""The notifclf exception family: everything notifclf raises on purpose derives from NotifclfError."""

from __future__ import annotations


class NotifclfError(Exception):
    """Base class of every error notifclf raises on purpose."""


class InvalidNotificationError(NotifclfError, ValueError):
    """A notification has a missing or wrongly typed field."""


class InvalidFoldersError(NotifclfError, ValueError):
    """A folder set breaks the folder rules (empty, duplicate, too long, too many)."""


class ModelNotFoundError(NotifclfError, LookupError):
    """No model of that name or path exists, or the package that ships it is not installed."""


class ModelIntegrityError(NotifclfError):
    """A model file is truncated, corrupted or does not match its expected SHA-256."""


class CacheError(NotifclfError, OSError):
    """The model cache directory cannot be created or written (read-only, full)."""


class GrammarError(NotifclfError):
    """The output grammar failed to compile; notifclf never falls back to unconstrained text."""


class PromptTooLongError(NotifclfError, ValueError):
    """The system prompt (folders plus instructions) does not fit the model's context window."""


class OutputValidationError(NotifclfError):
    """The model produced output that does not satisfy the output schema (should never happen)."""


class InvalidPriorityError(NotifclfError, ValueError):
    """A priority is not 1, 2 or 3 (the only priorities notifclf produces)."""


class ClassifierClosedError(NotifclfError, RuntimeError):
    """The Classifier was closed: its llama.cpp model is freed, so it cannot classify any more."""
