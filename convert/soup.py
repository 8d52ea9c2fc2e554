"""``python -m convert soup``: the mean of LoRA adapters trained from one start, as one adapter (a model soup).

Each adapter adds ``scale * B_i @ A_i`` to a weight. With the A matrices stacked and the B matrices side by side,
one adapter of rank ``n * r`` multiplies out to the sum of the n deltas, and the same ``lora_alpha`` over an
n-fold rank divides that sum by n: merged, the soup is the base plus the mean delta, exactly, and ``convert build``
and the runtime read it as any adapter. Averaging seeds of one recipe keeps what they agree on and halves what one
seed drew alone (docs/experiments.md). Adapters must agree on everything that shapes the merge (rank, alpha,
targets, base) and on how training showed the prompt (folder codes, hints), or the mean would be of two models
reading different prompts.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .adapter import CONFIG_FILE, TRAINING_RECORD, WEIGHTS_FILE, read_config, read_training_record
from .errors import AdapterError, UnsupportedAdapterError
from .hashing import sha256_file
from .safetensors_io import read_header, read_tensor, write_tensors

#: adapter_config.json keys every ingredient must share (target_modules compared as a set)
_SHARED_CONFIG = ("r", "lora_alpha", "use_rslora", "base_model_name_or_path", "layers_to_transform")
#: training.json config keys that change the prompt the model was trained to read
_SHARED_TRAINING = ("folder_codes", "repeat_codes", "preference_hints", "example_hints")


def _check_alike(paths: Sequence[Path], configs: list[dict[str, Any]], records: list[dict[str, Any]]) -> None:
    first, first_training = configs[0], records[0].get("config") or {}
    for path, config, record in zip(paths[1:], configs[1:], records[1:]):
        for key in _SHARED_CONFIG:
            if config.get(key) != first.get(key):
                raise AdapterError(f"{path}: {key} {config.get(key)!r} differs from {paths[0]}'s {first.get(key)!r}")
        if sorted(np.atleast_1d(config["target_modules"])) != sorted(np.atleast_1d(first["target_modules"])):
            raise AdapterError(f"{path}: target_modules differ from {paths[0]}'s")
        training = record.get("config") or {}
        for key in _SHARED_TRAINING:
            if bool(training.get(key)) != bool(first_training.get(key)):
                raise AdapterError(f"{path}: trained with {key}={training.get(key)!r}, {paths[0]} with "
                                   f"{first_training.get(key)!r}: they read different prompts")
    for path, config in zip(paths, configs):
        if config.get("rank_pattern") or config.get("alpha_pattern"):
            raise UnsupportedAdapterError(f"{path}: rank_pattern / alpha_pattern adapters cannot be souped")


def soup_adapters(sources: Sequence[str | Path], out: str | Path) -> Path:
    """Write the soup of ``sources`` (two or more adapter directories) to the new directory ``out``."""
    paths, out = [Path(p) for p in sources], Path(out)
    if len(paths) < 2:
        raise AdapterError("a soup needs two or more adapters")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise AdapterError(f"{out}: exists and is not an empty directory; choose another")
    configs = [read_config(p) for p in paths]
    records = [read_training_record(p) for p in paths]
    _check_alike(paths, configs, records)
    headers = [read_header(p / WEIGHTS_FILE, AdapterError) for p in paths]
    for path, header in zip(paths[1:], headers[1:]):
        if {k: v.shape for k, v in header.items()} != {k: v.shape for k, v in headers[0].items()}:
            raise AdapterError(f"{path}: its tensors (names or shapes) differ from {paths[0]}'s")
    tensors = {name: np.concatenate([read_tensor(h[name]) for h in headers], axis=0 if ".lora_A" in name else 1)
               for name in sorted(headers[0])}
    dtype = "F16" if all(ref.dtype == "F16" for h in headers for ref in h.values()) else "F32"
    out.mkdir(parents=True, exist_ok=True)
    write_tensors(out / WEIGHTS_FILE, tensors, dtype)
    config = {**configs[0], "r": configs[0]["r"] * len(paths)}  # the same lora_alpha: the scale divides by n
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    record = {
        "what": f"the mean of {len(paths)} LoRA adapters' deltas (python -m convert soup): A stacked, B side by "
                "side, lora_alpha kept over the summed rank",
        "soup_of": [{"adapter": str(p), "weights_sha256": sha256_file(p / WEIGHTS_FILE),
                     "examples_seen": r.get("examples_seen"), "seed": (r.get("config") or {}).get("seed")}
                    for p, r in zip(paths, records)],
        # what convert.adapter reads: the prompt training showed, the same for every ingredient (checked above)
        "config": {key: (records[0].get("config") or {}).get(key) for key in _SHARED_TRAINING},
        "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (out / TRAINING_RECORD).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return out


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("soup", help="average LoRA adapters trained from one start into one adapter",
                       description="Write one PEFT LoRA adapter whose merge is the mean of the given adapters' "
                       "deltas (rank r x n, lora_alpha kept), for convert build and the runtime.")
    p.add_argument("adapters", nargs="+", help="adapter directories (two or more) with the same rank, alpha, "
                   "targets and training prompt")
    p.add_argument("--out", required=True, help="new adapter directory")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = soup_adapters(args.adapters, args.out)
    print(f"{out}: the mean of {len(args.adapters)} adapters")
    return 0
