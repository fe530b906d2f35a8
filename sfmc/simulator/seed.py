"""Placeholder, filled in next."""

from __future__ import annotations


def apply(tenant, name: str) -> None:  # noqa: ANN001
    """Seed the tenant."""
