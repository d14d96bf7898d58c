"""`ppr10k demo [--out DIR] [--quick]`: the whole job on the built-in sample set."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    """Add the `demo` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="build the sample set, train, evaluate, retouch and write an HTML report (CPU)",
        description="Run ppr10k end to end on its built-in sample set: make the dataset, "
                    "train an image-adaptive 3D-LUT model on the CPU, predict and evaluate the "
                    "validation split (per image and group-consistently) beside the default "
                    "zoo model (trained on MIT-Adobe FiveK, shown for reference), retouch one "
                    "group at a larger size, and write DIR/report.html.",
    )
    parser.add_argument("--out", default="ppr10k-demo", metavar="DIR",
                        help="output folder (default: ./ppr10k-demo; an earlier demo there is "
                             "replaced, any other non-empty folder is refused)")
    parser.add_argument("--quick", action="store_true",
                        help="a smaller set and training budget (under a minute)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ppr10k.demo import run_demo

    result = run_demo(args.out, quick=args.quick, progress=not args.quiet)
    if args.quiet:
        print(result.closing_note())
    print(f"report: {result.report.resolve()}")
    return 0
