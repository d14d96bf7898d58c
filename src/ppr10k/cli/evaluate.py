"""`ppr10k evaluate` (placeholder until its issue lands)."""

from __future__ import annotations


def register(subparsers) -> None:
    """Add the `evaluate` subcommand(s)."""
