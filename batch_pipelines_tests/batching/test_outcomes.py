"""Items 2 and 3 of issue 16: what becomes of a line, and of a batch, that did not succeed, by the
kind of its failure (through the SDKs, the emulator and Postgres).

- a line that never ran (expired, cancelled) goes back without using an attempt, and is
  dead-lettered only after 5 requeues or 72 hours, "never ran";
- a batch that failed as a whole for its file is parked for a person, never retried; one that
  failed for a passing cause backs off from 2 minutes, doubling, and its requests are
  dead-lettered with the batch's errors after 5 such failures.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, text

from batch_pipelines.batching import transitions
from batch_pipelines.batching.ingest import ingest_job
from batch_pipelines.batching.jobs import load_job
from batch_pipelines.batching.lifecycle import run_to_completion
from batch_pipelines.batching.planning import plan
from batch_pipelines.batching.polling import (
    PollResult,
    ended_jobs_awaiting_ingest,
    poll,
    record_terminal,
)
from batch_pipelines.batching.submission import submit_planned
from batch_pipelines.db.tables import batch_jobs, batch_requests
from batch_pipelines.providers.base import BatchFailure, BatchState, BatchStatus

from .conftest import DAY, CallSummaries, add_calls, add_tenant

PROVIDERS = ["openai", "anthropic"]


def _requests(engine):
    with engine.connect() as conn:
        return conn.execute(
            select(batch_requests).order_by(batch_requests.c.item_id, batch_requests.c.created_at)
        ).all()


def _one_expiring_round(engine, providers, workflow, *, now=None) -> None:
    """Plan, submit, poll and ingest one batch that expires with part of its lines done."""
    plan(engine, workflow, providers, [DAY])
    submit_planned(engine, workflow, providers)
    for _ in range(10):
        poll(engine, providers)
        ended = ended_jobs_awaiting_ingest(engine)
        if ended:
            break
    (job,) = ended
    ingest_job(engine, workflow, providers, job.batch_job_id, now=now)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_lines_that_never_ran_are_requeued_without_using_an_attempt(
    engine, emulator, providers, provider
) -> None:
    add_tenant(engine, "acme")
    add_calls(engine, "acme", 10)
    emulator.set_config(expire_rate=1.0)  # 20-80 % of the lines run, the rest expire
    workflow = CallSummaries(provider)
    _one_expiring_round(engine, providers, workflow)
    rows = _requests(engine)
    expired = [r for r in rows if r.status == "failed"]
    requeued = [r for r in rows if r.status == "pending"]
    assert expired and len(requeued) == len(expired)
    assert all("expired" in r.error for r in expired)
    # The same attempt, one requeue more: an expiry is not the line's fault.
    assert {(r.attempt, r.requeues) for r in requeued} == {(1, 1)}
    assert all(r.error.startswith("requeue 1 of a line that never ran") for r in requeued)
    assert all(r.first_planned_at is not None for r in requeued)  # the 72 h bound carries on
    emulator.set_config(expire_rate=0)
    outcome = run_to_completion(engine, workflow, providers, [DAY])
    assert outcome.open_requests == 0
    with engine.connect() as conn:
        latest = dict(
            conn.execute(
                text(
                    "SELECT DISTINCT ON (item_id) item_id, status FROM batch_requests"
                    " ORDER BY item_id, created_at DESC"
                )
            ).all()
        )
    assert set(latest.values()) == {"succeeded"}


def test_a_line_is_dead_lettered_as_never_ran_only_past_five_requeues(
    engine, emulator, providers
) -> None:
    add_tenant(engine, "acme")
    add_calls(engine, "acme", 12)
    emulator.set_config(expire_rate=1.0)
    workflow = CallSummaries()
    _one_expiring_round(engine, providers, workflow)
    # The requeued lines have a history: half of them were requeued 5 times already, half 4.
    with engine.begin() as conn:
        waiting = (
            conn.execute(
                text("SELECT item_id FROM batch_requests WHERE status = 'pending' ORDER BY 1")
            )
            .scalars()
            .all()
        )
        worn, not_yet = set(waiting[::2]), set(waiting[1::2])
        for items, requeues in ((worn, 5), (not_yet, 4)):
            conn.execute(
                text(
                    "UPDATE batch_requests SET requeues = :n"
                    " WHERE status = 'pending' AND item_id = ANY(:items)"
                ),
                {"n": requeues, "items": sorted(items)},
            )
    _one_expiring_round(engine, providers, workflow)  # again part of the lines expire
    latest = {r.item_id: r for r in _requests(engine)}  # ordered by created_at: the last wins
    expired_again = {i for i in waiting if latest[i].status != "succeeded"}
    assert expired_again & worn and expired_again & not_yet  # both cases happened
    for item in expired_again & worn:
        assert latest[item].status == "dead_letter"
        assert latest[item].error.startswith("never ran: requeued 5 times")
    for item in expired_again & not_yet:
        assert (latest[item].status, latest[item].requeues) == ("pending", 5)


def test_a_line_that_never_ran_for_72_hours_is_dead_lettered(engine, emulator, providers) -> None:
    add_tenant(engine, "acme")
    add_calls(engine, "acme", 10)
    emulator.set_config(expire_rate=1.0)
    workflow = CallSummaries()
    three_days_on = dt.datetime.now(dt.UTC) + dt.timedelta(hours=72, minutes=1)
    _one_expiring_round(engine, providers, workflow, now=three_days_on)
    rows = _requests(engine)
    dead = [r for r in rows if r.status == "dead_letter"]
    assert dead and not [r for r in rows if r.status == "pending"]
    assert all(r.error.startswith("never ran: requeued 0 times over 72 h") for r in dead)
    assert all(r.attempt == 1 for r in dead)


def test_a_batch_the_provider_fails_for_its_file_is_parked_and_never_retried(
    engine, emulator, providers
) -> None:
    add_tenant(engine, "acme")
    add_calls(engine, "acme", 4)
    workflow = CallSummaries()
    (job_id,) = plan(engine, workflow, providers, [DAY]).batch_job_ids
    broken = b'{"custom_id": "broken"\n'  # the same number of lines, one of them not JSON
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE request_lines SET line = :line, nbytes = :nbytes"
                " WHERE custom_id = (SELECT min(custom_id) FROM request_lines)"
            ),
            {"line": broken, "nbytes": len(broken)},
        )
    outcome = run_to_completion(engine, workflow, providers, [DAY], max_rounds=6)
    with engine.connect() as conn:
        jobs = conn.execute(select(batch_jobs)).all()
    assert len(jobs) == 1  # no second batch: sending the same file again cannot help
    (job,) = jobs
    assert (job.status, job.attention) == ("needs_attention", "permanent_failure")
    assert "invalid_json_line" in job.error and "release" in job.error
    assert {r.status for r in _requests(engine)} == {"submitted"}  # kept with the job
    (blocked,) = outcome.blocked
    assert blocked.batch_job_id == job_id and outcome.open_requests == 0
    # A person fixed the cause and releases the job: its requests are planned again, afresh.
    with engine.begin() as conn:
        released = transitions.release_parked(conn, load_job(conn, job_id), "file fixed")
    assert released == 4
    again = run_to_completion(engine, workflow, providers, [DAY])
    assert again.open_requests == 0 and again.blocked == []
    assert {r.status for r in _requests(engine)} == {"succeeded"}


def test_a_batch_that_keeps_failing_as_a_whole_backs_off_then_is_dead_lettered(
    engine, emulator, providers
) -> None:
    add_tenant(engine, "acme")
    add_calls(engine, "acme", 2)
    workflow = CallSummaries()
    now = dt.datetime.now(dt.UTC)
    waits = []
    for failures in range(1, 6):
        plan(engine, workflow, providers, [DAY] if failures == 1 else None, now=now)
        submit_planned(engine, workflow, providers, now=now)
        with engine.begin() as conn:
            job_id = conn.execute(
                select(batch_jobs.c.batch_job_id).where(batch_jobs.c.status == "submitted")
            ).scalar_one()
            job = load_job(conn, job_id)
            failed = BatchStatus(
                provider_batch_id=job.provider_batch_id,
                state=BatchState.FAILED,
                provider_status="failed",
                created_at=now,
                request_counts={},
                failure="server_error: the batch could not be processed",
                failure_kind=BatchFailure.TRANSIENT,
            )
            record_terminal(conn, job, failed, now, PollResult())
        rows = _requests(engine)
        assert len(rows) == 2  # the same requests throughout: none of them ran
        if failures < 5:
            assert {(r.status, r.batch_failures, r.attempt) for r in rows} == {
                ("pending", failures, 1)
            }
            (not_before,) = {r.not_before for r in rows}
            waits.append(not_before - now)
            # Not planned again before the backoff is over.
            assert (
                plan(
                    engine, workflow, providers, None, now=not_before - dt.timedelta(seconds=1)
                ).planned
                == 0
            )
            now = not_before
    assert waits == [dt.timedelta(minutes=m) for m in (2, 4, 8, 16)]
    assert {r.status for r in rows} == {"dead_letter"}
    assert all("failed as a whole 5 times" in r.error and "server_error" in r.error for r in rows)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_invalid_request_is_dead_lettered_at_once_with_the_providers_message(
    engine, emulator, providers, provider
) -> None:
    """The service rejects the request when the batch runs (OpenAI: a 400 error-file line,
    Anthropic: an `errored` result): sending it again cannot help."""
    add_tenant(engine, "acme")
    add_calls(engine, "acme", 3)
    emulator.set_config(invalid_request_rate=1.0)
    outcome = run_to_completion(engine, CallSummaries(provider), providers, [DAY])
    rows = _requests(engine)
    assert outcome.open_requests == 0 and len(rows) == 3  # no retry rows
    assert {(r.status, r.attempt) for r in rows} == {("dead_letter", 1)}
    assert all(
        r.error.startswith("permanent error, not retried") and "invalid_request_error" in r.error
        for r in rows
    )
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(batch_jobs)).scalar_one() == 1


def test_a_timed_out_line_is_retried_with_a_new_attempt_until_the_maximum(
    engine, emulator, providers
) -> None:
    add_tenant(engine, "acme")
    add_calls(engine, "acme", 2)
    emulator.set_config(timeout_rate=1.0)  # OpenAI `request_timeout` lines
    outcome = run_to_completion(engine, CallSummaries("openai"), providers, [DAY])
    rows = _requests(engine)
    assert outcome.open_requests == 0
    assert sorted(r.attempt for r in rows) == [1, 1, 2, 2, 3, 3]
    dead = [r for r in rows if r.status == "dead_letter"]
    assert len(dead) == 2 and all(
        r.error.startswith("gave up after 3 attempts") and "request_timeout" in r.error
        for r in dead
    )
