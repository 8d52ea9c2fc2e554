"""examples/ray_label.py on a local Ray and the tiny model: every sample row labeled once, in order, then counted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "examples" / "ray_notifications.jsonl"


def test_ray_label_prints_every_row_in_order_and_writes_parquet(tiny_qwen2, tmp_path, missing):
    try:
        import pyarrow.parquet as pq
        import ray  # noqa: F401
    except ImportError:
        missing("Ray is not installed; it comes with the [ray] extra")
    proc = subprocess.run([sys.executable, "examples/ray_label.py", "--model", str(tiny_qwen2), "-o", str(tmp_path / "o")],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ids = [json.loads(line)["id"] for line in SAMPLE.read_text().splitlines()]
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines[: len(ids)]] == ids and all(" -> " in line for line in lines[: len(ids)])
    counts = [int(line.rsplit(": ", 1)[1]) for line in lines[len(ids):-1]]
    assert sum(counts) == len(ids) and lines[-1] == f"written to {tmp_path / 'o'}"
    assert pq.read_table(tmp_path / "o").num_rows == len(ids)
