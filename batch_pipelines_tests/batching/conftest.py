"""Engine fixtures: a small workflow over `calls`, a few tenants, and the emulator on a free port."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import pytest
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from batch_pipelines.batching.workflow import (
    InvalidAnswer,
    ManifestRow,
    Rendered,
    Skipped,
    WorkItem,
)
from batch_pipelines.core.prompts import ChatPrompt, ModelAnswer
from batch_pipelines.core.tenants import TenantContext
from batch_pipelines.db.tables import call_analytics, calls
from batch_pipelines.emulator.server import EmulatorServer
from batch_pipelines.providers.registry import ProviderRegistry

DAY = dt.date(2026, 11, 25)
SCHEMA = {
    "type": "object",
    "properties": {
        "summary": {"type": "string", "maxLength": 400},
        "sentiment": {"type": "number", "minimum": -1, "maximum": 1},
        "lead_score": {"type": "integer", "minimum": 0, "maximum": 100},
        "topics": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
        "next_action": {"type": "string"},
    },
    "required": ["summary", "sentiment", "lead_score", "topics", "next_action"],
    "additionalProperties": False,
}


class CallSummaries:
    """A minimal workflow over `calls` for engine tests (the real one is workflows.post_call)."""

    name = "post_call"
    endpoint = "/v1/chat/completions"

    def __init__(self, provider: str = "openai", deadline: dt.timedelta | None = None) -> None:
        self.provider = provider
        self.model = {
            "openai": "gpt-4o-mini",
            "anthropic": "claude-haiku-4-5",
            "self_hosted": "llama-3.1-8b-instruct",
        }[provider]
        self.endpoint = "/v1/messages" if provider == "anthropic" else "/v1/chat/completions"
        self.max_attempts = 3
        self.deadline = deadline

    def due_items(
        self, conn: Connection, partition_dates: Sequence[dt.date], tenant_ids: Sequence[str] | None
    ) -> list[WorkItem]:
        query = (
            select(calls.c.call_id, calls.c.tenant_id, calls.c.agent_id, calls.c.ended_at)
            .outerjoin(call_analytics, call_analytics.c.call_id == calls.c.call_id)
            .where(call_analytics.c.call_id.is_(None), calls.c.ended_at.is_not(None))
        )
        if tenant_ids is not None:
            query = query.where(calls.c.tenant_id.in_(list(tenant_ids)))
        return [
            WorkItem(r.call_id, r.tenant_id, r.ended_at.date(), r.agent_id)
            for r in conn.execute(query.order_by(calls.c.call_id))
            if r.ended_at.date() in partition_dates
        ]

    def render(
        self, conn: Connection, items: Sequence[WorkItem], tenants: Mapping[str, TenantContext]
    ):
        transcripts = dict(
            conn.execute(
                select(calls.c.call_id, calls.c.transcript).where(
                    calls.c.call_id.in_([i.item_id for i in items])
                )
            ).all()
        )
        for item in items:
            transcript = transcripts[item.item_id]
            if not transcript.strip():
                yield Skipped(item, "empty transcript")
                continue
            tenant = tenants[item.tenant_id]
            yield Rendered(
                item,
                ChatPrompt(
                    static_blocks=(
                        "Summarise the call as JSON. " * 40,
                        f"Vertical: {tenant.vertical}",
                    ),
                    user=f"<transcript>{transcript}</transcript>",
                    schema_name="call_summary",
                    json_schema=SCHEMA,
                    max_output_tokens=300,
                ),
                notes={"chars": len(transcript)},
            )

    def store(
        self, conn: Connection, request: ManifestRow, answer: ModelAnswer, batch_model: str
    ) -> None:
        data = answer.json
        if not isinstance(data, dict) or set(data) != set(SCHEMA["properties"]):
            raise InvalidAnswer(f"answer is not the call_summary object: {str(answer.text)[:80]!r}")
        if not -1 <= data["sentiment"] <= 1 or not 0 <= data["lead_score"] <= 100:
            raise InvalidAnswer("sentiment or lead_score out of range")
        if not isinstance(data["topics"], list):
            raise InvalidAnswer("topics is not a list")
        conn.execute(
            pg_insert(call_analytics)
            .values(
                call_id=request.item_id,
                tenant_id=request.tenant_id,
                summary=str(data["summary"]),
                sentiment=data["sentiment"],
                lead_score=data["lead_score"],
                topics=data["topics"],
                next_action=str(data["next_action"]),
                model=batch_model,
                batch_job_id=request.batch_job_id,
                custom_id=request.custom_id,
            )
            .on_conflict_do_nothing(index_elements=["call_id"])
        )


def add_tenant(engine: Engine, tenant_id: str, *, isolated: bool = False, budget=None) -> None:
    policy = {"isolated": isolated, "redact_pii": False, "monthly_budget_usd": budget}
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenants (tenant_id, name, vertical, tier, tier_price_usd, policy)"
                " VALUES (:t, :t, 'sales', 'growth', 499, CAST(:p AS jsonb))"
            ),
            {"t": tenant_id, "p": __import__("json").dumps(policy)},
        )
        conn.execute(
            text("INSERT INTO agents (agent_id, tenant_id, name) VALUES (:a, :t, 'Ava')"),
            {"a": f"agent-{tenant_id}", "t": tenant_id},
        )


def add_calls(engine: Engine, tenant_id: str, count: int, day: dt.date = DAY) -> list[str]:
    ids = []
    with engine.begin() as conn:
        for n in range(count):
            call_id = f"call-{tenant_id}-{day:%Y%m%d}-{n:03d}"
            start = dt.datetime.combine(day, dt.time(9, n % 60), tzinfo=dt.UTC)
            conn.execute(
                text(
                    "INSERT INTO calls (call_id, tenant_id, agent_id, started_at, ended_at, transcript)"
                    " VALUES (:c, :t, :a, :s, :e, :x)"
                ),
                {
                    "c": call_id,
                    "t": tenant_id,
                    "a": f"agent-{tenant_id}",
                    "s": start,
                    "e": start + dt.timedelta(minutes=4),
                    "x": f"Agent: Hello from {tenant_id}. Caller: I want a quote, call {n}.",
                },
            )
            ids.append(call_id)
    return ids


@pytest.fixture
def providers(emulator: EmulatorServer) -> ProviderRegistry:
    return ProviderRegistry(max_retries=0, timeout=30)
