"""Folders shown to the model as letter codes, for models trained that way (issue 12).

The model sees ``- "A": Work: Job-related notifications...`` and answers ``{"folder": "A", ...}``; the engine maps
the code back to the folder's name. A small model then cannot lean on what a name meant in training: it has to bind
the code to the description it was shown. In the ``"codes-repeated"`` style the code comes again after the
description (``... notifications (answer "A")``), next to the text the model matched. A model file says how it was
trained with the GGUF metadata key :data:`FOLDER_LABELS_KEY` (written by ``convert build`` from the adapter's
``training.json``).
Training (``BatchSampler(folder_codes=True)``) and the runtime share this one transform.
"""

from __future__ import annotations

from collections.abc import Sequence

from .folders import MAX_FOLDERS, Folder

CODES = "ABCDEFGHIJKLMNOPQRSTUVWX"
assert len(CODES) == MAX_FOLDERS

# GGUF metadata key naming how the model expects folders: one of FOLDER_LABELS; absent means "names".
FOLDER_LABELS_KEY = "notifclf.folder_labels"
FOLDER_LABELS = ("names", "codes", "codes-repeated")


def code_folders(folders: Sequence[Folder], letters: str = CODES, repeat_code: bool = False
                 ) -> tuple[tuple[Folder, ...], dict[str, str]]:
    """The folders renamed A, B, C... (or ``letters``, one per folder: training varies them; the runtime shows A, B,
    C...), the name moved to the front of the description (and, with ``repeat_code``, the code after it), and
    name -> code."""
    if len(letters) < len(folders):
        raise ValueError(f"{len(folders)} folders need as many letters, got {letters!r}")
    coded, codes = [], {}
    for code, folder in zip(letters, folders):
        text = f"{folder.name}: {folder.description}" + (f' (answer "{code}")' if repeat_code else "")
        coded.append(_shown_folder(code, text))
        codes[folder.name] = code
    return tuple(coded), codes


def _shown_folder(code: str, text: str) -> Folder:
    """A Folder as the model is shown it. Not validated again: the user's folder was, and its name and description
    together may exceed one description's length limit, which must not cut what the user wrote."""
    shown = object.__new__(Folder)
    object.__setattr__(shown, "name", code)
    object.__setattr__(shown, "description", text)
    return shown
