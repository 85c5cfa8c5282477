"""Small helpers that write tenants, batch jobs, manifest rows and usage rows straight into the DB."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from batch_pipelines.core.usage import TokenUsage
from batch_pipelines.core.workflows import declarations

DAY = dt.date(2026, 11, 25)
AT = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)

# (provider, model, endpoint) per workflow: the declared defaults
DEFAULT_MODELS = {w.name: (w.provider, w.model, w.endpoint) for w in declarations()}

_ids = itertools.count(1)


def add_tenant(
    conn: Connection,
    tenant_id: str,
    *,
    vertical: str = "sales",
    tier: str = "growth",
    tier_price_usd: str | int = 499,
    budget_usd: str | int | None = None,
) -> str:
    policy: dict[str, Any] = {}
    if budget_usd is not None:
        policy["monthly_budget_usd"] = json.loads(str(budget_usd))  # a JSON number
    conn.execute(
        text(
            "INSERT INTO tenants (tenant_id, name, vertical, tier, tier_price_usd, policy)"
            " VALUES (:t, :t, :v, :tier, :price, CAST(:policy AS jsonb))"
        ),
        {
            "t": tenant_id,
            "v": vertical,
            "tier": tier,
            "price": Decimal(str(tier_price_usd)),
            "policy": json.dumps(policy),
        },
    )
    return tenant_id


def add_job(
    conn: Connection,
    workflow: str = "post_call",
    *,
    provider: str | None = None,
    model: str | None = None,
    mode: str = "batch",
    status: str = "ingested",
    provider_usage: dict[str, Any] | None = None,
    job_id: str | None = None,
) -> str:
    default_provider, default_model, endpoint = DEFAULT_MODELS[workflow]
    job_id = job_id or f"job-{next(_ids)}"
    conn.execute(
        text(
            "INSERT INTO batch_jobs (batch_job_id, workflow, provider, mode, model, endpoint,"
            " status, provider_batch_id, request_count, provider_usage)"
            " VALUES (:j, :w, :p, :mode, :m, :e, :s, :pb, 0, CAST(:u AS jsonb))"
        ),
        {
            "j": job_id,
            "w": workflow,
            "p": provider or default_provider,
            "mode": mode,
            "m": model or default_model,
            "e": endpoint,
            "s": status,
            "pb": f"pb-{job_id}",
            "u": None if provider_usage is None else json.dumps(provider_usage),
        },
    )
    return job_id


def add_request(
    conn: Connection,
    tenant_id: str,
    *,
    workflow: str = "post_call",
    item_id: str | None = None,
    partition_date: dt.date = DAY,
    status: str = "succeeded",
    job_id: str | None = None,
    estimated_cost_micro_usd: Decimal | int = 0,
    vertical: str | None = None,
) -> str:
    custom_id = f"r-{next(_ids)}"
    conn.execute(
        text(
            "INSERT INTO batch_requests (custom_id, batch_job_id, tenant_id, vertical, workflow,"
            " item_id, partition_date, status, estimated_cost_micro_usd, error)"
            " VALUES (:c, :j, :t, coalesce(:v, (SELECT vertical FROM tenants WHERE tenant_id = :t)),"
            " :w, :i, :d, :s, :e, :err)"
        ),
        {
            "c": custom_id,
            "j": job_id,
            "t": tenant_id,
            "v": vertical,
            "w": workflow,
            "i": item_id or f"item-{custom_id}",
            "d": partition_date,
            "s": status,
            "e": Decimal(estimated_cost_micro_usd),
            "err": "test" if status in ("dead_letter", "skipped", "held") else None,
        },
    )
    return custom_id


def add_usage(
    conn: Connection,
    tenant_id: str,
    job_id: str,
    usage: TokenUsage,
    *,
    workflow: str | None = None,
    item_id: str | None = None,
    ledger_date: dt.date = DAY,
    occurred_at: dt.datetime = AT,
    provider: str | None = None,
    model: str | None = None,
    mode: str | None = None,
    vertical: str | None = None,
) -> int:
    """A succeeded manifest request of `job_id` and its usage row; returns the usage_id."""
    job = conn.execute(
        text("SELECT * FROM batch_jobs WHERE batch_job_id = :j"), {"j": job_id}
    ).one()
    workflow = workflow or job.workflow
    custom_id = add_request(
        conn,
        tenant_id,
        workflow=workflow,
        item_id=item_id,
        partition_date=ledger_date,
        job_id=job_id,
        vertical=vertical,
    )
    return conn.execute(
        text(
            "INSERT INTO llm_usage (provider, provider_batch_id, custom_id, batch_job_id,"
            " tenant_id, vertical, workflow, model, mode, input_tokens, cached_input_tokens,"
            " cache_write_tokens, cache_write_1h_tokens, output_tokens, ledger_date, occurred_at)"
            " SELECT :p, :pb, :c, :j, :t, vertical, workflow, :m, :mode, :i, :r, :w, :w1, :o,"
            " :d, :at FROM batch_requests WHERE custom_id = :c RETURNING usage_id"
        ),
        {
            "p": provider or job.provider,
            "pb": job.provider_batch_id,
            "c": custom_id,
            "j": job_id,
            "t": tenant_id,
            "m": model or job.model,
            "mode": mode or job.mode,
            "i": usage.input_tokens,
            "r": usage.cached_input_tokens,
            "w": usage.cache_write_tokens,
            "w1": usage.cache_write_1h_tokens,
            "o": usage.output_tokens,
            "d": ledger_date,
            "at": occurred_at,
        },
    ).scalar_one()


def usage_of(row: Any) -> TokenUsage:
    return TokenUsage(
        input_tokens=row.input_tokens,
        cached_input_tokens=row.cached_input_tokens,
        cache_write_tokens=row.cache_write_tokens,
        cache_write_1h_tokens=row.cache_write_1h_tokens,
        output_tokens=row.output_tokens,
    )
