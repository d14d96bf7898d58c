"""`ppr10k data check ROOT`: counts and problems of a PPR10K root."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    """Add ``data check``."""
    p = subparsers.add_parser("check", help="count files and list every problem of a PPR10K root")
    p.add_argument("root", help="PPR10K root (holding train/ and val/)")
    p.add_argument("--expert", choices=("a", "b", "c"), action="append",
                   help="expert(s) to check (repeatable; default all three)")
    p.add_argument("--no-sizes", action="store_true", help="skip reading image headers")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ppr10k.data import EXPERTS, check_dataset

    experts = tuple(args.expert) if args.expert else EXPERTS
    report = check_dataset(args.root, experts, check_sizes=not args.no_sizes, progress=True)
    width = max(len(k) for k in report.counts) if report.counts else 10
    for folder, count in report.counts.items():
        print(f"{folder:<{width}}  {count:>7}")
    for problem in report.problems:
        print(problem)
    if report.ok:
        print("no problems found")
        return 0
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(report.summary().items()))
    print(f"{len(report.problems)} problems: {summary}")
    return 1
