"""The notifclf command, run as a real subprocess on a tiny model."""

import json
import subprocess
import sys

import pytest

from notifclf import output_schema, Folder
from notifclf.schema import validate_output


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "notifclf", *args], input=stdin, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def folders_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("f") / "folders.json"
    path.write_text(json.dumps({"folders": [{"name": "Finance", "description": "Banking, payments"},
                                            {"name": "旅行", "description": "Flights, hotels"}]}, ensure_ascii=False))
    return path


def test_classify_from_flags_prints_one_json_line(tiny_qwen2):
    proc = run_cli("classify", "--model", str(tiny_qwen2), "--app", "Chase", "--title", "Payment received")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1
    validate_output(json.loads(lines[0]), output_schema([Folder("Work", "a"), Folder("Personal", "b"),
                                                        Folder("Promotions", "c"), Folder("Alerts", "d")]))


def test_classify_from_stdin_with_a_folder_file(tiny_qwen2, folders_file):
    proc = run_cli("classify", "--model", str(tiny_qwen2), "--folders", str(folders_file),
                   stdin=json.dumps({"app": "Chase", "title": "Payment received"}))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["folder"] in {"Finance", "旅行"}


@pytest.mark.parametrize("stdin,match", [("not json", "not a JSON object"), ("[1]", "one JSON object"),
                                         ('{"title": 5}', "must be a str")])
def test_bad_stdin_exits_2_with_a_clear_message(tiny_qwen2, stdin, match):
    proc = run_cli("classify", "--model", str(tiny_qwen2), stdin=stdin)
    assert proc.returncode == 2 and match in proc.stderr and proc.stdout == ""


def test_bad_folder_file_and_unknown_model(tiny_qwen2, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"name": "A", "description": "x"}, {"name": "a", "description": "y"}]')
    proc = run_cli("classify", "--model", str(tiny_qwen2), "--folders", str(bad), "--title", "x")
    assert proc.returncode == 2 and "unique ignoring case" in proc.stderr
    proc = run_cli("classify", "--model", "nope", "--title", "x")
    assert proc.returncode == 2 and "expected one of" in proc.stderr


def test_batch_keeps_every_line_and_reports_bad_ones(tiny_qwen2, folders_file, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join([
        json.dumps({"id": "a", "app": "Chase", "title": "Payment received"}),
        "{broken",
        json.dumps({"id": "c", "title": ["not", "a", "string"]}),
        "",
        json.dumps({"id": "e", "app": "United", "title": "Flight delayed"}),
    ]) + "\n")
    out = tmp_path / "out.jsonl"
    proc = run_cli("batch", str(src), "-o", str(out), "--model", str(tiny_qwen2), "--folders", str(folders_file))
    assert proc.returncode == 1  # some lines failed
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["line"] for r in records] == [1, 2, 3, 5]
    assert [r.get("id") for r in records] == ["a", None, "c", "e"]
    assert "error" in records[1] and "error" in records[2] and "must be a str" in records[2]["error"]
    for r in (records[0], records[3]):
        validate_output({k: r[k] for k in ("folder", "priority")}, output_schema([Folder("Finance", "x"), Folder("旅行", "y")]))
    assert "classified 2, errors 2" in proc.stderr


def test_models_lists_the_registry(tmp_path):
    proc = run_cli("models", "--json", "--cache-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    names = {r["name"] for r in rows}
    assert {"qwen2.5-coder-0.5b-instruct-q4_k_m", "gemma-3-270m-q4_k_m", "qwen3-0.6b-q8_0"} <= names
    assert all(r["status"] == "not cached" for r in rows)
    assert sum(r["default"] for r in rows) == 1


@pytest.mark.parametrize("before,after,info,llama", [((), (), False, False), (("-v",), (), True, False),
                                                   (("-vv",), (), True, True), ((), ("-vv",), True, True)])
def test_verbosity_flags_do_what_the_help_says(tiny_qwen2, before, after, info, llama):
    proc = run_cli(*before, "classify", *after, "--model", str(tiny_qwen2), "--title", "hi")
    assert proc.returncode == 0, proc.stderr
    assert ("INFO notifclf: notifclf loaded" in proc.stderr) == info
    assert ("DEBUG notifclf.llama: " in proc.stderr) == llama  # llama.cpp's own log, only with -vv
    assert len(proc.stdout.splitlines()) == 1


def test_help_describes_the_verbosity_flags():
    assert "-v: log what notifclf does (INFO); -vv: also DEBUG, with llama.cpp's own log" in " ".join(
        run_cli("--help").stdout.split())


def test_batch_classifies_in_batches_in_input_order(tiny_qwen2, tmp_path):
    notes = [{"id": i, "app": "Shop", "title": f"Order {i} shipped"} for i in range(7)]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(n) for n in notes[:3]) + "\n[1]\n" + "\n".join(json.dumps(n) for n in notes[3:]))
    outs = []
    for size in ("1", "3"):
        proc = run_cli("batch", str(src), "--model", str(tiny_qwen2), "--batch-size", size, "--no-progress")
        assert proc.returncode == 1 and "classified 7, errors 1, of 8 lines" in proc.stderr
        outs.append([json.loads(line) for line in proc.stdout.splitlines()])
    assert outs[0] == outs[1]
    assert [r["line"] for r in outs[0]] == list(range(1, 9)) and [r.get("id") for r in outs[0]] == [0, 1, 2, None, 3, 4, 5, 6]
    assert "must be a Notification or a mapping" in outs[0][3]["error"]


@pytest.mark.parametrize("flag,value,kwargs,bad,said", [
    ("--folder-prior", "embeddings", {"folder_prior": "embeddings"}, "tfidf", "embeddings"),
    ("--folder-orders", "3", {"folder_orders": 3}, "4", "--folder-orders"),
])
def test_reading_options_give_the_api_result_and_bad_values_are_refused(tiny_qwen2, folders_file, tmp_path, request,
                                                                          flag, value, kwargs, bad, said):
    from notifclf import Classifier, load_folders_file

    if flag == "--folder-prior":
        model_dir = request.getfixturevalue("model_dir")
        (tmp_path / model_dir.name).symlink_to(model_dir)
    note = {"app": "United", "title": "Flight UA 12 boarding at gate 4", "body": "Your hotel booking is confirmed"}
    proc = run_cli("classify", "--model", str(tiny_qwen2), "--folders", str(folders_file), "--cache-dir",
                   str(tmp_path), flag, value, "--corrections", str(tmp_path / "none.sqlite3"), stdin=json.dumps(note))
    assert proc.returncode == 0, proc.stderr
    with Classifier(tiny_qwen2, folders=load_folders_file(folders_file), cache_dir=tmp_path, progress=False,
                    corrections_path=tmp_path / "none.sqlite3", **kwargs) as clf:
        assert json.loads(proc.stdout) == clf.classify(note).to_dict()
    refused = run_cli("classify", "--model", str(tiny_qwen2), flag, bad, stdin="{}")
    assert refused.returncode == 2 and said in refused.stderr


def test_stated_priority_bonus_reaches_the_classifier_and_bad_values_are_refused(tiny_qwen2, folders_file, tmp_path):
    from notifclf import Classifier, load_folders_file

    rule = "Anything from my bank is priority 3."
    notes = [{"app": "Chase", "title": f"Your bank statement {i}", "body": "details " * i} for i in range(6)]
    options = dict(folders=load_folders_file(folders_file), instructions=rule, cache_dir=tmp_path, progress=False,
                   corrections_path=tmp_path / "none.sqlite3")
    for bonus in ("0", "100"):
        got = [json.loads(run_cli("classify", "--model", str(tiny_qwen2), "--folders", str(folders_file),
                                  "--instructions", rule, "--cache-dir", str(tmp_path), "--corrections",
                                  str(tmp_path / "none.sqlite3"), "--stated-priority-bonus", bonus,
                                  stdin=json.dumps(note)).stdout) for note in notes]
        with Classifier(tiny_qwen2, stated_priority_bonus=float(bonus), **options) as clf:
            assert got == [clf.classify(note).to_dict() for note in notes]
        if bonus == "0":
            assert {r["priority"] for r in got} != {3}  # the tiny model alone does not say 3 to all of them
        else:
            assert {r["priority"] for r in got} == {3}  # the rule's priority, forced
    for bad in ("-1", "101", "nan", "lots"):
        refused = run_cli("classify", "--model", str(tiny_qwen2), "--stated-priority-bonus", bad, stdin="{}")
        assert refused.returncode == 2 and "--stated-priority-bonus" in refused.stderr
