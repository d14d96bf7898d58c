"""`ppr10k data stats`: histograms of the XMP settings, group sizes and capture times."""

from __future__ import annotations

import argparse

from ppr10k.cli.main import number_type

DESCRIPTION = """\
Statistics of a PPR10K folder (with xmp_source/, xmp_target_a|b|c/ and optionally raw/),
or of one folder of sidecars. Writes PNG plots to --plots: settings/<Name>.png (each
Camera Raw setting, source and experts overlaid), photos_per_group.png,
capture_month.png and capture_hour.png (raw EXIF, else the sidecars' dates; skipped when
there are none), and stats.json with every number.
"""


def _run(args: argparse.Namespace) -> int:
    from ppr10k.cli.main import check_output_folder
    from ppr10k.data.stats import dataset_stats

    check_output_folder(args.plots, "--plots")

    stats = dataset_stats(args.root, args.plots, bins=args.bins, progress=not args.quiet)
    groups = stats["groups"]
    capture = stats["capture_time"]
    print(f"series: {', '.join(stats['series']) or '(none)'}; {groups['photos']:,} photos in "
          f"{groups['groups']:,} groups; {len(stats['settings'])} settings "
          f"({len(stats['plots'])} plots)")
    if groups.get("photos_without_group"):
        print(f"{groups['photos_without_group']:,} photo(s) without a PPR10K group "
              "(names other than G_I / G_I_K)")
    print(f"capture times: {capture['from_raw_exif']:,} from raw EXIF, "
          f"{capture['from_xmp']:,} from sidecars, {capture['without']:,} without")
    if "note" in capture:
        print(capture["note"])
    for file, error in stats["errors"][:10]:
        print(f"unreadable: {file}: {error}")
    print(f"plots and stats.json in {args.plots}")
    return 0


def register(subparsers) -> None:
    """Add `data stats` to the `data` subparsers."""
    parser = subparsers.add_parser(
        "stats", help="histograms of XMP settings per expert, group sizes, capture times",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", help="PPR10K folder (xmp_source/, xmp_target_a/, raw/, ...)")
    parser.add_argument("--plots", required=True, help="output folder for PNGs + stats.json")
    parser.add_argument("--bins", type=number_type(int, low=1, high=10000), default=50, help="histogram bins (50)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=_run)
