"""`ppr10k xmp` (placeholder until its issue lands)."""

from __future__ import annotations


def register(subparsers) -> None:
    """Add the `xmp` subcommand(s)."""
