"""Audit log (admin): who did what and when; filter, page through, download as CSV."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import streamlit as st

from pages import _widgets as widgets
from store.audit import AuditFilter, audit_csv, audit_people_and_actions, find_audit
from ui import state

PAGE_SIZE = 50

user = state.require_role("admin")
st.title("Audit log")
st.caption(
    "Who did what, and when: connections, data sets, audiences, pathways, runs, confirmations, "
    "sign-ins and user changes. Times are UTC."
)
with state.session() as session:
    people, actions = audit_people_and_actions(session=session)

left, mid, right = st.columns([1, 2, 1.4])
who = left.selectbox("Who", ["Everyone", *people], key="audit_who")
chosen = mid.multiselect("What", actions, placeholder="Every action", key="audit_actions")
today = datetime.now(UTC).date()
days = right.date_input(
    "When", value=(today - timedelta(days=30), today), max_value=today, key="audit_days"
)
text = st.text_input("Detail contains", key="audit_text", placeholder="a name, a run number…")

first, last = (days[0], days[-1]) if isinstance(days, (tuple, list)) and days else (None, None)
selected = AuditFilter(
    who="" if who == "Everyone" else who,
    actions=tuple(chosen),
    since=datetime.combine(first, time.min, tzinfo=UTC) if first else None,
    until=datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC) if last else None,
    text=text.strip(),
)
with state.session() as session:
    _probe, total = find_audit(selected, session=session, limit=1)
if not total:
    st.info("No events match these filters: widen the dates or clear a filter.")
    st.stop()

pages = max(1, -(-total // PAGE_SIZE))
page = 1
if pages > 1:
    page = int(
        st.number_input(
            f"Page (of {pages:,})", min_value=1, max_value=pages, value=1, key="audit_page"
        )
    )
with state.session() as session:
    rows, total = find_audit(
        selected, session=session, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
start = (page - 1) * PAGE_SIZE
st.caption(f"Events {start + 1:,}–{start + len(rows):,} of {total:,}, newest first.")
widgets.table(
    [
        {"When": widgets.fmt_when(e.at), "Who": e.who, "Action": e.action, "Detail": e.detail}
        for e in rows
    ],
    width="stretch",
)
with state.session() as session:
    data = audit_csv(selected, session=session)
st.download_button(
    f"Download these {total:,} events (CSV)",
    data=data,
    file_name=f"pathways-audit-{today:%Y%m%d}.csv",
    mime="text/csv",
    icon=":material/download:",
    help="Spreadsheet-safe: a cell that starts with = + - or @ gets a leading apostrophe.",
    key="audit_download",
)
