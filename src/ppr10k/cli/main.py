"""Entry point of the ``ppr10k`` command.

Each subcommand lives in its own module ``ppr10k.cli.<name>`` exposing
``register(subparsers)``, which adds its parser and sets ``func`` to a callable taking
the parsed arguments and returning the exit code.

Errors are one line on stderr, never a traceback: exit code 1 for bad data (a damaged
photo, model or sidecar), 2 for bad usage (option values, output paths). Any other
exception is reported by the last-resort handler in one line that names the command and
its input; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import re
import sys
from pathlib import Path

from ppr10k import __version__

# module name -> imported lazily so that `ppr10k --help` stays fast
SUBCOMMAND_MODULES = ("demo", "data", "train", "evaluate", "retouch", "models", "xmp")

#: Arguments that name a command's input, in the order the last-resort message lists them.
_INPUT_ARGS = ("inputs", "paths", "file", "a", "b", "data", "model", "pred", "target",
               "masks", "rows", "source", "root", "config")


class CommandError(Exception):
    """An error a user can fix: printed as one line, exit code 1 (no traceback)."""


class UsageError(CommandError):
    """A bad option value or output path: printed as one line, exit code 2."""


# ---------------------------------------------------------------- argparse value types


def number_type(kind: type = float, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, allow_inf: bool = False):
    """An argparse ``type``: a finite number of ``kind`` in a range (usage error otherwise).

    Args:
        kind: ``int`` or ``float``.
        low, high: inclusive bounds (``low_open``: ``low`` itself is refused).
        allow_inf: accept ``inf`` (floats only).
    """
    def parse(text: str):
        try:
            value = kind(text)
        except (ValueError, OverflowError):
            what = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
        if isinstance(value, float) and math.isnan(value):
            raise argparse.ArgumentTypeError("must be a number, got nan")
        if isinstance(value, float) and math.isinf(value) and not (allow_inf and value > 0):
            raise argparse.ArgumentTypeError(f"must be finite, got {text}")
        if low is not None and (value < low or (low_open and value == low)):
            sign = ">" if low_open else ">="
            raise argparse.ArgumentTypeError(f"must be {sign} {low:g}, got {text}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be <= {high:g}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


def check_output_folder(path: str | Path | None, option: str = "--out") -> None:
    """Refuse an output folder that exists as a file (a usage error, exit 2)."""
    if path is not None and Path(path).exists() and not Path(path).is_dir():
        raise UsageError(f"{option} {path} is a file, not a folder; choose a folder")


def check_output_file(path: str | Path | None, option: str) -> None:
    """Refuse an output file that exists as a folder (a usage error, exit 2)."""
    if path is not None and Path(path).is_dir():
        raise UsageError(f"{option} {path} is a folder; give a file name")


# ---------------------------------------------------------------- the command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ppr10k",
        description="Portrait photo retouching with the PPR10K dataset.",
    )
    parser.add_argument("--version", action="version", version=f"ppr10k {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an unexpected error")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"ppr10k.cli.{name}").register(subparsers)
    return parser


_QUALIFIED_ERROR = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception): ")


def _one_line(text: object) -> str:
    """A message on one line: multi-line messages are joined with ' / '; an error re-raised
    from a worker process (PyTorch's DataLoader: "Caught PhotoError in DataLoader worker
    process 0. Original Traceback ...") is reduced to the original error's message."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    if any(line.startswith("Original Traceback") for line in lines):
        return _QUALIFIED_ERROR.sub("", lines[-1])
    return " / ".join(lines)


def _command_name(args: argparse.Namespace) -> str:
    sub = getattr(args, "xmp_command", None) or getattr(args, "data_command", None)
    return f"{args.command} {sub}" if sub else str(args.command)


def _inputs(args: argparse.Namespace) -> str:
    """The command's inputs as given, for the last-resort message."""
    found = []
    for name in _INPUT_ARGS:
        value = getattr(args, name, None)
        if value is None or value is False:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        found.extend(str(v) for v in values)
    return ", ".join(found) if found else "none"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    command = _command_name(args)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return 0
    except UsageError as error:
        print(f"ppr10k {command}: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except (CommandError, ValueError, OSError) as error:
        # OSError: FileNotFoundError, NotADirectoryError, PermissionError, disk full...
        message = str(error)
        if isinstance(error, OSError) and error.strerror and error.filename:
            message = f"{error.filename}: {error.strerror}"
        print(f"ppr10k {command}: error: {_one_line(message)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # the last resort: one line, not a traceback
        if args.debug:
            raise
        print(f"ppr10k {command}: unexpected error: {type(error).__name__}: "
              f"{_one_line(error)} (input: {_inputs(args)}); rerun with "
              f"`ppr10k --debug {command} ...` for the traceback", file=sys.stderr)
        return 1


def exit_with(code: int) -> None:
    """End the process with ``code``.

    A process ``torchrun`` started (its ``RANK``/``WORLD_SIZE`` variables are set) ends with
    ``os._exit`` once its output is flushed: with torch 2.14 and gloo, about one 2-process
    run in ten otherwise died with SIGABRT in the interpreter's own shutdown ("terminate
    called without an active exception"), after all work was done and saved, turning a
    finished run into a failed one. Everything the run writes is closed by then (atomic
    writes, the run lock, loaders), and the process group is destroyed.
    """
    if os.environ.get("RANK") is not None and os.environ.get("WORLD_SIZE") is not None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # closed (a pipe into `head`)
                pass
        os._exit(code)
    sys.exit(code)


def entry() -> None:
    """The ``ppr10k`` console script: :func:`main`, then :func:`exit_with`."""
    exit_with(main())


if __name__ == "__main__":
    exit_with(main())


def check_device(name: str) -> None:
    """``--device`` must name a device this machine has (a usage error, exit 2): ``cuda``
    without a GPU, or ``cuda:N`` past the GPUs there are, is one line naming the count."""
    from ppr10k.models.device import resolve_device

    try:
        resolve_device(name)
    except ValueError as error:
        raise UsageError(str(error)) from None
