"""Label notifications at scale with Ray Data: stateful ``map_batches`` actors, each owning one Classifier.

Needs the ``[ray]`` extra (``pip install 'notifclf[ray]'``). Only the public notifclf API is used here
(``Classifier``, ``Notification``, ``Folder``, results' attributes), so the runtime can change underneath.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import Classification, Classifier, Folder, InvalidFoldersError, Notification, NotifclfError
from .stated_priority import STATED_PRIORITY_BONUS

logger = logging.getLogger("notifclf")


class RayNotInstalledError(NotifclfError, ImportError):
    """Ray Data (or pyarrow) is not installed; install the ``[ray]`` extra."""


class RayInputError(NotifclfError, ValueError):
    """Input that notifclf.ray cannot label: no input files, an unknown format, or a column notifclf would overwrite."""


try:
    import pyarrow as pa
    import ray
    import ray.data
except ImportError as exc:  # pragma: no cover - exercised only where the extra is missing
    raise RayNotInstalledError(
        f"notifclf.ray needs Ray Data and pyarrow ({exc}); install them with: pip install 'notifclf[ray]'"
    ) from exc

#: Columns that :func:`label_dataset` adds to every row.
OUTPUT_COLUMNS = ("folder", "priority", "folder_confidence", "priority_confidence", "error")
_OUTPUT_TYPES = (pa.string(), pa.int64(), pa.float64(), pa.float64(), pa.string())

# Actor fault tolerance (see the README, "Bulk labeling on Ray"). An actor that dies (killed, OOM-killed, its node
# lost) is restarted without limit: deaths over a long job are independent, and a restart costs one model load from
# the node's cache. A batch whose actor died is retried up to 3 times on a live actor; Ray Data keeps only the
# outputs of the attempt that succeeded, so no row is lost or duplicated. The limit turns a batch that kills every
# worker it lands on (out of memory, a native crash) into a failed job instead of an endless crash loop.
ACTOR_MAX_RESTARTS = -1
ACTOR_MAX_TASK_RETRIES = 3

_INPUT_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
_IO_CPUS_RESERVED = 1  # left free by the default pool size for Ray Data's own list/read/write tasks


@contextmanager
def _node_model_lock() -> Iterator[None]:
    """Serialize Classifier construction among the actors of one node, so the first one builds the default model
    into the node's cache and the others then load the cached file instead of building it again in parallel."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, concurrent first builds only cost time (results are renamed atomically)
        yield
        return
    with open(Path(tempfile.gettempdir()) / f"notifclf-model-{os.getuid()}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _label_values(outcome: Classification | str) -> tuple[Any, ...]:
    """The values of OUTPUT_COLUMNS for one row."""
    if isinstance(outcome, str):
        return None, None, None, None, outcome
    return outcome.folder, outcome.priority, outcome.folder_confidence, outcome.priority_confidence, None


def _check_columns(columns: Sequence[str], json_column: str | None) -> None:
    clash = [c for c in OUTPUT_COLUMNS if c in columns]
    if clash:
        raise RayInputError(f"the input already has column(s) {', '.join(clash)}, which labeling adds; rename or drop "
                            "them first")
    if json_column is not None and json_column not in columns:
        raise RayInputError(f"json_column {json_column!r} is not a column of the input ({', '.join(columns)})")


class _LabelActor:
    """One per Ray actor: loads the model once, then labels one batch (a pyarrow Table) per call."""

    def __init__(self, model: str | None, folders: tuple[Folder, ...] | None, instructions: str | None,
                 cache_dir: str | None, n_threads: int, json_column: str | None, **reading: Any) -> None:
        """``reading``: the Classifier options of :func:`label_dataset` that change how notifications are read."""
        with _node_model_lock():
            self._clf = Classifier(model, folders=folders, instructions=instructions, cache_dir=cache_dir,
                                   n_threads=n_threads, progress=False, **reading)
        self._json_column = json_column
        logger.info("notifclf actor pid %d loaded %s with %d thread(s)", os.getpid(), self._clf.model_path, n_threads)

    def __call__(self, batch: pa.Table) -> pa.Table:
        _check_columns(batch.column_names, self._json_column)
        outcomes = self._label(self._sources(batch))
        columns = zip(*map(_label_values, outcomes)) if outcomes else [()] * len(OUTPUT_COLUMNS)
        for name, type_, values in zip(OUTPUT_COLUMNS, _OUTPUT_TYPES, columns):
            batch = batch.append_column(pa.field(name, type_), pa.array(list(values), type=type_))
        return batch

    def _label(self, sources: list[Mapping[str, Any] | str]) -> list[Classification | str]:
        """Each row's result, or the message of what is wrong with it."""
        outcomes: list[Classification | str] = []
        notes: dict[int, Notification] = {}
        for i, source in enumerate(sources):
            if isinstance(source, str):
                outcomes.append(source)
                continue
            try:
                notes[i] = Notification.from_mapping(source)
            except NotifclfError as exc:
                outcomes.append(str(exc) or type(exc).__name__)
                continue
            outcomes.append("")  # replaced by the result below
        for i, result in zip(notes, self._classify(list(notes.values()))):
            outcomes[i] = result
        return outcomes

    def _sources(self, batch: pa.Table) -> list[Mapping[str, Any] | str]:
        """Each row's notification as a mapping, or an error message for a row that is not one."""
        if self._json_column is None:
            return batch.to_pylist()
        sources: list[Mapping[str, Any] | str] = []
        for text in batch.column(self._json_column).to_pylist():
            try:
                data = json.loads(text) if text is not None else None
            except json.JSONDecodeError as exc:
                sources.append(f"not JSON: {exc}")
                continue
            sources.append(data if isinstance(data, dict) else "not a JSON object")
        return sources

    def _classify(self, notes: list[Notification]) -> list[Classification | str]:
        """``classify_many`` on the whole batch; only if that fails, one by one, so the failure stays with its row."""
        try:
            return list(self._clf.classify_many(notes))
        except NotifclfError as exc:
            logger.warning("a batch of %d failed (%s); classifying it row by row", len(notes), exc)
        results: list[Classification | str] = []
        for note in notes:
            try:
                results.append(self._clf.classify(note))
            except NotifclfError as exc:
                results.append(str(exc) or type(exc).__name__)
        return results


def _folder(item: Folder | Mapping[str, str]) -> Folder:
    """A Folder, checked on the driver so a bad one fails before any actor starts (the set is checked there)."""
    if isinstance(item, Folder):
        return item
    try:
        return Folder(item["name"], item["description"])
    except (KeyError, TypeError) as exc:
        raise InvalidFoldersError(f"a folder must be a Folder or a {{'name', 'description'}} mapping, got {item!r:.80}") from exc


def default_concurrency(threads_per_actor: int) -> int:
    """Actors that fit the connected cluster's CPUs with one CPU left for Ray Data's list, read and write tasks
    (which otherwise could wait forever behind actors that hold every CPU)."""
    cpus = int(ray.cluster_resources().get("CPU", 1))
    return max(1, (cpus - _IO_CPUS_RESERVED) // threads_per_actor)


def label_dataset(
    ds: ray.data.Dataset,
    *,
    folders: Iterable[Folder | Mapping[str, str]] | None = None,
    instructions: str | None = None,
    model: str | None = None,
    cache_dir: str | None = None,
    batch_size: int = 32,
    concurrency: int | tuple[int, int] | None = None,
    threads_per_actor: int = 1,
    json_column: str | None = None,
    preserve_order: bool = True,
    corrections_path: str | os.PathLike[str] | None = None,
    folder_prior: str | None = "auto",
    folder_orders: int = 1,
    corrections_by: str = "examples",
    stated_priority_bonus: float = STATED_PRIORITY_BONUS,
) -> ray.data.Dataset:
    """Label every row of ``ds``; returns a lazy Dataset with the input's columns plus ``folder``, ``priority``,
    ``folder_confidence``, ``priority_confidence`` and ``error``.

    A row is a notification (columns ``app``, ``title``, ``body``, ``sub_text``, ``category``, ``posted_at``, or
    the aliases :meth:`Notification.from_mapping` understands; other columns pass through untouched), or, with
    ``json_column``, a text column holding one JSON object per row. A row that is not a valid notification gets
    ``error`` set and null labels; it never fails the job. Every input row comes out exactly once, also when a
    worker dies (see ``ACTOR_MAX_RESTARTS``); with ``preserve_order`` (the default) in input order. That option is
    set on the Dataset's execution context, which Ray Data shares with the Dataset ``ds`` derives from.

    Each actor loads one :class:`Classifier` (``model``, ``folders``, ``instructions``, ``cache_dir``,
    ``corrections_path`` (a store every node can read), ``corrections_by``, ``folder_prior``, ``folder_orders`` and
    ``stated_priority_bonus`` as there;
    the model is resolved on the worker's node: cached, built or assembled on first use) with
    ``threads_per_actor`` llama.cpp threads and reserves that many CPUs. ``concurrency`` is the number of actors,
    or ``(min, max)`` for an autoscaling pool; by default as many as fit the cluster's CPUs with one CPU left free
    for Ray Data's read and write tasks. Calls ``ray.init()`` if Ray is not connected yet.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not isinstance(threads_per_actor, int) or threads_per_actor < 1:
        raise ValueError(f"threads_per_actor must be a positive int, got {threads_per_actor!r}")
    folder_set = None if folders is None else tuple(_folder(f) for f in folders)
    known = ds.columns(fetch_if_missing=False)  # known without running anything, e.g. for in-memory or Parquet input
    if known is not None:
        _check_columns(known, json_column)
    if not ray.is_initialized():
        ray.init()
    size = concurrency if concurrency is not None else default_concurrency(threads_per_actor)
    compute = (ray.data.ActorPoolStrategy(min_size=size[0], max_size=size[1]) if isinstance(size, tuple)
               else ray.data.ActorPoolStrategy(size=size))
    if preserve_order:
        ds.context.execution_options.preserve_order = True
    with warnings.catch_warnings():
        # Ray 2.60 deprecates retry settings passed as remote args (removal in 2.64, hence the [ray] extra's upper
        # bound) but has no other way to set them; the warning would only tell our users what this comment does.
        warnings.filterwarnings("ignore", message=".*ray_remote_args.* is deprecated")
        return ds.map_batches(
            _LabelActor,
            fn_constructor_kwargs={"model": None if model is None else str(model), "folders": folder_set,
                                   "instructions": instructions, "n_threads": threads_per_actor,
                                   "cache_dir": None if cache_dir is None else str(cache_dir), "json_column": json_column,
                                   "corrections_path": None if corrections_path is None else str(corrections_path),
                                   "folder_prior": folder_prior, "folder_orders": folder_orders,
                                   "corrections_by": corrections_by, "stated_priority_bonus": stated_priority_bonus},
            batch_size=batch_size,
            batch_format="pyarrow",
            compute=compute,
            num_cpus=threads_per_actor,
            max_restarts=ACTOR_MAX_RESTARTS,
            max_task_retries=ACTOR_MAX_TASK_RETRIES,
        )


def input_files(path: str | os.PathLike[str]) -> tuple[list[str], str]:
    """The files a path names (a file, a folder searched recursively, or a glob), sorted, and their format:
    ``"jsonl"`` (``.jsonl``, ``.ndjson``, ``.json``: one JSON object per line) or ``"parquet"``."""
    text = os.fspath(path)
    if glob.has_magic(text):
        candidates = glob.glob(text, recursive=True)
    elif os.path.isdir(text):
        candidates = [str(p) for p in Path(text).rglob("*") if p.suffix.lower() in _INPUT_SUFFIXES]
    else:
        candidates = [text] if os.path.exists(text) else []
    files = sorted(f for f in candidates if os.path.isfile(f))
    if not files:
        raise RayInputError(f"no input files at {text}")
    formats = {_INPUT_SUFFIXES.get(Path(f).suffix.lower()) for f in files}
    if None in formats or len(formats) != 1:
        raise RayInputError(f"input files must all be JSONL (.jsonl, .ndjson, .json) or all Parquet (.parquet); "
                            f"{text} has {', '.join(sorted({Path(f).suffix or '(no suffix)' for f in files}))}")
    return files, formats.pop()  # type: ignore[return-value]


def _split_lines(batch: pa.Table) -> pa.Table:
    """Whole files (``bytes``, ``path``) to one row per non-blank line: ``source``, ``line`` (1-based), ``json``."""
    sources: list[str] = []
    numbers: list[int] = []
    texts: list[str] = []
    for path, data in zip(batch.column("path").to_pylist(), batch.column("bytes").to_pylist()):
        for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
            if line.strip():
                sources.append(path)
                numbers.append(number)
                texts.append(line)
    return pa.table({"source": pa.array(sources, pa.string()), "line": pa.array(numbers, pa.int64()),
                     "json": pa.array(texts, pa.string())})


def read_notifications(path: str | os.PathLike[str]) -> tuple[ray.data.Dataset, str | None]:
    """A Dataset of the notifications at ``path`` (see :func:`input_files`) and the ``json_column`` to label it with.

    Parquet files are read as they are (their columns pass through labeling). JSONL files are read as text, one row
    per non-blank line with ``source`` (the file), ``line`` (its 1-based number) and ``json`` (the line): a line that
    is not JSON becomes an error record when labeled instead of failing the read.
    """
    files, fmt = input_files(path)
    if fmt == "parquet":
        return ray.data.read_parquet(files), None
    lines = ray.data.read_binary_files(files, include_paths=True).map_batches(
        _split_lines, batch_size=1, batch_format="pyarrow")
    return lines, "json"


def iter_records(ds: ray.data.Dataset) -> Iterator[dict[str, Any]]:
    """The rows of a (labeled) Dataset as plain dicts, streamed in the Dataset's order."""
    for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None):
        yield from batch.to_pylist()


def write_jsonl(ds: ray.data.Dataset, out: str | os.PathLike[str]) -> tuple[int, int]:
    """Stream ``ds`` into one JSONL file through the driver; returns (rows, rows with an error)."""
    rows = errors = 0
    with open(out, "w", encoding="utf-8") as fh:
        for record in iter_records(ds):
            fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            rows += 1
            errors += record.get("error") is not None
    return rows, errors


def write_parquet(ds: ray.data.Dataset, out: str | os.PathLike[str], *, rows_per_file: int | None = None
                  ) -> tuple[int, int]:
    """Write ``ds`` as Parquet from the workers, one file per block or, with ``rows_per_file``, per run of blocks
    of at least that many rows (a labeled block is one batch: 10 million rows in batches of 32 would otherwise be
    312,500 files). File names sort in the Dataset's order. Returns (rows, rows with an error)."""
    import pyarrow.parquet as pq

    ds.write_parquet(os.fspath(out), min_rows_per_file=rows_per_file)
    errors = pq.read_table(os.fspath(out), columns=["error"]).column("error")
    return len(errors), len(errors) - errors.null_count


def check_pool_fits(workers: int, threads_per_actor: int) -> None:
    """Warn when the actors would hold every CPU: Ray Data's read and write tasks could then never start."""
    cpus = int(ray.cluster_resources().get("CPU", 0))
    if workers * threads_per_actor > cpus - _IO_CPUS_RESERVED:
        logger.warning("%d workers x %d threads take %d of the cluster's %d CPUs; Ray Data's read and write tasks "
                       "need one free CPU and may wait forever (use at most %d workers)", workers, threads_per_actor,
                       workers * threads_per_actor, cpus, max(1, (cpus - _IO_CPUS_RESERVED) // threads_per_actor))


__all__ = ["ACTOR_MAX_RESTARTS", "ACTOR_MAX_TASK_RETRIES", "OUTPUT_COLUMNS", "RayInputError", "RayNotInstalledError",
           "check_pool_fits", "default_concurrency", "input_files", "iter_records", "label_dataset", "read_notifications",
           "write_jsonl", "write_parquet"]
