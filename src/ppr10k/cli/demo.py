"""`ppr10k demo` (placeholder until its issue lands)."""

from __future__ import annotations


def register(subparsers) -> None:
    """Add the `demo` subcommand(s)."""
