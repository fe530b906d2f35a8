"""The encoding scan: valid UTF-8 is settled by one strict pass; a stray byte anywhere (even
past the first megabyte) still gets the full count and its line refused."""

from __future__ import annotations

from store.importer import import_file

MB = 1024 * 1024


def _rows_to(size: int) -> bytes:
    """A header and rows of "n,café" until `size` bytes."""
    out, i = [b"n,word\n"], 0
    length = len(out[0])
    while length < size:
        i += 1
        line = f"{i},café\n".encode()
        out.append(line)
        length += len(line)
    return b"".join(out)


def test_a_character_across_the_scan_chunks_is_valid(engine):
    rows = (MB - 1 - 6) // 4
    prefix = b"a,b\n" + b"1,x\n" * rows + b"2,"
    prefix += b"y" * (MB - 1 - len(prefix))
    data = prefix + "é\n".encode()  # é's two bytes on either side of the first megabyte
    report = import_file(engine, data, name="straddle", filename="s.csv")
    assert report.encoding == "utf-8"
    assert report.rows_refused == 0
    assert report.rows_imported == rows + 1


def test_a_stray_byte_after_the_first_megabyte_is_refused_with_its_line(engine):
    data = _rows_to(2 * MB)
    lines = data.count(b"\n")
    report = import_file(engine, data + b"99,caf\xe9\n7,ok\n", name="stray", filename="s.csv")
    assert report.encoding == "utf-8"
    assert [(p["line"], p["kind"]) for p in report.problems] == [(lines + 1, "undecodable")]
    assert report.rows_imported == lines  # the rows before it (the header aside) and "7,ok"
