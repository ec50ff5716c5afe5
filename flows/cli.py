"""The ``callforge`` command line: one subcommand per stage, plus ``refresh``.

Each subcommand lives in ``flows/commands/<name>.py`` and exposes ``register(subparsers)``, which adds
its parser and sets ``func`` to a callable taking the parsed args and returning an exit code. Heavy
imports (torch, prefect) happen inside those callables, so ``callforge --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from schemas.errors import CallforgeError

QUIET_UNLESS_VERBOSE = ("httpx", "httpx2", "httpcore", "openai", "aiohttp")
COMMANDS = (
    "ingest",
    "generate",
    "verify",
    "verify_trajectories",
    "assemble",
    "train",
    "merge",
    "chat",
    "evaluate",
    "score",
    "refresh",
    "serve",
    "tiny_model",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="callforge",
        description="OpenAPI specs in, verified function-calling data and fine-tuned models out.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"flows.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    # bitsandbytes 0.50 warns on every CPU import that an optional kernels package is missing; it is
    # harmless (measured: training and 4-bit loading work without it) and installing that package would reach for the model hub.
    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
    # HTTP clients log every request at INFO (thousands of lines per teacher run): shown with -v only.
    for name in QUIET_UNLESS_VERBOSE:
        logging.getLogger(name).setLevel(logging.NOTSET if args.verbose else logging.WARNING)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CallforgeError as exc:
        print(f"callforge {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
