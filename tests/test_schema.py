import json

import jsonschema
import pytest

from notifclf import Folder, output_schema
from notifclf.errors import GrammarError, OutputValidationError
from notifclf.schema import allowed_next_tokens, grammar_from_schema, render_answer, validate_output

AWKWARD = (Folder('Say "hi"', "quotes"), Folder("财务 账单", "Chinese with a space"), Folder("a\\b}{", "backslash, braces"),
           Folder("Émoji 📦", "emoji"))


def test_schema_enums_and_rendered_answers_validate():
    schema = output_schema(AWKWARD)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["folder"]["enum"] == [f.name for f in AWKWARD]
    for f in AWKWARD:
        for p in (1, 2, 3):
            data = json.loads(render_answer(f.name, p))
            assert data == {"folder": f.name, "priority": p}
            validate_output(data, schema)


@pytest.mark.parametrize("bad", [{"folder": "Nope", "priority": 1}, {"folder": 'Say "hi"', "priority": 4},
                                 {"folder": 'Say "hi"'}, {"folder": 'Say "hi"', "priority": 1, "x": 0},
                                 {"folder": 'Say "hi"', "priority": "1"}])
def test_invalid_outputs_are_rejected(bad):
    with pytest.raises(OutputValidationError):
        validate_output(bad, output_schema(AWKWARD))


def test_grammar_lists_every_folder_once_escaped():
    gbnf = grammar_from_schema(output_schema(AWKWARD))
    assert gbnf.startswith('root ::= "{\\"folder\\": " folder ')
    assert '"\\"Say \\\\\\"hi\\\\\\"\\""' in gbnf  # JSON-escaped, then GBNF-escaped
    assert 'priority ::= "1" | "2" | "3"' in gbnf


def test_grammar_from_schema_without_enums_is_an_error():
    with pytest.raises(GrammarError):
        grammar_from_schema({"type": "object"})


def test_allowed_next_tokens_continue_the_text_towards_some_answer():
    answers = [render_answer(name, p).encode() for name in ("Work", "Workout", "Alerts") for p in (1, 2, 3)]
    ids = {b'{"folder": "': [1], b"W": [2], b"Work": [3], b'Work"': [4], b"A": [5], b"out": [6], b", ": [7], b"x": [8]}
    assert allowed_next_tokens(b"", answers, ids, 12) == {1}
    assert allowed_next_tokens(b'{"folder": "', answers, ids, 12) == {2, 3, 4, 5}
    assert allowed_next_tokens(b'{"folder": "Work', answers, ids, 12) == {6}  # '"' alone has no token here
    assert allowed_next_tokens(b'{"folder": "Work', answers, {**ids, b'"': [9]}, 12) == {6, 9}
    assert allowed_next_tokens(b'{"folder": "Wrong', answers, ids, 12) == set()
    assert allowed_next_tokens(b'{"folder": "', answers, ids, 1) == {2, 5}  # pieces longer than the longest are not tried
