"""The pathway store: SQLModel tables and the functions that read and write them.

One concept per module, and one convention for the public API:

- Repositories take a keyword-only `*, session: Session` (tiangolo style), commit at most once
  and return the row or None: `connections`, `datasets`, `audiences`, `pathways` (with their
  column mappings), `users`, `audit`. Pages open a short `Session(engine)` per rerun.
- Where a sync's hot path or a bulk transfer needs it, a module uses SQLAlchemy Core with the
  `engine` as first argument instead and manages its own short transactions; its docstring
  says so and why: `queue` (enqueue, claim, progress, finish), `ledger` (checkpoints, ledger,
  refusals), `schedules`, `status`, `reports` (rejected rows as CSV), `audience_rows`
  (counts, previews, the chunked row stream), `importer` and `typed_columns` (file import).

Also: `models` (tables), `db` (engine and schema), `filters` (audience filters as SQL
expressions), `csv_source` and `xlsx_source` (reading uploads), `import_limits` (what one
import may cost), `table_writer` (a new data set's table), `inference` (column types),
`fieldtypes` with `fieldchecks`, `fieldconvert` and `fieldvalues` (SFMC's value rules, one entry
per field type),
`revisions` (row revisions), `key_spaces` (key values with spaces around them),
`refresh` with `refresh_checks` (new versions of a data set), `dataset_versions` (their
history), `sql_source` (database sources), `run_changes` (what a run changed),
`crypto` (secrets and the registry of encrypted columns), `migrations` (schema upgrades:
Alembic revisions, `apply`, `autogen`), the shell commands `cli_*` (`python -m store`),
`settings`, `errors`, `demo` (the demo workspace) with `demo_history` (its pathways and runs). The store imports nothing from the engine (`sync/`), the SFMC client or the UI.
"""
