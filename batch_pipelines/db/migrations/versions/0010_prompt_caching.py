"""Prompt caching: priming jobs, the cache prefixes of jobs and requests, the cost bound in reports

- batch_jobs: `priming` (a batch of one line per new cache prefix, sent first), `primed_by` (the
  priming job a job waits for: it is admitted once that one has ended), `cache_prefixes` (the
  cache prefix keys of its lines, GIN-indexed: which prefixes a batch of the last TTL wrote or
  one in flight is priming).
- batch_requests: `cache_prefix`, the request's longest cacheable prefix, and
  `cache_breakpoints`, how many cache breakpoints its line keeps when fewer than its prompt has.
- prompt_prefixes: each prefix's chain of shorter prefixes and their estimated tokens.
- tenant_cost_reports: the cost bound of the day and of the month to date, and the month's prompt
  and cache-read tokens.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_MONEY = sa.Numeric(24, 6)


def upgrade() -> None:
    op.add_column(
        "batch_jobs",
        sa.Column("priming", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column("batch_jobs", sa.Column("primed_by", sa.Text(), nullable=True))
    op.create_foreign_key(
        op.f("fk_batch_jobs_primed_by_batch_jobs"),
        "batch_jobs",
        "batch_jobs",
        ["primed_by"],
        ["batch_job_id"],
    )
    op.create_index(op.f("ix_batch_jobs_primed_by"), "batch_jobs", ["primed_by"])
    op.add_column(
        "batch_jobs",
        sa.Column(
            "cache_prefixes",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
        ),
    )
    op.create_index(
        "ix_batch_jobs_cache_prefixes",
        "batch_jobs",
        ["cache_prefixes"],
        postgresql_using="gin",
    )
    op.add_column("batch_requests", sa.Column("cache_prefix", sa.Text(), nullable=True))
    op.add_column(
        "batch_requests", sa.Column("cache_breakpoints", sa.SmallInteger(), nullable=True)
    )
    op.create_table(
        "prompt_prefixes",
        sa.Column("prefix_key", sa.Text(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("keys", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("tokens", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "cardinality(keys) = cardinality(tokens)", name=op.f("ck_prompt_prefixes_levels")
        ),
        sa.PrimaryKeyConstraint("prefix_key", name=op.f("pk_prompt_prefixes")),
    )
    for name in ("day_bound_cost_micro_usd", "mtd_bound_cost_micro_usd"):
        op.add_column(
            "tenant_cost_reports",
            sa.Column(name, _MONEY, server_default="0", nullable=False),
        )
    for name in ("mtd_prompt_tokens", "mtd_cached_input_tokens"):
        op.add_column(
            "tenant_cost_reports",
            sa.Column(name, sa.BigInteger(), server_default="0", nullable=False),
        )


def downgrade() -> None:
    for name in (
        "mtd_cached_input_tokens",
        "mtd_prompt_tokens",
        "mtd_bound_cost_micro_usd",
        "day_bound_cost_micro_usd",
    ):
        op.drop_column("tenant_cost_reports", name)
    op.drop_table("prompt_prefixes")
    op.drop_column("batch_requests", "cache_breakpoints")
    op.drop_column("batch_requests", "cache_prefix")
    op.drop_index("ix_batch_jobs_cache_prefixes", table_name="batch_jobs")
    op.drop_column("batch_jobs", "cache_prefixes")
    op.drop_index(op.f("ix_batch_jobs_primed_by"), table_name="batch_jobs")
    op.drop_constraint(op.f("fk_batch_jobs_primed_by_batch_jobs"), "batch_jobs", type_="foreignkey")
    op.drop_column("batch_jobs", "primed_by")
    op.drop_column("batch_jobs", "priming")
