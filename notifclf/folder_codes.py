"""Folders shown to the model as letter codes, for models trained that way (issue 12).

The model sees ``- "A": Work: Job-related notifications...`` and answers ``{"folder": "A", ...}``; the engine maps
the code back to the folder's name. A small model then cannot lean on what a name meant in training: it has to bind
the code to the description it was shown. A model file says it was trained this way with the GGUF metadata key
:data:`FOLDER_LABELS_KEY` set to ``"codes"`` (written by ``convert build`` from the adapter's ``training.json``).
Training (``BatchSampler(folder_codes=True)``) and the runtime share this one transform.
"""

from __future__ import annotations

from collections.abc import Sequence

from .folders import MAX_FOLDERS, Folder

CODES = "ABCDEFGHIJKLMNOPQRSTUVWX"
assert len(CODES) == MAX_FOLDERS

# GGUF metadata key naming how the model expects folders: "codes" (letters) or absent / "names".
FOLDER_LABELS_KEY = "notifclf.folder_labels"


def code_folders(folders: Sequence[Folder], letters: str = CODES) -> tuple[tuple[Folder, ...], dict[str, str]]:
    """The folders renamed A, B, C... (or ``letters``, one per folder: training varies them; the runtime shows A, B,
    C...), the name moved to the front of the description, and name -> code."""
    if len(letters) < len(folders):
        raise ValueError(f"{len(folders)} folders need as many letters, got {letters!r}")
    coded, codes = [], {}
    for code, folder in zip(letters, folders):
        coded.append(_shown_folder(code, f"{folder.name}: {folder.description}"))
        codes[folder.name] = code
    return tuple(coded), codes


def _shown_folder(code: str, text: str) -> Folder:
    """A Folder as the model is shown it. Not validated again: the user's folder was, and its name and description
    together may exceed one description's length limit, which must not cut what the user wrote."""
    shown = object.__new__(Folder)
    object.__setattr__(shown, "name", code)
    object.__setattr__(shown, "description", text)
    return shown
