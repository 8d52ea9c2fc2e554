import json
import subprocess
import sys
from pathlib import Path

import pytest

from notifclf.evaluation import evaluate, expected_calibration_error, load_labeled

EVALS = Path(__file__).resolve().parents[1] / "evals"


def test_ece_of_perfectly_calibrated_and_overconfident_predictions():
    assert expected_calibration_error([0.75] * 4, [True, True, True, False]) == pytest.approx(0.0)
    assert expected_calibration_error([1.0] * 4, [True, False, False, False]) == pytest.approx(0.75)
    assert expected_calibration_error([], []) is None


def test_suites_and_jsonl_load(tmp_path):
    rows, folders = load_labeled(EVALS / "mixed-custom.json")
    assert len(rows) == 25 and {f["name"] for f in folders} >= {"GitHub", "Appointments", "Bills"}
    path = tmp_path / "x.jsonl"
    path.write_text('{"app": "a", "folder": "Work", "priority": 2}\n\n{"app": "b", "folder": "Alerts"}\n')
    rows, folders = load_labeled(path)
    assert folders is None and [r["app"] for r in rows] == ["a", "b"]


def test_evaluate_counts_and_matrix_are_consistent(tiny_classifier):
    rows = [{"app": "Slack", "title": "x", "folder": "Work", "priority": 3},
            {"app": "Mom", "title": "dinner?", "folder": "Personal", "priority": 2},
            {"app": "Shop", "title": "sale", "folder": "Promotions"},
            {"app": "?", "title": "?", "folder": "NotAFolder", "priority": 1},
            {"app": 5, "folder": "Work", "priority": 1}]
    report = evaluate(tiny_classifier, rows)
    assert (report.n, report.skipped, report.errors, report.invalid_outputs) == (4, 1, 1, 0)
    assert report.error_messages == ["row 5: InvalidNotificationError: Notification.app must be a str (or UTF-8 bytes, "
                                     "or None), got int: 5"]
    predicted = [tiny_classifier.classify(r) for r in rows[:3]]
    right = sum(p.folder == r["folder"] for p, r in zip(predicted, rows))
    assert report.folder_accuracy == pytest.approx(right / 4)  # the error counts as wrong
    assert report.folder_confusion["Work"].get("(error)") == 1
    assert sum(sum(v.values()) for v in report.folder_confusion.values()) == 4
    assert sum(v["n"] for v in report.per_priority.values()) == 3
    assert report.folder_ece is not None and 0 <= report.folder_ece <= 1  # over the three answers given
    table = report.table()
    assert "errors 1 (counted wrong)" in table and "row 5: InvalidNotificationError" in table
    assert "folder confusion" in table


def test_eval_cli_writes_a_json_report(tiny_qwen2, tmp_path):
    out = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-m", "notifclf", "eval", str(EVALS / "student.json"), "--model", str(tiny_qwen2),
                           "--label-map", "Other=Misc",
                           "--report", str(out), "--no-progress"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert report["folders"] == ["Classes", "Friends", "Jobs", "Other"]
    assert (report["n"], report["skipped"]) == (7, 2)  # the two "Other" cases were relabelled to a folder not in the set
    assert "latency per notification" in proc.stdout


def test_eval_cli_rejects_a_malformed_label_map(tiny_qwen2):
    proc = subprocess.run([sys.executable, "-m", "notifclf", "eval", str(EVALS / "student.json"), "--model", str(tiny_qwen2),
                           "--label-map", "Work"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "expected OLD=NEW pairs" in proc.stderr and "Traceback" not in proc.stderr
