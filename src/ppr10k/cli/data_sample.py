"""`ppr10k data sample OUT`: write the built-in sample set in the official 360p layout."""

from __future__ import annotations

import argparse

from ppr10k.cli.main import number_type


def register(subparsers) -> None:
    """Add `data sample` to the `data` subparsers."""
    parser = subparsers.add_parser(
        "sample",
        help="write a small PPR10K-like dataset (official 360p layout) from a built-in photo",
        description="Write a small dataset in the exact layout of the official 360p release "
                    "(train/source_aug, train/target_a|b|c, train/masks, val/...), made from "
                    "two public-domain portraits (groups take turns between the two people) "
                    "with synthetic shoots, shots and expert looks.",
    )
    parser.add_argument("out", help="folder to create (it receives train/, val/ and the xmp_* sidecar folders)")
    parser.add_argument("--groups", type=number_type(int, low=2), default=6, metavar="N",
                        help="number of groups (shoots) in all (default: 6)")
    parser.add_argument("--per-group", type=number_type(int, low=1), default=4, metavar="M",
                        help="photos per group (default: 4)")
    parser.add_argument("--val-groups", type=number_type(int, low=1), default=None, metavar="V",
                        help="how many groups are validation groups, numbered from 1356 "
                             "(default: a third, at least 1)")
    parser.add_argument("--augmented", type=number_type(int, low=0), default=5, metavar="K",
                        help="augmented sources G_I_K per training photo (default: 5)")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="random seed; the same seed writes the same files (default: 0)")
    parser.add_argument("--force", action="store_true",
                        help="replace a sample set made earlier in OUT")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ppr10k.cli.main import CommandError, check_output_folder
    from ppr10k.data.sample import make_sample_dataset

    check_output_folder(args.out, "OUT")

    try:
        summary = make_sample_dataset(args.out, groups=args.groups, per_group=args.per_group,
                                      seed=args.seed, val_groups=args.val_groups,
                                      n_aug=args.augmented, overwrite=args.force)
    except FileExistsError as error:
        raise CommandError(str(error)) from None
    print(f"wrote {summary}")
    return 0
