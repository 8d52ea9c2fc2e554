import hashlib
import os
import sys
from pathlib import Path

import pytest

from notifclf import ModelIntegrityError, ModelNotFoundError, ModelSpec, files
from notifclf.models.cache import atomic_output, resolve_cache_dir, verify_file
from notifclf.errors import CacheError
from notifclf.models.store import resolve_model, spec_for
from notifclf.models.registry import DEFAULT_MODEL, REGISTRY


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("NOTIFCLF_CACHE", str(tmp_path / "env"))
    assert resolve_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_cache_dir() == tmp_path / "env"
    monkeypatch.delenv("NOTIFCLF_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert resolve_cache_dir() == tmp_path / "xdg" / "notifclf"


def test_assembles_once_verifies_and_reuses(chunk_package, tmp_path):
    spec, data = chunk_package
    resolved = resolve_model(spec, cache_dir=tmp_path / "c", progress=False)
    assert resolved.path.read_bytes() == data
    mtime = resolved.path.stat().st_mtime_ns
    assert resolve_model(spec, cache_dir=tmp_path / "c", progress=False).path.stat().st_mtime_ns == mtime
    assert not list((tmp_path / "c").glob("*.part"))


def test_wrong_hash_chunks_leave_no_file(chunk_package, tmp_path):
    spec, _ = chunk_package
    bad = ModelSpec(**{**spec.__dict__, "sha256": "0" * 64})
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        resolve_model(bad, cache_dir=tmp_path / "c", progress=False)
    assert list((tmp_path / "c").iterdir()) == []


def test_truncated_and_corrupted_cache_files_are_caught_before_llama(chunk_package, tmp_path):
    spec, data = chunk_package
    path = resolve_model(spec, cache_dir=tmp_path / "c", progress=False).path
    path.write_bytes(data[:-10])
    with pytest.raises(ModelIntegrityError, match="truncated"):
        resolve_model(spec, cache_dir=tmp_path / "c", progress=False)
    path.write_bytes(b"XXXX" + data[4:])
    with pytest.raises(ModelIntegrityError, match="not a GGUF"):
        resolve_model(spec, cache_dir=tmp_path / "c", progress=False)
    path.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        resolve_model(spec, cache_dir=tmp_path / "c", progress=False)


def test_interrupted_write_leaves_nothing(tmp_path):
    target = tmp_path / "m.gguf"
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(target) as fh:
            fh.write(b"GGUF partial")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_uncreatable_cache_dir_gives_clear_error(chunk_package, tmp_path):
    spec, _ = chunk_package
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CacheError, match="cannot create cache directory"):
        resolve_model(spec, cache_dir=blocker / "sub", progress=False)


def test_missing_packages_say_what_to_install(tmp_path):
    spec = ModelSpec(name="x", source="pypi", file_name="x.gguf", architecture="qwen2", chat_format="chatml",
                     chunks=(("no_such_chunk_pkg_123", "data/p.bin"),), pip_requirement="notifclf[model]")
    with pytest.raises(ModelNotFoundError, match=r"pip install 'notifclf\[model\]'"):
        resolve_model(spec, cache_dir=tmp_path, progress=False)


def test_names_paths_and_errors(tiny_qwen2):
    assert spec_for(None) is REGISTRY[DEFAULT_MODEL]
    local = spec_for(tiny_qwen2)
    assert local.source == "local" and Path(local.path) == tiny_qwen2.resolve()
    with pytest.raises(ModelNotFoundError, match="expected one of: .*qwen2.5-coder"):
        spec_for("no-such-model")
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        spec_for("/no/such/file.gguf")
    hub = spec_for("hf:Qwen/Qwen3-0.6B-GGUF/Qwen3-0.6B-Q8_0.gguf")
    assert (hub.source, hub.repo_id, hub.file_name) == ("huggingface", "Qwen/Qwen3-0.6B-GGUF", "Qwen3-0.6B-Q8_0.gguf")


def test_local_file_that_is_not_gguf(tmp_path):
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"hello world, not a model")
    with pytest.raises(ModelIntegrityError, match="not a GGUF"):
        resolve_model(bogus)


def _fake_hub_cache(root: Path, repo_id: str, filename: str, data: bytes, revision: str = "0" * 40) -> None:
    """Lay out huggingface_hub's cache format: blobs, snapshots/<rev>/<file> -> blob, refs/main."""
    repo = root / "hf" / ("models--" + repo_id.replace("/", "--"))
    blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
    blob.parent.mkdir(parents=True)
    blob.write_bytes(data)
    snap = repo / "snapshots" / revision / filename
    snap.parent.mkdir(parents=True)
    os.symlink(os.path.relpath(blob, snap.parent), snap)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)


def test_hub_model_resolves_offline_from_local_cache(tmp_path, tiny_qwen2, monkeypatch):
    data = tiny_qwen2.read_bytes()
    _fake_hub_cache(tmp_path, "someone/tiny-GGUF", "tiny.gguf", data)
    spec = ModelSpec(name="tiny-hub", source="huggingface", repo_id="someone/tiny-GGUF", file_name="tiny.gguf",
                     architecture="qwen2", chat_format="chatml", sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    resolved = resolve_model(spec, cache_dir=tmp_path, local_files_only=True)
    assert resolved.path.read_bytes() == data
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_model("hf:someone/tiny-GGUF/tiny.gguf", cache_dir=tmp_path).path.read_bytes() == data
    with pytest.raises(ModelNotFoundError, match="not in the local Hub cache"):
        resolve_model("hf:someone/other-GGUF/x.gguf", cache_dir=tmp_path)


def test_hub_file_with_wrong_hash_is_rejected(tmp_path, tiny_qwen2):
    _fake_hub_cache(tmp_path, "someone/tiny-GGUF", "tiny.gguf", tiny_qwen2.read_bytes())
    spec = ModelSpec(name="tiny-hub", source="huggingface", repo_id="someone/tiny-GGUF", file_name="tiny.gguf",
                     architecture="qwen2", chat_format="chatml", sha256="1" * 64)
    with pytest.raises(ModelIntegrityError):
        resolve_model(spec, cache_dir=tmp_path, local_files_only=True)


def test_verify_file_full_rehash_detects_same_size_corruption(tmp_path, tiny_qwen2, monkeypatch):
    data = tiny_qwen2.read_bytes()
    path = tmp_path / "m.gguf"
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    verify_file(path, sha256=digest, size=len(data))
    with open(path, "r+b") as fh:  # same size, mtime restored: only a full check can see it
        st = path.stat()
        fh.seek(200)
        fh.write(b"\x00\x01")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    reads = []
    real_sha256_file = files.sha256_file
    monkeypatch.setattr(files, "sha256_file", lambda p, progress=None: reads.append(p) or real_sha256_file(p, progress))
    with pytest.raises(ModelIntegrityError, match=f"has SHA-256 {actual}, expected {digest}"):
        verify_file(path, sha256=digest, size=len(data), full=True)
    assert len(reads) == 1   # the corrupted file is read once, for the check and the message


def test_models_verify_reports_a_built_model_without_its_manifest_as_corrupt(tmp_path, tiny_qwen2):
    from notifclf.models.inventory import model_rows
    from notifclf.models.registry import NOTIFCLF_QWEN25_CODER_05B

    (tmp_path / NOTIFCLF_QWEN25_CODER_05B.file_name).write_bytes(tiny_qwen2.read_bytes())
    (row,) = [r for r in model_rows(tmp_path, verify=True) if r["name"] == NOTIFCLF_QWEN25_CODER_05B.name]
    assert row["status"].startswith("CORRUPT: ") and "cannot read manifest" in row["status"]


def test_atomic_write_publishes_whole_files_only(tmp_path):
    from notifclf.files import atomic_write, sha256_file

    target = tmp_path / "manifest.json"
    with atomic_write(target, "w") as fh:
        fh.write('{"ok": "é"}\n')
    assert target.read_text(encoding="utf-8") == '{"ok": "é"}\n'
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()  # like any new file, not a private temp file
    with pytest.raises(ValueError):
        with atomic_write(target, "w") as fh:
            fh.write("half")
            raise ValueError("crash")
    assert target.read_text(encoding="utf-8") == '{"ok": "é"}\n' and [p.name for p in tmp_path.iterdir()] == [target.name]
    assert sha256_file(target) == hashlib.sha256('{"ok": "é"}\n'.encode()).hexdigest()


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
