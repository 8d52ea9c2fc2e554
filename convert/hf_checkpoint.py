"""Read a Hugging Face safetensors checkpoint (bf16/f16/f32, sharded or not) as a base model."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import gguf
import numpy as np

from .arch import HF_ARCHITECTURES, check_architecture, hf_to_gguf_name
from .errors import BaseModelError, DependencyError, UnsupportedArchitectureError
from .hashing import sha256_files
from .hf_tokenizer import add_tokenizer
from .model_source import TensorSpec
from .safetensors_io import TensorRef, read_header, read_tensor

log = logging.getLogger("notifclf.convert")

_HF_CLASSES = {"Qwen2ForCausalLM": "qwen2", "Qwen3ForCausalLM": "qwen3", "Gemma3ForCausalLM": "gemma3"}
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_DOWNLOAD_PATTERNS = ["*.json", "*.safetensors", "*.jinja", "merges.txt", "vocab.json"]
_IGNORED = re.compile(r"(^|\.)rotary_emb\.inv_freq$")


def looks_like_repo_id(spec: str) -> bool:
    return bool(_REPO_ID.match(spec)) and not Path(spec).exists()


def download(repo_id: str) -> Path:
    """Fetch a checkpoint's config, tokenizer and safetensors from the Hugging Face Hub."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError as e:
        raise DependencyError("fetching a base by repo id needs huggingface_hub (pip install huggingface_hub)") from e
    log.info("downloading %s from the Hugging Face Hub", repo_id)
    try:
        return Path(snapshot_download(repo_id=repo_id, allow_patterns=_DOWNLOAD_PATTERNS))
    except Exception as e:  # hub errors: not found, gated, offline, ...
        raise BaseModelError(f"cannot fetch {repo_id!r} from the Hugging Face Hub: {e}") from e


def _architecture(config: dict[str, Any], path: Path) -> str:
    arch = config.get("model_type")
    classes = config.get("architectures") or []
    if not arch and classes:
        arch = _HF_CLASSES.get(classes[0], classes[0])
    if not isinstance(arch, str):
        raise UnsupportedArchitectureError(f"{path}: config.json names no model_type or architectures")
    return check_architecture(arch, hf=True)


class HFCheckpoint:
    """A local HF model directory: config.json, tokenizer.json (+ tokenizer_config.json), *.safetensors."""

    kind = "hf"

    def __init__(self, model_dir: str | Path, source: str | None = None) -> None:
        self.dir = Path(model_dir)
        self.source = source or str(self.dir)
        try:
            self.config: dict[str, Any] = json.loads((self.dir / "config.json").read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise BaseModelError(f"{self.dir}: config.json is missing") from e
        except (OSError, ValueError) as e:
            raise BaseModelError(f"{self.dir}/config.json: cannot read: {e}") from e
        self.architecture = _architecture(self.config, self.dir)
        self.block_count = int(self._hp("num_hidden_layers"))
        self.vocab_size = int(self._hp("vocab_size"))
        self.tied = bool(self.config.get("tie_word_embeddings", False))
        self.files = self._shards()
        self._refs: dict[str, TensorRef] = {}
        self._order: list[str] = []
        self._index()

    def _hp(self, key: str) -> Any:
        if key not in self.config:
            raise BaseModelError(f"{self.dir}/config.json: {key!r} is missing")
        return self.config[key]

    def _shards(self) -> list[Path]:
        index = self.dir / "model.safetensors.index.json"
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            except (OSError, ValueError, KeyError) as e:
                raise BaseModelError(f"{index}: cannot read: {e}") from e
            files = [self.dir / f for f in dict.fromkeys(weight_map.values())]
            missing = [f.name for f in files if not f.is_file()]
            if missing:
                raise BaseModelError(f"{self.dir}: shards listed in the index are missing: {', '.join(missing)}")
            return files
        files = sorted(self.dir.glob("*.safetensors"))
        if not files:
            hint = " (pytorch .bin checkpoints need torch; re-save with safe_serialization=True)" if any(self.dir.glob("*.bin")) else ""
            raise BaseModelError(f"{self.dir}: no *.safetensors weights{hint}")
        return files

    def _index(self) -> None:
        by_gguf: dict[str, TensorRef] = {}
        for f in self.files:
            for name, ref in read_header(f, BaseModelError).items():
                if _IGNORED.search(name) or (name == "lm_head.weight" and self.tied):
                    continue
                gname = hf_to_gguf_name(self.architecture, name)
                if gname is None:
                    raise BaseModelError(f"{f}: unexpected tensor {name!r} for a {self.architecture} model")
                by_gguf[gname] = ref
        required = ["token_embd.weight", "output_norm.weight"] + ([] if self.tied else ["output.weight"])
        first = sorted({n.split(".", 2)[2] for n in by_gguf if n.startswith("blk.")})
        for i in range(self.block_count):
            required += [f"blk.{i}.{suffix}" for suffix in first]
        missing = [n for n in required if n not in by_gguf]
        extra = [n for n in by_gguf if n.startswith("blk.") and int(n.split(".")[1]) >= self.block_count]
        if missing or extra or not first:
            raise BaseModelError(f"{self.dir}: checkpoint does not match config.json (missing {missing[:5]}, extra {extra[:5]})")
        emb = by_gguf["token_embd.weight"].shape
        if emb[0] != self.vocab_size:
            raise BaseModelError(f"{self.dir}: embed_tokens has {emb[0]} rows but vocab_size is {self.vocab_size}")
        key = lambda n: (0, 0, "") if n == "token_embd.weight" else ((1, int(n.split(".")[1]), n) if n.startswith("blk.") else (2, 0, n))  # noqa: E731
        self._order = sorted(by_gguf, key=key)
        self._refs = by_gguf

    def metadata(self) -> list[tuple[str, gguf.GGUFValue]]:
        c = self.config
        w = gguf.GGUFWriter(None, self.architecture)
        w.add_name(str(c.get("_name_or_path") or self.source).rstrip("/").split("/")[-1])
        w.add_block_count(self.block_count)
        w.add_context_length(int(self._hp("max_position_embeddings")))
        w.add_embedding_length(int(self._hp("hidden_size")))
        w.add_feed_forward_length(int(self._hp("intermediate_size")))
        n_head = int(self._hp("num_attention_heads"))
        w.add_head_count(n_head)
        w.add_head_count_kv(int(c.get("num_key_value_heads") or n_head))
        if c.get("head_dim"):
            w.add_key_length(int(c["head_dim"]))
            w.add_value_length(int(c["head_dim"]))
        rope = c.get("rope_parameters") or {}
        w.add_rope_freq_base(float(c.get("rope_theta", rope.get("rope_theta", 10000.0))))
        w.add_layer_norm_rms_eps(float(self._hp("rms_norm_eps")))
        self._add_rope_scaling(w, c.get("rope_scaling") or rope)
        add_tokenizer(w, self.dir, self.vocab_size)
        return [(k, v) for k, v in w.kv_data[0].items() if k != "general.architecture"]

    def _add_rope_scaling(self, w: gguf.GGUFWriter, rs: dict[str, Any]) -> None:
        kind = rs.get("rope_type", rs.get("type"))
        if kind in (None, "default"):
            return
        if kind == "linear":
            w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
            w.add_rope_scaling_factor(float(rs["factor"]))
        elif kind == "yarn":
            w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
            w.add_rope_scaling_factor(float(rs["factor"]))
            w.add_rope_scaling_orig_ctx_len(int(rs["original_max_position_embeddings"]))
        else:
            raise BaseModelError(f"{self.dir}: rope scaling {kind!r} is not supported (none, linear, yarn)")

    def tensors(self) -> list[TensorSpec]:
        return [TensorSpec(n, self._refs[n].shape) for n in self._order]

    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        return read_tensor(self._refs[name], rows)

    def describe(self) -> dict[str, Any]:
        files = [self.dir / "config.json", *self.files]
        return {"kind": self.kind, "source": self.source, "sha256": sha256_files(files), "architecture": self.architecture}

    def close(self) -> None:
        pass


__all__ = ["HFCheckpoint", "HF_ARCHITECTURES", "download", "looks_like_repo_id"]
