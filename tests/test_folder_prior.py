"""The embedding folder prior: real llama.cpp on a tiny model, real all-MiniLM-L6-v2 (notifclf.embedding)."""

from __future__ import annotations

import numpy as np
import pytest

from notifclf import Classifier, Folder, output_schema
from notifclf.embedding.folder_prior import EmbeddingFolderPrior, load_folder_prior
from notifclf.schema import validate_output

FOLDERS = [Folder("Rides", "Taxis and ride-hailing: Uber, Lyft, driver arriving"),
           Folder("Music", "Songs, albums, playlists and podcasts"),
           Folder("Family", "Messages from my mum, dad and siblings"),
           Folder("Rideshare receipts", "Receipts of trips")]  # shares its first token with Rides
NOTES = [{"app": "Uber", "title": "Your driver is arriving", "body": "Toyota Prius, plate ABC123"},
         {"app": "Spotify", "title": "New album", "body": "A new playlist of songs for you"},
         {"app": "WhatsApp", "title": "Mum", "body": "Call me when you can, love mum"}]


def _classifier(model, tmp_path, folders=FOLDERS, store: str = "none.sqlite3", **kwargs) -> Classifier:
    return Classifier(model, folders=folders, progress=False, result_cache_size=0,
                      corrections_path=tmp_path / store, **kwargs)


def test_bias_is_weight_times_cosine(encoder):
    prior = EmbeddingFolderPrior(encoder, weight=10.0)
    from notifclf.notification import Notification

    notes = [Notification.coerce(n) for n in NOTES]
    bias = prior.bias(tuple(FOLDERS), notes)
    assert bias.shape == (3, 4)
    assert [int(i) for i in np.argmax(bias, axis=1)] == [0, 1, 2]  # each note is nearest its own folder
    assert np.all(np.abs(bias) <= 10.0 + 1e-6)
    assert prior.bias(tuple(FOLDERS), []).shape == (0, 4)


@pytest.mark.parametrize("decoding", ["fast", "grammar"])
def test_a_strong_prior_decides_the_folder_and_the_model_the_priority(tiny_qwen2, encoder, tmp_path, decoding):
    with _classifier(tiny_qwen2, tmp_path, decoding=decoding,
                     folder_prior=EmbeddingFolderPrior(encoder, weight=1000.0)) as clf:
        results = clf.classify_many(NOTES)
        schema = output_schema(clf.folders)
    assert [r.folder for r in results] == ["Rides", "Music", "Family"]
    for r in results:
        validate_output(r.to_dict(), schema)
        assert r.priority in (1, 2, 3)
        assert abs(sum(r.folder_distribution.values()) - 1) < 1e-6
        assert max(r.folder_distribution, key=r.folder_distribution.get) == r.folder


def test_fast_and_grammar_decoding_agree_under_a_prior(tiny_qwen2, encoder, tmp_path):
    answers = []
    for decoding in ("fast", "grammar"):
        with _classifier(tiny_qwen2, tmp_path, decoding=decoding,
                         folder_prior=EmbeddingFolderPrior(encoder, weight=2.0)) as clf:
            answers.append([(r.folder, r.priority) for r in clf.classify_many(NOTES * 2)])
    assert answers[0] == answers[1]


def test_a_zero_weight_prior_changes_nothing(tiny_qwen2, encoder, tmp_path):
    with _classifier(tiny_qwen2, tmp_path) as plain:
        want = plain.classify_many(NOTES)
    with _classifier(tiny_qwen2, tmp_path, folder_prior=EmbeddingFolderPrior(encoder, weight=0.0)) as clf:
        got = clf.classify_many(NOTES)
    assert got == want
    for g, w in zip(got, want):
        assert g.folder_distribution == pytest.approx(w.folder_distribution)


def test_unknown_prior_names_and_bad_weights_are_refused(encoder):
    with pytest.raises(ValueError, match="embeddings"):
        load_folder_prior("tfidf")
    with pytest.raises(ValueError, match="weight"):
        EmbeddingFolderPrior(encoder, weight=-1)
    assert load_folder_prior(None) is None and load_folder_prior("none") is None


def test_auto_is_the_model_entrys_prior_loaded_at_its_first_use(model_dir, encoder):
    from notifclf.models.registry import DEFAULT_MODEL, get_spec
    from notifclf.notification import Notification

    assert get_spec(DEFAULT_MODEL).folder_prior == "reader"
    assert load_folder_prior("auto") is None  # a GGUF file of the user's names no prior
    prior = load_folder_prior("auto", model_dir.parent, model_prior="embeddings")
    assert prior.name == "embeddings" and not prior.loaded
    notes = [Notification.coerce(n) for n in NOTES]
    assert prior.bias(tuple(FOLDERS), notes) == pytest.approx(EmbeddingFolderPrior(encoder).bias(tuple(FOLDERS), notes))
    assert prior.loaded


def test_a_classifier_of_a_users_gguf_file_has_no_prior_by_default(tiny_qwen2, encoder, tmp_path):
    with _classifier(tiny_qwen2, tmp_path, folder_prior=None) as plain:
        want = plain.classify_many(NOTES)
    with _classifier(tiny_qwen2, tmp_path) as clf:
        got = clf.classify_many(NOTES)
    for g, w in zip(got, want):
        assert g.folder_distribution == pytest.approx(w.folder_distribution)


@pytest.mark.parametrize("name", ["embeddings", "reader"])
def test_a_named_prior_without_its_encoder_package_is_refused_at_once(monkeypatch, name):
    from notifclf.embedding import files
    from notifclf.errors import ModelNotFoundError

    monkeypatch.setattr(files, "PACKAGE", "no_such_encoder_package")  # as if the package were not installed
    with pytest.raises(ModelNotFoundError, match="folder_prior=None"):
        load_folder_prior(name)
    with pytest.raises(ModelNotFoundError, match="folder_prior=None"):
        load_folder_prior("auto", model_prior=name)


def test_a_catch_all_folder_scores_the_readers_threshold_for_every_notification(encoder):
    from notifclf.embedding.folder_prior import CatchAllReading
    from notifclf.folders import CATCH_ALL_EXAMPLES
    from notifclf.notification import Notification

    notes = [Notification.coerce(n) for n in NOTES]
    rest = Folder("Leftovers", CATCH_ALL_EXAMPLES[0][1])  # a name of the user's, a training wording
    folders = (*FOLDERS[:3], rest)
    plain = EmbeddingFolderPrior(encoder, weight=10.0).bias(folders, notes)
    reading = EmbeddingFolderPrior(encoder, weight=10.0, catch_all=CatchAllReading(cos=0.42, bar=0.6))
    assert reading.catch_all_folders(folders) == ["Leftovers"]
    got = reading.bias(folders, notes)
    assert got[:, :3] == pytest.approx(plain[:, :3]) and got[:, 3] == pytest.approx([4.2] * 3)
    assert not np.allclose(plain[:, 3], 4.2)
    assert CatchAllReading.from_config({"rank": 16}) is None  # an adapter trained without catch-alls


@pytest.mark.parametrize("entry", [{"cos": 0.3}, {"cos": "x", "bar": 0.7}, {"cos": 3.0, "bar": 0.7}, [0.3, 0.7]])
def test_a_malformed_catch_all_entry_is_an_integrity_error(entry):
    from notifclf.embedding.folder_prior import CatchAllReading
    from notifclf.errors import ModelIntegrityError

    with pytest.raises(ModelIntegrityError, match="catch_all"):
        CatchAllReading.from_config({"catch_all": entry})


def test_the_prior_steps_aside_where_a_stated_preference_may_decide(tiny_qwen2, encoder, tmp_path):
    rule = "Anything from Uber goes to Music"  # shares "Uber" with the first note only
    strong = EmbeddingFolderPrior(encoder, weight=1000.0)
    with _classifier(tiny_qwen2, tmp_path, instructions=rule, folder_prior=strong) as clf:
        with_prior = clf.classify_many(NOTES)
    with _classifier(tiny_qwen2, tmp_path, instructions=rule) as clf:
        without = clf.classify_many(NOTES)
    assert with_prior[0].folder_distribution == pytest.approx(without[0].folder_distribution)  # the model's own
    assert [r.folder for r in with_prior[1:]] == ["Music", "Family"]  # the prior still decides the others


def test_the_prior_steps_aside_where_a_stored_correction_is_like_the_notification(tiny_qwen2, encoder, tmp_path):
    strong = EmbeddingFolderPrior(encoder, weight=1000.0)
    with _classifier(tiny_qwen2, tmp_path, store="corrections.sqlite3") as clf:
        clf.correct({"app": "Uber", "title": "Your driver is arriving", "body": "Honda Civic"}, folder="Music")
        without = clf.classify_many(NOTES)
    with _classifier(tiny_qwen2, tmp_path, store="corrections.sqlite3", folder_prior=strong) as clf:
        with_prior = clf.classify_many(NOTES)
    assert with_prior[0].folder_distribution == pytest.approx(without[0].folder_distribution)  # like the correction
    assert [r.folder for r in with_prior[1:]] == ["Music", "Family"]  # nothing like it: the prior decides


def test_no_prior_applies_under_the_default_folders_in_any_order(tiny_qwen2, encoder, tmp_path):
    from notifclf import DEFAULT_FOLDERS

    strong = EmbeddingFolderPrior(encoder, weight=1000.0)
    for folders in (DEFAULT_FOLDERS, DEFAULT_FOLDERS[::-1]):
        with _classifier(tiny_qwen2, tmp_path, folders=folders) as clf:
            without = clf.classify_many(NOTES)
        with _classifier(tiny_qwen2, tmp_path, folders=folders, folder_prior=strong) as clf:
            with_prior = clf.classify_many(NOTES)
        for w, wo in zip(with_prior, without):
            assert w.folder_distribution == pytest.approx(wo.folder_distribution)
    renamed = [Folder("My " + f.name, f.description) for f in DEFAULT_FOLDERS]  # a set of the user's own: it applies
    with _classifier(tiny_qwen2, tmp_path, folders=renamed, folder_prior=strong) as clf:
        distributions = [r.folder_distribution for r in clf.classify_many(NOTES)]
    from notifclf.notification import Notification

    cosines = strong.bias(tuple(renamed), [Notification.coerce(n) for n in NOTES])
    assert [max(d, key=d.get) for d in distributions] == [renamed[int(i)].name for i in np.argmax(cosines, axis=1)]


def test_the_prior_reads_only_the_notifications_it_may_decide(tiny_qwen2, encoder, tmp_path):
    class Counting:  # the real encoder, counting the texts it is given
        def __init__(self):
            self.texts: list[str] = []

        def encode(self, texts):
            self.texts += texts
            return encoder.encode(texts)

    counting = Counting()
    with _classifier(tiny_qwen2, tmp_path, instructions="Anything from Uber goes to Music",
                     folder_prior=EmbeddingFolderPrior(counting, weight=1000.0)) as clf:
        clf.classify_many(NOTES)
    read = [t for t in counting.texts if t.startswith(("Uber.", "Spotify.", "WhatsApp."))]
    assert read == ["Spotify. New album. A new playlist of songs for you", "WhatsApp. Mum. Call me when you can, love mum"]
