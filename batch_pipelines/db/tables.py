"""SQLAlchemy Core tables: the one definition of the schema that Alembic migrations must match.

Source tables (`tenants`, `agents`, `calls`, `leads`, `kb_documents`) are written by the product that
owns the calls; control tables (`batch_jobs`, `batch_requests`) by the batch engine; result and money
tables by ingest and the ledger. Money is NUMERIC micro-dollars, never float.
"""

from __future__ import annotations

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from batch_pipelines.db import statuses
from batch_pipelines.db.statuses import Attention, JobStatus, RequestStatus

TENANT_SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
CUSTOM_ID_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
VERTICALS = ("healthcare", "sales", "real_estate", "salon", "hospitality", "home_services")
TIERS = ("starter", "growth", "scale")
PROVIDERS = ("openai", "anthropic", "self_hosted")
MODES = ("batch", "sync", "self_hosted")
# The statuses, declared once in `statuses.py`, as the plain strings the constraints are built of.
REQUEST_STATUSES = tuple(s.value for s in RequestStatus)
LIVE_REQUEST_STATUSES = tuple(s.value for s in statuses.LIVE_REQUEST_STATUSES)
JOB_STATUSES = tuple(s.value for s in JobStatus)
LIVE_JOB_STATUSES = tuple(s.value for s in statuses.LIVE_JOB_STATUSES)
ATTENTIONS = tuple(s.value for s in Attention)
# Micro-dollars with six decimals: a single token of a cheap model costs a fraction of a micro-dollar.
MICRO_USD = Numeric(24, 6)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _values(values: tuple[str, ...]) -> str:
    return f"({', '.join(repr(str(v)) for v in values)})"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN {_values(values)}"


def _created_at() -> Column:
    return Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now())


tenants = Table(
    "tenants",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("vertical", Text, nullable=False),
    Column("tier", Text, nullable=False),
    Column("tier_price_usd", Numeric(12, 2), nullable=False),
    # redact_pii bool, isolated bool, monthly_budget_usd number|null, credentials (env var names)
    Column("policy", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    # brand name, colour, signature, footer, unsubscribe link, link allow-list for outreach mail
    Column("brand", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    _created_at(),
    CheckConstraint(f"tenant_id ~ '{TENANT_SLUG_PATTERN}'", name="tenant_slug"),
    CheckConstraint(_in("vertical", VERTICALS), name="vertical"),
    CheckConstraint(_in("tier", TIERS), name="tier"),
    CheckConstraint("tier_price_usd >= 0", name="tier_price_nonnegative"),
    CheckConstraint("jsonb_typeof(policy) = 'object'", name="policy_object"),
)

agents = Table(
    "agents",
    metadata,
    Column("agent_id", Text, primary_key=True),
    Column("tenant_id", Text, ForeignKey("tenants.tenant_id"), nullable=False),
    Column("name", Text, nullable=False),
    _created_at(),
    # Lets children reference (tenant_id, agent_id) so an agent can never serve another tenant's row.
    UniqueConstraint("tenant_id", "agent_id"),
)

calls = Table(
    "calls",
    metadata,
    Column("call_id", Text, primary_key=True),
    Column("tenant_id", Text, ForeignKey("tenants.tenant_id"), nullable=False),
    Column("agent_id", Text, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("transcript", Text, nullable=False, server_default=""),
    ForeignKeyConstraint(["tenant_id", "agent_id"], ["agents.tenant_id", "agents.agent_id"]),
    CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ended_after_start"),
    Index(None, "tenant_id", "ended_at"),
    Index(None, "ended_at"),
)

leads = Table(
    "leads",
    metadata,
    Column("lead_id", Text, primary_key=True),
    Column("tenant_id", Text, ForeignKey("tenants.tenant_id"), nullable=False),
    Column("agent_id", Text, nullable=False),
    Column("call_id", Text, ForeignKey("calls.call_id")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("name", Text, nullable=False),
    Column("email", Text),
    Column("phone", Text),
    Column("notes", Text, nullable=False, server_default=""),
    ForeignKeyConstraint(["tenant_id", "agent_id"], ["agents.tenant_id", "agents.agent_id"]),
    Index(None, "tenant_id", "created_at"),
    Index(None, "call_id"),  # the caller's identities, when their call is redacted
)

kb_documents = Table(
    "kb_documents",
    metadata,
    Column("doc_id", Text, primary_key=True),
    Column("tenant_id", Text, ForeignKey("tenants.tenant_id"), nullable=False),
    Column("title", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("content_sha256", Text, nullable=False),
    Column("uploaded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("deleted_at", DateTime(timezone=True)),
    CheckConstraint("content_sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
    Index(None, "uploaded_at", "doc_id"),
    Index(None, "tenant_id"),
)
# kb_upload_sensor's watermark scan (`workflows/kb_uploads.py`): changes in the order of their time
# (an upload, a re-upload or a deletion), then doc id.
Index(
    "ix_kb_documents_changed_at_doc_id",
    func.greatest(kb_documents.c.uploaded_at, kb_documents.c.deleted_at),
    kb_documents.c.doc_id,
)

batch_jobs = Table(
    "batch_jobs",
    metadata,
    Column("batch_job_id", Text, primary_key=True),
    Column("workflow", Text, nullable=False),
    Column("provider", Text, nullable=False),
    Column("mode", Text, nullable=False, server_default="batch"),
    Column("model", Text, nullable=False),
    Column("endpoint", Text, nullable=False),
    # Which credentials submit it: 'default', or the tenant whose own key an isolated batch uses.
    Column("credentials_ref", Text, nullable=False, server_default="default"),
    Column("status", Text, nullable=False, server_default=JobStatus.PLANNED.value),
    # Why a `needs_attention` job is parked (`statuses.Attention`), and for a configuration error
    # the status it goes back to once its credentials resolve.
    Column("attention", Text),
    Column("resume_status", Text),
    # Not before this time: a job deferred by a provider's Retry-After, a parked job's next check.
    Column("not_before", DateTime(timezone=True)),
    Column("provider_status", Text),
    Column("provider_batch_id", Text, unique=True),
    Column("input_file_id", Text),
    Column("output_file_id", Text),
    Column("error_file_id", Text),
    Column("attempt", Integer, nullable=False, server_default="1"),
    Column("request_count", Integer, nullable=False),
    # The planner's estimate of the batch's input tokens: what it takes of OpenAI's enqueued-token
    # limit (admission control).
    Column("estimated_input_tokens", BigInteger, nullable=False, server_default="0"),
    # [{"date": "2026-11-25", "tenant": "acme"}, ...]: the asset partitions this job serves.
    Column("partitions", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("deadline_at", DateTime(timezone=True)),
    # Prompt caching (migration 0010): a priming job carries one line per new cache prefix and goes
    # first; a job `primed_by` another waits until that one has ended, then reads what it wrote.
    # `cache_prefixes` are the cache prefix keys of the job's lines (every cacheable level).
    Column("priming", Boolean, nullable=False, server_default=text("false")),
    Column("primed_by", Text, ForeignKey("batch_jobs.batch_job_id")),
    Column("cache_prefixes", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("provider_usage", JSONB),  # OpenAI's aggregate `usage` on the batch, where reported
    Column("request_counts", JSONB),  # the provider's latest counts, for progress display
    Column("last_polled_at", DateTime(timezone=True)),
    # Each ingest run bumps the attempt (it is in the ingest run's key, so a failed ingest can run
    # again) and holds `ingest_started_at` while it works.
    Column("ingest_attempt", Integer, nullable=False, server_default="0"),
    Column("ingest_started_at", DateTime(timezone=True)),
    Column("error", Text),
    _created_at(),
    Column("submitted_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("ingested_at", DateTime(timezone=True)),
    CheckConstraint(_in("provider", PROVIDERS), name="provider"),
    CheckConstraint(_in("mode", MODES), name="mode"),
    CheckConstraint(_in("status", JOB_STATUSES), name="status"),
    CheckConstraint(f"attention IS NULL OR {_in('attention', ATTENTIONS)}", name="attention"),
    CheckConstraint(
        f"status <> '{JobStatus.NEEDS_ATTENTION}' OR attention IS NOT NULL",
        name="parked_has_attention",
    ),
    CheckConstraint("attempt >= 1", name="attempt_positive"),
    CheckConstraint("request_count >= 0", name="request_count_nonnegative"),
    Index(
        "ix_batch_jobs_live",
        "provider",
        "created_at",
        postgresql_where=text(_in("status", LIVE_JOB_STATUSES)),
    ),
    Index("ix_batch_jobs_cache_prefixes", "cache_prefixes", postgresql_using="gin"),
    Index(None, "primed_by"),
)

batch_requests = Table(
    "batch_requests",
    metadata,
    Column("custom_id", Text, primary_key=True),
    Column("batch_job_id", Text, ForeignKey("batch_jobs.batch_job_id")),
    Column("tenant_id", Text, ForeignKey("tenants.tenant_id"), nullable=False),
    Column("vertical", Text, nullable=False),
    Column("agent_id", Text),
    Column("workflow", Text, nullable=False),
    Column("item_id", Text, nullable=False),
    Column("partition_date", Date, nullable=False),
    Column("status", Text, nullable=False, server_default=RequestStatus.PENDING.value),
    # Sends that failed transiently (5xx, 429, timeouts, invalid answers): each takes one.
    Column("attempt", Integer, nullable=False, server_default="1"),
    # Sends that never ran (expired, cancelled), and batches that failed as a whole: neither uses
    # an attempt, each has its own bound. Carried from row to row of an item with the attempt.
    Column("requeues", Integer, nullable=False, server_default="0"),
    Column("batch_failures", Integer, nullable=False, server_default="0"),
    Column("first_planned_at", DateTime(timezone=True)),
    Column("error", Text),
    Column("estimated_cost_micro_usd", MICRO_USD, nullable=False, server_default="0"),
    # What rendering found out and the result needs (redaction counts, truncation), per workflow.
    Column("notes", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    # After a whole-batch failure: re-plan no earlier than this (the backoff).
    Column("not_before", DateTime(timezone=True)),
    # The request's longest cacheable prompt prefix (a `prompt_prefixes` key; NULL: none, e.g. an
    # embedding), as its provider lays it out: what the ledger's cost bound reads.
    Column("cache_prefix", Text),
    # The cache breakpoints its line keeps when fewer than its prompt has (NULL: all): a prefix
    # that nobody would read within the TTL is not written (`batching/priming.py`).
    Column("cache_breakpoints", SmallInteger),
    _created_at(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # When the request was first held; kept by a trigger while it stays held (migration 0006).
    Column("held_since", DateTime(timezone=True)),
    CheckConstraint(f"custom_id ~ '{CUSTOM_ID_PATTERN}'", name="custom_id_format"),
    CheckConstraint(_in("status", REQUEST_STATUSES), name="status"),
    CheckConstraint("attempt >= 1", name="attempt_positive"),
    CheckConstraint("requeues >= 0 AND batch_failures >= 0", name="counts_nonnegative"),
    CheckConstraint(
        f"status NOT IN {_values(statuses.SENT_REQUEST_STATUSES)} OR batch_job_id IS NOT NULL",
        name="job_when_sent",
    ),
    CheckConstraint(
        f"status NOT IN {_values(statuses.EXPLAINED_REQUEST_STATUSES)} OR error IS NOT NULL",
        name="terminal_has_reason",
    ),
    Index(
        "uq_batch_requests_live_item",
        "workflow",
        "item_id",
        unique=True,
        postgresql_where=text(_in("status", LIVE_REQUEST_STATUSES)),
    ),
    Index(None, "batch_job_id"),
    Index(None, "workflow", "status", "partition_date"),
    Index(None, "tenant_id", "status"),
    # What `batch_submit_sensor` reads every tick: the queued work, whatever its date.
    Index(
        "ix_batch_requests_queued",
        "workflow",
        postgresql_where=text(f"status = '{RequestStatus.QUEUED}'"),
    ),
)

# The rendered line of each queued request, and the group it pools in: written by the run that
# queued it (a request asset's run), read by whichever machine's submit run plans and sends it, so
# no local file is needed in between. Kept until its batch is ingested (a batch that failed on the
# token limit is sent again with the same lines), then deleted: it holds tenant data.
request_lines = Table(
    "request_lines",
    metadata,
    Column(
        "custom_id",
        Text,
        ForeignKey("batch_requests.custom_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    # The group it pools in: one submit run per (workflow, provider, credentials, model, endpoint).
    Column("workflow", Text, nullable=False),
    Column("provider", Text, nullable=False),
    Column("credentials_ref", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("endpoint", Text, nullable=False),
    # Requests sharing a static prompt prefix are planned next to each other (the cache).
    Column("prefix_key", Text, nullable=False),
    Column("nbytes", Integer, nullable=False),
    Column("embedding_inputs", Integer, nullable=False, server_default="0"),
    # Prompt caching (`batching/priming.py`): the line's cacheable prefix keys, shortest first, and
    # its prompt's cache breakpoints; the submit run decides priming from them over the group.
    Column("cache_keys", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("breakpoints", SmallInteger, nullable=False, server_default="0"),
    Column("line", LargeBinary, nullable=False),
    # When it was queued: the batch window of its group runs from its oldest line.
    Column("queued_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("nbytes = octet_length(line)", name="nbytes_of_line"),
)

# Each cache prefix requests were planned with: its chain of prefixes from the shortest (the most
# widely shared: a workflow's instructions) to itself, with the estimated tokens of each (4 bytes a
# token). Written once when first planned; read by the ledger's cost bound and the report.
prompt_prefixes = Table(
    "prompt_prefixes",
    metadata,
    Column("prefix_key", Text, primary_key=True),
    Column("provider", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("keys", ARRAY(Text), nullable=False),
    Column("tokens", ARRAY(Integer), nullable=False),
    _created_at(),
    CheckConstraint("cardinality(keys) = cardinality(tokens)", name="levels"),
)

# The answers of a self-hosted server, one row per request line in the OpenAI batch output shape:
# written by the run that drove the server, read by whichever machine ingests the job.
self_hosted_results = Table(
    "self_hosted_results",
    metadata,
    Column("provider_batch_id", Text, primary_key=True),
    Column("line_number", Integer, primary_key=True),
    Column("batch_job_id", Text, nullable=False),
    Column("custom_id", Text, nullable=False),
    Column("status_code", SmallInteger, nullable=False),
    Column("line", Text, nullable=False),
    _created_at(),
    Index(None, "batch_job_id"),
)

# --- results ------------------------------------------------------------------------------------


def _result_provenance() -> list[Column]:
    return [
        Column("model", Text, nullable=False),
        Column("batch_job_id", Text, ForeignKey("batch_jobs.batch_job_id")),
        Column("custom_id", Text, ForeignKey("batch_requests.custom_id"), nullable=False),
        _created_at(),
    ]


call_analytics = Table(
    "call_analytics",
    metadata,
    Column("call_id", Text, ForeignKey("calls.call_id"), primary_key=True),
    Column("tenant_id", Text, ForeignKey("tenants.tenant_id"), nullable=False),
    Column("summary", Text, nullable=False),
    Column("sentiment", Numeric(4, 3), nullable=False),
    Column("lead_score", SmallInteger, nullable=False),
    Column("topics", JSONB, nullable=False),
    Column("next_action", Text, nullable=False),
    Column("redactions", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("truncated", Boolean, nullable=False, server_default=text("false")),
    *_result_provenance(),
    CheckConstraint("sentiment BETWEEN -1 AND 1", name="sentiment_range"),
    CheckConstraint("lead_score BETWEEN 0 AND 100", name="lead_score_range"),
)

lead_scores = Table(
    "lead_scores",
    metadata,
    Column("lead_id", Text, ForeignKey("leads.lead_id"), primary_key=True),
    Column("tenant_id", Text, ForeignKey("tenants.tenant_id"), nullable=False),
    Column("score", SmallInteger, nullable=False),
    Column("reasons", JSONB, nullable=False),
    Column("best_channel", Text, nullable=False),
    Column("best_time", Text, nullable=False),
    *_result_provenance(),
    CheckConstraint("score BETWEEN 0 AND 100", name="score_range"),
)

outreach_drafts = Table(
    "outreach_drafts",
    metadata,
    Column("lead_id", Text, ForeignKey("leads.lead_id"), primary_key=True),
    Column("tenant_id", Text, ForeignKey("tenants.tenant_id"), nullable=False),
    Column("subject", Text),
    Column("text", Text),
    Column("html", Text),
    Column("call_to_action", Text),
    # Set instead of a draft when the lead cannot be contacted.
    Column("skipped_reason", Text),
    *_result_provenance(),
    CheckConstraint(
        "skipped_reason IS NOT NULL OR (subject IS NOT NULL AND text IS NOT NULL AND html IS NOT NULL)",
        name="draft_or_reason",
    ),
)

EMBEDDING_DIMENSIONS = 1536

kb_chunks = Table(
    "kb_chunks",
    metadata,
    Column("chunk_id", Text, primary_key=True),
    Column("doc_id", Text, ForeignKey("kb_documents.doc_id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", Text, ForeignKey("tenants.tenant_id"), nullable=False),
    Column("chunk_index", Integer, nullable=False),
    Column("content", Text, nullable=False),
    Column("content_sha256", Text, nullable=False),
    Column("embedding", Vector(EMBEDDING_DIMENSIONS)),
    Column("model", Text),
    Column("custom_id", Text, ForeignKey("batch_requests.custom_id")),
    _created_at(),
    UniqueConstraint("doc_id", "chunk_index"),
    Index(None, "tenant_id", "doc_id"),
    Index(
        "ix_kb_chunks_embedding_hnsw",
        "embedding",
        postgresql_using="hnsw",
        postgresql_ops={"embedding": "vector_cosine_ops"},
    ),
)

# --- money --------------------------------------------------------------------------------------


def _token_columns() -> list[Column]:
    # input_tokens is the uncached part: the whole prompt is input + cached_input + cache_write.
    cols = []
    for name in ("input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens"):
        cols.append(Column(name, BigInteger, nullable=False, server_default="0"))
    cols.append(Column("cache_write_1h_tokens", BigInteger, nullable=False, server_default="0"))
    return cols


def _token_checks() -> list[CheckConstraint]:
    return [
        CheckConstraint(
            "input_tokens >= 0 AND cached_input_tokens >= 0 AND cache_write_tokens >= 0 "
            "AND output_tokens >= 0 AND cache_write_1h_tokens BETWEEN 0 AND cache_write_tokens",
            name="tokens_nonnegative",
        )
    ]


llm_usage = Table(
    "llm_usage",
    metadata,
    Column("usage_id", BigInteger, Identity(), primary_key=True),
    Column("provider", Text, nullable=False),
    # Synchronous and self-hosted lines carry a synthetic id (the job's), so the key stays unique.
    Column("provider_batch_id", Text, nullable=False),
    Column("custom_id", Text, ForeignKey("batch_requests.custom_id"), nullable=False),
    Column("batch_job_id", Text, ForeignKey("batch_jobs.batch_job_id")),
    Column("tenant_id", Text, ForeignKey("tenants.tenant_id"), nullable=False),
    Column("vertical", Text, nullable=False),
    Column("agent_id", Text),
    Column("workflow", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("mode", Text, nullable=False),
    *_token_columns(),
    Column("ledger_date", Date, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    # When the row was written (NULL: before migration 0006).
    Column("recorded_at", DateTime(timezone=True), server_default=func.now()),
    UniqueConstraint("provider", "provider_batch_id", "custom_id"),
    CheckConstraint(_in("mode", MODES), name="mode"),
    *_token_checks(),
    Index(None, "ledger_date", "tenant_id"),
    Index(None, "batch_job_id"),
    Index(
        "ix_llm_usage_self_hosted_day",
        "ledger_date",
        "tenant_id",
        postgresql_where=text("mode = 'self_hosted'"),
    ),
)

# usage_id references llm_usage (ON DELETE CASCADE) and tenant_id references tenants through
# statement-level triggers, not foreign keys: a foreign key checks and locks row by row, which was
# most of the cost of pricing a partition (migration 0003 has the rules and the locking).
cost_ledger = Table(
    "cost_ledger",
    metadata,
    Column("ledger_id", BigInteger, Identity(), primary_key=True),
    Column("usage_id", BigInteger, nullable=False, unique=True),
    Column("tenant_id", Text, nullable=False),
    Column("vertical", Text, nullable=False),
    Column("agent_id", Text),
    Column("workflow", Text, nullable=False),
    Column("provider", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("mode", Text, nullable=False),
    Column("ledger_date", Date, nullable=False),
    *_token_columns(),
    Column("cost_micro_usd", MICRO_USD, nullable=False),
    Column("sync_cost_micro_usd", MICRO_USD, nullable=False),
    Column("batch_discount_micro_usd", MICRO_USD, nullable=False, server_default="0"),
    Column("cache_read_savings_micro_usd", MICRO_USD, nullable=False, server_default="0"),
    Column("cache_write_premium_micro_usd", MICRO_USD, nullable=False, server_default="0"),
    Column("pricing_source", Text, nullable=False),
    Column("pricing_version", Text, nullable=False),
    Column("unit_prices", JSONB, nullable=False),
    # The price entry that priced it (pricing.LinePrice.priced_by; NULL: priced before 0006).
    Column("priced_by", Text),
    Column("priced_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(_in("mode", MODES), name="mode"),
    CheckConstraint("cost_micro_usd >= 0 AND sync_cost_micro_usd >= 0", name="cost_nonnegative"),
    *_token_checks(),
    Index(None, "ledger_date", "tenant_id"),
    Index(None, "tenant_id", "ledger_date", "workflow"),
    Index(
        "ix_cost_ledger_self_hosted_day",
        "ledger_date",
        "tenant_id",
        postgresql_where=text("mode = 'self_hosted'"),
    ),
)

tenant_cost_reports = Table(
    "tenant_cost_reports",
    metadata,
    Column("report_date", Date, primary_key=True),
    Column("tenant_id", Text, ForeignKey("tenants.tenant_id"), primary_key=True),
    Column("workflow", Text, primary_key=True),
    Column("vertical", Text, nullable=False),
    Column("day_cost_micro_usd", MICRO_USD, nullable=False),
    Column("day_sync_cost_micro_usd", MICRO_USD, nullable=False),
    Column("mtd_cost_micro_usd", MICRO_USD, nullable=False),
    Column("mtd_sync_cost_micro_usd", MICRO_USD, nullable=False),
    Column("mtd_batch_discount_micro_usd", MICRO_USD, nullable=False),
    Column("mtd_cache_read_savings_micro_usd", MICRO_USD, nullable=False),
    Column("mtd_cache_write_premium_micro_usd", MICRO_USD, nullable=False),
    Column("items_held", Integer, nullable=False, server_default="0"),
    # Migration 0010: the lowest cost the price lists allow for the same tokens and prompt
    # structure (`ledger/cache_bound.py`), and the prompt tokens read from cache.
    Column("day_bound_cost_micro_usd", MICRO_USD, nullable=False, server_default="0"),
    Column("mtd_bound_cost_micro_usd", MICRO_USD, nullable=False, server_default="0"),
    Column("mtd_prompt_tokens", BigInteger, nullable=False, server_default="0"),
    Column("mtd_cached_input_tokens", BigInteger, nullable=False, server_default="0"),
    Column("generated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
