"""The model options the examples share (--model, --cache-dir, --folders, --instructions, --threads, --corrections),
built on the public API only. Scripts import it as ``options`` (it sits next to them); the dashboard as
``examples.options``."""

from __future__ import annotations

import argparse
import sys

import notifclf

_HELP = {
    "--model": "registry name, path to a .gguf file, or hf:OWNER/REPO/FILE.gguf (default: the default model)",
    "--cache-dir": "model cache directory (default: $NOTIFCLF_CACHE, then the platform cache dir)",
    "--folders": 'a JSON file: a list of {"name", "description"}, or an object with a "folders" key',
    "--instructions": 'free-text preferences, e.g. "anything from my manager Dana is priority 3"',
    "--threads": "CPU threads for llama.cpp (default: all available, at most 8)",
    "--corrections": "the user's corrections store (notifclf correct, the dashboard), shown to the model as examples "
                     "(default: in the cache directory)",
}


def add_model_options(parser: argparse.ArgumentParser) -> None:
    for flag, text in _HELP.items():
        parser.add_argument(flag, type=int if flag == "--threads" else str, help=text)


def classifier_from_args(args: argparse.Namespace) -> notifclf.Classifier:
    folders = notifclf.load_folders_file(args.folders) if args.folders else None
    return notifclf.Classifier(args.model, folders=folders, instructions=args.instructions, cache_dir=args.cache_dir,
                               n_threads=args.threads, progress=sys.stderr.isatty(), corrections_path=args.corrections)
