"""`ppr10k data stats` (placeholder until its issue lands)."""

from __future__ import annotations


def register(subparsers) -> None:
    """Add `data stats` to the `data` subparsers."""
