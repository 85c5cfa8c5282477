"""Request assets queue, a sensor submits: the `queued` request status and `request_lines`

- batch_requests: status `queued` (rendered, waiting for its group's submit run), in the status
  check and in the one-live-request-per-item index; a partial index over the queued rows, which
  `batch_submit_sensor` reads every tick.
- request_lines: each queued request's rendered line and the group it pools in (workflow,
  provider, credentials, model, endpoint), so a submit run on any machine sends exactly what was
  queued, without a local spool file; with the line's cacheable prefix keys and cache breakpoints
  (migration 0010's prompt caching), from which the submit run decides priming for the group.

Downgrading sends queued requests back to `pending` (the older planner renders them again), so
nothing queued is lost.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_STATUSES = (
    "'pending', 'planned', 'submitted', 'succeeded', 'failed', 'dead_letter', 'held', 'skipped'"
)
_LIVE = "'pending', 'planned', 'submitted', 'held'"


def _statuses(extra: str) -> None:
    op.drop_constraint(op.f("ck_batch_requests_status"), "batch_requests", type_="check")
    op.create_check_constraint(
        op.f("ck_batch_requests_status"), "batch_requests", f"status IN ({_STATUSES}{extra})"
    )
    op.drop_index("uq_batch_requests_live_item", table_name="batch_requests")
    op.create_index(
        "uq_batch_requests_live_item",
        "batch_requests",
        ["workflow", "item_id"],
        unique=True,
        postgresql_where=sa.text(f"status IN ({_LIVE}{extra})"),
    )


def upgrade() -> None:
    _statuses(", 'queued'")
    op.create_index(
        "ix_batch_requests_queued",
        "batch_requests",
        ["workflow"],
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_table(
        "request_lines",
        sa.Column("custom_id", sa.Text(), nullable=False),
        sa.Column("workflow", sa.Text(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("credentials_ref", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("prefix_key", sa.Text(), nullable=False),
        sa.Column("nbytes", sa.Integer(), nullable=False),
        sa.Column("embedding_inputs", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "cache_keys",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
        ),
        sa.Column("breakpoints", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("line", sa.LargeBinary(), nullable=False),
        sa.Column(
            "queued_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "nbytes = octet_length(line)", name=op.f("ck_request_lines_nbytes_of_line")
        ),
        sa.ForeignKeyConstraint(
            ["custom_id"],
            ["batch_requests.custom_id"],
            name=op.f("fk_request_lines_custom_id_batch_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("custom_id", name=op.f("pk_request_lines")),
    )


def downgrade() -> None:
    op.drop_table("request_lines")
    op.drop_index("ix_batch_requests_queued", table_name="batch_requests")
    op.execute("UPDATE batch_requests SET status = 'pending' WHERE status = 'queued'")
    _statuses("")
