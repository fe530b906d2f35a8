"""The store's schema as release 8613ea0 made it: the baseline of every upgrade.

Stores made by that release have no `alembic_version` table; `store.migrations.apply` stamps
them with this revision and upgrades them from here. Written once from that release's
`store/models.py` (alembic's autogenerate against an empty database); never edit it.

Revision ID: r8613ea0
Revises:
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "r8613ea0"
down_revision = None
branch_labels = None
depends_on = None


def _appuser() -> None:
    op.create_table(
        "appuser",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_appuser_username"), "appuser", ["username"], unique=True)


def _auditevent() -> None:
    op.create_table(
        "auditevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("who", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_auditevent_at"), "auditevent", ["at"], unique=False)


def _connection() -> None:
    op.create_table(
        "connection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("auth_base_uri", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("client_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("client_secret_encrypted", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("account_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("allow_modeled", sa.Boolean(), nullable=False),
        sa.Column("last_test_ok", sa.Boolean(), nullable=True),
        sa.Column("last_test_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_test_report", sa.JSON(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_connection_name"), "connection", ["name"], unique=True)


def _dataset() -> None:
    op.create_table(
        "dataset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("source_filename", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("table_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("table_name"),
    )
    op.create_index(op.f("ix_dataset_name"), "dataset", ["name"], unique=True)


def _audience() -> None:
    op.create_table(
        "audience",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("modeled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["dataset.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_audience_dataset_id"), "audience", ["dataset_id"], unique=False)
    op.create_index(op.f("ix_audience_name"), "audience", ["name"], unique=True)


def _pathway() -> None:
    op.create_table(
        "pathway",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("audience_id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("destination_kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("de_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("de_customer_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("de_object_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("category_path", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("method", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("primary_keys", sa.JSON(), nullable=False),
        sa.Column("schedule", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("delete_guard_share", sa.Float(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("remote_fields", sa.JSON(), nullable=False),
        sa.Column("ledger_fingerprint", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["audience_id"],
            ["audience.id"],
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connection.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_pathway_audience_id"), "pathway", ["audience_id"], unique=False)
    op.create_index(op.f("ix_pathway_connection_id"), "pathway", ["connection_id"], unique=False)
    op.create_index(
        op.f("ix_pathway_de_customer_key"), "pathway", ["de_customer_key"], unique=False
    )


def _columnmapping() -> None:
    op.create_table(
        "columnmapping",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pathway_id", sa.Integer(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("source_column", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("destination_field", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("field_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=True),
        sa.Column("precision", sa.Integer(), nullable=True),
        sa.Column("scale", sa.Integer(), nullable=True),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("is_primary_key", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pathway_id"],
            ["pathway.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_columnmapping_pathway_id"), "columnmapping", ["pathway_id"], unique=False
    )


def _preflightrefusal() -> None:
    op.create_table(
        "preflightrefusal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pathway_id", sa.Integer(), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=False),
        sa.Column("source_rev", sa.Integer(), nullable=False),
        sa.Column("row_values", sa.JSON(), nullable=False),
        sa.Column("primary_key", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("field", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("error_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("error_details", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pathway_id"],
            ["pathway.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pathway_id", "source_row"),
    )
    op.create_index(
        op.f("ix_preflightrefusal_pathway_id"), "preflightrefusal", ["pathway_id"], unique=False
    )


def _rowledger() -> None:
    op.create_table(
        "rowledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pathway_id", sa.Integer(), nullable=False),
        sa.Column("row_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("row_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("source_rev", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["pathway_id"],
            ["pathway.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pathway_id", "row_key"),
    )
    op.create_index(op.f("ix_rowledger_pathway_id"), "rowledger", ["pathway_id"], unique=False)
    op.create_index(
        "ix_rowledger_source", "rowledger", ["pathway_id", "source_row", "source_rev"], unique=False
    )


def _syncrun() -> None:
    op.create_table(
        "syncrun",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pathway_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("method", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("full_resend", sa.Boolean(), nullable=False),
        sa.Column("confirm_deletes", sa.Boolean(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_sent", sa.Integer(), nullable=False),
        sa.Column("rows_succeeded", sa.Integer(), nullable=False),
        sa.Column("rows_failed", sa.Integer(), nullable=False),
        sa.Column("rows_skipped", sa.Integer(), nullable=False),
        sa.Column("rows_deleted", sa.Integer(), nullable=False),
        sa.Column("rows_per_s", sa.Float(), nullable=False),
        sa.Column("eta_s", sa.Float(), nullable=True),
        sa.Column("api_calls", sa.Integer(), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("checkpoint", sa.JSON(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("worker_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("heartbeat_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.ForeignKeyConstraint(
            ["pathway_id"],
            ["pathway.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_syncrun_pathway_id"), "syncrun", ["pathway_id"], unique=False)
    op.create_index(op.f("ix_syncrun_state"), "syncrun", ["state"], unique=False)


def _rejectedrow() -> None:
    op.create_table(
        "rejectedrow",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("row_values", sa.JSON(), nullable=False),
        sa.Column("primary_key", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("field", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("error_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("error_details", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("retryable", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["syncrun.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_rejectedrow_run_id"), "rejectedrow", ["run_id"], unique=False)


def upgrade() -> None:
    _appuser()
    _auditevent()
    _connection()
    _dataset()
    _audience()
    _pathway()
    _columnmapping()
    _preflightrefusal()
    _rowledger()
    _syncrun()
    _rejectedrow()


def downgrade() -> None:
    for table in ("rejectedrow", "syncrun", "rowledger", "preflightrefusal", "columnmapping",
                  "pathway", "audience", "dataset", "connection", "auditevent", "appuser"):  # fmt: skip
        op.drop_table(table)
