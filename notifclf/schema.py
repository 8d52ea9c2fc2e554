"""The output contract: a JSON Schema per folder set, the llama.cpp grammar built from it, and validation."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, Protocol

import jsonschema

from .errors import GrammarError, OutputValidationError
from .folders import Folder

PRIORITIES = (1, 2, 3)


def output_schema(folders: Sequence[Folder]) -> dict[str, Any]:
    """JSON Schema of one result: ``folder`` is one of the folder names, ``priority`` one of 1, 2, 3."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "folder": {"type": "string", "enum": [f.name for f in folders]},
            "priority": {"type": "integer", "enum": list(PRIORITIES)},
        },
        "required": ["folder", "priority"],
        "additionalProperties": False,
    }


def answer_prefix() -> str:
    """The text every answer starts with, before the folder name."""
    return '{"folder": '


def render_answer(folder: str, priority: int) -> str:
    """The exact answer text the model is trained to produce and the grammar allows."""
    return f"{answer_prefix()}{json.dumps(folder, ensure_ascii=False)}, \"priority\": {priority}}}"


class TokenLookup(Protocol):
    """Token ids by the token's bytes: a ``dict[bytes, list[int]]`` or :class:`notifclf.engine.piece_index.PieceIndex`."""

    def get(self, piece: bytes, default: Iterable[int] = ..., /) -> Iterable[int]: ...


def allowed_next_tokens(done: bytes, answers: Iterable[bytes], token_ids: TokenLookup, max_piece_len: int) -> set[int]:
    """The tokens the grammar lets through after the answer text ``done``: those whose bytes continue it towards
    one of ``answers`` (the grammar's strings, e.g. every ``render_answer(folder, p)`` as UTF-8). ``token_ids`` maps a
    token's bytes to its ids; ``max_piece_len`` is the longest of them. Greedy grammar-constrained decoding picks
    its next token among these (shared by the runtime's fast path and training's dev metrics)."""
    candidates = {answer[len(done): len(done) + n] for answer in answers if answer.startswith(done)
                  for n in range(1, min(len(answer) - len(done), max_piece_len) + 1)}
    allowed: set[int] = set()
    for piece in candidates:
        allowed.update(token_ids.get(piece, ()))
    return allowed


def _gbnf_literal(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f'"{escaped}"'


def grammar_from_schema(schema: dict[str, Any]) -> str:
    """GBNF for exactly the answers of :func:`render_answer` allowed by ``schema``.

    The grammar admits one spelling per answer (no optional whitespace), so the forced characters are
    forced and greedy decoding only chooses a folder and a priority.
    """
    try:
        names = schema["properties"]["folder"]["enum"]
        priorities = schema["properties"]["priority"]["enum"]
    except (KeyError, TypeError) as exc:
        raise GrammarError(f"schema has no folder/priority enums to build a grammar from: {exc}") from exc
    if not names or not priorities:
        raise GrammarError("schema enums for folder and priority must not be empty")
    folder_alts = " | ".join(_gbnf_literal(json.dumps(n, ensure_ascii=False)) for n in names)
    priority_alts = " | ".join(_gbnf_literal(str(int(p))) for p in priorities)
    between = _gbnf_literal(', "priority": ')
    return (
        f"root ::= {_gbnf_literal(answer_prefix())} folder {between} priority \"}}\"\n"
        f"folder ::= {folder_alts}\n"
        f"priority ::= {priority_alts}\n"
    )


@lru_cache(maxsize=64)
def _validator(schema_json: str) -> jsonschema.protocols.Validator:
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_output(data: Any, schema: dict[str, Any]) -> None:
    """Raise :class:`OutputValidationError` unless ``data`` satisfies ``schema`` (checked by jsonschema)."""
    errors = sorted(_validator(json.dumps(schema, sort_keys=True)).iter_errors(data), key=str)
    if errors:
        raise OutputValidationError(f"output {data!r} violates the output schema: {errors[0].message}")
