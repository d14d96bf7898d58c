"""`ppr10k data split` (placeholder until its issue lands)."""

from __future__ import annotations


def register(subparsers) -> None:
    """Add `data split` to the `data` subparsers."""
