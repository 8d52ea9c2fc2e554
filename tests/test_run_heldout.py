"""evals/run_heldout.py (the extra sets it scores: suite files, the dev split; names and letter-code models) and
evals/folder_order.py (accuracy per folder order), on the tiny models."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from notifclf.folders import DEFAULT_FOLDERS

EVALS = Path(__file__).resolve().parents[1] / "evals"


def _module(name: str):
    """A script of evals/ as a module."""
    sys.path.insert(0, str(EVALS))
    spec = importlib.util.spec_from_file_location(name, EVALS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run_heldout():
    return _module("run_heldout")


def test_run_reports_whether_the_model_reads_codes(tiny_qwen2, tiny_qwen2_codes, tmp_path):
    module = _run_heldout()
    suite = str(EVALS / "student.json")
    reports = [module.run(str(m), tmp_path, "suite", suites=(suite,)) for m in (tiny_qwen2, tiny_qwen2_codes)]
    assert [r["folder_codes"] for r in reports] == [False, True]
    n = len(json.loads((EVALS / "student.json").read_text(encoding="utf-8"))["cases"])
    assert [r["sets"]["suite-student"]["n"] for r in reports] == [n, n]


def test_extra_sets_read_suite_files_and_the_dev_split(tmp_path):
    from notifclf.dev_split import is_dev

    module = _run_heldout()
    rows = [{"id": f"r{i}", "app_name": "Slack", "title": "t", "body": "b", "folder": "Work", "priority": 2}
            for i in range(60)]
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    sets = list(module.extra_sets([str(EVALS / "student.json")], str(data)))
    assert [name for name, _, _ in sets] == ["suite-student", "dev-defaults"]
    student = json.loads((EVALS / "student.json").read_text(encoding="utf-8"))
    assert sets[0][1] == student["folders"] and sets[0][2] == student["cases"]
    name, folders, dev = sets[1]
    assert folders == [f.to_dict() for f in DEFAULT_FOLDERS]
    assert [c["id"] for c in dev] == [r["id"] for r in rows if is_dev(r["id"])] and dev
    assert all(c["app"] == "Slack" for c in dev)


def test_folder_order_scores_each_order_and_their_ensemble(tiny_qwen2_codes, tmp_path):
    module = _module("folder_order")
    assert module.ensemble([{"A": 0.6, "B": 0.4}, {"A": 0.1, "B": 0.9}]) == "B"  # 0.6*0.1 < 0.4*0.9
    folders = [{"name": n, "description": f"things about {n.lower()}"} for n in ("Rides", "Music", "Family")]
    cases = [{"app": "Uber", "title": "Driver arriving", "body": "", "folder": "Rides"},
             {"app": "Spotify", "title": "New album", "body": "", "folder": "Music"},
             {"app": "WhatsApp", "title": "Mum", "body": "call me", "folder": "Family"}]
    (tmp_path / "heldout-x.folders.json").write_text(json.dumps(folders))
    (tmp_path / "heldout-x.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases))
    report = module.run(str(tiny_qwen2_codes), tmp_path, "heldout-")
    scores = report["sets"]["heldout-x"]
    assert report["folder_codes"] and scores["n"] == 3
    columns = ("given", "reversed", "rotated", "2 orders", "3 orders")
    unsure = [f"{kind}{t}" for t in module.SURE for kind in ("3 if p<", "reread<")]
    assert set(scores) == {"n", *columns, *unsure}
    assert all(round(scores[k] * 3, 2) in (0, 1, 2, 3) for k in (*columns, *unsure))
    with module.model_only_classifier(str(tiny_qwen2_codes)) as clf:  # the given order's own confidence
        clf.set_folders(folders)
        top = [max(r.folder_distribution.values()) for r in clf.classify_many(cases)]
    for t in module.SURE:
        assert scores[f"reread<{t}"] == round(sum(p < t for p in top) / 3, 4)
        if not any(p < t for p in top):  # sure of every case: the given order's answers
            assert scores[f"3 if p<{t}"] == scores["given"]
    with module.model_only_classifier(str(tiny_qwen2_codes), folder_orders=3) as clf:  # what the runtime answers
        clf.set_folders(folders)
        got = [r.folder for r in clf.classify_many(cases)]
    assert scores["3 orders"] == round(sum(g == c["folder"] for g, c in zip(got, cases)) / 3, 4)
    assert "held-out hand-written sets" in module.summary(report)


def test_renamed_corrections_suites_rename_every_folder_and_keep_priority_only_conventions():
    run_corrections = _module("run_corrections")
    suite = json.loads((EVALS / "conventions" / "teacher.json").read_text(encoding="utf-8"))
    mine = run_corrections.renamed(suite)
    names = {f["name"] for f in mine["folders"]}
    assert names == {"My " + f["name"] for f in suite["folders"]} and not names & {f.name for f in DEFAULT_FOLDERS}
    assert [f["description"] for f in mine["folders"]] == [f["description"] for f in suite["folders"]]
    for key in ("pool", "cases"):
        assert {item["folder"] for item in mine[key]} <= names
        assert [item["title"] for item in mine[key]] == [item["title"] for item in suite[key]]
    assert [c["folder"] for c in mine["conventions"]] == [None if c["folder"] is None else "My " + c["folder"]
                                                        for c in suite["conventions"]]


def test_prior_sweep_never_chooses_the_encoder_alone():
    """The weight is chosen among the candidates: where the encoder alone reads the in-distribution sets best, the
    best weight that keeps the model in the decision is chosen, and weight 1000 still prints as a reference line."""
    sweep = _module("sweep_folder_prior")
    # one in-distribution set, 4 cases over folders A, B: the model is sure and wrong on one case, which only a
    # cosine weighed far past the model's log-probabilities (the encoder alone) gets right
    found = {"indist-sets-0": {
        "folders": ["A", "B"], "descriptions": ["a things", "b things"], "gold": ["A", "B", "A", "B"],
        "model": [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [1 - 1e-9, 1e-9]],
        "cos": [[0.6, 0.1], [0.1, 0.6], [0.2, 0.1], [0.1, 0.2]],
        "cos_parts": [[0.6, 0.1], [0.1, 0.6], [0.2, 0.1], [0.1, 0.2]], "content_free": [0.5, 0.5]}}
    assert sweep.accuracy(found, ["indist-sets-0"], sweep.ENCODER_ALONE) == 1.0
    text, (weight, parts) = sweep.table(found)
    assert weight != sweep.ENCODER_ALONE and weight in sweep.WEIGHTS
    assert sweep.accuracy(found, ["indist-sets-0"], weight, parts=parts) == 0.75
    assert f"{sweep.ENCODER_ALONE:>7}" in text


def test_each_nearby_suite_has_its_parent_suites_rules_and_no_case_they_decide():
    paths = sorted(EVALS.glob("preferences*-nearby.json"))
    assert [p.name for p in paths] == ["preferences-custom-nearby.json", "preferences-nearby.json"]
    for path in paths:
        nearby = json.loads(path.read_text(encoding="utf-8"))
        parent = json.loads((EVALS / path.name.replace("-nearby", "")).read_text(encoding="utf-8"))
        assert (nearby["instructions"], nearby["folders"]) == (parent["instructions"], parent["folders"])
        assert len(nearby["cases"]) == 40 and all(c["decided_by"] is None for c in nearby["cases"])
        names = {f["name"] for f in nearby["folders"]}
        assert all(c["folder"] in names and c["priority"] in (1, 2, 3) for c in nearby["cases"])


def test_a_preferences_suite_of_untouched_cases_scores_them_with_and_without_the_rules(tiny_qwen2_codes, tmp_path):
    nearby = json.loads((EVALS / "preferences-nearby.json").read_text(encoding="utf-8"))
    sets = _run_heldout().run(str(tiny_qwen2_codes), tmp_path, "preferences-nearby")["sets"]
    assert sorted(sets) == ["preferences-nearby-untouched", "preferences-nearby-untouched-without-prefs"]
    assert [r["n"] for r in sets.values()] == [len(nearby["cases"])] * 2
