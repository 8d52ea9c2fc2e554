"""Read and validate a PEFT LoRA adapter (``adapter_config.json`` + ``adapter_model.safetensors``).

Only plain LoRA on the linear projections of the decoder layers is merged. Every PEFT feature that
would change the merge (DoRA, rsLoRA is fine, bias training, modules_to_save, trainable tokens,
fan_in_fan_out, ...) is either handled exactly or rejected with :class:`UnsupportedAdapterError`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .arch import LINEAR_MODULES, lora_module_to_gguf
from .errors import AdapterError, AdapterMismatchError, UnsupportedAdapterError
from .hashing import sha256_file
from .safetensors_io import read_header, read_tensor

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
TRAINING_RECORD = "training.json"  # written by convert.train next to the adapter

_KEY_RE = re.compile(r"^(?P<module>.+)\.lora_(?P<ab>[AB])(?:\.(?P<name>[A-Za-z0-9_-]+))?\.weight$")
_PREFIX = "base_model.model."
_SHORT_NAMES = sorted({m.split(".")[-1] for m in LINEAR_MODULES})

# adapter_config.json keys whose non-default value changes what the merge must do.
_REJECT_IF_SET: dict[str, str] = {
    "use_dora": "DoRA (use_dora) is not supported",
    "modules_to_save": "modules_to_save (fully trained extra modules) is not supported",
    "fan_in_fan_out": "fan_in_fan_out is not supported (Qwen and Gemma use nn.Linear)",
    "lora_bias": "lora_bias is not supported",
    "layer_replication": "layer_replication is not supported",
    "target_parameters": "target_parameters (LoRA on raw parameters) is not supported",
    "trainable_token_indices": "trainable_token_indices is not supported",
    "use_qalora": "QA-LoRA is not supported",
    "alora_invocation_tokens": "activated LoRA (alora_invocation_tokens) is not supported",
}


@dataclass(frozen=True)
class LoraPair:
    """One adapted linear layer: ``W += scale * b @ a``."""

    module: str  # HF module name, e.g. model.layers.0.self_attn.q_proj
    target: str  # GGUF tensor name, e.g. blk.0.attn_q.weight
    a: np.ndarray  # (r, in_features) float32
    b: np.ndarray  # (out_features, r) float32
    scale: float


@dataclass
class LoraAdapter:
    path: Path
    config: dict[str, Any]
    pairs: dict[str, LoraPair] = field(default_factory=dict)  # by GGUF target name
    folder_labels: str = "names"  # how training showed folders: one of notifclf.folder_codes.FOLDER_LABELS
    preference_hints: bool = False  # trained with the preferences that may apply in the user turn
    example_hints: bool = False     # trained with the most similar worked examples in the user turn

    def describe(self) -> dict[str, Any]:
        c = self.config
        return {
            "path": str(self.path),
            "sha256": sha256_file(self.path / WEIGHTS_FILE),
            "config_sha256": sha256_file(self.path / CONFIG_FILE),
            "r": c.get("r"),
            "lora_alpha": c.get("lora_alpha"),
            "use_rslora": bool(c.get("use_rslora")),
            "target_modules": c.get("target_modules"),
            "base_model_name_or_path": c.get("base_model_name_or_path"),
            "modules": len(self.pairs),
            "folder_labels": self.folder_labels,
            "preference_hints": self.preference_hints,
            "example_hints": self.example_hints,
        }


def _pattern_key(patterns: Iterable[str], module: str) -> str | None:
    """PEFT's rank_pattern/alpha_pattern lookup: the first key that matches the end of the module name."""
    for key in patterns:
        if re.match(rf"(.*\.)?({key})$", module):
            return key
    return None


def _targets(config: dict[str, Any], module: str) -> bool:
    """PEFT's target_modules / layers_to_transform matching, for the linear modules convert merges."""
    target = config.get("target_modules")
    if isinstance(target, str):
        hit = target == "all-linear" or re.fullmatch(target, module) is not None
    elif isinstance(target, list):
        hit = any(module == t or module.endswith("." + t) for t in target)
    else:
        hit = False
    layers = config.get("layers_to_transform")
    if hit and layers is not None:
        layers = [layers] if isinstance(layers, int) else layers
        m = re.match(r"^model\.layers\.(\d+)\.", module)
        hit = m is not None and int(m.group(1)) in layers
    return hit


def read_config(path: Path) -> dict[str, Any]:
    try:
        config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise AdapterError(f"{path}: {CONFIG_FILE} is missing (expected a PEFT adapter directory)") from e
    except (OSError, ValueError) as e:
        raise AdapterError(f"{path}/{CONFIG_FILE}: cannot read: {e}") from e
    if not isinstance(config, dict):
        raise AdapterError(f"{path}/{CONFIG_FILE}: not a JSON object")
    if str(config.get("peft_type", "")).upper() != "LORA":
        raise UnsupportedAdapterError(f"{path}: peft_type {config.get('peft_type')!r} is not supported; only LORA")
    for key, why in _REJECT_IF_SET.items():
        if config.get(key):
            raise UnsupportedAdapterError(f"{path}: {why}")
    if config.get("bias", "none") != "none":
        raise UnsupportedAdapterError(f"{path}: bias={config['bias']!r} is not supported; only 'none'")
    for key in ("r", "lora_alpha"):
        if not isinstance(config.get(key), (int, float)) or config[key] <= 0:
            raise AdapterError(f"{path}/{CONFIG_FILE}: {key} must be a positive number, got {config.get(key)!r}")
    if not isinstance(config.get("target_modules"), (str, list)):
        raise AdapterError(f"{path}/{CONFIG_FILE}: target_modules is missing")
    return config


def _module_name(key: str, path: Path) -> tuple[str, str]:
    name = key[len(_PREFIX):] if key.startswith(_PREFIX) else key
    if ".lora_magnitude_vector" in name:
        raise UnsupportedAdapterError(f"{path}: DoRA weights ({key}) are not supported")
    if ".lora_embedding_" in name:
        raise UnsupportedAdapterError(f"{path}: LoRA on embeddings ({key}) is not supported")
    m = _KEY_RE.match(name)
    if not m:
        raise UnsupportedAdapterError(f"{path}: unexpected adapter tensor {key!r} (only lora_A/lora_B weights are merged)")
    module = m.group("module")
    if module.startswith("layers."):
        module = "model." + module
    return module, m.group("ab")


def read_training_record(path: Path) -> dict[str, Any]:
    """The adapter's ``training.json`` (written by ``convert.train`` or ``convert soup``); {} for adapters trained
    elsewhere, which have no such file."""
    record = path / TRAINING_RECORD
    if not record.is_file():
        return {}
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AdapterError(f"{record}: not a readable training record ({exc})") from exc
    if not isinstance(data, dict):
        raise AdapterError(f"{record}: not a readable training record (not a JSON object)")
    return data


def _training_config(path: Path) -> dict[str, Any]:
    """The ``config`` of the adapter's training record: how training showed the prompt."""
    config = read_training_record(path).get("config") or {}
    if not isinstance(config, dict):
        raise AdapterError(f"{path / TRAINING_RECORD}: not a readable training record (its config is not an object)")
    return config


def _folder_labels(config: dict[str, Any]) -> str:
    """"codes" (or "codes-repeated") when the adapter was trained on letter-coded folders (with the code repeated),
    else "names"."""
    if not config.get("folder_codes"):
        return "names"
    return "codes-repeated" if config.get("repeat_codes") else "codes"


def load_adapter(path: str | Path) -> LoraAdapter:
    """Read an adapter directory; shapes against the base are checked by :func:`validate_against`."""
    path = Path(path)
    if not path.is_dir():
        raise AdapterError(f"{path}: adapter directory does not exist")
    config = read_config(path)
    weights = path / WEIGHTS_FILE
    if not weights.is_file():
        hint = " (adapter_model.bin needs torch: re-save with safe_serialization=True)" if (path / "adapter_model.bin").exists() else ""
        raise AdapterError(f"{path}: {WEIGHTS_FILE} is missing{hint}")
    refs = read_header(weights, AdapterError)
    found: dict[str, dict[str, np.ndarray]] = {}
    for key, ref in refs.items():
        module, which = _module_name(key, path)
        if which in found.setdefault(module, {}):
            raise AdapterError(f"{path}: several lora_{which} tensors for {module} (multiple adapters in one file?)")
        if len(ref.shape) != 2:
            raise AdapterError(f"{path}: {key} has shape {ref.shape}, expected a matrix")
        found[module][which] = read_tensor(ref)
    if not found:
        raise AdapterError(f"{path}: {WEIGHTS_FILE} contains no LoRA weights")

    r_pat, a_pat = config.get("rank_pattern") or {}, config.get("alpha_pattern") or {}
    trained = _training_config(path)
    adapter = LoraAdapter(path, config, folder_labels=_folder_labels(trained),
                          preference_hints=bool(trained.get("preference_hints")),
                          example_hints=bool(trained.get("example_hints")))
    for module, ab in sorted(found.items()):
        missing = {"A", "B"} - ab.keys()
        if missing:
            raise AdapterError(f"{path}: lora_{missing.pop()} is missing for {module}")
        target = lora_module_to_gguf(module)
        if target is None:
            raise AdapterMismatchError(
                f"{path}: LoRA on {module!r} cannot be merged: not a decoder-layer linear module "
                f"(supported: {', '.join(_SHORT_NAMES)})"
            )
        if not _targets(config, module):
            raise AdapterError(f"{path}: weights for {module} do not match target_modules {config['target_modules']!r}")
        rk, ak = _pattern_key(r_pat, module), _pattern_key(a_pat, module)
        r = r_pat[rk] if rk is not None else config["r"]
        alpha = a_pat[ak] if ak is not None else config["lora_alpha"]
        a, b = ab["A"], ab["B"]
        if a.shape[0] != r or b.shape[1] != r:
            raise AdapterError(f"{path}: {module}: lora_A {a.shape} / lora_B {b.shape} do not have rank r={r}")
        scale = alpha / (math.sqrt(r) if config.get("use_rslora") else r)
        adapter.pairs[target] = LoraPair(module, target, a, b, float(scale))
    return adapter


def validate_against(adapter: LoraAdapter, base_shapes: dict[str, tuple[int, ...]], block_count: int) -> None:
    """Check that the adapter fits the base: every target exists with matching shapes, none is missing."""
    path = adapter.path
    for target, pair in adapter.pairs.items():
        if target not in base_shapes:
            raise AdapterMismatchError(
                f"{path}: adapter targets {pair.module}, which the base does not have (base has {block_count} layers)"
            )
        out_f, in_f = base_shapes[target]
        if pair.b.shape[0] != out_f or pair.a.shape[1] != in_f:
            raise AdapterMismatchError(
                f"{path}: {pair.module}: adapter is for a ({pair.b.shape[0]} x {pair.a.shape[1]}) weight, "
                f"the base has ({out_f} x {in_f}); was it trained on a different base model?"
            )
    targets = adapter.config["target_modules"]
    base_modules = [m for m in (f"model.layers.{i}.{lin}" for i in range(block_count) for lin in LINEAR_MODULES)
                    if lora_module_to_gguf(m) in base_shapes]
    if isinstance(targets, list):
        for t in targets:
            if not any(m == t or m.endswith("." + t) for m in base_modules):
                raise AdapterMismatchError(
                    f"{path}: target module {t!r} matches no module of the base (supported: {', '.join(_SHORT_NAMES)})"
                )
    expected = {m for m in base_modules if _targets(adapter.config, m)}
    have = {p.module for p in adapter.pairs.values()}
    missing = sorted(expected - have)
    if missing:
        raise AdapterError(f"{path}: LoRA weights are missing for {len(missing)} targeted module(s), e.g. {missing[0]}")
