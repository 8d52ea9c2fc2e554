"""notifclf: sort notifications into the user's folders and priorities, offline, on a CPU."""

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    CacheError,
    ClassifierClosedError,
    GrammarError,
    InvalidFoldersError,
    InvalidNotificationError,
    InvalidPriorityError,
    ModelIntegrityError,
    ModelNotFoundError,
    NotifclfError,
    OutputValidationError,
    PromptTooLongError,
)
from .folders import DEFAULT_FOLDERS, Folder, load_folders_file
from .notification import Notification
from .priority_mapping import android_importance, android_importance_name, ios_interruption_level
from .models.registry import ModelSpec, available_models
from .result import Classification
from .schema import output_schema

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .classifier import Classifier
    from .engine import DecodeCounts, Inspection

# The classifier and its engine load llama.cpp: imported on first use, so that what needs none of it (the prompt
# format, folders, the training code under convert/) imports without the compiled library.
_LAZY = {"Classifier": ".classifier", "DecodeCounts": ".engine", "Inspection": ".engine"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "CacheError", "Classification", "Classifier", "ClassifierClosedError", "DEFAULT_FOLDERS", "DecodeCounts", "Folder",
    "GrammarError", "Inspection", "InvalidFoldersError", "InvalidNotificationError", "InvalidPriorityError",
    "ModelIntegrityError", "ModelNotFoundError", "ModelSpec", "NotifclfError", "Notification", "OutputValidationError",
    "PromptTooLongError", "__version__", "android_importance", "android_importance_name", "available_models",
    "ios_interruption_level", "load_folders_file", "output_schema",
]
