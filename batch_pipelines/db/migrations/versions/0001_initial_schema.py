"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import pgvector.sqlalchemy
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "batch_jobs",
        sa.Column("batch_job_id", sa.Text(), nullable=False),
        sa.Column("workflow", sa.Text(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("mode", sa.Text(), server_default="batch", nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("credentials_ref", sa.Text(), server_default="default", nullable=False),
        sa.Column("status", sa.Text(), server_default="planned", nullable=False),
        sa.Column("provider_status", sa.Text(), nullable=True),
        sa.Column("provider_batch_id", sa.Text(), nullable=True),
        sa.Column("input_file_id", sa.Text(), nullable=True),
        sa.Column("output_file_id", sa.Text(), nullable=True),
        sa.Column("error_file_id", sa.Text(), nullable=True),
        sa.Column("attempt", sa.Integer(), server_default="1", nullable=False),
        sa.Column("request_count", sa.Integer(), nullable=False),
        sa.Column(
            "partitions",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_usage", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("request_counts", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("last_polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ingest_attempt", sa.Integer(), server_default="0", nullable=False),
        sa.Column("ingest_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "mode IN ('batch', 'sync', 'self_hosted')", name=op.f("ck_batch_jobs_mode")
        ),
        sa.CheckConstraint(
            "provider IN ('openai', 'anthropic', 'self_hosted')",
            name=op.f("ck_batch_jobs_provider"),
        ),
        sa.CheckConstraint(
            "status IN ('planned', 'submitting', 'submitted', 'ended', 'ingested', 'failed', 'needs_attention')",
            name=op.f("ck_batch_jobs_status"),
        ),
        sa.CheckConstraint(
            "workflow IN ('post_call', 'lead_scoring', 'kb_index')",
            name=op.f("ck_batch_jobs_workflow"),
        ),
        sa.CheckConstraint("attempt >= 1", name=op.f("ck_batch_jobs_attempt_positive")),
        sa.CheckConstraint(
            "request_count >= 0", name=op.f("ck_batch_jobs_request_count_nonnegative")
        ),
        sa.PrimaryKeyConstraint("batch_job_id", name=op.f("pk_batch_jobs")),
        sa.UniqueConstraint("provider_batch_id", name=op.f("uq_batch_jobs_provider_batch_id")),
    )
    op.create_index(
        "ix_batch_jobs_live",
        "batch_jobs",
        ["provider", "created_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('planned', 'submitting', 'submitted', 'ended')"),
    )
    op.create_table(
        "tenants",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("vertical", sa.Text(), nullable=False),
        sa.Column("tier", sa.Text(), nullable=False),
        sa.Column("tier_price_usd", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column(
            "policy",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "brand",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "jsonb_typeof(policy) = 'object'", name=op.f("ck_tenants_policy_object")
        ),
        sa.CheckConstraint(
            "tenant_id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'", name=op.f("ck_tenants_tenant_slug")
        ),
        sa.CheckConstraint("tier IN ('starter', 'growth', 'scale')", name=op.f("ck_tenants_tier")),
        sa.CheckConstraint(
            "vertical IN ('healthcare', 'sales', 'real_estate', 'salon', 'hospitality', 'home_services')",
            name=op.f("ck_tenants_vertical"),
        ),
        sa.CheckConstraint("tier_price_usd >= 0", name=op.f("ck_tenants_tier_price_nonnegative")),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_tenants")),
    )
    op.create_table(
        "agents",
        sa.Column("agent_id", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_agents_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_agents")),
        sa.UniqueConstraint("tenant_id", "agent_id", name=op.f("uq_agents_tenant_id_agent_id")),
    )
    op.create_table(
        "batch_requests",
        sa.Column("custom_id", sa.Text(), nullable=False),
        sa.Column("batch_job_id", sa.Text(), nullable=True),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("vertical", sa.Text(), nullable=False),
        sa.Column("agent_id", sa.Text(), nullable=True),
        sa.Column("workflow", sa.Text(), nullable=False),
        sa.Column("item_id", sa.Text(), nullable=False),
        sa.Column("partition_date", sa.Date(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempt", sa.Integer(), server_default="1", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "estimated_cost_micro_usd",
            sa.Numeric(precision=24, scale=6),
            server_default="0",
            nullable=False,
        ),
        sa.Column(
            "notes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("max_shard_lines", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "custom_id ~ '^[a-zA-Z0-9_-]{1,64}$'", name=op.f("ck_batch_requests_custom_id_format")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'planned', 'submitted', 'succeeded', 'failed', 'dead_letter', 'held', 'skipped')",
            name=op.f("ck_batch_requests_status"),
        ),
        sa.CheckConstraint(
            "status NOT IN ('dead_letter', 'skipped') OR error IS NOT NULL",
            name=op.f("ck_batch_requests_terminal_has_reason"),
        ),
        sa.CheckConstraint(
            "status NOT IN ('planned', 'submitted') OR batch_job_id IS NOT NULL",
            name=op.f("ck_batch_requests_job_when_sent"),
        ),
        sa.CheckConstraint(
            "workflow IN ('post_call', 'lead_scoring', 'kb_index')",
            name=op.f("ck_batch_requests_workflow"),
        ),
        sa.CheckConstraint("attempt >= 1", name=op.f("ck_batch_requests_attempt_positive")),
        sa.ForeignKeyConstraint(
            ["batch_job_id"],
            ["batch_jobs.batch_job_id"],
            name=op.f("fk_batch_requests_batch_job_id_batch_jobs"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_batch_requests_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("custom_id", name=op.f("pk_batch_requests")),
    )
    op.create_index(
        op.f("ix_batch_requests_batch_job_id"), "batch_requests", ["batch_job_id"], unique=False
    )
    op.create_index(
        op.f("ix_batch_requests_tenant_id_status"),
        "batch_requests",
        ["tenant_id", "status"],
        unique=False,
    )
    op.create_index(
        op.f("ix_batch_requests_workflow_status_partition_date"),
        "batch_requests",
        ["workflow", "status", "partition_date"],
        unique=False,
    )
    op.create_index(
        "uq_batch_requests_live_item",
        "batch_requests",
        ["workflow", "item_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('pending', 'planned', 'submitted', 'held')"),
    )
    op.create_table(
        "kb_documents",
        sa.Column("doc_id", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_sha256", sa.Text(), nullable=False),
        sa.Column(
            "uploaded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "content_sha256 ~ '^[0-9a-f]{64}$'", name=op.f("ck_kb_documents_sha256_hex")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_kb_documents_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("doc_id", name=op.f("pk_kb_documents")),
    )
    op.create_index(op.f("ix_kb_documents_tenant_id"), "kb_documents", ["tenant_id"], unique=False)
    op.create_index(
        op.f("ix_kb_documents_uploaded_at_doc_id"),
        "kb_documents",
        ["uploaded_at", "doc_id"],
        unique=False,
    )
    op.create_table(
        "tenant_cost_reports",
        sa.Column("report_date", sa.Date(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("workflow", sa.Text(), nullable=False),
        sa.Column("vertical", sa.Text(), nullable=False),
        sa.Column("day_cost_micro_usd", sa.Numeric(precision=24, scale=6), nullable=False),
        sa.Column("day_sync_cost_micro_usd", sa.Numeric(precision=24, scale=6), nullable=False),
        sa.Column("mtd_cost_micro_usd", sa.Numeric(precision=24, scale=6), nullable=False),
        sa.Column("mtd_sync_cost_micro_usd", sa.Numeric(precision=24, scale=6), nullable=False),
        sa.Column(
            "mtd_batch_discount_micro_usd", sa.Numeric(precision=24, scale=6), nullable=False
        ),
        sa.Column(
            "mtd_cache_read_savings_micro_usd", sa.Numeric(precision=24, scale=6), nullable=False
        ),
        sa.Column(
            "mtd_cache_write_premium_micro_usd", sa.Numeric(precision=24, scale=6), nullable=False
        ),
        sa.Column("items_held", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "generated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.tenant_id"],
            name=op.f("fk_tenant_cost_reports_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint(
            "report_date", "tenant_id", "workflow", name=op.f("pk_tenant_cost_reports")
        ),
    )
    op.create_table(
        "calls",
        sa.Column("call_id", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("agent_id", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("transcript", sa.Text(), server_default="", nullable=False),
        sa.CheckConstraint(
            "ended_at IS NULL OR ended_at >= started_at", name=op.f("ck_calls_ended_after_start")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agent_id"],
            ["agents.tenant_id", "agents.agent_id"],
            name=op.f("fk_calls_tenant_id_agent_id_agents"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_calls_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_calls")),
    )
    op.create_index(op.f("ix_calls_ended_at"), "calls", ["ended_at"], unique=False)
    op.create_index(
        op.f("ix_calls_tenant_id_ended_at"), "calls", ["tenant_id", "ended_at"], unique=False
    )
    op.create_table(
        "kb_chunks",
        sa.Column("chunk_id", sa.Text(), nullable=False),
        sa.Column("doc_id", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_sha256", sa.Text(), nullable=False),
        sa.Column("embedding", pgvector.sqlalchemy.vector.VECTOR(dim=1536), nullable=True),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("custom_id", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["custom_id"],
            ["batch_requests.custom_id"],
            name=op.f("fk_kb_chunks_custom_id_batch_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["doc_id"],
            ["kb_documents.doc_id"],
            name=op.f("fk_kb_chunks_doc_id_kb_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_kb_chunks_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("chunk_id", name=op.f("pk_kb_chunks")),
        sa.UniqueConstraint("doc_id", "chunk_index", name=op.f("uq_kb_chunks_doc_id_chunk_index")),
    )
    op.create_index(
        "ix_kb_chunks_embedding_hnsw",
        "kb_chunks",
        ["embedding"],
        unique=False,
        postgresql_using="hnsw",
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )
    op.create_index(
        op.f("ix_kb_chunks_tenant_id_doc_id"), "kb_chunks", ["tenant_id", "doc_id"], unique=False
    )
    op.create_table(
        "llm_usage",
        sa.Column("usage_id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("provider_batch_id", sa.Text(), nullable=False),
        sa.Column("custom_id", sa.Text(), nullable=False),
        sa.Column("batch_job_id", sa.Text(), nullable=True),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("vertical", sa.Text(), nullable=False),
        sa.Column("agent_id", sa.Text(), nullable=True),
        sa.Column("workflow", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("mode", sa.Text(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cached_input_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cache_write_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cache_write_1h_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("ledger_date", sa.Date(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "mode IN ('batch', 'sync', 'self_hosted')", name=op.f("ck_llm_usage_mode")
        ),
        sa.CheckConstraint(
            "workflow IN ('post_call', 'lead_scoring', 'kb_index')",
            name=op.f("ck_llm_usage_workflow"),
        ),
        sa.CheckConstraint(
            "input_tokens >= 0 AND cached_input_tokens >= 0 AND cache_write_tokens >= 0 AND output_tokens >= 0 AND cache_write_1h_tokens BETWEEN 0 AND cache_write_tokens",
            name=op.f("ck_llm_usage_tokens_nonnegative"),
        ),
        sa.ForeignKeyConstraint(
            ["batch_job_id"],
            ["batch_jobs.batch_job_id"],
            name=op.f("fk_llm_usage_batch_job_id_batch_jobs"),
        ),
        sa.ForeignKeyConstraint(
            ["custom_id"],
            ["batch_requests.custom_id"],
            name=op.f("fk_llm_usage_custom_id_batch_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_llm_usage_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("usage_id", name=op.f("pk_llm_usage")),
        sa.UniqueConstraint(
            "provider",
            "provider_batch_id",
            "custom_id",
            name=op.f("uq_llm_usage_provider_provider_batch_id_custom_id"),
        ),
    )
    op.create_index(op.f("ix_llm_usage_batch_job_id"), "llm_usage", ["batch_job_id"], unique=False)
    op.create_index(
        op.f("ix_llm_usage_ledger_date_tenant_id"),
        "llm_usage",
        ["ledger_date", "tenant_id"],
        unique=False,
    )
    op.create_table(
        "call_analytics",
        sa.Column("call_id", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("sentiment", sa.Numeric(precision=4, scale=3), nullable=False),
        sa.Column("lead_score", sa.SmallInteger(), nullable=False),
        sa.Column("topics", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("next_action", sa.Text(), nullable=False),
        sa.Column(
            "redactions",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("truncated", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("batch_job_id", sa.Text(), nullable=True),
        sa.Column("custom_id", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "lead_score BETWEEN 0 AND 100", name=op.f("ck_call_analytics_lead_score_range")
        ),
        sa.CheckConstraint(
            "sentiment BETWEEN -1 AND 1", name=op.f("ck_call_analytics_sentiment_range")
        ),
        sa.ForeignKeyConstraint(
            ["batch_job_id"],
            ["batch_jobs.batch_job_id"],
            name=op.f("fk_call_analytics_batch_job_id_batch_jobs"),
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.call_id"], name=op.f("fk_call_analytics_call_id_calls")
        ),
        sa.ForeignKeyConstraint(
            ["custom_id"],
            ["batch_requests.custom_id"],
            name=op.f("fk_call_analytics_custom_id_batch_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_call_analytics_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_call_analytics")),
    )
    op.create_table(
        "cost_ledger",
        sa.Column("ledger_id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("usage_id", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("vertical", sa.Text(), nullable=False),
        sa.Column("agent_id", sa.Text(), nullable=True),
        sa.Column("workflow", sa.Text(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("mode", sa.Text(), nullable=False),
        sa.Column("ledger_date", sa.Date(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cached_input_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cache_write_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cache_write_1h_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cost_micro_usd", sa.Numeric(precision=24, scale=6), nullable=False),
        sa.Column("sync_cost_micro_usd", sa.Numeric(precision=24, scale=6), nullable=False),
        sa.Column(
            "batch_discount_micro_usd",
            sa.Numeric(precision=24, scale=6),
            server_default="0",
            nullable=False,
        ),
        sa.Column(
            "cache_read_savings_micro_usd",
            sa.Numeric(precision=24, scale=6),
            server_default="0",
            nullable=False,
        ),
        sa.Column(
            "cache_write_premium_micro_usd",
            sa.Numeric(precision=24, scale=6),
            server_default="0",
            nullable=False,
        ),
        sa.Column("pricing_source", sa.Text(), nullable=False),
        sa.Column("pricing_version", sa.Text(), nullable=False),
        sa.Column("unit_prices", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "priced_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "mode IN ('batch', 'sync', 'self_hosted')", name=op.f("ck_cost_ledger_mode")
        ),
        sa.CheckConstraint(
            "cost_micro_usd >= 0 AND sync_cost_micro_usd >= 0",
            name=op.f("ck_cost_ledger_cost_nonnegative"),
        ),
        sa.CheckConstraint(
            "input_tokens >= 0 AND cached_input_tokens >= 0 AND cache_write_tokens >= 0 AND output_tokens >= 0 AND cache_write_1h_tokens BETWEEN 0 AND cache_write_tokens",
            name=op.f("ck_cost_ledger_tokens_nonnegative"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_cost_ledger_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["usage_id"],
            ["llm_usage.usage_id"],
            name=op.f("fk_cost_ledger_usage_id_llm_usage"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ledger_id", name=op.f("pk_cost_ledger")),
        sa.UniqueConstraint("usage_id", name=op.f("uq_cost_ledger_usage_id")),
    )
    op.create_index(
        op.f("ix_cost_ledger_ledger_date_tenant_id"),
        "cost_ledger",
        ["ledger_date", "tenant_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_cost_ledger_tenant_id_ledger_date_workflow"),
        "cost_ledger",
        ["tenant_id", "ledger_date", "workflow"],
        unique=False,
    )
    op.create_table(
        "leads",
        sa.Column("lead_id", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("agent_id", sa.Text(), nullable=False),
        sa.Column("call_id", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.call_id"], name=op.f("fk_leads_call_id_calls")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agent_id"],
            ["agents.tenant_id", "agents.agent_id"],
            name=op.f("fk_leads_tenant_id_agent_id_agents"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_leads_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_leads")),
    )
    op.create_index(
        op.f("ix_leads_tenant_id_created_at"), "leads", ["tenant_id", "created_at"], unique=False
    )
    op.create_table(
        "lead_scores",
        sa.Column("lead_id", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("reasons", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("best_channel", sa.Text(), nullable=False),
        sa.Column("best_time", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("batch_job_id", sa.Text(), nullable=True),
        sa.Column("custom_id", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("score BETWEEN 0 AND 100", name=op.f("ck_lead_scores_score_range")),
        sa.ForeignKeyConstraint(
            ["batch_job_id"],
            ["batch_jobs.batch_job_id"],
            name=op.f("fk_lead_scores_batch_job_id_batch_jobs"),
        ),
        sa.ForeignKeyConstraint(
            ["custom_id"],
            ["batch_requests.custom_id"],
            name=op.f("fk_lead_scores_custom_id_batch_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.lead_id"], name=op.f("fk_lead_scores_lead_id_leads")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_lead_scores_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_lead_scores")),
    )
    op.create_table(
        "outreach_drafts",
        sa.Column("lead_id", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("call_to_action", sa.Text(), nullable=True),
        sa.Column("skipped_reason", sa.Text(), nullable=True),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("batch_job_id", sa.Text(), nullable=True),
        sa.Column("custom_id", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "skipped_reason IS NOT NULL OR (subject IS NOT NULL AND text IS NOT NULL AND html IS NOT NULL)",
            name=op.f("ck_outreach_drafts_draft_or_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["batch_job_id"],
            ["batch_jobs.batch_job_id"],
            name=op.f("fk_outreach_drafts_batch_job_id_batch_jobs"),
        ),
        sa.ForeignKeyConstraint(
            ["custom_id"],
            ["batch_requests.custom_id"],
            name=op.f("fk_outreach_drafts_custom_id_batch_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.lead_id"], name=op.f("fk_outreach_drafts_lead_id_leads")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_outreach_drafts_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_outreach_drafts")),
    )


def downgrade() -> None:
    op.drop_table("outreach_drafts")
    op.drop_table("lead_scores")
    op.drop_index(op.f("ix_leads_tenant_id_created_at"), table_name="leads")
    op.drop_table("leads")
    op.drop_index(op.f("ix_cost_ledger_tenant_id_ledger_date_workflow"), table_name="cost_ledger")
    op.drop_index(op.f("ix_cost_ledger_ledger_date_tenant_id"), table_name="cost_ledger")
    op.drop_table("cost_ledger")
    op.drop_table("call_analytics")
    op.drop_index(op.f("ix_llm_usage_ledger_date_tenant_id"), table_name="llm_usage")
    op.drop_index(op.f("ix_llm_usage_batch_job_id"), table_name="llm_usage")
    op.drop_table("llm_usage")
    op.drop_index(op.f("ix_kb_chunks_tenant_id_doc_id"), table_name="kb_chunks")
    op.drop_index(
        "ix_kb_chunks_embedding_hnsw",
        table_name="kb_chunks",
        postgresql_using="hnsw",
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )
    op.drop_table("kb_chunks")
    op.drop_index(op.f("ix_calls_tenant_id_ended_at"), table_name="calls")
    op.drop_index(op.f("ix_calls_ended_at"), table_name="calls")
    op.drop_table("calls")
    op.drop_table("tenant_cost_reports")
    op.drop_index(op.f("ix_kb_documents_uploaded_at_doc_id"), table_name="kb_documents")
    op.drop_index(op.f("ix_kb_documents_tenant_id"), table_name="kb_documents")
    op.drop_table("kb_documents")
    op.drop_index(
        "uq_batch_requests_live_item",
        table_name="batch_requests",
        postgresql_where=sa.text("status IN ('pending', 'planned', 'submitted', 'held')"),
    )
    op.drop_index(
        op.f("ix_batch_requests_workflow_status_partition_date"), table_name="batch_requests"
    )
    op.drop_index(op.f("ix_batch_requests_tenant_id_status"), table_name="batch_requests")
    op.drop_index(op.f("ix_batch_requests_batch_job_id"), table_name="batch_requests")
    op.drop_table("batch_requests")
    op.drop_table("agents")
    op.drop_table("tenants")
    op.drop_index(
        "ix_batch_jobs_live",
        table_name="batch_jobs",
        postgresql_where=sa.text("status IN ('planned', 'submitting', 'submitted', 'ended')"),
    )
    op.drop_table("batch_jobs")
