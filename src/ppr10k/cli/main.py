"""Entry point of the ``ppr10k`` command.

Each subcommand lives in its own module ``ppr10k.cli.<name>`` exposing
``register(subparsers)``, which adds its parser and sets ``func`` to a callable taking
the parsed arguments and returning the exit code.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import sys

from ppr10k import __version__

# module name -> imported lazily so that `ppr10k --help` stays fast
SUBCOMMAND_MODULES = ("demo", "data", "train", "evaluate", "retouch", "models", "xmp")


class CommandError(Exception):
    """An error a user can fix: printed as one line, exit code 1 (no traceback)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ppr10k",
        description="Portrait photo retouching with the PPR10K dataset.",
    )
    parser.add_argument("--version", action="version", version=f"ppr10k {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"ppr10k.cli.{name}").register(subparsers)
    return parser


def command_name(args: argparse.Namespace) -> str:
    """The command as typed: ``data stats``, ``xmp augment``, ``retouch``, ..."""
    words = [args.command] + [getattr(args, f"{args.command}_command", None) or ""]
    return " ".join(word for word in words if word)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (CommandError, FileNotFoundError, FileExistsError, NotADirectoryError,
            ValueError) as error:
        print(f"ppr10k {command_name(args)}: error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # a full disk is the user's to fix, not a bug
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        print(f"ppr10k {command_name(args)}: error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
