"""End-to-end on the real Qwen2.5-Coder-0.5B-Instruct Q4_K_M base (the [model] extra) and the default model."""

import json
import subprocess
import sys

import pytest

from notifclf import Classifier, Folder, output_schema
from notifclf.schema import validate_output

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def seed_classifier(real_base_gguf, seed_emergent):
    clf = Classifier(real_base_gguf, folders=[Folder(**f) for f in seed_emergent["folders"]], progress=False)
    yield clf
    clf.close()


def test_seed_emergent_cases_are_all_schema_valid(seed_classifier, seed_emergent):
    schema = output_schema(seed_classifier.folders)
    cases = seed_emergent["cases"]
    results = seed_classifier.classify_many(cases)
    for result in results:
        validate_output(json.loads(result.to_json()), schema)
    correct = sum(r.folder == c["folder"] for r, c in zip(results, cases))
    print(f"\nseed_emergent with {seed_classifier.model_path.name}: {correct}/{len(cases)} folders correct")
    assert len(results) == 15


def test_default_classifier_loads_the_default_model_and_default_folders(real_base_gguf):
    from notifclf.models.registry import DEFAULT_MODEL

    clf = Classifier(progress=False)
    assert clf.model_spec.name == DEFAULT_MODEL and clf.model_path.is_file()
    r = clf.classify({"app": "Slack", "title": "#incidents", "body": "PROD DOWN - payments returning 500s"})
    validate_output(r.to_dict(), output_schema(clf.folders))
    clf.close()


def test_cli_classify_on_the_default_model(real_base_gguf):
    proc = subprocess.run([sys.executable, "-m", "notifclf", "classify", "--app", "Chase", "--title", "Payment received"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["folder"] in {"Work", "Personal", "Promotions", "Alerts"} and data["priority"] in (1, 2, 3)


def test_the_default_model_reads_your_own_folders_with_the_folder_reader(real_base_gguf, seed_emergent, tmp_path):
    folders = [Folder(**f) for f in seed_emergent["folders"]]
    cases = seed_emergent["cases"][:4]
    distributions = {}
    for prior in ("auto", "reader", None):
        with Classifier(folders=folders, folder_prior=prior, progress=False, result_cache_size=0,
                        corrections_path=tmp_path / "none.sqlite3") as clf:
            distributions[prior] = [r.folder_distribution for r in clf.classify_many(cases)]
    for auto, reader, alone in zip(distributions["auto"], distributions["reader"], distributions[None]):
        assert auto == pytest.approx(reader)
        assert auto != pytest.approx(alone, abs=1e-3)
