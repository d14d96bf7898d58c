"""`ppr10k evaluate` (the paper's five measures) and `ppr10k compare` (group comparison sheet)."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from ppr10k.cli.main import check_output_file, check_output_folder, number_type


def register(subparsers) -> None:
    """Add the `evaluate` and `compare` subcommands."""
    parser = subparsers.add_parser(
        "evaluate",
        help="score results against targets: PSNR, ΔE, PSNR^HC, ΔE^HC, M^GLC",
        description=(
            "Score 8-bit results against expert targets with the PPR10K paper's measures "
            "(PSNR, ΔE, PSNR^HC, ΔE^HC, M^GLC). Files pair by stem G_I (.png/.tif/.tiff/.jpg; "
            "16-bit files are rounded to 8 bits); masks of another size are resized bicubic "
            "and exact zeros are background."
        ),
    )
    parser.add_argument("--pred", required=True, type=Path, metavar="DIR",
                        help="folder of results G_I.png/.tif/.jpg")
    parser.add_argument("--target", required=True, type=Path, metavar="DIR",
                        help="folder of targets, e.g. val/target_a")
    parser.add_argument("--masks", required=True, type=Path, metavar="DIR",
                        help="folder of human-region masks G_I.png, e.g. val/masks")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="write the dataset measures as JSON")
    parser.add_argument("--csv", type=Path, metavar="FILE",
                        help="write one row per image (the per-group table goes beside it "
                             "as <stem>_groups.csv unless --group-csv is given)")
    parser.add_argument("--group-csv", type=Path, metavar="FILE",
                        help="write one row per group (mean measures and its M^GLC term)")
    parser.add_argument("--plots", type=Path, metavar="DIR",
                        help="write PSNR/ΔE histograms and the worst groups by GLC as PNG")
    parser.add_argument("--workers", type=number_type(int, low=0),
                        default=os.cpu_count() or 1, metavar="N",
                        help="processes to use (default: one per CPU, here %(default)s)")
    parser.add_argument("--strict", action=argparse.BooleanOptionalAction, default=True,
                        help="fail (exit 1) when a prediction, target or mask is missing "
                             "(default: on); --no-strict scores the complete pairs only")
    parser.add_argument("--strict-colour", action="store_true",
                        help="refuse (one line each) predictions and targets tagged with a "
                             "colour profile other than sRGB; by default they are converted "
                             "to sRGB first, as the measures assume sRGB")
    parser.add_argument("--psnr-cap",
                        type=number_type(float, low=0.0, low_open=True, allow_inf=True),
                        default=100.0, metavar="DB",
                        help="an identical image's PSNR is infinite; averages count each "
                             "image as at most DB (default %(default)s; 'inf': no cap, "
                             "like MATLAB)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing report files (refused otherwise)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run_evaluate)

    compare = subparsers.add_parser(
        "compare",
        help="sheet of a group's photos, one row per method, to see consistency",
        description=(
            "Write a PNG grid with one row per folder (source, predictions of several models, "
            "target...) and one column per photo of group G."
        ),
    )
    compare.add_argument("--rows", required=True, metavar="DIR1,DIR2,...",
                         help="comma-separated folders, one row each, top to bottom")
    compare.add_argument("--labels", metavar="L1,L2,...",
                         help="comma-separated row labels (default: folder names)")
    compare.add_argument("--group", required=True, metavar="G", help="group id, e.g. 1356")
    compare.add_argument("--out", required=True, type=Path, metavar="FILE",
                         help="output PNG")
    compare.add_argument("--max-photos", type=number_type(int, low=1),
                         metavar="N",
                         help="show at most N photos of the group")
    compare.add_argument("--cell-height", type=number_type(int, low=8, high=4096),
                         default=180, metavar="PX",
                         help="height of each photo cell in pixels (default %(default)s)")
    compare.add_argument("--overwrite", action="store_true",
                         help="replace an existing --out file (refused otherwise)")
    compare.set_defaults(func=run_compare)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _check_outputs(args: argparse.Namespace, outputs: list[tuple[str, Path]],
                   files: list[Path]) -> None:
    """Refuse an output path inside an input folder or the dataset that holds them, and
    existing report files without ``--overwrite``."""
    from ppr10k.io.guard import check_not_replacing, check_output_folder

    inputs = [args.pred, args.target, args.masks]
    # ROOT/val/target_a, ROOT/val/masks: nothing is written anywhere in ROOT
    datasets = [folder.resolve().parent.parent for folder in (args.target, args.masks)
                if folder.resolve().parent.name in ("train", "val")]
    for option, path in outputs:
        check_output_folder(path, inputs, option=option, what="an input folder",
                            contain=False)
        check_output_folder(path, datasets, option=option, what="the dataset",
                            contain=False)
    check_not_replacing(files, args.overwrite)


def run_evaluate(args: argparse.Namespace) -> int:
    """Score the folders, print the table, write the requested reports."""
    from ppr10k.evaluate import (
        GROUP_COLUMNS,
        IMAGE_COLUMNS,
        default_group_csv,
        evaluate_folders,
        format_table,
        write_plots,
        write_rows_csv,
        write_summary_json,
    )

    for option, path in (("--csv", args.csv), ("--group-csv", args.group_csv),
                         ("--json", args.json)):
        check_output_file(path, option)
    check_output_folder(args.plots, "--plots")
    group_csv = args.group_csv or (default_group_csv(args.csv) if args.csv else None)
    outputs = [(o, p) for o, p in (("--json", args.json), ("--csv", args.csv),
                                   ("--group-csv", group_csv)) if p is not None]
    files = [path for _, path in outputs]
    if args.plots:
        from ppr10k.evaluate.plots import PLOT_FILES

        outputs.append(("--plots", args.plots))
        files += [args.plots / name for name in PLOT_FILES.values()]
    _check_outputs(args, outputs, files)

    cap = None if args.psnr_cap == float("inf") else args.psnr_cap
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images, groups, summary = evaluate_folders(
            args.pred, args.target, args.masks, workers=args.workers, strict=args.strict,
            psnr_cap=cap, progress=not args.no_progress, strict_colour=args.strict_colour,
        )
    for warning in caught:
        print(f"ppr10k evaluate: warning: {warning.message}", file=sys.stderr)
    for failure in summary.get("failed", []):
        print(f"ppr10k evaluate: error: {failure['reason']}", file=sys.stderr)

    written = []
    if args.csv:
        written.append(write_rows_csv(args.csv, images, IMAGE_COLUMNS))
    if group_csv:
        written.append(write_rows_csv(group_csv, groups, GROUP_COLUMNS))
    if args.json:
        written.append(write_summary_json(args.json, summary))
    if args.plots:
        written.extend(write_plots(images, groups, args.plots))

    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "ΔE".encode(encoding)
        ascii_only = False
    except (UnicodeEncodeError, LookupError):
        ascii_only = True
    print(format_table(summary, ascii_only=ascii_only))
    for path in written:
        print(f"wrote {path}")
    failed = summary.get("failed", [])
    if failed:
        print(f"ppr10k evaluate: {len(failed)} of {len(failed) + summary['n_images']} pairs "
              "could not be scored (named above); the rest are scored", file=sys.stderr)
        return 1
    return 0


def run_compare(args: argparse.Namespace) -> int:
    """Write the comparison sheet."""
    from ppr10k.evaluate import compare_sheet
    from ppr10k.io.guard import check_not_replacing, check_output_folder

    rows = _split(args.rows)
    check_output_folder(args.out, rows, what="an input folder", contain=False)
    check_not_replacing([args.out], args.overwrite)
    labels = _split(args.labels) if args.labels else None
    out = compare_sheet(rows, args.group, args.out, labels=labels, max_photos=args.max_photos,
                        cell_height=args.cell_height)
    print(f"wrote {out}")
    return 0
