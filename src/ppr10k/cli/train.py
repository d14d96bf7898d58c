"""`ppr10k train` (placeholder until its issue lands)."""

from __future__ import annotations


def register(subparsers) -> None:
    """Add the `train` subcommand(s)."""
