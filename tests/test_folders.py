import json

import pytest

from notifclf import DEFAULT_FOLDERS, Folder, InvalidFoldersError, load_folders_file
from notifclf.folders import MAX_DESCRIPTION_CHARS, MAX_FOLDERS, MAX_NAME_CHARS, validate_folders, validate_instructions


def test_defaults():
    assert [f.name for f in validate_folders(None)] == ["Work", "Personal", "Promotions", "Alerts"]
    assert validate_folders(None) is DEFAULT_FOLDERS


def test_unicode_names_and_mappings_work():
    folders = validate_folders([Folder('My "Quoted" Folder', "q"), {"name": "财务", "description": "银行、支付"},
                                Folder("Back\\slash {}", "odd")])
    assert [f.name for f in folders] == ['My "Quoted" Folder', "财务", "Back\\slash {}"]


@pytest.mark.parametrize("folders,match", [
    ([], "at least one"),
    ([Folder("Work", "a"), Folder("work", "b")], "unique ignoring case"),
    ([{"name": "x"}], "description"),
    ("Work", "list"),
    ([Folder(f"F{i}", "d") for i in range(MAX_FOLDERS + 1)], f"at most {MAX_FOLDERS}"),
    ([3], "Folder or"),
])
def test_bad_folder_sets(folders, match):
    with pytest.raises(InvalidFoldersError, match=match):
        validate_folders(folders)


@pytest.mark.parametrize("name,description,match", [
    ("", "d", "must not be empty"),
    ("   ", "d", "must not be empty"),
    ("Work", "  ", "non-empty description"),
    ("x" * (MAX_NAME_CHARS + 1), "d", f"at most {MAX_NAME_CHARS}"),
    ("Work", "d" * (MAX_DESCRIPTION_CHARS + 1), f"at most {MAX_DESCRIPTION_CHARS}"),
    ("Wo\nrk", "d", "control"),
    ("Wo\u200brk", "d", "control"),
])
def test_bad_folders(name, description, match):
    with pytest.raises(InvalidFoldersError, match=match):
        Folder(name, description)


def test_instructions_normalised_and_bounded():
    assert validate_instructions("  Dana   is  my manager \n\n  be strict ") == "Dana is my manager\nbe strict"
    assert validate_instructions(None) == ""
    with pytest.raises(InvalidFoldersError, match="at most"):
        validate_instructions("x" * 5000)


def test_folder_file_list_and_object_forms(tmp_path):
    items = [{"name": "Finance", "description": "Banking"}, {"name": "Travel", "description": "Flights"}]
    a = tmp_path / "a.json"
    a.write_text(json.dumps(items))
    b = tmp_path / "b.json"
    b.write_text(json.dumps({"folders": items}))
    assert load_folders_file(a) == load_folders_file(b) == (Folder("Finance", "Banking"), Folder("Travel", "Flights"))


@pytest.mark.parametrize("content,match", [("{", "not valid JSON"), ('{"x": 1}', "'folders' key"), ('"x"', "list")])
def test_bad_folder_files(tmp_path, content, match):
    path = tmp_path / "f.json"
    path.write_text(content)
    with pytest.raises(InvalidFoldersError, match=match):
        load_folders_file(path)
    with pytest.raises(InvalidFoldersError, match="cannot read"):
        load_folders_file(tmp_path / "missing.json")


def test_is_default_set_means_the_four_defaults_as_shipped_in_any_order():
    from notifclf.folders import DEFAULT_FOLDERS, Folder, is_default_set

    assert is_default_set(DEFAULT_FOLDERS) and is_default_set(reversed(DEFAULT_FOLDERS))
    assert not is_default_set(DEFAULT_FOLDERS[:3])
    assert not is_default_set([Folder("My " + f.name, f.description) for f in DEFAULT_FOLDERS])
    assert not is_default_set([*DEFAULT_FOLDERS[:3], Folder("Alerts", "Only my bank's alerts")])
