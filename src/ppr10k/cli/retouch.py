"""`ppr10k retouch` (placeholder until its issue lands)."""

from __future__ import annotations


def register(subparsers) -> None:
    """Add the `retouch` subcommand(s)."""
