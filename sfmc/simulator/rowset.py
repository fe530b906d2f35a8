"""Placeholder, filled in next."""

from __future__ import annotations


def register(router) -> None:  # noqa: ANN001
    """Add this module's routes."""
