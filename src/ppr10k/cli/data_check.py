"""`ppr10k data check ROOT | pairs:ORIGINALS,EDITED[,MASKS]`: counts and problems."""

from __future__ import annotations

import argparse

from ppr10k.cli.main import number_type


def register(subparsers) -> None:
    """Add ``data check``."""
    p = subparsers.add_parser(
        "check", help="count files and list every problem of a PPR10K root or a pairs folder")
    p.add_argument("root", help="PPR10K root (holding train/ and val/), or "
                                "pairs:ORIGINALS,EDITED[,MASKS] (originals and their edits, "
                                "matched by file stem)")
    p.add_argument("--expert", choices=("a", "b", "c"), action="append",
                   help="expert(s) to check (repeatable; default all three; PPR10K only)")
    p.add_argument("--no-sizes", action="store_true", help="skip reading image headers")
    p.add_argument("--pixels", action="store_true",
                   help="also decode every image and mask to find damaged ones (truncated "
                        "data, NaN samples), which headers do not show; slower")
    p.add_argument("--val-share", type=number_type(float, low=0.0, high=1.0), default=0.1,
                   help="pairs: share of the groups held out for validation (default 0.1)")
    p.add_argument("--seed", type=int, default=0,
                   help="pairs: seed that picks the validation groups (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ppr10k.data import EXPERTS, check_dataset, check_pairs, is_pairs_spec

    if is_pairs_spec(args.root):
        if args.expert:
            raise ValueError("--expert applies to PPR10K roots; a pairs folder has one editor")
        _, report = check_pairs(args.root, check_sizes=not args.no_sizes,
                                val_share=args.val_share, seed=args.seed, pixels=args.pixels)
    else:
        experts = tuple(args.expert) if args.expert else EXPERTS
        report = check_dataset(args.root, experts, check_sizes=not args.no_sizes,
                               progress=True, pixels=args.pixels)
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
