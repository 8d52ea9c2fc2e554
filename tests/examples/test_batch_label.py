"""examples/batch_label.py: JSONL in, JSONL out; killed midway, a rerun completes with each input row exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from notifclf import output_schema
from notifclf.folders import DEFAULT_FOLDERS
from notifclf.schema import validate_output

SCRIPT = "examples/batch_label.py"
REPO = Path(__file__).resolve().parents[2]


def write_input(path: Path, n: int) -> list[int]:
    """``n`` notifications with a blank line and a broken line among them; returns the non-blank line numbers."""
    lines = [json.dumps({"id": f"n{i}", "app": "Shop", "title": f"Order {i} shipped", "body": "x" * (i % 7)})
             for i in range(n)]
    lines[3] = ""
    lines[5] = "{not json"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [i + 1 for i, line in enumerate(lines) if line.strip()]


def run(model: Path, src: Path, dst: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, SCRIPT, str(src), str(dst), "--model", str(model), "--no-progress"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def check_complete(out: Path, expected_lines: list[int]) -> None:
    recs = records(out)
    assert [r["line"] for r in recs] == expected_lines  # every row exactly once, in order
    for r in recs:
        if r["line"] == 6:
            assert r["error"].startswith("not JSON")
        else:
            assert r["id"] == f"n{r['line'] - 1}"
            validate_output({"folder": r["folder"], "priority": r["priority"]}, output_schema(DEFAULT_FOLDERS))


def kill_midway(model: Path, src: Path, dst: Path, sig: int, total: int, preexec_fn) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, SCRIPT, str(src), str(dst), "--model", str(model), "--no-progress"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=preexec_fn)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if dst.exists() and dst.read_text(encoding="utf-8").count("\n") >= 4:
            proc.send_signal(sig)
            break
        time.sleep(0.005)
    proc.wait(timeout=60)
    done = dst.read_text(encoding="utf-8").count("\n")
    assert 4 <= done < total, f"the run was not interrupted midway ({done} of {total} records)"
    return proc


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_interrupted_run_resumes_without_redoing_or_losing_rows(tiny_qwen2, tmp_path, sig, terminal_sigint):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    expected = write_input(src, 600)  # long enough that the signal lands midway on an idle machine
    proc = kill_midway(tiny_qwen2, src, out, sig, len(expected), terminal_sigint)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "run the same command again to resume" in proc.stderr.read()
    before = records(out)

    rerun = run(tiny_qwen2, src, out)
    assert rerun.returncode == 0, rerun.stderr
    assert f"resuming after line {before[-1]['line']} of 600" in rerun.stderr
    check_complete(out, expected)
    assert records(out)[: len(before)] == before  # finished rows were kept, not redone


def test_a_half_written_last_record_is_dropped_and_redone(tiny_qwen2, tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    expected = write_input(src, 12)
    assert run(tiny_qwen2, src, out).returncode == 0
    full = out.read_bytes()
    out.write_bytes(full[: full.index(b"\n", len(full) // 2) + 8])  # a power cut in the middle of a record
    rerun = run(tiny_qwen2, src, out)
    assert rerun.returncode == 0 and "half-written last record" in rerun.stderr
    check_complete(out, expected)
    assert out.read_bytes() == full


def test_an_output_from_another_input_is_refused(tiny_qwen2, tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(src, 12)
    out.write_text('{"line": 2, "id": "other", "folder": "Work", "priority": 1}\n', encoding="utf-8")
    proc = run(tiny_qwen2, src, out)
    assert proc.returncode == 2 and "does not match this input" in proc.stderr
    out.write_text("hello\n", encoding="utf-8")
    proc = run(tiny_qwen2, src, out)
    assert proc.returncode == 2 and "was not written by batch_label" in proc.stderr
