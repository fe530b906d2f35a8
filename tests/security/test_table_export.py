"""Spreadsheet formulas in the tables' own download (issue 21 item 6).

Streamlit's table toolbar ("Download as CSV") writes the cells as shown. Audiences -> Preview
rows wrote `=1+1`, `@SUM(1)`, `+3`, `-2` as they were, though the import note promises that
such cells are escaped in downloads. Every read-only table of the pages goes through
`pages._widgets.table`, which shows text cells with the rejected-rows report's escaping
(`store.reports.spreadsheet_cell`).
"""

from __future__ import annotations

import csv
import io
import re

import pandas as pd

from store.reports import spreadsheet_cell
from tests.pages.conftest import ROOT, page_app
from ui.text import sheet_safe

FORMULAS = ("=1+1", "@SUM(1)", "+3", "-2", '=HYPERLINK("http://x")')


def _csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["email", "note", "amount"])
    writer.writerows([f"p{i}@example.org", f, -2 + i] for i, f in enumerate(FORMULAS))
    return out.getvalue().encode()


def _formula_cells(frame: pd.DataFrame) -> list[str]:
    return [
        v
        for col in frame.columns
        for v in frame[col]
        if isinstance(v, str) and v.startswith(("=", "+", "-", "@"))
    ]


def test_sheet_safe_uses_the_report_rule_on_text_only():
    frame = pd.DataFrame({"note": [*FORMULAS, "ok", None], "n": [-2, 1, 2, 3, 4, 5, 6]})
    safe = sheet_safe(frame)
    assert list(safe["note"][: len(FORMULAS)]) == [spreadsheet_cell(f) for f in FORMULAS]
    assert safe["note"][5] == "ok"
    assert pd.isna(safe["note"][6])
    assert safe["n"].tolist() == frame["n"].tolist()  # numbers stay numbers (a -2 is no formula)
    assert frame["note"][0] == "=1+1"  # the caller's frame is left alone


def test_audiences_tables_download_escaped_formulas(store_env):
    from ui import audiences as uaud
    from ui import state as deps

    page_app("pages/audiences.py", "staff").run()  # creates the store
    report = uaud.import_dataset(
        deps.get_engine(), io.BytesIO(_csv()), name="formulas", filename="f.csv", who="t"
    )
    assert any("escaped in downloads" in note for note in report["notes"]), report["notes"]
    at = page_app("pages/audiences.py", "staff").run()
    assert not at.exception, at.exception
    # The matching rows of a new audience are previewed on demand, once it has a filter.
    at.session_state[deps.AUD_FILTERS] = [{"column": "email", "op": "contains", "value": "@"}]
    at.run()
    at.toggle(key="aud_match_preview").set_value(True).run()
    assert not at.exception, at.exception
    frames = [d.value for d in at.dataframe]
    notes = [f for f in frames if "note" in f.columns]
    assert len(notes) == 2, frames  # Preview rows, and the matching rows of a new audience
    for frame in frames:
        assert not _formula_cells(frame), _formula_cells(frame)
    shown = set(notes[0]["note"])
    assert {spreadsheet_cell(f) for f in FORMULAS} <= shown
    assert "'-2" in set(notes[0]["amount"])  # the preview shows the data set's text


def test_every_read_only_table_of_the_pages_goes_through_widgets_table():
    """A new `st.dataframe` in a page would bring the unescaped download back."""
    calls = {
        path.name: len(re.findall(r"\bst\.dataframe\(", path.read_text(encoding="utf-8")))
        for path in (ROOT / "pages").glob("*.py")
    }
    assert {name: n for name, n in calls.items() if n} == {"_widgets.py": 1}
