"""What one import may cost: time, rows, cells, blank rows in a row, and XLSX archive sizes.

An upload is untrusted: a 5 KB workbook can declare a million padded rows, a 200 KB one can
unpack to gigabytes of XML, and a file can simply be far bigger than the server can take. The
import checks these limits as it reads (`ImportBudget`) and before it parses a workbook
(`store.xlsx_source`), and ends with a message that says which limit was hit and what to do.

Each limit can be changed through an environment variable (read when an import starts). The
defaults let the 1M-row benchmark file (`python -m bench import`: 173 MB of CSV, 14 columns,
about 150 s) through with room to spare: twice its rows, six times its time.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from store.errors import DataSetError

MB = 1024 * 1024
# A column costs a text column and at most one typed companion (`store.typed_columns`):
# 2 x 500 + `_row` stays under PostgreSQL's 1,600 and SQLite's 2,000 columns per table.
MAX_COLUMNS = 500
CSV_INSTEAD = "Save the sheet as CSV (UTF-8) and upload that: CSV files are read as a stream."


def _env_number(name: str, default: float) -> float:
    """A positive number from the environment, or `default` when unset or not a number."""
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value > 0 else default


@dataclass(frozen=True)
class ImportLimits:
    """The limits of one import; `from_env()` gives the configured ones."""

    max_seconds: float = 900.0
    max_rows: int = 2_000_000  # rows read: imported, refused and blank
    max_cells: int = 50_000_000  # rows read x columns
    blank_run: int = 10_000  # the import stops after this many blank rows in a row
    # XLSX, checked on the archive's directory before anything is unpacked:
    xlsx_part_mb: int = 16  # parts parsed whole (workbook, styles, relations...)
    xlsx_sheet_mb: int = 1024  # worksheets, which are streamed
    xlsx_total_mb: int = 1536  # everything unpacked
    xlsx_strings_mb: int = 32  # sharedStrings.xml: held in memory (about 5x its size)
    xlsx_parts: int = 10_000

    @classmethod
    def from_env(cls) -> ImportLimits:
        """The defaults, each overridden by its `PATHWAYS_IMPORT_*` variable when set."""
        d = cls()
        return cls(
            max_seconds=_env_number("PATHWAYS_IMPORT_MAX_SECONDS", d.max_seconds),
            max_rows=int(_env_number("PATHWAYS_IMPORT_MAX_ROWS", d.max_rows)),
            max_cells=int(_env_number("PATHWAYS_IMPORT_MAX_CELLS", d.max_cells)),
            blank_run=int(_env_number("PATHWAYS_IMPORT_BLANK_RUN", d.blank_run)),
            xlsx_part_mb=int(_env_number("PATHWAYS_IMPORT_XLSX_PART_MB", d.xlsx_part_mb)),
            xlsx_sheet_mb=int(_env_number("PATHWAYS_IMPORT_XLSX_SHEET_MB", d.xlsx_sheet_mb)),
            xlsx_total_mb=int(_env_number("PATHWAYS_IMPORT_XLSX_TOTAL_MB", d.xlsx_total_mb)),
            xlsx_strings_mb=int(_env_number("PATHWAYS_IMPORT_XLSX_STRINGS_MB", d.xlsx_strings_mb)),
            xlsx_parts=int(_env_number("PATHWAYS_IMPORT_XLSX_PARTS", d.xlsx_parts)),
        )


class ImportBudget:
    """Ends an import that reads too many rows or cells, or runs too long.

    `check` is called for every record read (blank and refused ones too), so a file of blank
    rows is bounded like any other; the clock is read every `CLOCK_EVERY` records.
    """

    CLOCK_EVERY = 256

    def __init__(self, limits: ImportLimits, filename: str) -> None:
        self.limits, self.filename = limits, filename
        self.started = time.monotonic()
        self.rows = 0
        self.cells = 0

    def check(self, width: int) -> None:
        """Count one record of `width` values.

        Raises:
            DataSetError: a limit was reached; the message names it and what to do.
        """
        self.rows += 1
        self.cells += width
        limits = self.limits
        if self.rows > limits.max_rows:
            self._stop(f"more than {limits.max_rows:,} rows", "PATHWAYS_IMPORT_MAX_ROWS")
        if self.cells > limits.max_cells:
            self._stop(f"more than {limits.max_cells:,} cells", "PATHWAYS_IMPORT_MAX_CELLS")
        if self.rows % self.CLOCK_EVERY == 0:
            self.check_clock()

    def take(self, rows: int, cells: int) -> bool:
        """Count `rows` records of `cells` values in all, unless that goes over a limit.

        The column-wise reader checks a chunk of records at once; when the chunk goes over,
        it hands the file to the line reader, whose `check` stops at the exact record.
        """
        limits = self.limits
        if self.rows + rows > limits.max_rows or self.cells + cells > limits.max_cells:
            return False
        self.rows += rows
        self.cells += cells
        return True

    def restart(self) -> None:
        """Count from zero again (the file is read again from its start); the clock runs on."""
        self.rows = self.cells = 0

    def check_clock(self) -> None:
        """Raise `DataSetError` once the import has run longer than allowed."""
        if time.monotonic() - self.started > self.limits.max_seconds:
            self._stop(
                f"more than {self.limits.max_seconds:,.0f} seconds to read",
                "PATHWAYS_IMPORT_MAX_SECONDS",
            )

    def _stop(self, what: str, variable: str) -> None:
        msg = (
            f"{self.filename!r} was not imported: it takes {what}, the most one import may "
            f"(after {self.rows:,} rows). Split it into smaller files, or remove unused "
            f"columns and blank rows; an administrator can raise the limit ({variable})."
        )
        raise DataSetError(msg)
