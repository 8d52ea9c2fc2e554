"""``notifclf batch IN -o OUT --ray``: the batch command on Ray Data. Ray is imported only when ``--ray`` is given."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

logger = logging.getLogger("notifclf")


def add_ray_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("Ray Data (needs the [ray] extra)")
    g.add_argument("--ray", action="store_true",
                   help="label with Ray Data: IN is a JSONL or Parquet file, a folder or a glob; OUT is a folder of "
                        "Parquet files (one per block) or, ending in .jsonl, one JSONL file written in input order")
    g.add_argument("--address", help="the Ray cluster to run on (default: $RAY_ADDRESS, else a local Ray for this run)")
    g.add_argument("--workers", type=int,
                   help="classifier actors, each with --threads llama.cpp threads (default 1) and as many CPUs "
                        "(default: as many as fit the cluster's CPUs with one left for reading and writing)")
    g.add_argument("--rows-per-file", type=int, default=100_000,
                   help="Parquet output: at least this many rows a file (default 100000); each labeled block is one "
                        "batch, so without it a file per batch")


def _start_ray(address: str | None) -> None:
    import ray

    if address:
        ray.init(address=address)
    else:
        # A local Ray declares one CPU more than the machine has: Ray Data's list, read and write tasks each reserve
        # a CPU and mostly wait on I/O, and the classifier actors should still get every core.
        ray.init(num_cpus=(os.cpu_count() or 1) + 1)


def _failure(exc: BaseException) -> str:
    """The last line of a Ray error, which names the exception raised in the worker (e.g. a ModelNotFoundError)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def run_batch(args: argparse.Namespace, reading: dict[str, Any]) -> int:
    """Read ``args.input``, label it on Ray, write ``args.output``; exit status 1 if any row became an error.
    ``reading``: the Classifier options that change how notifications are read (``cli.reading_options``)."""
    from . import load_folders_file
    from . import ray as notifclf_ray  # raises RayNotInstalledError with the install hint

    import ray
    import ray.data

    if not args.output:
        raise notifclf_ray.RayInputError("--ray needs -o OUT: a folder for Parquet files, or a .jsonl file")
    if not str(args.output).endswith(".jsonl") and os.path.isdir(args.output) and os.listdir(args.output):
        raise notifclf_ray.RayInputError(f"the output folder {args.output} is not empty; Ray would add files to what "
                                         "is there: remove it or choose another")
    folders = load_folders_file(args.folders) if args.folders else None
    threads = args.threads or 1
    _start_ray(args.address or os.environ.get("RAY_ADDRESS"))
    try:
        ray.data.DataContext.get_current().enable_progress_bars = args.progress
        workers = args.workers or notifclf_ray.default_concurrency(threads)
        notifclf_ray.check_pool_fits(workers, threads)
        ds, json_column = notifclf_ray.read_notifications(args.input)
        labeled = notifclf_ray.label_dataset(
            ds, folders=folders, instructions=args.instructions, model=args.model, cache_dir=args.cache_dir,
            batch_size=args.batch_size, concurrency=workers, threads_per_actor=threads, json_column=json_column,
            **reading)
        try:
            if str(args.output).endswith(".jsonl"):
                rows, errors = notifclf_ray.write_jsonl(labeled, args.output)
            else:
                rows, errors = notifclf_ray.write_parquet(labeled, args.output, rows_per_file=args.rows_per_file)
        except ray.exceptions.RayError as exc:
            print(f"notifclf: error: the Ray job failed: {_failure(exc)}", file=sys.stderr)
            return 2
    finally:
        ray.shutdown()
    print(f"classified {rows - errors}, errors {errors}, of {rows} rows ({workers} workers x {threads} threads)",
          file=sys.stderr)
    return 0 if errors == 0 else 1
