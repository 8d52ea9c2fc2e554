"""examples/quickstart.py as the README runs it: about ten lines, real default model."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_quickstart_is_short():
    code = [line for line in (REPO / "examples/quickstart.py").read_text().splitlines() if line.strip()]
    assert len(code) <= 14


@pytest.mark.real_model
def test_quickstart_prints_one_result_per_notification(real_base_gguf):
    proc = subprocess.run([sys.executable, "examples/quickstart.py"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("model: ")
    shown = [line for line in lines if line.startswith(("Slack:", "Chase:", "Shopee:", "WhatsApp:"))]
    assert shown[0] == "Slack: #incidents | PROD DOWN - payments returning 500s" and len(shown) == 4
    answers = re.findall(r"^  -> (\w+), priority ([123]) \(confidence: folder \d+%, priority \d+%\)$", proc.stdout, re.M)
    folders = [folder for folder, _ in answers]
    assert len(answers) == 4 and (folders[0], folders[2], folders[3]) == ("Work", "Promotions", "Personal")
