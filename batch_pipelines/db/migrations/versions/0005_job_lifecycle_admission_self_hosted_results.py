"""The job lifecycle of issue 16: parked jobs, deferrals, admission estimates, outcome counters,
self-hosted results in Postgres

- batch_jobs: `attention` (why a job is needs_attention) and `resume_status` (where a configuration
  error goes back to once fixed), `not_before` (a Retry-After deferral, a parked job's next check),
  `estimated_input_tokens` (what the batch takes of OpenAI's enqueued-token limit).
- batch_requests: `requeues` (sends that never ran), `batch_failures` (batches that failed as a
  whole) and `first_planned_at`, each bounded on its own; `max_shard_lines` goes (a failed batch is
  no longer halved).
- self_hosted_results: a self-hosted server's answers, readable from any machine.

Revision ID: 0005
Revises: 0007
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("batch_jobs", sa.Column("attention", sa.Text(), nullable=True))
    op.add_column("batch_jobs", sa.Column("resume_status", sa.Text(), nullable=True))
    op.add_column("batch_jobs", sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "batch_jobs",
        sa.Column("estimated_input_tokens", sa.BigInteger(), server_default="0", nullable=False),
    )
    # Jobs parked before this revision were all ambiguous reconciliations.
    op.execute(
        "UPDATE batch_jobs SET attention = 'ambiguous_create' WHERE status = 'needs_attention'"
    )
    op.create_check_constraint(
        op.f("ck_batch_jobs_attention"),
        "batch_jobs",
        "attention IS NULL OR attention IN "
        "('configuration', 'ambiguous_create', 'permanent_failure')",
    )
    op.create_check_constraint(
        op.f("ck_batch_jobs_parked_has_attention"),
        "batch_jobs",
        "status <> 'needs_attention' OR attention IS NOT NULL",
    )

    op.add_column(
        "batch_requests", sa.Column("requeues", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "batch_requests",
        sa.Column("batch_failures", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "batch_requests", sa.Column("first_planned_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute("UPDATE batch_requests SET first_planned_at = created_at WHERE status <> 'pending'")
    op.drop_column("batch_requests", "max_shard_lines")
    op.create_check_constraint(
        op.f("ck_batch_requests_counts_nonnegative"),
        "batch_requests",
        "requeues >= 0 AND batch_failures >= 0",
    )

    op.create_table(
        "self_hosted_results",
        sa.Column("provider_batch_id", sa.Text(), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("batch_job_id", sa.Text(), nullable=False),
        sa.Column("custom_id", sa.Text(), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint(
            "provider_batch_id", "line_number", name=op.f("pk_self_hosted_results")
        ),
    )
    op.create_index(
        op.f("ix_self_hosted_results_batch_job_id"), "self_hosted_results", ["batch_job_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_self_hosted_results_batch_job_id"), table_name="self_hosted_results")
    op.drop_table("self_hosted_results")
    op.drop_constraint(
        op.f("ck_batch_requests_counts_nonnegative"), "batch_requests", type_="check"
    )
    op.add_column("batch_requests", sa.Column("max_shard_lines", sa.Integer(), nullable=True))
    op.drop_column("batch_requests", "first_planned_at")
    op.drop_column("batch_requests", "batch_failures")
    op.drop_column("batch_requests", "requeues")
    op.drop_constraint(op.f("ck_batch_jobs_parked_has_attention"), "batch_jobs", type_="check")
    op.drop_constraint(op.f("ck_batch_jobs_attention"), "batch_jobs", type_="check")
    op.drop_column("batch_jobs", "estimated_input_tokens")
    op.drop_column("batch_jobs", "not_before")
    op.drop_column("batch_jobs", "resume_status")
    op.drop_column("batch_jobs", "attention")
