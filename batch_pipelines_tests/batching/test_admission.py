"""Item 4 of issue 16: admission control per (provider, credentials, model). A shard never takes
more than the queue limit alone; a planned job is created only while the estimate of its model's
live batches plus its own stays within the limit (OpenAI: enqueued input tokens, Anthropic:
queued requests); the others wait `planned` and go as room frees."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from batch_pipelines.batching.ingest import ingest_job
from batch_pipelines.batching.manifest import load_tenants
from batch_pipelines.batching.planning import plan
from batch_pipelines.batching.polling import ended_jobs_awaiting_ingest, poll
from batch_pipelines.batching.submission import submit_planned
from batch_pipelines.db.tables import batch_jobs, batch_requests
from batch_pipelines.providers.settings import ANTHROPIC_QUEUE_LIMIT_ENV, ENQUEUED_TOKEN_LIMITS_ENV

from .conftest import DAY, CallSummaries, add_calls, add_tenant


def _line_tokens(engine, providers, workflow) -> int:
    """The planner's estimate for one of the day's lines (they are all about the same size)."""
    with engine.connect() as conn:
        (item, *_rest) = workflow.due_items(conn, [DAY], None)
        (rendered,) = workflow.render(conn, [item], load_tenants(conn))
    line = providers.get(workflow.provider).encode_line(
        "pc" + "a" * 43, workflow.model, workflow.endpoint, rendered.prompt
    )
    return -(-len(line) // 4)


def _live(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(
            select(batch_jobs.c.batch_job_id, batch_jobs.c.estimated_input_tokens).where(
                batch_jobs.c.status.in_(("submitting", "submitted"))
            )
        ).all()


def _drain(engine, providers, workflow, limit: int, size) -> int:
    """Submit, poll and ingest until nothing is left; checks the limit after every submit.
    Returns the number of submit rounds that had a job waiting."""
    waited = 0
    for _ in range(30):
        submitted = submit_planned(engine, workflow, providers)
        waited += bool(submitted.waiting)
        assert sum(size(job) for job in _live(engine)) <= limit
        poll(engine, providers)
        for job in ended_jobs_awaiting_ingest(engine):
            ingest_job(engine, workflow, providers, job.batch_job_id)
        with engine.connect() as conn:
            left = conn.execute(
                select(func.count())
                .select_from(batch_requests)
                .where(batch_requests.c.status != "succeeded")
            ).scalar_one()
        if not left:
            return waited
    raise AssertionError("the day did not finish")


def test_openai_batches_wait_for_room_under_the_enqueued_token_limit(
    engine, emulator, providers, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_tenant(engine, "acme")
    add_calls(engine, "acme", 6)
    workflow = CallSummaries("openai")
    tokens = _line_tokens(engine, providers, workflow)
    limit = tokens * 2 + tokens // 2  # two lines fit, three do not
    monkeypatch.setenv(ENQUEUED_TOKEN_LIMITS_ENV, f"gpt-4o-mini={limit},text-embedding-3-large=9")
    planned = plan(engine, workflow, providers, [DAY])
    with engine.connect() as conn:
        shards = conn.execute(
            select(batch_jobs.c.request_count, batch_jobs.c.estimated_input_tokens)
        ).all()
    assert sorted(s.request_count for s in shards) == [2, 2, 2]  # cut at the limit
    assert all(s.estimated_input_tokens <= limit for s in shards)
    first = submit_planned(engine, workflow, providers)
    assert len(first.submitted) == 1 and len(first.waiting) == 2  # one at a time fits
    assert all("tokens (gpt-4o-mini) taken by live batches" in r for r in first.waiting.values())
    waited = _drain(engine, providers, workflow, limit, lambda job: job.estimated_input_tokens)
    assert waited >= 1 and len(planned.batch_job_ids) == 3


def test_anthropic_batches_wait_for_room_under_the_queue_limit(
    engine, emulator, providers, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_tenant(engine, "acme")
    add_calls(engine, "acme", 5)
    monkeypatch.setenv(ANTHROPIC_QUEUE_LIMIT_ENV, "2")
    workflow = CallSummaries("anthropic")
    plan(engine, workflow, providers, [DAY])
    with engine.connect() as conn:
        sizes = sorted(conn.execute(select(batch_jobs.c.request_count)).scalars())
    assert sizes == [1, 2, 2]  # a shard never exceeds the queue alone
    first = submit_planned(engine, workflow, providers)
    assert len(first.submitted) == 1 and len(first.waiting) == 2
    with engine.connect() as conn:
        request_counts = dict(
            conn.execute(select(batch_jobs.c.batch_job_id, batch_jobs.c.request_count)).all()
        )
    _drain(engine, providers, workflow, 2, lambda job: request_counts[job.batch_job_id])
