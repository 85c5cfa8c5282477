"""Benchmark data: demo tenants, their calls multiplied in SQL, transcripts padded to a size.

`seed_demo` writes realistic tenants (verticals, tiers, PII-redaction and isolation policies),
agents, leads and documents, and a few realistic calls per tenant; generating 200,000 calls with it
would take minutes, so the calls are then multiplied in SQL (new ids, the same transcripts) up to
the count a benchmark needs. Monthly budgets are removed so that every item is planned (a held
item is a different benchmark).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, text

from batch_pipelines.batching.workflow import Rendered, WorkItem
from batch_pipelines.core.tenants import TenantContext
from batch_pipelines.db.seed import seed_demo
from batch_pipelines.providers.openai_batch import OpenAIBatchProvider
from batch_pipelines.workflows.post_call import PostCallAnalytics

DAY = dt.date(2026, 11, 25)
BASE_CALLS_PER_TENANT = 8


def seed(
    engine: Engine,
    *,
    tenants: int,
    calls_per_tenant: int,
    leads_per_tenant: int = 0,
    docs_per_tenant: int = 0,
    transcript_bytes: int | None = None,
    day: dt.date = DAY,
    keep_budgets: bool = False,
    unique_transcripts: bool = False,
) -> None:
    """`unique_transcripts`: every call's transcript differs (a line naming the call starts it),
    as in production; otherwise the multiplied calls repeat the realistic ones."""
    base = max(1, min(BASE_CALLS_PER_TENANT, calls_per_tenant))
    with engine.begin() as conn:
        seed_demo(
            conn,
            tenants=tenants,
            date=day,
            calls_per_tenant=base,
            leads_per_tenant=leads_per_tenant,
            docs_per_tenant=docs_per_tenant,
        )
        if calls_per_tenant > base:
            conn.execute(
                text(
                    """
                    WITH base AS (
                        SELECT c.*, row_number() OVER (
                            PARTITION BY tenant_id ORDER BY call_id) AS rn
                        FROM calls c
                    )
                    INSERT INTO calls (call_id, tenant_id, agent_id, started_at, ended_at,
                                       transcript)
                    SELECT b.call_id || '-r' || n, b.tenant_id, b.agent_id,
                           b.started_at + (n % 97) * interval '1 second',
                           b.ended_at + (n % 97) * interval '1 second', b.transcript
                    FROM base b
                    JOIN generate_series(:base + 1, :cpt) AS n ON b.rn = ((n - 1) % :base) + 1
                    """
                ),
                {"base": base, "cpt": calls_per_tenant},
            )
        if unique_transcripts:
            conn.execute(
                text("UPDATE calls SET transcript = 'Call ' || call_id || E'\\n' || transcript")
            )
        if transcript_bytes:
            # Repeat each (realistic) transcript up to the size, cut at a line end where possible.
            conn.execute(
                text(
                    """
                    UPDATE calls SET transcript = left(
                        repeat(transcript || E'\\n',
                               ceil(CAST(:n AS float) / (octet_length(transcript) + 1))::int + 1),
                        :n)
                    """
                ),
                {"n": transcript_bytes},
            )
        if not keep_budgets:
            conn.execute(
                text("UPDATE tenants SET policy = policy || '{\"monthly_budget_usd\": null}'")
            )


def transcript_bytes_for(workflow: PostCallAnalytics, prompt_tokens: int) -> int:
    """Transcript size that makes a post-call request of `workflow` about `prompt_tokens` tokens
    (4 bytes each, the emulator's estimate), given the static prefix, schema and wrapper around it."""
    tenant = TenantContext("t", "A Typical Business Name Ltd", "sales", "growth", {}, {})
    # The prompt around a one-byte transcript, encoded as a batch line.
    outcome = workflow.render_one(WorkItem("c", "t", DAY), ("t", "x"), {"t": tenant})
    if not isinstance(outcome, Rendered):
        raise RuntimeError(f"the size probe did not render: {outcome}")
    provider = OpenAIBatchProvider(client_factory=lambda: None)  # encodes only, never calls
    line = provider.encode_line("x" * 45, workflow.model, workflow.endpoint, outcome.prompt)
    return max(400, prompt_tokens * 4 - len(line))


_ASIDE = "interval '30 days'"


def tenant_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(text("SELECT tenant_id FROM tenants ORDER BY tenant_id")).scalars()
        )


def keep_calls(engine: Engine, tenants: list[str], count: int) -> None:
    """Delete the tenants' calls beyond the first `count` (by call id)."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "DELETE FROM calls WHERE call_id IN (SELECT call_id FROM calls"
                " WHERE tenant_id = ANY(:t) ORDER BY call_id OFFSET :n)"
            ),
            {"t": tenants, "n": count},
        )


def keep_due(engine: Engine, tenants: list[str], count: int | None) -> None:
    """Only the first `count` of the tenants' calls without a request stay on the day (the rest
    move 30 days on, out of the day's partitions); None brings every call back."""
    restore_calls(engine)
    if count is None:
        return
    with engine.begin() as conn:
        conn.execute(
            text(
                f"UPDATE calls SET started_at = started_at + {_ASIDE},"
                f" ended_at = ended_at + {_ASIDE} WHERE call_id IN ("
                " SELECT c.call_id FROM calls c WHERE c.tenant_id = ANY(:t) AND NOT EXISTS"
                " (SELECT 1 FROM batch_requests r WHERE r.item_id = c.call_id)"
                " ORDER BY c.call_id OFFSET :n)"
            ),
            {"t": tenants, "n": count},
        )


def restore_calls(engine: Engine, day: dt.date = DAY) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                f"UPDATE calls SET started_at = started_at - {_ASIDE},"
                f" ended_at = ended_at - {_ASIDE} WHERE ended_at >= CAST(:d AS date) + 2"
            ),
            {"d": day},
        )
