"""`ppr10k models`: the model families and the built-in zoo."""

from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    """Add the `models` subcommand."""
    p = subparsers.add_parser(
        "models", help="list the model families and the built-in model zoo",
        description="List the registered model families and the zoo models shipped with "
                    "ppr10k (use a zoo name as --model).")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ppr10k.models.zoo import zoo_listing

    listing = zoo_listing()
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    print("families:")
    for family in listing["families"]:
        print(f"  {family['name']:8s} {family['summary']} ({family['reference']})")
    print("\nzoo models (--model NAME; * = default for `ppr10k retouch`):")
    header = (f"  {'name':26s} {'family':7s} {'input':6s} {'size':>7s} {'licence':11s} "
              f"{'sample PSNR':>11s} {'ΔE':>5s}  trained on")
    print(header)
    for row in listing["zoo"]:
        mark = "*" if row["default"] else " "
        score = row.get("sample_set") or {}
        psnr = f"{score['psnr']:.2f}" if "psnr" in score else "n/a"
        delta_e = f"{score['delta_e']:.2f}" if "delta_e" in score else "n/a"
        print(f"{mark} {row['name']:26s} {row['family']:7s} {row['input_space']:6s} "
              f"{row['size_mb']:6.2f}M {row['licence']:11s} {psnr:>11s} {delta_e:>5s}  "
              f"{row['trained_on']}")
    if listing.get("sample_set_note"):
        print(f"\n{listing['sample_set_note']}")
    return 0
