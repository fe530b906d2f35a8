"""The sync engine: plan, preflight, send and tally rows into one SFMC destination.

`sync.push.push_rows` is the engine (no store, no Streamlit); `sync.runner.run_pathway` is the one
place that joins the engine, the SFMC client (`sfmc/`) and the store (`store/`).
"""
