"""Column-wise reading of plain CSV files with pyarrow's CSV reader: the import's fast path.

The line reader (`store.csv_source`) costs about 4 s of Python per 1,000,000 rows (the `csv`
module plus one generator layer per check) and hands the importer rows it must transpose.
pyarrow parses the same file in C++ into columns, which is what the importer's statistics and
the table writer work on. It reads only what the line reader would read the same way: UTF-8
without bad bytes, NUL bytes or an unclosed quote (`store.csv_source._scan`), and
it hands the file back (`NotPlain`) on anything else: a row of the wrong width, a blank-looking
row it cannot settle, a parse error, a limit reached. The line reader then reads the file from
the start and refuses such rows with their line numbers, as before.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from itertools import compress
from operator import not_
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as arrow_csv

from store.import_limits import ImportBudget, ImportLimits

BLOCK_BYTES = 1 << 20  # one block of the file parsed at a time (about 6,000 rows of donors)


def _own_stream(fh: IO[bytes]) -> pa.NativeFile | None:
    """The file's bytes as a stream arrow reads without Python, or None when there is none.

    arrow reads ahead on a thread of its own: given the importer's file object, that thread
    would call into Python (and still be reading it when the line reader takes over). A file
    on disk is opened again by its name; an upload in memory is read from its bytes (which
    `getvalue` shares with the upload rather than copies).
    """
    if isinstance(fh, io.BytesIO):
        return pa.BufferReader(fh.getvalue())
    name = getattr(fh, "name", None)
    if isinstance(fh, io.BufferedReader) and isinstance(name, str) and os.path.isfile(name):
        return pa.OSFile(name)
    return None


class NotPlain(Exception):
    """The file holds something only the line reader handles: read it that way instead."""


class ColumnReader:
    """The records of a plain CSV file as columns of strings, `size` records at a time."""

    def __init__(self, fh: IO[bytes], delimiter: str, fields: int) -> None:
        stream = _own_stream(fh)
        if stream is None:
            raise NotPlain
        try:
            self._batches = arrow_csv.open_csv(
                stream,
                read_options=arrow_csv.ReadOptions(
                    autogenerate_column_names=True, block_size=BLOCK_BYTES, use_threads=False
                ),
                # An empty line is a record of empty values, blank as the line reader's is.
                parse_options=arrow_csv.ParseOptions(
                    delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=False
                ),
                convert_options=arrow_csv.ConvertOptions(
                    column_types={f"f{i}": pa.string() for i in range(fields)}
                ),
            )
        except (pa.ArrowException, OSError) as exc:
            stream.close()
            raise NotPlain(str(exc)) from exc
        self._stream = stream
        self.fields = fields
        self._repeats: list[bool | None] = [None] * fields  # see `_values`
        try:
            self._rest: list[list[str]] = self._next() or [[] for _ in range(fields)]
        except NotPlain:
            self.close()
            raise

    def close(self) -> None:
        """Stop reading (arrow reads ahead on a thread of its own) and close the stream."""
        self._batches.close()
        self._stream.close()

    def _next(self) -> list[list[str]] | None:
        """The next block's columns, or None at the end of the file."""
        try:
            batch = next(self._batches)
        except StopIteration:
            return None
        except (pa.ArrowException, OSError) as exc:  # a ragged row, a value over a block...
            raise NotPlain(str(exc)) from exc
        if batch.num_columns != self.fields or any(c.type != pa.string() for c in batch.columns):
            raise NotPlain  # a row wider than the first one
        return [self._values(i, c) for i, c in enumerate(batch.columns)]

    def _values(self, i: int, column: pa.StringArray) -> list[str]:
        """A block's values of column `i`, one Python string per distinct value if they repeat.

        A value that repeats is then one object: its hash and its UTF-8 bytes are computed
        once for the statistics and the inserts, not once per cell. Whether a column repeats
        (fewer than one distinct value in 10) is judged on the first block and kept while it
        holds; unique columns (ids, emails) are converted directly.
        """
        if self._repeats[i] is False or column.null_count:
            return column.to_pylist()
        encoded = pc.dictionary_encode(column)
        words = encoded.dictionary.to_pylist()
        self._repeats[i] = len(words) * 10 < len(column)
        return list(map(words.__getitem__, encoded.indices.to_pylist()))

    def first_row(self) -> list[str]:
        """The first record (the header, or a headerless file's first row)."""
        if not self._rest[0]:
            raise NotPlain
        return [column[0] for column in self._rest]

    def chunks(
        self, size: int, skip: int, width: int, budget: ImportBudget, limits: ImportLimits
    ) -> Iterator[tuple[int, list[list[Any]], int]]:
        """The records after the first `skip`, `size` at a time, as the importer's chunks.

        Each chunk is (records read, the columns of the rows kept, blank rows left out), as
        the line reader's records give them (`store.importer._row_chunks`).

        Raises:
            NotPlain: a chunk goes over a limit of the budget or may end a long run of blank
                rows: the line reader then stops at the exact record, with the same message.
        """
        rest = [column[skip:] for column in self._rest]
        looks_blank = 0
        while True:
            while len(rest[0]) < size and (more := self._next()) is not None:
                for column, added in zip(rest, more, strict=True):
                    column.extend(added)
            if not rest[0]:
                return
            chunk = [column[:size] for column in rest]
            rest = [column[size:] for column in rest]
            records = len(chunk[0])
            if not budget.take(records, records * self.fields):
                raise NotPlain
            columns, blank, blankish = settle_chunk(chunk, width)
            looks_blank += blankish
            if looks_blank >= limits.blank_run:
                raise NotPlain
            yield records, columns, blank
            budget.check_clock()


def settle_chunk(columns: list[list[str]], width: int) -> tuple[list[list[Any]], int, int]:
    """A chunk's data columns, cut to `width`, without its blank rows.

    Returns the columns, how many rows were blank (left out, as the line reader leaves out a
    record whose first value is empty and whose values are all spaces) and how many rows look
    blank (the first value only spaces too: the line reader counts them towards a run of blank
    rows, but imports them).

    Raises:
        NotPlain: a row has a value beyond the header's width (the line reader refuses it).
    """
    looks_blank = list(compress(range(len(columns[0])), map(not_, map(str.strip, columns[0]))))
    looks_blank = [i for i in looks_blank if not any(c[i].strip() for c in columns[1:])]
    if any(any(map(str.strip, extra)) for extra in columns[width:]):
        raise NotPlain  # a value beyond the header's columns: the line reader refuses its row
    columns = columns[:width]
    blank = [i for i in looks_blank if columns[0][i] == ""]
    if blank:
        drop = set(blank)
        keep = [i not in drop for i in range(len(columns[0]))]
        columns = [list(compress(column, keep)) for column in columns]
    return columns, len(blank), len(looks_blank)
