"""The folder reader's LoRA adapter (notifclf.embedding.lora) on the real all-MiniLM-L6-v2: merge arithmetic, bad
adapters, and the committed adapter through ``folder_prior="reader"``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from notifclf.embedding import load_sentence_encoder
from notifclf.embedding.files import open_model_dir
from notifclf.embedding.folder_prior import READER_ADAPTER, load_folder_prior
from notifclf.embedding.lora import CONFIG_FILE, FORMAT, WEIGHTS_FILE, merge_lora
from notifclf.embedding.tensorfile import read_safetensors
from notifclf.errors import ModelIntegrityError
from notifclf.files import sha256_file
from notifclf.folders import Folder
from notifclf.models.built import adapters_dir
from notifclf.notification import Notification

QUERY = "encoder.layer.0.attention.self.query"
FFN = "encoder.layer.5.intermediate.dense"
TEXTS = ["Uber. Your driver is arriving. Toyota Prius", "Chase. Payment received. $40.00 from Sam"]


def _adapter(directory: Path, base_file: Path, *, rank: int = 4, alpha: float = 8.0, zero_b: bool = False,
             seed: int = 0, config_changes: dict | None = None) -> Path:
    rng = np.random.default_rng(seed)
    tensors = {}
    for name, (out, inp) in ((QUERY, (384, 384)), (FFN, (1536, 384))):
        tensors[f"{name}.lora_A"] = rng.normal(0, 0.05, (rank, inp)).astype(np.float16)
        tensors[f"{name}.lora_B"] = (np.zeros((out, rank)) if zero_b else rng.normal(0, 0.05, (out, rank))
                                     ).astype(np.float16)
    directory.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(directory / WEIGHTS_FILE))
    config = {"format": FORMAT, "rank": rank, "alpha": alpha, "base_sha256": sha256_file(base_file)}
    config.update(config_changes or {})
    (directory / CONFIG_FILE).write_text(json.dumps(config))
    return directory


def test_merged_weight_is_base_plus_scaled_b_times_a(model_dir, tmp_path):
    weights = model_dir / "model.safetensors"
    adapter = _adapter(tmp_path / "a", weights)
    base = read_safetensors(weights)
    lora = read_safetensors(adapter / WEIGHTS_FILE)
    merged = merge_lora(base, adapter, weights)
    for name in (QUERY, FFN):
        expected = base[f"{name}.weight"].astype(np.float64) + 2.0 * (
            lora[f"{name}.lora_B"].astype(np.float64) @ lora[f"{name}.lora_A"].astype(np.float64))
        assert merged[f"{name}.weight"].dtype == np.float32
        assert np.allclose(merged[f"{name}.weight"], expected, atol=1e-6)
        assert not np.allclose(merged[f"{name}.weight"], base[f"{name}.weight"])
    untouched = "encoder.layer.0.attention.self.key.weight"
    assert merged[untouched] is base[untouched]


def test_a_zero_adapter_changes_nothing_and_a_real_one_moves_the_embeddings(model_dir, tmp_path):
    weights = model_dir / "model.safetensors"
    plain = open_model_dir(model_dir).encode(TEXTS)
    zero = open_model_dir(model_dir, _adapter(tmp_path / "zero", weights, zero_b=True)).encode(TEXTS)
    moved = open_model_dir(model_dir, _adapter(tmp_path / "moved", weights)).encode(TEXTS)
    assert np.allclose(zero, plain, atol=1e-6)
    assert np.abs(moved - plain).max() > 1e-3
    assert np.allclose(np.linalg.norm(moved, axis=1), 1.0, atol=1e-5)


def test_the_encoder_with_an_adapter_is_cached_apart_from_the_plain_one(model_dir, tmp_path):
    adapter = _adapter(tmp_path / "a", model_dir / "model.safetensors")
    plain = load_sentence_encoder(model_dir)
    adapted = load_sentence_encoder(model_dir, adapter=adapter)
    assert adapted is not plain
    assert load_sentence_encoder(model_dir, adapter=adapter) is adapted
    assert load_sentence_encoder(model_dir) is plain


@pytest.mark.parametrize("change, match", [
    ({"base_sha256": "0" * 64}, "another sentence encoder"),
    ({"format": "peft"}, "not a notifclf-minilm-lora/1"),
    ({"rank": 0}, "bad rank"),
    ({"rank": 8}, "do not fit"),
])
def test_a_wrong_adapter_is_an_integrity_error(model_dir, tmp_path, change, match):
    adapter = _adapter(tmp_path / "a", model_dir / "model.safetensors", config_changes=change)
    with pytest.raises(ModelIntegrityError, match=match):
        open_model_dir(model_dir, adapter)


def test_an_adapter_naming_a_weight_the_encoder_lacks_is_an_integrity_error(model_dir, tmp_path):
    adapter = _adapter(tmp_path / "a", model_dir / "model.safetensors")
    tensors = read_safetensors(adapter / WEIGHTS_FILE)
    save_file({k.replace("layer.5", "layer.9"): np.array(v) for k, v in tensors.items()}, str(adapter / WEIGHTS_FILE))
    with pytest.raises(ModelIntegrityError, match="lacks lora_A, lora_B or a base weight"):
        open_model_dir(model_dir, adapter)


def test_the_base_is_hashed_once_while_it_stays_as_it_was(model_dir, tmp_path, monkeypatch):
    import notifclf.files as files

    base_file = tmp_path / "model.safetensors"
    base_file.write_bytes((model_dir / "model.safetensors").read_bytes())
    adapter, base = _adapter(tmp_path / "a", base_file), read_safetensors(base_file)
    hashed = []
    real_sha256 = files.sha256_file
    monkeypatch.setattr(files, "sha256_file", lambda path, *a, **k: (hashed.append(path), real_sha256(path, *a, **k))[1])
    merge_lora(base, adapter, base_file)
    merge_lora(base, adapter, base_file)  # the stamp beside the base says it was checked as it is
    assert len(hashed) == 1
    data = bytearray(base_file.read_bytes())
    data[-1] ^= 0xFF  # same size, new bytes (and a new mtime): read again and refused
    base_file.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="another sentence encoder"):
        merge_lora(base, adapter, base_file)
    assert len(hashed) == 2


def test_a_missing_adapter_is_an_integrity_error(model_dir, tmp_path):
    with pytest.raises(ModelIntegrityError, match="does not exist"):
        open_model_dir(model_dir, tmp_path / "nowhere")


def test_the_committed_reader_was_trained_on_the_packaged_encoder(model_dir):
    config = json.loads((adapters_dir() / READER_ADAPTER / CONFIG_FILE).read_text())
    assert config["base_sha256"] == sha256_file(model_dir / "model.safetensors")


def test_the_reader_prior_puts_each_notification_nearest_its_folder(model_dir, tmp_path):
    folders = (Folder("Getaways", "Flights, hotels, boarding passes and trip changes"),
               Folder("Money", "Bank transfers, card payments, bills and statements"),
               Folder("Crew", "Messages from my friends and my family"))
    notes = [Notification(app="Lufthansa", title="Boarding now", body="Gate B12, flight LH400 to New York"),
             Notification(app="Chase", title="Payment received", body="$40.00 from Sam"),
             Notification(app="WhatsApp", title="Mum", body="Dinner on Sunday? Bring the kids")]
    prior = load_folder_prior("reader", cache_dir=tmp_path)
    bias = prior.bias(folders, notes)
    assert [int(i) for i in np.argmax(bias, axis=1)] == [0, 1, 2]
