"""`ppr10k data check` (placeholder until its issue lands)."""

from __future__ import annotations


def register(subparsers) -> None:
    """Add `data check` to the `data` subparsers."""
