"""Manage Pathways (everyone views; staff act): status, sync now, pause, delete, history."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages import _actions
from pages import _widgets as widgets
from pages._alerts import alert_settings
from pages._run_details import run_picker
from store.audiences import list_audiences
from store.connections import list_connections
from store.pathways import list_pathways
from store.queue import active_run, list_runs
from store.status import pathway_status, run_outcome
from ui import changes, rejects, state
from ui import schedules as usched
from ui import sending as usend
from ui.text import code, md

user = state.require_role("staff", "analyst")
can_act = user.can("staff")
st.title("Manage Pathways")
engine = state.get_engine()
with state.session() as session:
    conns = {c.id: c.name for c in list_connections(session=session)}
    auds = {a.id: a.name for a in list_audiences(session=session)}
    pathways = list_pathways(session=session)
if not pathways:
    who = "Create" if can_act else "Staff create"
    st.info(
        f"No pathways yet. {who} one on **Push Audiences**: pick an audience, a connection, "
        "and confirm."
    )
    st.stop()
if not can_act:
    st.caption("You can view pathways and download reports; staff run and change them.")


def history(p: object) -> None:
    runs = list_runs(engine, p.id, limit=200)
    if not runs:
        st.caption("No runs yet.")
        return
    frame = pd.DataFrame(
        [
            {
                "Run": r.id,
                "Started": widgets.fmt_when(r.started_at or r.created_at),
                "Outcome": run_outcome(r).word,
                **changes.change_columns(r),
                "Dry run": "yes" if r.dry_run else "",
                "Written": r.rows_succeeded,
                "Rejected": r.rows_failed,
                "Unchanged or skipped": r.rows_skipped,
                "Deleted": r.rows_deleted,
                "API calls": r.api_calls,
            }
            for r in runs
        ]
    )
    real = frame[frame["Dry run"] == ""].head(20)
    if len(real):
        chart = real.assign(
            Run=[f"#{r} · {s[:12]}" for r, s in zip(real["Run"], real["Started"], strict=True)]
        )
        st.bar_chart(
            chart.set_index("Run")[["Written", "Rejected", "Unchanged or skipped"]],
            color=["#0b6e4f", "#c0392b", "#9e9e9e"],
            horizontal=True,
            height=160 + 40 * len(chart),  # room for the axis and legend even with one run
            x_label="",
            y_label="Rows",
        )
    widgets.paginated(frame, key=f"pw_hist_page_{p.id}", page_size=10)
    run_picker(runs, key=f"pw_run_{p.id}")
    failed = [r for r in runs if r.rows_failed and not r.dry_run]
    if failed:
        st.markdown("**Rejected rows** — " + rejects.REJECTED_FIX)
        for n, r in enumerate(failed[:10]):
            data = widgets.rejected_download(r, key_prefix=f"pw{p.id}")
            if n == 0:
                for line in rejects.rejected_help(rejects.error_type_counts(data)):
                    st.markdown(f"- {line}")


by_conn: dict[int, list] = {}
for p in pathways:
    by_conn.setdefault(p.connection_id, []).append(p)
for conn_id, items in by_conn.items():
    with st.expander(
        f"{md(conns.get(conn_id, 'Deleted connection'))} — {len(items)} pathway(s)", expanded=True
    ):
        for p in items:
            label = f"{auds.get(p.audience_id, '?')} → {p.de_name}"
            status = pathway_status(engine, p.id)
            with st.container(border=True):
                st.markdown(
                    f"**{md(label)}**  \n{code(p.de_customer_key)} · {md(p.category_path or '')}"
                    + usend.card_suffix(p)
                )
                m = st.columns([2, 1, 1, 1, 1])
                m[0].markdown(f"**Sync status**  \n{widgets.outcome_text(status.outcome)}")
                m[1].metric("Written (last sync)", f"{status.last_successes or 0:,}")
                m[2].metric("Rejected (last sync)", f"{status.last_failures or 0:,}")
                m[3].metric(
                    "Last synced",
                    widgets.fmt_ago(status.last_synced),
                    help=widgets.fmt_when(status.last_synced),
                )
                # Words, not a figure (like the status): a metric's large type cut "Manual only".
                upcoming = (
                    widgets.fmt_ago(status.next_run)
                    if status.next_run
                    else usched.title(p.schedule)
                )
                m[4].markdown(f"**Next run**  \n{md(upcoming)}")
                if can_act:
                    _actions.actions(p, label, status, user)
                running = active_run(engine, p.id)
                last = widgets.load_run(status.last_run_id) if status.last_run_id else None
                if running is not None:
                    widgets.live_run(running.id, key=f"pw{p.id}")
                elif last is not None and last.state == "needs_confirm":
                    widgets.mirror_stop(last, key=f"pw{p.id}")
                elif status.message:
                    st.caption(md(status.message))
                st.caption(changes.change_words(last))
                with st.expander("Run history and rejected rows"):
                    history(p)
                if can_act:
                    with st.expander("Alerts", icon=":material/notifications:"):
                        alert_settings(
                            user.username, connection_id=p.connection_id, pathway_id=p.id,
                            key=f"pw_alerts_{p.id}",
                        )  # fmt: skip
