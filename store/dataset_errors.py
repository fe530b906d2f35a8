"""The error of data set imports, shared by the file readers and the import itself."""

from __future__ import annotations


class DataSetError(ValueError):
    """The file cannot become a data set; the message says what to fix."""
