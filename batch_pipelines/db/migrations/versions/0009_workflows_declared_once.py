"""Workflow names are checked against their one declaration, not by check constraints

The `workflow IN ('post_call', 'lead_scoring', 'kb_index')` constraints on ``batch_jobs``,
``batch_requests`` and ``llm_usage`` were a second list of the workflows, so adding one took a
migration. The list is now `batch_pipelines/core/workflows.py`, read by everything that writes these
tables: a custom id is issued only for a declared workflow (`UnknownWorkflow` otherwise), and every
manifest row, batch job and usage row descends from a manifest row with such an id. A reference
table kept in step with the declarations would say the same thing a second time and need syncing on
every deploy, so the constraints are dropped instead.

Downgrading restores the constraints as they were; it fails if rows of another workflow exist.

Revision ID: 0009
Revises: 0005
Create Date: 2026-12-01
"""

from alembic import op

revision = "0009"
down_revision = "0005"
branch_labels = None
depends_on = None

_TABLES = ("batch_jobs", "batch_requests", "llm_usage")


def upgrade() -> None:
    for table in _TABLES:
        op.drop_constraint(op.f(f"ck_{table}_workflow"), table, type_="check")


def downgrade() -> None:
    for table in _TABLES:
        op.create_check_constraint(
            op.f(f"ck_{table}_workflow"),
            table,
            "workflow IN ('post_call', 'lead_scoring', 'kb_index')",
        )
