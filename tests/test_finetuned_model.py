"""The fine-tuned model: built from the real base + the committed adapter by convert/, then used for real."""

import json

import pytest

from notifclf import Classifier, Folder, output_schema
from notifclf.models.registry import NOTIFCLF_QWEN25_CODER_05B
from notifclf.schema import validate_output

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def finetuned(real_base_gguf):
    clf = Classifier(NOTIFCLF_QWEN25_CODER_05B.name, progress=False)
    yield clf
    clf.close()


def test_built_model_records_the_committed_adapter(finetuned):
    from convert.manifest import verify

    from notifclf.files import sha256_file
    from notifclf.models.built import adapters_dir

    manifest = verify(finetuned.model_path)
    adapter = adapters_dir() / NOTIFCLF_QWEN25_CODER_05B.adapter / "adapter_model.safetensors"
    assert manifest["adapter"]["sha256"] == sha256_file(adapter)
    assert manifest["quant"] == "Q4_K_M"


def test_seed_cases_are_valid_and_mostly_right(finetuned, seed_emergent):
    finetuned.set_folders([Folder(**f) for f in seed_emergent["folders"]])
    results = finetuned.classify_many(seed_emergent["cases"])
    for r in results:
        validate_output(json.loads(r.to_json()), output_schema(finetuned.folders))
    correct = sum(r.folder == c["folder"] for r, c in zip(results, seed_emergent["cases"]))
    print(f"\nseed_emergent with the fine-tuned model: {correct}/15")
    assert correct >= 14  # measured 15/15; the reference fine-tune scored 11/15


@pytest.mark.parametrize("question,expected", [
    ("What is the capital of France? Answer in one word.", ["paris"]),
    ("What is 15+27? Answer with the number only.", ["42"]),
    ("Write a Python function that adds two numbers.", ["def ", "return"]),
    ("Translate 'Hello' to Spanish. Answer with the word only.", ["hola"]),
])
def test_merged_model_still_answers_general_questions(finetuned, question, expected):
    from llama_cpp import Llama

    llm = Llama(str(finetuned.model_path), n_ctx=512, verbose=False)
    out = llm.create_chat_completion(messages=[{"role": "user", "content": question}], temperature=0.0, max_tokens=80)
    answer = out["choices"][0]["message"]["content"].lower()
    assert all(e in answer for e in expected), answer


UNSEEN_FOLDERS = [Folder("Getting around", "Taxis and ride-hailing: Uber, Lyft, Bolt, driver arriving, trip receipts"),
                  Folder("Watching & listening", "Series, films, music, podcasts and audiobooks"),
                  Folder("My people", "Messages from my family and friends")]
UNSEEN_CASES = [({"app": "Spotify", "title": "New episode", "body": "Your favourite podcast has a new episode"},
                 "Watching & listening"),
                ({"app": "Netflix", "title": "New season available", "body": "Season 3 of your show is now streaming"},
                 "Watching & listening"),
                ({"app": "Audible", "title": "Your audiobook is ready", "body": "Start listening to The Hobbit"},
                 "Watching & listening"),
                ({"app": "Uber", "title": "Your driver is arriving", "body": "Toyota Prius ABC123"}, "Getting around"),
                ({"app": "Bolt", "title": "Trip receipt", "body": "Thanks for riding with Bolt: 12.40 EUR"},
                 "Getting around"),
                ({"app": "WhatsApp", "title": "Mum", "body": "Call me when you can"}, "My people")]


def test_the_embedding_prior_reads_folders_the_model_never_saw(finetuned, model_dir, tmp_path):
    (tmp_path / model_dir.name).symlink_to(model_dir)
    with Classifier(finetuned.model_path, folders=UNSEEN_FOLDERS, folder_prior="embeddings", cache_dir=tmp_path,
                    progress=False, corrections_path=tmp_path / "none.sqlite3") as clf:
        results = clf.classify_many([note for note, _ in UNSEEN_CASES])
        schema = output_schema(clf.folders)
    for r in results:
        validate_output(r.to_dict(), schema)
    # measured: 6/6 with the prior; 5/6 without (the podcast went to "My people")
    assert [r.folder for r in results] == [want for _, want in UNSEEN_CASES]
