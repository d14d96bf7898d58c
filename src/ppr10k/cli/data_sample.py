"""`ppr10k data sample` (placeholder until its issue lands)."""

from __future__ import annotations


def register(subparsers) -> None:
    """Add `data sample` to the `data` subparsers."""
