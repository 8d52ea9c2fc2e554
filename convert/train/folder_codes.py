"""Folders shown as letter codes (an experiment against names, issue 12's suggestion).

The model sees ``- "A": Work: Job-related notifications...`` and answers ``{"folder": "A", ...}``; the caller maps
the code back to the folder's name. A small model then cannot lean on what a name meant in training: it has to bind
the code to the description it was shown. Training (``BatchSampler(folder_codes=True)``) and the evaluation
(``evals/run_heldout.py --folder-codes``) share this one transform.
"""

from __future__ import annotations

from collections.abc import Sequence

from notifclf.folders import MAX_DESCRIPTION_CHARS, MAX_FOLDERS, Folder

CODES = "ABCDEFGHIJKLMNOPQRSTUVWX"
assert len(CODES) == MAX_FOLDERS


def code_folders(folders: Sequence[Folder]) -> tuple[tuple[Folder, ...], dict[str, str]]:
    """The folders renamed A, B, C... (the name moves to the front of the description) and name -> code."""
    coded, codes = [], {}
    for code, folder in zip(CODES, folders):
        coded.append(Folder(code, f"{folder.name}: {folder.description}"[:MAX_DESCRIPTION_CHARS]))
        codes[folder.name] = code
    return tuple(coded), codes
