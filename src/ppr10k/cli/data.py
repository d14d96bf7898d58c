"""`ppr10k data ...`: dataset tools. Each tool registers from ``ppr10k.cli.data_<name>``."""

from __future__ import annotations

import importlib

DATA_SUBCOMMANDS = ("check", "sample", "split", "stats")


def register(subparsers) -> None:
    """Add ``data`` and its sub-subcommands."""
    parser = subparsers.add_parser("data", help="check, sample, split and summarise PPR10K data")
    data_sub = parser.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    for name in DATA_SUBCOMMANDS:
        importlib.import_module(f"ppr10k.cli.data_{name}").register(data_sub)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)
