"""notifclf correct / corrections, run as real subprocesses on a tiny model and a real store."""

from __future__ import annotations

import json

from test_cli import run_cli


def test_correct_then_list_forget_and_clear(tiny_qwen2, tmp_path):
    store = str(tmp_path / "c.sqlite3")
    proc = run_cli("correct", "--model", str(tiny_qwen2), "--corrections", store, "--app", "FitLife Gym",
                   "--title", "Spin class at 6pm", "--folder", "Promotions", "--priority", "1")
    assert proc.returncode == 0, proc.stderr
    first = json.loads(proc.stdout)
    assert (first["folder"], first["priority"], first["app"]) == ("Promotions", 1, "FitLife Gym")
    proc = run_cli("correct", "--model", str(tiny_qwen2), "--corrections", store, "--priority", "3",
                   stdin=json.dumps({"app": "Delta", "title": "Boarding now"}))
    second = json.loads(proc.stdout)
    assert proc.returncode == 0 and second["priority"] == 3 and second["folder"]   # folder: the model's answer

    listed = [json.loads(line) for line in run_cli("corrections", "list", "--json", "--corrections", store).stdout.splitlines()]
    assert [r["id"] for r in listed] == [first["id"], second["id"]]
    assert run_cli("corrections", "forget", str(first["id"]), "--corrections", store).returncode == 0
    assert run_cli("corrections", "forget", str(first["id"]), "--corrections", store).returncode == 1
    proc = run_cli("corrections", "clear", "--corrections", store)
    assert proc.returncode == 0 and "forgot 1" in proc.stdout
    assert run_cli("corrections", "list", "--corrections", store).stdout == ""


def test_a_folder_not_in_the_set_is_an_error_and_stores_nothing(tiny_qwen2, tmp_path):
    store = tmp_path / "c.sqlite3"
    proc = run_cli("correct", "--model", str(tiny_qwen2), "--corrections", str(store), "--app", "X", "--title", "y",
                   "--folder", "Fitness")
    assert proc.returncode == 2 and "not one of the current folders" in proc.stderr and not store.exists()


def test_classify_with_corrections_by_likeness_answers_like_the_correction(tiny_qwen2, tmp_path):
    store = str(tmp_path / "c.sqlite3")
    note = ["--app", "FitLife Gym", "--title", "Spin class at 7pm", "--body", "2 spots left in tonight's spin class"]
    own = json.loads(run_cli("classify", "--model", str(tiny_qwen2), "--corrections", store, *note).stdout)
    folder = next(f for f in ("Work", "Personal", "Promotions", "Alerts") if f != own["folder"])
    assert run_cli("correct", "--model", str(tiny_qwen2), "--corrections", store, "--corrections-by", "likeness",
                   "--app", "FitLife Gym", "--title", "Spin class at 6pm", "--body",
                   "3 spots left in tonight's spin class", "--folder", folder).returncode == 0
    proc = run_cli("classify", "--model", str(tiny_qwen2), "--corrections", store, "--corrections-by", "likeness", *note)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["folder"] == folder
