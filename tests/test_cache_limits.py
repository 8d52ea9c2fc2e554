"""Full and read-only cache directories, for real: small tmpfs mounts (where mounting is permitted) and RLIMIT_FSIZE."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from notifclf import Classifier
from notifclf.models.cache import atomic_output
from notifclf.errors import CacheError
from notifclf.models.store import resolve_model


def _mount(*args: str) -> None:
    """Run mount(8), skipping the test where mounting is not permitted (not root, not Linux, no capability)."""
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root on Linux")
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"mounting is not permitted here: {done.stderr.strip() or done.returncode}")


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A real tmpfs of ``size`` at ``path`` (skips the test where mount is not permitted), unmounted afterwards."""
    path.mkdir()
    _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def test_cache_dir_without_room_is_refused_before_writing(chunk_package, tmp_path):
    spec, data = chunk_package
    with tmpfs(tmp_path / "small", "256k") as small:  # the tiny model needs about 445 KB
        with pytest.raises(CacheError, match=rf"{small}.* bytes free but {len(data):,} are needed"):
            resolve_model(spec, cache_dir=small, progress=False)
        assert list(small.iterdir()) == []


def test_disk_filling_up_while_writing_leaves_no_file(tmp_path):
    with tmpfs(tmp_path / "small", "256k") as small:
        no_space = pytest.raises(CacheError, match=rf"into cache directory {small}: No space left")
        with no_space, atomic_output(small / "m.gguf") as fh:  # no size given: nothing refused up front
            for _ in range(64):
                fh.write(b"GGUF" + bytes(8188))
        assert list(small.iterdir()) == []


_CHILD = """
import dataclasses, json, resource, signal, sys
from notifclf import ModelSpec
from notifclf.errors import CacheError
from notifclf.models.store import resolve_model
fields = json.loads(sys.argv[1])
spec = ModelSpec(**{**fields, "chunks": tuple(tuple(c) for c in fields["chunks"])})
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
try:
    resolve_model(spec, cache_dir=sys.argv[2], progress=False)
except CacheError as exc:
    print(exc)
    sys.exit(3)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_file_size_limit_during_assembly_is_a_cache_error(chunk_package, tmp_path):
    spec, data = chunk_package
    cache = tmp_path / "c"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(dataclasses.asdict(spec)), str(cache)],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 3, done.stderr
    assert f"into cache directory {cache}: File too large ({len(data):,} bytes are needed)" in done.stdout
    assert list(cache.iterdir()) == []


def _read_only_by_mount(tmp_path: Path) -> Path:
    root = tmp_path / "ro"
    root.mkdir()
    _mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(root))
    try:
        (root / "existing").mkdir()
        _mount("-o", "remount,ro", str(root))
    except BaseException:
        subprocess.run(["umount", str(root)], check=True)
        raise
    return root


def _read_only_by_mode(tmp_path: Path) -> Path:
    if sys.platform == "win32" or os.geteuid() == 0:
        pytest.skip("root ignores directory permissions")
    root = tmp_path / "ro"
    (root / "existing").mkdir(parents=True)
    (root / "existing").chmod(0o500)
    root.chmod(0o500)
    return root


@pytest.mark.parametrize("make_read_only", [_read_only_by_mount, _read_only_by_mode], ids=["ro-mount", "chmod"])
def test_read_only_cache_dir_gives_clear_error(chunk_package, tiny_qwen2, tmp_path, make_read_only):
    spec, _ = chunk_package
    root = make_read_only(tmp_path)
    try:
        with pytest.raises(CacheError, match="existing is not writable"):
            resolve_model(spec, cache_dir=root / "existing", progress=False)
        with pytest.raises(CacheError, match="cannot create cache directory .*new"):
            resolve_model(spec, cache_dir=root / "new", progress=False)
        # A model that needs no cache still works: prompt states are simply not saved.
        with Classifier(tiny_qwen2, cache_dir=root / "existing", progress=False) as clf:
            assert clf.classify({"app": "Slack", "title": "hi"}).folder in {f.name for f in clf.folders}
        assert list((root / "existing").iterdir()) == []
    finally:
        if os.path.ismount(root):
            subprocess.run(["umount", str(root)], check=True)
        else:
            root.chmod(0o700)
            (root / "existing").chmod(0o700)
