"""Folders: a name plus a one-line description, validated as a set."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from .errors import InvalidFoldersError

MAX_FOLDERS = 24
MAX_NAME_CHARS = 48
MAX_DESCRIPTION_CHARS = 300
MAX_INSTRUCTIONS_CHARS = 1500

# Folders that take what no other folder does, as training writes them (convert/train/folder_sets.py draws its
# catch-all folders from these). The folder reader recognises a catch-all folder of the user's by its likeness to
# them (notifclf.embedding.folder_prior): "everything else" is a relation to the other folders, which no cosine
# between a notification and the folder's own words can express.
CATCH_ALL_EXAMPLES: tuple[tuple[str, str], ...] = (
    ("Everything else", "Anything that fits none of the other folders"),
    ("Misc", "Whatever is left over"),
    ("The rest", "All notifications no other folder takes"),
    ("Catch-all", "Anything not covered above"),
    ("其余", "不属于其他文件夹的通知"),
)


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text)


@dataclass(frozen=True)
class Folder:
    """A user's folder. Any unicode name works: spaces, quotes and Chinese included."""

    name: str
    description: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not isinstance(self.description, str):
            raise InvalidFoldersError("Folder name and description must both be str")
        name, description = self.name.strip(), " ".join(self.description.split())
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "description", description)
        if not name:
            raise InvalidFoldersError("a folder name must not be empty")
        if len(name) > MAX_NAME_CHARS:
            raise InvalidFoldersError(f"folder name {name[:20]!r}... is {len(name)} characters; at most {MAX_NAME_CHARS} are allowed")
        if _has_control(name):
            raise InvalidFoldersError(f"folder name {name!r} contains control or invisible characters; use printable text")
        if not description:
            raise InvalidFoldersError(f"folder {name!r} needs a non-empty description (one line saying what belongs in it)")
        if len(description) > MAX_DESCRIPTION_CHARS:
            raise InvalidFoldersError(
                f"the description of folder {name!r} is {len(description)} characters; at most {MAX_DESCRIPTION_CHARS} are allowed"
            )

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "description": self.description}


DEFAULT_FOLDERS: tuple[Folder, ...] = (
    Folder("Work", "Job-related notifications (emails from colleagues, calendar invites, project updates, work apps like Slack, Jira)"),
    Folder("Personal", "Family, friends, personal accounts, social media, messaging from personal contacts"),
    Folder("Promotions", "Marketing, sales, deals, newsletters, advertisements, discount offers"),
    Folder("Alerts", "System alerts, security, deliveries, bills, account notifications, reminders"),
)

FolderLike = Union[Folder, Mapping[str, Any]]


def is_default_set(folders: Iterable[Folder]) -> bool:
    """True for the four default folders, names and descriptions as shipped, in any order."""
    return set(folders) == set(DEFAULT_FOLDERS)


def _coerce_folder(item: FolderLike) -> Folder:
    if isinstance(item, Folder):
        return item
    if isinstance(item, Mapping):
        if "name" not in item or "description" not in item:
            raise InvalidFoldersError(f"each folder needs a 'name' and a 'description', got keys {sorted(map(str, item))}")
        return Folder(item["name"], item["description"])
    raise InvalidFoldersError(f"a folder must be a Folder or a {{'name', 'description'}} mapping, got {type(item).__name__}")


def validate_folders(folders: Iterable[FolderLike] | None) -> tuple[Folder, ...]:
    """Return the folders as a validated tuple; ``None`` gives the four defaults."""
    if folders is None:
        return DEFAULT_FOLDERS
    if isinstance(folders, (str, bytes, Mapping)):
        raise InvalidFoldersError("folders must be a list of Folder objects or {'name', 'description'} mappings")
    result = tuple(_coerce_folder(f) for f in folders)
    if len(result) < 1:
        raise InvalidFoldersError("at least one folder is required")
    if len(result) > MAX_FOLDERS:
        raise InvalidFoldersError(f"{len(result)} folders given; at most {MAX_FOLDERS} are allowed")
    seen: dict[str, str] = {}
    for folder in result:
        key = folder.name.casefold()
        if key in seen:
            raise InvalidFoldersError(f"folder names must be unique ignoring case: {seen[key]!r} and {folder.name!r} clash")
        seen[key] = folder.name
    return result


def validate_instructions(instructions: str | None) -> str:
    """Free-text user preferences, whitespace-normalised; ``None`` gives ""."""
    if instructions is None:
        return ""
    if not isinstance(instructions, str):
        raise InvalidFoldersError(f"instructions must be a str, got {type(instructions).__name__}")
    text = "\n".join(" ".join(line.split()) for line in instructions.strip().splitlines() if line.strip())
    if len(text) > MAX_INSTRUCTIONS_CHARS:
        raise InvalidFoldersError(f"instructions are {len(text)} characters; at most {MAX_INSTRUCTIONS_CHARS} are allowed")
    return text


def load_folders_file(path: str | Path) -> tuple[Folder, ...]:
    """Read a folder file: a JSON list of ``{"name", "description"}``, or an object with a ``"folders"`` key."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidFoldersError(f"cannot read folder file {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise InvalidFoldersError(f"folder file {path} is not valid JSON: {exc}") from exc
    if isinstance(data, Mapping):
        if "folders" not in data:
            raise InvalidFoldersError(f"folder file {path}: an object must have a 'folders' key")
        data = data["folders"]
    if not isinstance(data, list):
        raise InvalidFoldersError(f"folder file {path}: expected a list of folders")
    return validate_folders(data)
