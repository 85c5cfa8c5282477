"""Money at the edges: when a hold began, when a usage row was recorded, which price entry priced a
ledger row, and indexes on the self-hosted rows of a day

- ``batch_requests.held_since``: when the request was first held (budget or a missing key). A
  trigger keeps it, so every path that holds or releases a request agrees: set when the status
  becomes ``held``, kept while it stays held (re-planning rewrites the row each time), cleared when
  it leaves. Existing held rows take their ``updated_at``.
- ``llm_usage.recorded_at``: when the row was written (default now(); NULL for rows written before
  this migration). The ledger's "no usage row unpriced for an hour" check reads it.
- ``cost_ledger.priced_by``: the price entry that priced the row, e.g.
  ``price_overrides negotiated.openai.gpt-4o-mini.batch`` (NULL until a row is re-priced).
- partial indexes on the self-hosted rows of ``llm_usage`` and ``cost_ledger`` by (ledger_date,
  tenant_id): pricing a partition asks whether it touches the day's GPU shares, and reads the
  day's self-hosted rows, without scanning the day's API rows.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

_HELD_SINCE_FUNCTION = """
CREATE FUNCTION batch_requests_held_since() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'held' THEN
        NEW.held_since := coalesce(NEW.held_since, now());
    ELSE
        NEW.held_since := NULL;
    END IF;
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    op.add_column(
        "batch_requests", sa.Column("held_since", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute("UPDATE batch_requests SET held_since = updated_at WHERE status = 'held'")
    op.execute(_HELD_SINCE_FUNCTION)
    # WHEN clauses keep the function off the hot paths: only rows entering or leaving `held` run
    # it (an insert of a held row, or a status change from or to held); a held row re-held keeps
    # its held_since because its status does not change.
    op.execute(
        "CREATE TRIGGER held_since_on_insert BEFORE INSERT ON batch_requests FOR EACH ROW"
        " WHEN (NEW.status = 'held') EXECUTE FUNCTION batch_requests_held_since()"
    )
    op.execute(
        "CREATE TRIGGER held_since_on_status BEFORE UPDATE OF status ON batch_requests"
        " FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status"
        " AND (OLD.status = 'held' OR NEW.status = 'held'))"
        " EXECUTE FUNCTION batch_requests_held_since()"
    )
    # Added without a default, then given one: existing rows stay NULL (no table rewrite).
    op.add_column("llm_usage", sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("ALTER TABLE llm_usage ALTER COLUMN recorded_at SET DEFAULT now()")
    op.add_column("cost_ledger", sa.Column("priced_by", sa.Text(), nullable=True))
    for table in ("llm_usage", "cost_ledger"):
        op.create_index(
            f"ix_{table}_self_hosted_day",
            table,
            ["ledger_date", "tenant_id"],
            postgresql_where=sa.text("mode = 'self_hosted'"),
        )


def downgrade() -> None:
    for table in ("llm_usage", "cost_ledger"):
        op.drop_index(f"ix_{table}_self_hosted_day", table_name=table)
    op.drop_column("cost_ledger", "priced_by")
    op.drop_column("llm_usage", "recorded_at")
    op.execute("DROP TRIGGER IF EXISTS held_since_on_status ON batch_requests")
    op.execute("DROP TRIGGER IF EXISTS held_since_on_insert ON batch_requests")
    op.execute("DROP FUNCTION IF EXISTS batch_requests_held_since()")
    op.drop_column("batch_requests", "held_since")
