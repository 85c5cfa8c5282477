"""Poll: bounded provider calls per tick over the live jobs read from Postgres.

Each call updates one job: progress counts, a terminal state (`ended`, ready to ingest), a whole-
batch failure (its requests routed by the failure's kind: the token limit waits for admission
with the requests unchanged, a permanent cause parks the job for a person, anything else backs
off), or a missed deadline (the batch is cancelled; ingest then keeps the finished lines and sends
the rest synchronously). One job's trouble stays its own: a configuration error parks that job, a
429 defers it by its Retry-After, an outage is recorded on it; every other job is polled in the
same tick. Jobs a dead process left in `submitting` are reconciled here too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, or_

from batch_pipelines.batching import manifest, transitions
from batch_pipelines.batching.credentials import (
    configuration_reason,
    park_for_configuration,
    resume_configured,
)
from batch_pipelines.batching.jobs import SYNC, JobRecord, due, select_jobs
from batch_pipelines.batching.planning import spool_dir
from batch_pipelines.batching.submission import DEFAULT_RATE_LIMIT_WAIT, Outcome, reconcile_job
from batch_pipelines.db.statuses import Attention, JobStatus
from batch_pipelines.db.tables import batch_jobs
from batch_pipelines.providers.base import (
    BatchFailure,
    BatchProvider,
    BatchState,
    BatchStatus,
    ProviderConfigError,
    ProviderError,
    ProviderRateLimited,
)
from batch_pipelines.providers.registry import ProviderRegistry


@dataclass(frozen=True)
class JobProgress:
    batch_job_id: str
    workflow: str
    provider: str
    model: str
    provider_status: str
    request_counts: dict
    partitions: list
    status: JobStatus


@dataclass
class PollResult:
    polled: list[JobProgress] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    cancelled_for_deadline: list[str] = field(default_factory=list)
    reconciled: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    parked: dict[str, str] = field(default_factory=dict)  # job → why it needs a person
    deferred: dict[str, str] = field(default_factory=dict)  # job → until when (a Retry-After)


def poll(
    engine: Engine,
    providers: ProviderRegistry,
    *,
    max_calls: int = 100,
    now: dt.datetime | None = None,
) -> PollResult:
    """One bounded round: at most `max_calls` jobs, least recently polled first.

    One database connection serves the whole round; the provider calls run a few at a time
    (`POLL_CONCURRENCY`); progress that changes no job's status is written in one statement, and
    each terminal transition (ended, failed) in a transaction of its own."""
    now = now or manifest.utcnow()
    result = PollResult()
    resume_configured(engine, providers, now)
    with engine.connect() as conn:
        jobs = select_jobs(
            conn,
            batch_jobs.c.mode != SYNC,
            or_(
                batch_jobs.c.status == JobStatus.SUBMITTED,
                batch_jobs.c.status == JobStatus.SUBMITTING,
            ),
            due(now),
            order_by=batch_jobs.c.last_polled_at.asc().nulls_first(),
            limit=max_calls,
        )
        policies = manifest.tenant_policies(conn, {j.tenant_id for j in jobs if j.tenant_id})
        conn.commit()
        todo: list[tuple[JobRecord, BatchProvider]] = []
        for job in jobs:
            if job.status is JobStatus.SUBMITTING:
                _reconcile(engine, providers, job, result)
                continue
            policy = policies.get(job.tenant_id) if job.tenant_id else None
            try:
                todo.append((job, providers.get(job.provider, job.credentials_ref, policy)))
            except ProviderConfigError as exc:
                # This job's tenant's key is missing: park it, poll the others.
                with conn.begin():
                    park_for_configuration(conn, job, policy, exc, now)
                result.parked[job.batch_job_id] = configuration_reason(job, policy, exc)
        _poll_jobs(conn, todo, policies, now, result)
    return result


def _reconcile(
    engine: Engine, providers: ProviderRegistry, job: JobRecord, result: PollResult
) -> None:
    try:
        reconciled = reconcile_job(engine, providers, job.batch_job_id)
    except ProviderError as exc:
        # An unreachable provider must not stop the tick for every other job.
        result.errors[job.batch_job_id] = f"reconciliation deferred: {exc}"
        return
    if reconciled.outcome is not Outcome.BUSY:
        result.reconciled[job.batch_job_id] = reconciled.outcome.value


# Provider calls of one tick in flight at once (each is a short GET; the database work is not
# parallel).
POLL_CONCURRENCY = 8


def _fetch(
    job: JobRecord, provider: BatchProvider, now: dt.datetime
) -> tuple[BatchStatus | None, bool, Exception | None]:
    """The provider's view of the job (cancelled if it missed its deadline): (status, cancelled,
    error). Only provider calls: safe to run in a worker thread."""
    try:
        status = provider.retrieve(job.provider_batch_id)
        if (
            status.state == BatchState.IN_PROGRESS
            and job.deadline_at is not None
            and now > job.deadline_at
        ):
            return provider.cancel(job.provider_batch_id), True, None
        return status, False, None
    except (ProviderError, ProviderConfigError) as exc:
        return None, False, exc


def _poll_jobs(
    conn: Connection,
    todo: list[tuple[JobRecord, BatchProvider]],
    policies: Mapping[str, Mapping],
    now: dt.datetime,
    result: PollResult,
) -> None:
    if not todo:
        return
    with ThreadPoolExecutor(max_workers=min(POLL_CONCURRENCY, len(todo))) as pool:
        futures = [pool.submit(_fetch, job, provider, now) for job, provider in todo]
        progress: list[dict] = []
        errors: list[tuple[str, str]] = []
        try:
            for (job, _provider), future in zip(todo, futures, strict=True):
                status, cancelled, error = future.result()
                if cancelled:
                    result.cancelled_for_deadline.append(job.batch_job_id)
                if error is not None:
                    _poll_failed(conn, job, policies, error, now, result, errors)
                    continue
                assert status is not None
                if status.state in (BatchState.ENDED, BatchState.FAILED):
                    with conn.begin():
                        new_status = record_terminal(conn, job, status, now, result)
                else:
                    progress.append(transitions.progress_row(job, status))
                    new_status = JobStatus.SUBMITTED
                result.polled.append(
                    JobProgress(
                        batch_job_id=job.batch_job_id,
                        workflow=job.workflow,
                        provider=job.provider,
                        model=job.model,
                        provider_status=status.provider_status,
                        request_counts=dict(status.request_counts),
                        partitions=list(job.partitions),
                        status=new_status,
                    )
                )
        finally:
            # What was learnt is written even if a later job's call blew up.
            with conn.begin():
                transitions.record_progress(conn, progress, now)
                transitions.record_poll_errors(conn, errors, now)


def _poll_failed(
    conn: Connection,
    job: JobRecord,
    policies: Mapping[str, Mapping],
    error: Exception,
    now: dt.datetime,
    result: PollResult,
    errors: list[tuple[str, str]],
) -> None:
    """One job's poll failed: its own trouble, recorded on it; the tick goes on."""
    if isinstance(error, ProviderConfigError):
        policy = policies.get(job.tenant_id) if job.tenant_id else None
        with conn.begin():
            park_for_configuration(conn, job, policy, error, now)
        result.parked[job.batch_job_id] = configuration_reason(job, policy, error)
        return
    if isinstance(error, ProviderRateLimited):
        wait = (
            dt.timedelta(seconds=error.retry_after)
            if error.retry_after is not None
            else DEFAULT_RATE_LIMIT_WAIT
        )
        until = manifest.utcnow() + wait
        with conn.begin():
            transitions.defer_job(
                conn, job.batch_job_id, until, f"{error}; polled again after {until}"
            )
        result.deferred[job.batch_job_id] = until.isoformat()
        return
    result.errors[job.batch_job_id] = str(error)
    errors.append((job.batch_job_id, str(error)))


def record_terminal(
    conn: Connection, job: JobRecord, status: BatchStatus, now: dt.datetime, result: PollResult
) -> JobStatus:
    """Record a poll's terminal answer in the caller's transaction; returns the job's status."""
    if status.state == BatchState.ENDED:
        if transitions.mark_ended(conn, job, status, now):
            result.ended.append(job.batch_job_id)
            return JobStatus.ENDED
        return JobStatus.SUBMITTED
    cause = status.failure or "failed without a reason"
    if not transitions.mark_failed(conn, job, status, now):
        return JobStatus.SUBMITTED
    result.failed[job.batch_job_id] = cause
    kind = status.failure_kind or BatchFailure.TRANSIENT
    if kind is BatchFailure.TOKEN_LIMIT:
        replacement = manifest.new_batch_job_id()
        if transitions.requeue_after_token_limit(conn, job, replacement, cause, now):
            _move_spool(job.batch_job_id, replacement)
    elif kind is BatchFailure.PERMANENT:
        # Its requests stay with it: a person fixes the cause and releases the job.
        transitions.park_needs_attention(
            conn,
            dataclasses.replace(job, status=JobStatus.FAILED),  # as `mark_failed` left it
            Attention.PERMANENT_FAILURE,
            f"the provider failed batch {job.provider_batch_id} as a whole for a cause that "
            f"sending it again cannot fix: {cause}. Fix the cause, then release the job to plan "
            "its requests again (transitions.release_parked)",
        )
        result.parked[job.batch_job_id] = cause
        return JobStatus.NEEDS_ATTENTION
    else:
        transitions.back_off_failed_batch(conn, job, cause, now)
    return JobStatus.FAILED


def _move_spool(old_job_id: str, new_job_id: str) -> None:
    """The replacement of a batch that failed on the token limit sends the very same lines."""
    # Not there if another machine planned it: the submit then renders the lines again.
    with contextlib.suppress(FileNotFoundError):
        os.replace(spool_dir() / f"{old_job_id}.jsonl", spool_dir() / f"{new_job_id}.jsonl")


def ended_jobs_awaiting_ingest(
    engine: Engine, *, stale_after: dt.timedelta = dt.timedelta(minutes=15), limit: int = 200
) -> list[JobRecord]:
    """Jobs ready to ingest and not being ingested now (or whose ingest went silent)."""
    cutoff = manifest.utcnow() - stale_after
    with engine.connect() as conn:
        return select_jobs(
            conn,
            batch_jobs.c.status == JobStatus.ENDED,
            or_(
                batch_jobs.c.ingest_started_at.is_(None),
                batch_jobs.c.ingest_started_at < cutoff,
            ),
            order_by=batch_jobs.c.finished_at,
            limit=limit,
        )


def submittable_jobs(
    engine: Engine, *, older_than: dt.timedelta, limit: int = 50, now: dt.datetime | None = None
) -> list[JobRecord]:
    """Jobs a submit run should look at: planned ones nobody submitted (a crash after planning,
    one deferred by a 429 whose wait is over, one waiting for admission), and synchronous
    fallbacks a crash interrupted."""
    now = now or manifest.utcnow()
    cutoff = now - older_than
    with engine.connect() as conn:
        return select_jobs(
            conn,
            or_(
                batch_jobs.c.status == JobStatus.PLANNED,
                (batch_jobs.c.mode == SYNC) & (batch_jobs.c.status == JobStatus.SUBMITTING),
            ),
            batch_jobs.c.created_at < cutoff,
            due(now),
            order_by=batch_jobs.c.created_at,
            limit=limit,
        )
