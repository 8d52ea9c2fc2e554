"""The things a folder description lists, read one by one by the folder reader.

Users describe a folder as a list more often than as a sentence ("Rain, storm and heat alerts, messages from colleagues
in team chat and card purchases"). One embedding of the whole list is a blend that no single notification is close
to; each listed part alone is close to the notifications it names. :class:`~.folder_prior.EmbeddingFolderPrior` with
``parts`` scores a folder as a mix of its whole description's cosine and its best part's.

The split is lexical: at commas, semicolons, colons and the list words "and"/"or" (and their Spanish, French, German
and Chinese counterparts). Whatever follows an exception ("but not electronics deals", "except", 除了...) is left out,
since a part cut from an exception would read as its opposite.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[;,:、，；：]|\s(?:and|or|plus|y|o|e|et|ou|und|oder)\s|以及|和|或", re.IGNORECASE)
_EXCEPTION = re.compile(r"\b(?:but not|except|excluding|other than|not|never|pero no|excepto|salvo|sauf|aber nicht|"
                        r"außer|ohne)\b|但不|除了|不包括|不要", re.IGNORECASE)
MIN_PART_CHARS = 2


def description_parts(description: str) -> tuple[str, ...]:
    """The parts ``description`` lists (stripped, at least :data:`MIN_PART_CHARS` characters, exceptions left out),
    or ``()`` when it lists fewer than two: then the whole description is its only part."""
    exception = _EXCEPTION.search(description)
    listed = description[: exception.start()] if exception else description
    parts = tuple(p for p in (piece.strip(" .!?-–—()\"'") for piece in _SEPARATORS.split(listed))
                  if len(p) >= MIN_PART_CHARS)
    return parts if len(parts) >= 2 else ()
