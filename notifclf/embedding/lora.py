"""A LoRA adapter for the sentence encoder, merged into its weights in numpy at load time.

The folder reader (``folder_prior="reader"``) is all-MiniLM-L6-v2 with a LoRA adapter trained here to match
notifications to folder descriptions (``convert/train/reader.py``). Its directory holds:

* ``adapter_model.safetensors``: for each adapted weight ``<name>.weight`` of the encoder, ``<name>.lora_A``
  (rank x in) and ``<name>.lora_B`` (out x rank), any float dtype;
* ``adapter_config.json``: ``{"format": "notifclf-minilm-lora/1", "rank": r, "alpha": a, "base_sha256": ...}``.

Merged weight: ``W + (alpha / rank) * B @ A``, in float32. The adapter names the SHA-256 of the base's
``model.safetensors`` it was trained on; another base is refused (an adapter on the wrong weights would give
silently wrong similarities).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..errors import ModelIntegrityError
from ..files import has_sha256
from .jsonfile import read_json
from .tensorfile import read_safetensors

FORMAT = "notifclf-minilm-lora/1"
CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"


def read_adapter_config(adapter_dir: Path) -> dict:
    """The adapter's config, checked: format, a positive rank and a finite alpha."""
    config = read_json(adapter_dir / CONFIG_FILE, "reader adapter config")
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelIntegrityError(f"{adapter_dir / CONFIG_FILE} is not a {FORMAT} adapter config")
    rank, alpha = config.get("rank"), config.get("alpha")
    if not isinstance(rank, int) or rank < 1 or not isinstance(alpha, (int, float)) or not np.isfinite(alpha):
        raise ModelIntegrityError(f"{adapter_dir / CONFIG_FILE}: bad rank {rank!r} or alpha {alpha!r}")
    return config


def merge_lora(tensors: Mapping[str, np.ndarray], adapter_dir: Path, base_file: Path) -> dict[str, np.ndarray]:
    """``tensors`` (the base's, unchanged) with the adapter of ``adapter_dir`` merged in: a new mapping whose adapted
    weights are fresh float32 arrays and whose other entries are the base's own arrays."""
    adapter_dir = Path(adapter_dir)
    config = read_adapter_config(adapter_dir)
    if not isinstance(config.get("base_sha256"), str) or not has_sha256(base_file, config["base_sha256"]):
        raise ModelIntegrityError(f"the reader adapter {adapter_dir} was trained on another sentence encoder than "
                                  f"{base_file} (SHA-256 differs): reinstall notifclf or the encoder package")
    weights = read_safetensors(adapter_dir / WEIGHTS_FILE)
    scale = float(config["alpha"]) / config["rank"]
    merged = dict(tensors)
    names = sorted({key.rsplit(".", 1)[0] for key in weights})
    if not names:
        raise ModelIntegrityError(f"{adapter_dir / WEIGHTS_FILE} holds no LoRA weights")
    for name in names:
        a, b, base = weights.get(f"{name}.lora_A"), weights.get(f"{name}.lora_B"), tensors.get(f"{name}.weight")
        if a is None or b is None or base is None:
            raise ModelIntegrityError(f"{adapter_dir / WEIGHTS_FILE}: {name!r} lacks lora_A, lora_B or a base weight")
        if a.shape != (config["rank"], base.shape[1]) or b.shape != (base.shape[0], config["rank"]):
            raise ModelIntegrityError(f"{adapter_dir / WEIGHTS_FILE}: {name!r} has shapes {a.shape}, {b.shape}, "
                                      f"which do not fit the weight {base.shape} at rank {config['rank']}")
        delta = b.astype(np.float32) @ a.astype(np.float32)
        merged[f"{name}.weight"] = base.astype(np.float32) + np.float32(scale) * delta
    return merged
