"""Items 5 and 6 of issue 16: creates are sent once (no SDK retries: a create whose answer was lost
would make two batches), under one lock per (provider, credentials) from the create to its
record, so a reconciliation can never adopt a batch another job is creating; a 429 defers only
its own job, by its Retry-After, and a Retry-After too long to wait in a call fails the call at
once instead of stalling the tick."""

from __future__ import annotations

import datetime as dt
import threading

import anthropic
import httpx2
from sqlalchemy import select

from batch_pipelines.batching.planning import plan
from batch_pipelines.batching.submission import Outcome, submit_job, submit_planned
from batch_pipelines.db.tables import batch_jobs
from batch_pipelines.providers.registry import (
    MAX_IN_CALL_RETRY_AFTER,
    ProviderRegistry,
    _no_long_waits,
)

from .conftest import DAY, CallSummaries, add_calls, add_tenant

NEXT_DAY = DAY + dt.timedelta(days=1)


def _jobs(engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                batch_jobs.c.batch_job_id,
                batch_jobs.c.status,
                batch_jobs.c.provider_batch_id,
                batch_jobs.c.not_before,
            )
        ).all()
    return {r.batch_job_id: (r.status, r.provider_batch_id, r.not_before) for r in rows}


def test_a_rate_limited_create_is_not_retried_by_the_sdk_and_defers_only_its_job(
    engine, emulator
) -> None:
    """With the SDK's production retries on, a 429 at create still reaches the engine: the job
    waits `planned` for the Retry-After (no second create inside the call), and the other job is
    submitted in the same run."""
    add_tenant(engine, "acme")
    add_tenant(engine, "vault", isolated=True)
    add_calls(engine, "acme", 2)
    add_calls(engine, "vault", 2)
    providers = ProviderRegistry(max_retries=2, timeout=30)
    workflow = CallSummaries("anthropic")
    plan(engine, workflow, providers, [DAY])
    emulator.set_config(rate_limit_create=1)  # the next create answers 429, retry-after: 1
    before = dt.datetime.now(dt.UTC)
    result = submit_planned(engine, workflow, providers)
    assert len(result.submitted) == 1 and len(result.deferred) == 1
    (deferred,) = result.deferred
    status, provider_batch_id, not_before = _jobs(engine)[deferred]
    assert (status, provider_batch_id) == ("planned", None)
    assert not_before >= before + dt.timedelta(seconds=1)  # the provider's Retry-After
    claude = anthropic.Anthropic(base_url=emulator.anthropic_base_url, api_key="x", max_retries=0)
    assert len(list(claude.messages.batches.list(limit=100))) == 1


def test_a_reconciliation_never_adopts_a_batch_another_job_is_creating(
    engine, emulator, providers
) -> None:
    """Job B's create succeeded and B is about to record it when job A's create on the same
    credentials fails (429). A's reconciliation (Anthropic: by time and request count) must not
    take B's batch: the create lock keeps A out until B has recorded."""
    add_tenant(engine, "acme")
    add_calls(engine, "acme", 3)
    add_calls(engine, "acme", 3, day=NEXT_DAY)
    workflow = CallSummaries("anthropic")
    (job_b,) = plan(engine, workflow, providers, [DAY]).batch_job_ids
    (job_a,) = plan(engine, workflow, providers, [NEXT_DAY]).batch_job_ids
    b_created = threading.Event()

    def hold_after_create(point: str) -> None:
        if point == "after_create":
            emulator.set_config(rate_limit_create=1)  # A's create will be refused
            b_created.set()
            threading.Event().wait(0.5)  # A arrives while B has not recorded yet

    outcomes: dict[str, object] = {}

    def submit_b() -> None:
        outcomes["b"] = submit_job(
            engine, workflow, ProviderRegistry(max_retries=0), job_b, checkpoint=hold_after_create
        )

    thread = threading.Thread(target=submit_b)
    thread.start()
    assert b_created.wait(30)
    outcomes["a"] = submit_job(engine, workflow, ProviderRegistry(max_retries=0), job_a)
    thread.join(30)
    assert outcomes["b"].outcome is Outcome.SUBMITTED
    assert outcomes["a"].outcome is Outcome.DEFERRED  # refused: nothing adopted
    jobs = _jobs(engine)
    assert jobs[job_b][0] == "submitted" and jobs[job_a][:2] == ("planned", None)
    # A goes once the rate limit has passed, with a batch of its own.
    submit_planned(engine, workflow, providers, now=jobs[job_a][2])
    jobs = _jobs(engine)
    assert jobs[job_a][0] == "submitted" and jobs[job_a][1] != jobs[job_b][1]


def test_a_retry_after_too_long_to_wait_in_a_call_fails_the_call_at_once() -> None:
    """The SDKs sleep through a Retry-After (Anthropic's for any length, OpenAI's up to 120 s):
    past a few seconds the response is marked not to be retried, and the engine defers the job."""
    request = httpx2.Request("GET", "http://provider.test/v1/batches/x")
    long_wait = httpx2.Response(429, headers={"retry-after": "3600"}, request=request)
    _no_long_waits(long_wait)
    assert long_wait.headers["x-should-retry"] == "false"
    short = httpx2.Response(
        429, headers={"retry-after": str(MAX_IN_CALL_RETRY_AFTER / 2)}, request=request
    )
    _no_long_waits(short)
    assert "x-should-retry" not in short.headers  # a short wait is left to the SDK's retry


def test_a_long_retry_after_defers_its_job_and_never_blocks_the_tick(engine, emulator) -> None:
    """A 429 at create asking for an hour: with the SDK's production retries on, the call fails at
    once (Anthropic's SDK would sleep the hour), the job waits for the hour, and the other job of
    the run is submitted meanwhile."""
    add_tenant(engine, "acme")
    add_tenant(engine, "vault", isolated=True)
    add_calls(engine, "acme", 2)
    add_calls(engine, "vault", 2)
    providers = ProviderRegistry(max_retries=2, timeout=30)
    workflow = CallSummaries("anthropic")
    plan(engine, workflow, providers, [DAY])
    emulator.set_config(rate_limit_create=1, retry_after=3600)
    before = dt.datetime.now(dt.UTC)
    result = submit_planned(engine, workflow, providers)
    assert len(result.submitted) == 1 and len(result.deferred) == 1
    (deferred,) = result.deferred
    status, _batch, not_before = _jobs(engine)[deferred]
    assert status == "planned" and not_before >= before + dt.timedelta(seconds=3600)
    assert submit_planned(engine, workflow, providers).submitted == []  # still waiting
