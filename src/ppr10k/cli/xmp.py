"""`ppr10k xmp show|diff|augment`: Camera Raw XMP sidecars."""

from __future__ import annotations

import argparse
import json
import sys

from ppr10k.cli.main import check_output_folder, number_type

AUGMENT_EPILOG = """\
scheme 1 (default): random offsets on the source settings, uniform in
  Temperature +-500, Tint +-10, Exposure2012 +-1.0, Highlights2012 +-35,
  Contrast2012 -30..0, Saturation 0..+30; writes G_I_K.xmp, K = 1..versions.
scheme 2 (--paired --target DIR --target-out DIR): source offsets
  Temperature +-1000, Tint +-10, Exposure2012 +-0.5, Highlights2012 +-30, Contrast2012 +-20;
  the same offsets are subtracted from the expert's Exposure2012, Highlights2012 and
  Contrast2012 (ranges clipped to keep both inside Camera Raw's limits).
Also writes augment_offsets.csv and augment_summary.json in --out.
"""


def _format_value(value) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return repr(value) if isinstance(value, str) and value == "" else str(value)


def _show(args: argparse.Namespace) -> int:
    from ppr10k.xmp import read_camera_raw

    settings = read_camera_raw(args.file)
    if args.json:
        print(json.dumps(settings.to_json(everything=args.all), indent=2, ensure_ascii=False))
        return 0
    if not settings.names():
        print(f"{args.file}: no Camera Raw settings")
        return 0
    width = max(len(name) for name in settings.names())
    for name, value in settings.settings.items():
        print(f"{name:<{width}}  {_format_value(value)}")
    if args.all:
        for group in ("sequences", "alternatives", "structures"):
            for name, value in getattr(settings, group).items():
                print(f"{name:<{width}}  {_format_value(value)}")
    else:
        others = len(settings.sequences) + len(settings.alternatives) + len(settings.structures)
        if others:
            print(f"(+ {others} curves / names / structures: --all to list them)")
    return 0


def _diff(args: argparse.Namespace) -> int:
    from ppr10k.xmp import diff_properties, read_camera_raw

    changes = diff_properties(read_camera_raw(args.a), read_camera_raw(args.b))
    if args.json:
        print(json.dumps([{"name": c.name, "group": c.group, "before": c.before,
                           "after": c.after, "delta": c.delta} for c in changes],
                         indent=2, ensure_ascii=False))
        return 0
    if not changes:
        print("no differences in Camera Raw settings")
        return 0
    width = max(len(change.name) for change in changes)
    for change in changes:
        before = "-" if change.before is None else _format_value(change.before)
        after = "-" if change.after is None else _format_value(change.after)
        delta = "" if change.delta is None else f"  ({change.delta:+.4g})"
        print(f"{change.name:<{width}}  {before} -> {after}{delta}")
    return 0


def _augment(args: argparse.Namespace) -> int:
    from ppr10k.xmp.batch import augment_folder

    check_output_folder(args.out)
    check_output_folder(args.target_out, "--target-out")

    if args.paired and (args.target is None or args.target_out is None):
        raise ValueError("--paired needs --target DIR (expert sidecars) and --target-out DIR")
    if not args.paired and (args.target is not None or args.target_out is not None):
        raise ValueError("--target/--target-out are for scheme 2: add --paired")
    if args.raw_mode != "link" and args.raws is None:
        raise ValueError("--symlink/--copy place raws: give --raws DIR")
    report = augment_folder(args.source, args.out, versions=args.versions, seed=args.seed,
                            target_dir=args.target if args.paired else None,
                            target_out=args.target_out if args.paired else None,
                            raws_dir=args.raws, raw_mode=args.raw_mode,
                            progress=not args.quiet, overwrite=args.overwrite)
    print(report.format())
    print(f"offsets: {args.out}/augment_offsets.csv, summary: {args.out}/augment_summary.json")
    for file, reason in report.skipped:
        where = reason if reason.startswith(file) else f"{file}: {reason}"
        print(f"ppr10k xmp augment: error: {where}", file=sys.stderr)
    return 1 if report.skipped else 0


def register(subparsers) -> None:
    """Add `xmp` with `show`, `diff` and `augment`."""
    parser = subparsers.add_parser("xmp", help="read, compare and augment Camera Raw XMP "
                                   "sidecars")
    sub = parser.add_subparsers(dest="xmp_command", metavar="XMP_COMMAND")
    parser.set_defaults(func=lambda args: parser.print_help() or 2)

    show = sub.add_parser("show", help="print a sidecar's Camera Raw settings")
    show.add_argument("file", help="an .xmp sidecar")
    show.add_argument("--json", action="store_true",
                      help="one JSON object: setting name (no prefix) -> typed value")
    show.add_argument("--all", action="store_true",
                      help="also tone curves, language alternatives and nested structures")
    show.set_defaults(func=_show)

    diff = sub.add_parser("diff", help="what changed from sidecar A to sidecar B (e.g. "
                          "xmp_source -> xmp_target_a)")
    diff.add_argument("a", help="the before sidecar (e.g. the source)")
    diff.add_argument("b", help="the after sidecar (e.g. an expert's)")
    diff.add_argument("--json", action="store_true", help="a JSON list of changes")
    diff.set_defaults(func=_diff)

    augment = sub.add_parser(
        "augment", help="write randomly offset sidecars G_I_K.xmp (PPR10K augmentation)",
        epilog=AUGMENT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    augment.add_argument("--source", required=True, help="folder of source sidecars G_I.xmp")
    augment.add_argument("--out", required=True, help="folder for the augmented G_I_K.xmp")
    augment.add_argument("--versions", type=number_type(int, low=1), default=5, help="versions per photo (5)")
    augment.add_argument("--seed", type=int, default=0, help="random seed (0)")
    augment.add_argument("--paired", action="store_true",
                         help="scheme 2: also write compensated expert sidecars")
    augment.add_argument("--target", help="(scheme 2) folder of expert sidecars G_I.xmp")
    augment.add_argument("--target-out", dest="target_out",
                         help="(scheme 2) folder for the compensated expert G_I_K.xmp")
    augment.add_argument("--raws", help="folder of raws G_I.<ext>: place each beside its "
                         "augmented sidecar as G_I_K.<ext>")
    mode = augment.add_mutually_exclusive_group()
    mode.add_argument("--link", dest="raw_mode", action="store_const", const="link",
                      help="place raws as hard links (symlink where impossible; default)")
    mode.add_argument("--symlink", dest="raw_mode", action="store_const", const="symlink",
                      help="place raws as symbolic links")
    mode.add_argument("--copy", dest="raw_mode", action="store_const", const="copy",
                      help="copy raws (uses the disk space five times over)")
    augment.add_argument("--overwrite", action="store_true",
                         help="replace files already at the output names (refused otherwise)")
    augment.add_argument("--quiet", action="store_true", help="no progress bar")
    augment.set_defaults(func=_augment, raw_mode="link")
