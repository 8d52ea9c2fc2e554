"""A model trained on letter-coded folders (GGUF metadata notifclf.folder_labels = "codes"): it reads codes, the
user gets names. Real llama.cpp on the tiny model, real all-MiniLM-L6-v2 for the folder prior."""

from __future__ import annotations

import pytest

from notifclf import Classifier, Folder, output_schema
from notifclf.embedding.folder_prior import EmbeddingFolderPrior
from notifclf.schema import validate_output

FOLDERS = [Folder("Rides", "Taxis and ride-hailing: Uber, Lyft, driver arriving"),
           Folder("Music", "Songs, albums, playlists and podcasts"),
           Folder("Family", "Messages from my mum, dad and siblings"),
           Folder("Rideshare receipts", "Receipts of trips")]
NOTES = [{"app": "Uber", "title": "Your driver is arriving", "body": "Toyota Prius, plate ABC123"},
         {"app": "Spotify", "title": "New album", "body": "A new playlist of songs for you"},
         {"app": "WhatsApp", "title": "Mum", "body": "Call me when you can, love mum"},
         {"app": "Bank", "title": "Card used", "body": "EUR 12.00 at Cafe Nero"}]
NAMES = [f.name for f in FOLDERS]


def _classifier(model, tmp_path, **kwargs) -> Classifier:
    return Classifier(model, folders=FOLDERS, progress=False, result_cache_size=0,
                      corrections_path=tmp_path / "corrections.sqlite3", cache_dir=tmp_path / "cache", **kwargs)


def test_the_model_reads_codes_and_the_user_gets_names(tiny_qwen2_codes, tmp_path):
    with _classifier(tiny_qwen2_codes, tmp_path) as clf:
        prefix = clf.inspect(NOTES[0]).prompt.prefix
        assert '- "A": Rides: Taxis and ride-hailing' in prefix and '- "D": Rideshare receipts: Receipts' in prefix
        assert '"Rides":' not in prefix
        results = clf.classify_many(NOTES)
        assert clf.schema == output_schema(FOLDERS)
    for r in results:
        validate_output(r.to_dict(), output_schema(FOLDERS))
        assert sorted(r.folder_distribution) == sorted(NAMES)
        assert abs(sum(r.folder_distribution.values()) - 1) < 1e-6
        assert max(r.folder_distribution, key=r.folder_distribution.get) == r.folder


def test_a_names_model_is_shown_names(tiny_qwen2, tmp_path):
    with _classifier(tiny_qwen2, tmp_path) as clf:
        assert '- "Rides": Taxis and ride-hailing' in clf.inspect(NOTES[0]).prompt.prefix


def test_fast_and_grammar_decoding_give_the_same_names(tiny_qwen2_codes, tmp_path):
    answers = []
    for decoding in ("fast", "grammar"):
        with _classifier(tiny_qwen2_codes, tmp_path, decoding=decoding) as clf:
            answers.append([(r.folder, r.priority) for r in clf.classify_many(NOTES * 2)])
            counts = clf.decode_counts()
        assert (counts.grammar > 0) == (decoding == "grammar")
    assert answers[0] == answers[1] and {f for f, _ in answers[0]} <= set(NAMES)


@pytest.mark.parametrize("decoding", ["fast", "grammar"])
def test_the_folder_prior_reads_the_users_folders(tiny_qwen2_codes, encoder, tmp_path, decoding):
    """The prior compares notifications with "Rides: Taxis..." (the user's folder), not with the code "A"."""
    with _classifier(tiny_qwen2_codes, tmp_path, decoding=decoding,
                     folder_prior=EmbeddingFolderPrior(encoder, weight=1000.0)) as clf:
        results = clf.classify_many(NOTES[:3])
    assert [r.folder for r in results] == ["Rides", "Music", "Family"]


def test_corrections_are_shown_with_codes_and_stored_with_names(tiny_qwen2_codes, tmp_path):
    with _classifier(tiny_qwen2_codes, tmp_path) as clf:
        clf.correct(NOTES[3], folder="Family", priority=3)
        prefix = clf.inspect(NOTES[0]).prompt.prefix
        assert '-> {"folder": "C", "priority": 3}' in prefix and '"folder": "Family"' not in prefix
        assert [(c.folder, c.priority) for c in clf.corrections] == [("Family", 3)]
        clf.set_folders([FOLDERS[2], FOLDERS[0]])  # Family is now the first folder: its code follows
        assert '-> {"folder": "A", "priority": 3}' in clf.inspect(NOTES[0]).prompt.prefix
        assert {r.folder for r in clf.classify_many(NOTES)} <= {"Family", "Rides"}


def test_a_long_description_is_shown_whole(tiny_qwen2_codes, tmp_path):
    long = Folder("Neighbourhood and city life", "x" * 290 + " the end")  # with its name, past one description's limit
    with _classifier(tiny_qwen2_codes, tmp_path) as clf:
        clf.set_folders([long, FOLDERS[0]])
        assert f'- "A": Neighbourhood and city life: {"x" * 290} the end\n' in clf.inspect(NOTES[0]).prompt.prefix


def _marked_model(tmp_path, labels: str):
    from notifclf.folder_codes import FOLDER_LABELS_KEY
    from tiny_gguf import write_tiny_model

    return write_tiny_model(tmp_path / f"tiny-{labels}.gguf", arch="qwen2", seed=0,
                            extra_metadata={FOLDER_LABELS_KEY: labels})


def test_a_codes_repeated_model_sees_the_code_after_each_description(tmp_path):
    with _classifier(_marked_model(tmp_path, "codes-repeated"), tmp_path) as clf:
        prefix = clf.inspect(NOTES[0]).prompt.prefix
        assert clf.folder_codes
        assert '- "A": Rides: Taxis and ride-hailing: Uber, Lyft, driver arriving (answer "A")\n' in prefix
        assert '- "D": Rideshare receipts: Receipts of trips (answer "D")\n' in prefix
        results = clf.classify_many(NOTES)
    assert {r.folder for r in results} <= set(NAMES)


def test_a_model_file_with_unknown_folder_labels_is_refused(tmp_path):
    from notifclf.errors import ModelIntegrityError

    with pytest.raises(ModelIntegrityError, match="folder_labels = 'emoji'"):
        _classifier(_marked_model(tmp_path, "emoji"), tmp_path)
