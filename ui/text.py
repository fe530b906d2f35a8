"""Text from users, uploads or Marketing Cloud, made safe to show (no Streamlit here).

Streamlit renders Markdown in most places that show text: `st.markdown`, captions, alert and
toast bodies, widget and expander labels, radio options, metric labels and values. A name such
as `![a](http://host/x.png) [Re-login](javascript:…)` would fetch an image or show a link there,
so every value that comes from a user or from SFMC (names, keys, folder paths, filter values,
messages) goes through `md` (or `code`) before it joins page-authored Markdown. Elements that
show plain text (selectbox and multiselect options, text inputs, dataframe cells) get the raw
value: escaping there would show the backslashes.

Tables get `sheet_safe`: Streamlit's table toolbar downloads what is shown as CSV, and a cell
starting with `=`, `+`, `-` or `@` runs as a formula in a spreadsheet; the rule is the one of
the rejected-rows report (`store.reports.spreadsheet_cell`).
"""

from __future__ import annotations

import re

import pandas as pd

from store.reports import spreadsheet_cell

_NEWLINES = re.compile(r"[\r\n]+")
# Escaped wherever they stand: code spans, emphasis, link/image brackets, HTML and autolinks
# (`<`), LaTeX, strikethrough, entities, and the backslash itself.
_ALWAYS = frozenset("\\`*[]<~$&")
# Escaped when they start the value: they would start a heading, quote or list when the value
# opens a line (a value after a hard line break "  \n" does).
_LEADING = frozenset("#>-+=")
_ORDERED = re.compile(r"\d{1,9}[.)]")
# GitHub's bare-URL and e-mail autolinks need "http://", "https://" or "www." written in one
# piece before a domain, or an address character just before "@": an invisible word joiner
# inside keeps the text and drops the link ("https://" alone, with no domain after it, is kept).
_WORD_JOINER = "\u2060"
_AUTOLINKS = re.compile(r"(?<=http)(?=s?://\S)|(?<=www)(?=\.)|(?=@)", re.IGNORECASE)
_BACKTICKS = re.compile(r"`+")


def _one_line(value: object) -> str:
    return _NEWLINES.sub(" ", "" if value is None else str(value))


def _escape_char(text: str, i: int) -> bool:
    char = text[i]
    if char in _ALWAYS:
        return True
    if char == "_":  # inside a word ("first_name") it cannot start emphasis: keep it readable
        return not (0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum())
    return i == 0 and char in _LEADING


def md(value: object) -> str:
    """`value` as Markdown that renders as the same text: no link, image, HTML or formatting.

    Newlines become spaces (a value cannot end the paragraph it is put in). The escapes are
    backslashes Markdown removes when rendering, so normal names read as they are.
    """
    text = _one_line(value)
    out = "".join("\\" + c if _escape_char(text, i) else c for i, c in enumerate(text))
    ordered = _ORDERED.match(out)
    if ordered:  # "1. Name" would become a numbered list
        out = out[: ordered.end() - 1] + "\\" + out[ordered.end() - 1 :]
    return _AUTOLINKS.sub(_WORD_JOINER, out)


def code(value: object) -> str:
    """`value` as an inline code span (keys, addresses), whatever backticks it contains.

    The fence is one backtick longer than the longest run inside, so the value cannot close it;
    Markdown is not interpreted inside a code span.
    """
    text = _one_line(value)
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if not text or text[0] in "` " or text[-1] in "` " else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def sheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells a spreadsheet will not run as formulas.

    Only text cells change (`=1+1` -> `'=1+1`); numbers, dates and empty cells stay as they are,
    so the table sorts and formats as before. Column headers are not changed: the pages' tables
    are headed by fixed titles or by the store's safe column names (letters, digits, `_`).
    """
    out = frame.copy()
    for i, dtype in enumerate(out.dtypes):
        if not pd.api.types.is_numeric_dtype(dtype):
            out.isetitem(i, out.iloc[:, i].map(_sheet_cell))
    return out


def _sheet_cell(value: object) -> object:
    return spreadsheet_cell(value) if isinstance(value, str) else value
