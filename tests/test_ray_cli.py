"""``notifclf batch --ray`` as a real subprocess: a local Ray started by the command, the tiny generated model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from notifclf import Classifier

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
    import ray  # noqa: F401
except ImportError:
    if os.environ.get("NOTIFCLF_REQUIRE_SYSTEM_TESTS") == "1":  # CI installs the [ray] extra: missing is a failure
        raise
    pytest.skip("Ray is not installed: pip install -e '.[ray]'", allow_module_level=True)

FOLDERS = [{"name": "Finance", "description": "Banking, payments"}, {"name": "Travel", "description": "Flights, hotels"}]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "notifclf", "batch", *args, "--no-progress"], capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def folders_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("f") / "folders.json"
    path.write_text(json.dumps(FOLDERS))
    return path


def reference(model: Path, notes: list[dict]) -> list[tuple[str, int]]:
    with Classifier(model, folders=FOLDERS, progress=False) as clf:
        return [(r.folder, r.priority) for r in clf.classify_many(notes)]


def test_jsonl_folder_to_parquet_keeps_every_line_once_in_order(tiny_qwen2, folders_file, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    a = [json.dumps({"id": f"a{i}", "app": "Chase", "title": f"Payment {i} received"}) for i in range(20)]
    a[4], a[9], a[12] = "", "{broken", json.dumps({"id": "bad", "title": ["not", "a", "string"]})
    b = [json.dumps({"id": f"b{i}", "app": "United", "title": f"Flight {i} delayed", "posted_at": 1.7e12}) for i in range(7)]
    (src / "a.jsonl").write_text("\n".join(a) + "\n")
    (src / "b.jsonl").write_text("\n".join(b) + "\n")
    out = tmp_path / "out"
    proc = run_cli(str(src), "-o", str(out), "--ray", "--model", str(tiny_qwen2), "--folders", str(folders_file),
                   "--batch-size", "4", "--rows-per-file", "8")
    assert proc.returncode == 1, proc.stderr[-3000:]  # some lines failed
    assert "classified 24, errors 2, of 26 rows" in proc.stderr

    files = sorted(out.glob("*.parquet"))
    assert len(files) > 1 and all(pq.read_metadata(f).num_rows >= 8 for f in files[:-1])
    table = pa.concat_tables(pq.read_table(f) for f in files)  # file names sort in input order
    rows = table.to_pylist()
    expected_keys = [(str(src / "a.jsonl"), n) for n in range(1, 21) if n != 5] + [(str(src / "b.jsonl"), n) for n in range(1, 8)]
    assert [(r["source"], r["line"]) for r in rows] == expected_keys
    errors = {r["line"]: r["error"] for r in rows if r["error"]}
    assert set(errors) == {10, 13} and errors[10].startswith("not JSON") and "title must be a str" in errors[13]
    good = [r for r in rows if not r["error"]]
    assert [(r["folder"], r["priority"]) for r in good] == reference(tiny_qwen2, [json.loads(r["json"]) for r in good])


def test_parquet_to_jsonl_passes_columns_through(tiny_qwen2, folders_file, tmp_path):
    notes = [{"id": i, "app": "Revolut", "title": f"Card payment {i}", "body": "x" * i} for i in range(12)]
    pq.write_table(pa.Table.from_pylist(notes), tmp_path / "in.parquet")
    out = tmp_path / "labeled.jsonl"
    proc = run_cli(str(tmp_path / "in.parquet"), "-o", str(out), "--ray", "--model", str(tiny_qwen2), "--folders",
                   str(folders_file), "--workers", "1", "--threads", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "classified 12, errors 0, of 12 rows (1 workers x 1 threads)" in proc.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [{k: r[k] for k in ("id", "app", "title", "body")} for r in records] == notes
    assert [(r["folder"], r["priority"]) for r in records] == reference(tiny_qwen2, notes)


WITHOUT_RAY = "import sys\nsys.modules['ray'] = None  # as if Ray were not installed\n"


def test_ray_is_imported_only_by_notifclf_ray_which_names_the_extra_when_it_is_missing(tmp_path):
    code = "import sys, notifclf, notifclf.cli; print(sorted(m for m in ('ray', 'pyarrow') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"

    code = WITHOUT_RAY + "try:\n    import notifclf.ray\nexcept ImportError as exc:\n    print(type(exc).__name__, exc)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert out.startswith("RayNotInstalledError") and "pip install 'notifclf[ray]'" in out

    src = tmp_path / "in.jsonl"
    src.write_text("{}\n")
    code = WITHOUT_RAY + "from notifclf.cli import main\nsys.exit(main(sys.argv[1:]))"
    proc = subprocess.run([sys.executable, "-c", code, "batch", str(src), "-o", str(tmp_path / "o"), "--ray"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "pip install 'notifclf[ray]'" in proc.stderr


def test_errors_before_and_inside_the_ray_job_exit_2_with_the_reason(tiny_qwen2, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"title": "x"}) + "\n")
    proc = run_cli(str(src), "--ray")
    assert proc.returncode == 2 and "--ray needs -o OUT" in proc.stderr
    proc = run_cli(str(tmp_path / "nothing*.parquet"), "-o", str(tmp_path / "o"), "--ray")
    assert proc.returncode == 2 and "no input files" in proc.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old.parquet").write_bytes(b"")
    proc = run_cli(str(src), "-o", str(tmp_path / "full"), "--ray")
    assert proc.returncode == 2 and "is not empty" in proc.stderr
    proc = run_cli(str(src), "-o", str(tmp_path / "o"), "--ray", "--model", str(tmp_path / "missing.gguf"))
    assert proc.returncode == 2
    assert "the Ray job failed: notifclf.errors.ModelNotFoundError: model file" in proc.stderr
