"""Soak: thousands of notifications on one Classifier (result cache on) do not make the process's RSS grow.

Runs benchmarks/soak.py in a fresh process on tiny models, one llama.cpp thread (steady on a busy machine).
The bound: an unbounded result cache alone grows RSS by about 4 MB over 2,700 notifications here, while the
bounded runs stay within about 0.5 MB; 2 MB catches a leak of about 1 KB a notification.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_gguf import write_tiny_model

SOAK = Path(__file__).resolve().parents[1] / "benchmarks" / "soak.py"
MAX_GROWTH_MB = 2.0


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="RSS is read from /proc (Linux)")
@pytest.mark.parametrize("with_merges,notes,decoding", [(False, 2000, "fast"), (True, 800, "grammar")],
                         ids=["fast-path", "grammar-path"])
def test_rss_does_not_grow_over_a_soak(tmp_path, with_merges, notes, decoding):
    # Without BPE merges every answer has one tokenization, so the fast path is always exact; the grammar path is
    # asked for explicitly (with merges, random weights leave the canonical tokens and exercise the plain grammar).
    model = write_tiny_model(tmp_path / "m.gguf", seed=3, with_merges=with_merges)
    done = subprocess.run([sys.executable, str(SOAK), "--model", str(model), "--notes", str(notes), "--warmup", "300",
                           "--result-cache-size", "256", "--batch", "8", "--threads", "1", "--max-seconds", "90",
                           "--samples", "5", "--decoding", decoding, "--json"], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["notes"] == notes, summary  # not cut short by --max-seconds
    assert summary["invalid_outputs"] == 0
    counts = summary["decode"]
    assert counts[decoding] + counts["cached"] == 300 + notes and counts["cached"] > 0  # the intended path, and cache hits
    assert summary["growth_mb"] <= MAX_GROWTH_MB, summary
