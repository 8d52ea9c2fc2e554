"""Label notifications on Ray Data: the same classifier on a laptop (local Ray) or a cluster (--address).

    python examples/ray_label.py [examples/ray_notifications.jsonl] [-o labeled/] [--address ADDR] [--workers N]

Reads JSONL with Ray Data, labels it with ``notifclf.ray.label_dataset`` (one Classifier per actor), prints each
row with its folder and priority in input order and the count per folder; ``-o`` also writes Parquet, one file per
block. ``notifclf batch IN -o OUT --ray`` does the same from the command line, bad lines included.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import ray
import ray.data

from notifclf.ray import label_dataset


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("input", nargs="?", default=str(Path(__file__).with_name("ray_notifications.jsonl")))
    p.add_argument("-o", "--output", help="also write the labeled rows here as Parquet (a folder)")
    p.add_argument("--address", help="a Ray cluster (default: $RAY_ADDRESS, else a local Ray)")
    p.add_argument("--workers", type=int, help="classifier actors (default: the CPUs, one left for reading)")
    p.add_argument("--threads", type=int, default=1, help="llama.cpp threads (and CPUs) per actor")
    p.add_argument("--model", help="registry name or .gguf path, the same on every node (default: the default model)")
    args = p.parse_args()

    ray.init(address=args.address)
    ray.data.DataContext.get_current().enable_progress_bars = False
    ds = ray.data.read_json(args.input, lines=True)
    labeled = label_dataset(ds, model=args.model, concurrency=args.workers, threads_per_actor=args.threads).materialize()
    for row in labeled.iter_rows():
        label = f"{row['folder']} p{row['priority']}" if row["error"] is None else f"error: {row['error']}"
        print(f"{row['id']}  {row['app'][:16]:<16} {row['title'][:40]:<40} -> {label}")
    for group in labeled.groupby("folder").count().sort("folder").take_all():
        print(f"{group['folder']}: {group['count()']}")
    if args.output:
        labeled.write_parquet(args.output)
        print(f"written to {args.output}")
    ray.shutdown()


if __name__ == "__main__":
    main()
