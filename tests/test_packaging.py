"""What a wheel ships: every runtime package, and the committed adapter mapped from models/ into notifclf/adapters/.

The real install (wheel -> clean venv outside the checkout -> quickstart) runs in .ci/run; these tests keep the
package list and the adapter lookup honest on every pytest run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from setuptools import find_packages

from notifclf.models.built import adapters_dir
from notifclf.models.registry import REGISTRY

tomllib = pytest.importorskip("tomllib")

REPO = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def test_every_package_is_listed():
    on_disk = set(find_packages(str(REPO), include=["notifclf*", "convert*"]))
    mapped = set(SETUPTOOLS["package-dir"])
    assert mapped == {"notifclf.adapters"}
    assert set(SETUPTOOLS["packages"]) == on_disk | mapped


def test_every_adapter_the_registry_builds_from_is_package_data():
    source = REPO / SETUPTOOLS["package-dir"]["notifclf.adapters"]
    patterns = SETUPTOOLS["package-data"]["notifclf.adapters"]
    for spec in REGISTRY.values():
        if spec.source == "build":
            shipped = {p.relative_to(source) for pattern in patterns for p in source.glob(pattern)}
            assert {Path(spec.adapter) / name for name in ("adapter_config.json", "adapter_model.safetensors",
                                                           "training.json")} <= shipped


def test_adapters_dir_is_the_override_then_the_package_then_the_checkout(monkeypatch, tmp_path):
    monkeypatch.delenv("NOTIFCLF_MODELS_DIR", raising=False)
    assert adapters_dir() == REPO / "models"  # a checkout: notifclf/adapters/ exists only inside a wheel
    monkeypatch.setenv("NOTIFCLF_MODELS_DIR", str(tmp_path))
    assert adapters_dir() == tmp_path


def test_every_registered_adapter_says_a_folder_style_the_runtime_reads():
    from convert.adapter import load_adapter
    from notifclf.folder_codes import FOLDER_LABELS

    labels = {spec.name: load_adapter(REPO / "models" / spec.adapter).folder_labels
              for spec in REGISTRY.values() if spec.source == "build"}
    assert set(labels.values()) <= set(FOLDER_LABELS)
    assert labels["notifclf-qwen2.5-coder-0.5b-codes-q4_k_m"] == "codes-repeated"
    assert load_adapter(REPO / "models" / REGISTRY["notifclf-qwen2.5-coder-0.5b-codes-q4_k_m"].adapter).preference_hints
    assert labels["notifclf-qwen2.5-coder-0.5b-q4_k_m"] == "names"
