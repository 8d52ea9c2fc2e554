import json

import jsonschema
import pytest

from notifclf import Folder, output_schema
from notifclf.errors import GrammarError, OutputValidationError
from notifclf.schema import grammar_from_schema, render_answer, validate_output

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
