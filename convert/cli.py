"""Command line: ``python -m convert <command>``. Each command lives in its own module with a
``register(subparsers)`` function that adds its parser and sets ``func``; list it in ``COMMANDS``."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from .errors import ConvertError

#: Modules that provide a subcommand (``register(subparsers) -> None``); add new ones here.
COMMANDS: list[str] = ["convert.build_cli", "convert.soup"]


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m convert", description="Build notifclf GGUF models.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (includes llama.cpp's log)")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only, no progress bars")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    for p in sub.choices.values():  # accept -v/-q after the command too
        p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("gguf").setLevel(max(level, logging.WARNING))  # gguf-py's writer is chatty at INFO
    try:
        return int(args.func(args) or 0)
    except ConvertError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
