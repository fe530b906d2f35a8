"""Errors of the store that several of its modules raise; the message says what to do."""

from __future__ import annotations


class InUseError(ValueError):
    """A row cannot be deleted because other rows still depend on it."""


class DataSetError(ValueError):
    """The file cannot become a data set; the message says what to fix."""
