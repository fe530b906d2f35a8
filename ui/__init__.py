"""The layer between the pages and the rest (DESIGN.md §3).

`ui.state` is the only Streamlit glue (session keys, caches, the signed-in user). Every other
module here is a use case in plain Python (no `import streamlit`), tested without AppTest: what a
page does to the store, the engine or the client goes through one of them.
"""
