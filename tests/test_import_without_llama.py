"""The prompt format, folders and the training data code import without llama.cpp (a training machine may lack it);
the classifier still loads it on first use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run(code: str) -> subprocess.CompletedProcess:
    block = "import sys; sys.modules['llama_cpp'] = None\n"  # any import of llama_cpp now raises ImportError
    return subprocess.run([sys.executable, "-c", block + code], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_training_data_code_imports_without_llama_cpp():
    done = _run("import notifclf.prompt, notifclf.folders, convert.train.batches, convert.train.folder_sets\n"
                "print(sorted(m for m in sys.modules if m.startswith('notifclf.engine')))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_classifier_loads_llama_cpp_on_first_use():
    blocked = _run("import notifclf\nnotifclf.Classifier")
    assert blocked.returncode != 0 and "llama_cpp" in blocked.stderr
    import notifclf
    from notifclf.classifier import Classifier

    assert notifclf.Classifier is Classifier
