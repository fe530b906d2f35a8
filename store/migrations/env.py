"""Alembic's environment: migrate the connection `store.migrations.apply` (or `autogen`) passes.

There is no alembic.ini and no URL here: the caller opens the connection, holds the migration
lock and owns the transaction, so a failed migration rolls back with everything else.
"""

from alembic import context
from sqlmodel import SQLModel

from store import models  # noqa: F401  (registers the tables)
from store.migrations.schema import include_object

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=SQLModel.metadata,
    include_object=include_object,
    render_as_batch=True,
    user_module_prefix="sqlmodel.sql.sqltypes.",
)
with context.begin_transaction():
    context.run_migrations()
