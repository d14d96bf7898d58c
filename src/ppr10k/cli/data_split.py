"""`ppr10k data split`: the official train/validation split by group id."""

from __future__ import annotations

import argparse
import json

from ppr10k.cli.main import number_type

DESCRIPTION = """\
Split PPR10K files into train/ and val/ by group id: groups < FIRST_VAL_GROUP (1356) are
training (8,875 photos), the rest validation (2,286 photos), matched by file name G_I[_K].ext.

ROOT is either a flat folder of files named G_I[_K].ext (raw/, xmp_source/, masks_360p/, a
folder of TIFFs) -> OUT/train/, OUT/val/; or a PPR10K folder whose sub-folders are such
flat folders (raw/, xmp_source/, xmp_target_a/, ...) -> OUT/train/<sub>/, OUT/val/<sub>/.
Files copied by default; nothing is overwritten.
"""


def _run(args: argparse.Namespace) -> int:
    from ppr10k.cli.main import check_output_folder
    from ppr10k.data.split import split_dataset

    check_output_folder(args.out)

    report = split_dataset(args.root, None if args.dry_run else args.out,
                           first_val_group=args.first_val_group, mode=args.mode,
                           progress=not args.quiet)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.format())
    return 0


def register(subparsers) -> None:
    """Add `data split` to the `data` subparsers."""
    parser = subparsers.add_parser(
        "split", help="split files into train/ and val/ by group id (official split)",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", help="flat folder of G_I[_K].ext files, or a PPR10K folder")
    parser.add_argument("--out", required=True, help="destination: OUT/train, OUT/val")
    parser.add_argument("--first-val-group", type=number_type(int, low=0), default=1356,
                        help="first validation group id (1356)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--move", dest="mode", action="store_const", const="move",
                      help="move the files instead of copying them")
    mode.add_argument("--link", dest="mode", action="store_const", const="link",
                      help="hard-link the files (symlinks where impossible)")
    parser.add_argument("--dry-run", action="store_true", help="only count, write nothing")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run, mode="copy")
