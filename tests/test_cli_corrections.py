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
