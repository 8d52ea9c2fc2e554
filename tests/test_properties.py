"""Property tests: random unicode notifications and random valid folder sets on a tiny real llama.cpp model."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifclf import Folder, InvalidFoldersError, NotifclfError, output_schema
from notifclf.folders import MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS
from notifclf.schema import validate_output

text = st.text(st.characters(codec="utf-8"), max_size=300)
field_value = st.one_of(st.none(), text, st.binary(max_size=200))
notification = st.fixed_dictionaries(
    {}, optional={"app": field_value, "title": field_value, "body": field_value, "sub_text": field_value,
                  "category": field_value, "posted_at": st.one_of(st.none(), text, st.integers(-10**15, 10**15)),
                  "extra": st.integers()})
folder_name = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp")),
                      min_size=1, max_size=MAX_NAME_CHARS).filter(lambda s: s.strip())
folder = st.builds(Folder, folder_name, st.text(min_size=1, max_size=60).filter(lambda s: s.strip()))
folder_set = st.lists(folder, min_size=1, max_size=6, unique_by=lambda f: f.name.casefold())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(folders=folder_set, notes=st.lists(notification, min_size=1, max_size=3))
def test_every_result_is_schema_valid(tiny_classifier, folders, notes):
    tiny_classifier.set_folders(folders)
    try:
        schema = output_schema(tiny_classifier.folders)
        results = tiny_classifier.classify_many(notes)
        assert len(results) == len(notes)
        for r in results:
            validate_output(r.to_dict(), schema)
            assert abs(sum(r.folder_distribution.values()) - 1) < 1e-6 or not r.folder_distribution
    finally:
        tiny_classifier.set_folders(None)


@settings(max_examples=200, deadline=None)
@given(name=st.text(max_size=MAX_NAME_CHARS + 5), description=st.text(max_size=MAX_DESCRIPTION_CHARS + 5))
def test_folder_construction_raises_only_the_documented_error(name, description):
    try:
        Folder(name, description)
    except InvalidFoldersError:
        pass


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(note=st.one_of(notification, st.dictionaries(st.text(max_size=10), st.one_of(st.integers(), st.lists(st.integers()),
                                                                                      text, st.floats()), max_size=5)))
def test_arbitrary_mappings_give_a_result_or_a_documented_error(tiny_classifier, note):
    try:
        result = tiny_classifier.classify(note)
    except NotifclfError:
        return
    validate_output(result.to_dict(), output_schema(tiny_classifier.folders))


@pytest.mark.parametrize("bad", [None, 5, "a string", ["list"], object()])
def test_non_mapping_notifications_are_rejected(tiny_classifier, bad):
    with pytest.raises(NotifclfError):
        tiny_classifier.classify(bad)
