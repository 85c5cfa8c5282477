"""Poll: bounded provider calls per tick over the live jobs read from Postgres.

Each call updates one job: progress counts, a terminal state (`ended`, ready to ingest), a whole-
batch failure (its requests re-planned in smaller shards after a backoff, the cause recorded), or a
missed deadline (the batch is cancelled; ingest then keeps the finished lines and sends the rest
synchronously). Jobs left in `submitting` by a crash are reconciled here too.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, or_, select, text

from batch_pipelines.batching import manifest
from batch_pipelines.batching.submission import reconcile_job
from batch_pipelines.db.tables import batch_jobs, batch_requests
from batch_pipelines.providers.base import BatchProvider, BatchStatus, ProviderError
from batch_pipelines.providers.registry import ProviderRegistry

# A job still `submitting` this long after its attempt, with no live submitter, is reconciled.
SUBMITTING_GRACE = dt.timedelta(seconds=30)
FAILED_BATCH_BACKOFF = dt.timedelta(minutes=2)


@dataclass(frozen=True)
class JobProgress:
    batch_job_id: str
    workflow: str
    provider: str
    model: str
    provider_status: str
    request_counts: dict
    partitions: list
    status: str


@dataclass
class PollResult:
    polled: list[JobProgress] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    cancelled_for_deadline: list[str] = field(default_factory=list)
    reconciled: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


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
    each terminal transition (ended, failed) in a transaction of its own, as before."""
    now = now or manifest.utcnow()
    result = PollResult()
    with engine.connect() as conn:
        jobs = list(
            conn.execute(
                select(batch_jobs)
                .where(
                    batch_jobs.c.mode != "sync",
                    or_(
                        batch_jobs.c.status == "submitted",
                        (batch_jobs.c.status == "submitting")
                        & (batch_jobs.c.submitted_at < now - SUBMITTING_GRACE),
                    ),
                )
                .order_by(batch_jobs.c.last_polled_at.asc().nulls_first())
                .limit(max_calls)
            )
        )
        policies = manifest.tenant_policies(
            conn,
            {
                job.credentials_ref.removeprefix("tenant:")
                for job in jobs
                if job.status == "submitted" and job.credentials_ref != "default"
            },
        )
        conn.commit()
        todo: list[tuple[Any, BatchProvider]] = []
        stop: BaseException | None = None
        for job in jobs:
            if job.status == "submitting":
                try:
                    outcome = reconcile_job(engine, providers, job.batch_job_id)
                except ProviderError as exc:
                    # An unreachable provider must not stop the tick for every other job.
                    result.errors[job.batch_job_id] = f"reconciliation deferred: {exc}"
                    continue
                result.reconciled[job.batch_job_id] = outcome
                continue
            try:
                todo.append((job, _adapter(providers, job, policies)))
            except Exception as exc:  # a configuration error: the jobs before it are polled
                stop = exc
                break
        _poll_jobs(conn, todo, now, result)
    if stop is not None:
        raise stop
    return result


# Provider calls of one tick in flight at once (each is a short GET; the database work is not
# parallel).
POLL_CONCURRENCY = 8


def _adapter(providers: ProviderRegistry, job, policies: Mapping[str, Mapping]) -> BatchProvider:
    """`submission.provider_for_job`, with the tenants' policies read once per tick."""
    policy = None
    if job.credentials_ref != "default":
        policy = policies.get(job.credentials_ref.removeprefix("tenant:"))
    return providers.get(job.provider, job.credentials_ref, policy)


def _fetch(job, provider: BatchProvider, now: dt.datetime):
    """The provider's view of the job (cancelled if it missed its deadline): (status, cancelled,
    error). Only provider calls: safe to run in a worker thread."""
    try:
        status = provider.retrieve(job.provider_batch_id)
        if status.state == "in_progress" and job.deadline_at is not None and now > job.deadline_at:
            return provider.cancel(job.provider_batch_id), True, None
        return status, False, None
    except ProviderError as exc:
        return None, False, exc


def _poll_jobs(conn, todo: list[tuple[Any, BatchProvider]], now: dt.datetime, result) -> None:
    if not todo:
        return
    with ThreadPoolExecutor(max_workers=min(POLL_CONCURRENCY, len(todo))) as pool:
        futures = [pool.submit(_fetch, job, provider, now) for job, provider in todo]
        progress: list[dict[str, Any]] = []
        errors: list[dict[str, str]] = []
        try:
            for (job, _provider), future in zip(todo, futures, strict=True):
                status, cancelled, error = future.result()
                if cancelled:
                    result.cancelled_for_deadline.append(job.batch_job_id)
                if error is not None:
                    result.errors[job.batch_job_id] = str(error)
                    errors.append({"batch_job_id": job.batch_job_id, "error": str(error)})
                    continue
                if status.state in ("ended", "failed"):
                    with conn.begin():
                        new_status = _record(conn, job, status, now)
                else:
                    progress.append(_progress_row(job, status))
                    new_status = "submitted"
                if new_status == "ended":
                    result.ended.append(job.batch_job_id)
                elif new_status == "failed":
                    result.failed[job.batch_job_id] = status.failure or "failed"
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
                if progress:
                    conn.execute(_PROGRESS, {"now": now, "rows": json.dumps(progress)})
                if errors:
                    conn.execute(_ERRORS, {"now": now, "rows": json.dumps(errors)})


def _values(status: BatchStatus, now: dt.datetime) -> dict[str, Any]:
    values = {
        "provider_status": status.provider_status,
        "request_counts": dict(status.request_counts),
        "last_polled_at": now,
        "error": None,
    }
    if status.output_file_id or status.error_file_id:
        values["output_file_id"] = status.output_file_id
        values["error_file_id"] = status.error_file_id
    if status.usage:
        values["provider_usage"] = dict(status.usage)
    return values


def _progress_row(job, status: BatchStatus) -> dict[str, Any]:
    """A job still running: what `_PROGRESS` writes (the same values `_record` would)."""
    return {
        "batch_job_id": job.batch_job_id,
        "provider_status": status.provider_status,
        "request_counts": dict(status.request_counts),
        "set_files": bool(status.output_file_id or status.error_file_id),
        "output_file_id": status.output_file_id,
        "error_file_id": status.error_file_id,
        "set_usage": bool(status.usage),
        "provider_usage": dict(status.usage) if status.usage else None,
    }


_PROGRESS = text(
    """
    UPDATE batch_jobs AS j SET
        provider_status = r.provider_status,
        request_counts = r.request_counts,
        last_polled_at = :now,
        error = NULL,
        output_file_id = CASE WHEN r.set_files THEN r.output_file_id ELSE j.output_file_id END,
        error_file_id = CASE WHEN r.set_files THEN r.error_file_id ELSE j.error_file_id END,
        provider_usage = CASE WHEN r.set_usage THEN r.provider_usage ELSE j.provider_usage END
    FROM json_to_recordset(CAST(:rows AS json)) AS r (
        batch_job_id text, provider_status text, request_counts jsonb, set_files boolean,
        output_file_id text, error_file_id text, set_usage boolean, provider_usage jsonb)
    WHERE j.batch_job_id = r.batch_job_id
    """
)
_ERRORS = text(
    """
    UPDATE batch_jobs AS j SET last_polled_at = :now, error = r.error
    FROM json_to_recordset(CAST(:rows AS json)) AS r (batch_job_id text, error text)
    WHERE j.batch_job_id = r.batch_job_id
    """
)


def _record(conn, job, status: BatchStatus, now: dt.datetime) -> str:
    """Record a poll's answer in the caller's transaction; returns the job's status."""
    values = _values(status, now)
    if status.state == "ended":
        moved = _move_from_submitted(conn, job, status="ended", finished_at=now, **values)
        return "ended" if moved else "submitted"
    if status.state == "failed":
        values["error"] = status.failure
        if _move_from_submitted(conn, job, status="failed", finished_at=now, **values):
            _replan_failed_batch(conn, job, status.failure or "failed", now)
        return "failed"
    manifest.update_job(conn, job.batch_job_id, **values)
    return "submitted"


def _move_from_submitted(conn, job, **values) -> bool:
    """Only the poller that moves the job from `submitted` marks it; a second one changes
    nothing. Returns whether this one did."""
    return bool(
        conn.execute(
            batch_jobs.update()
            .where(
                batch_jobs.c.batch_job_id == job.batch_job_id,
                batch_jobs.c.status == "submitted",
            )
            .values(**values)
        ).rowcount
    )


def _replan_failed_batch(conn, job, cause: str, now: dt.datetime) -> None:
    """A batch failed as a whole (validation, token limit): none of its lines ran, so its requests
    go back to pending — same ids, same attempt — in shards half the size, after a backoff. Each
    further failure halves the shards again, down to single lines."""
    conn.execute(
        batch_requests.update()
        .where(
            batch_requests.c.batch_job_id == job.batch_job_id,
            batch_requests.c.status == "submitted",
        )
        .values(
            status="pending",
            batch_job_id=None,
            error=f"batch {job.batch_job_id} failed as a whole: {cause}",
            not_before=now + FAILED_BATCH_BACKOFF,
            max_shard_lines=max(1, job.request_count // 2),
            updated_at=now,
        )
    )


def ended_jobs_awaiting_ingest(
    engine: Engine, *, stale_after: dt.timedelta = dt.timedelta(minutes=15), limit: int = 200
) -> list:
    """Jobs ready to ingest and not being ingested now (or whose ingest went silent)."""
    cutoff = manifest.utcnow() - stale_after
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(batch_jobs)
                .where(
                    batch_jobs.c.status == "ended",
                    or_(
                        batch_jobs.c.ingest_started_at.is_(None),
                        batch_jobs.c.ingest_started_at < cutoff,
                    ),
                )
                .order_by(batch_jobs.c.finished_at)
                .limit(limit)
            )
        )


def stale_planned_jobs(engine: Engine, *, older_than: dt.timedelta, limit: int = 50) -> list:
    """Planned jobs nobody submitted (a crash after planning, a rate-limited create)."""
    cutoff = manifest.utcnow() - older_than
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(batch_jobs)
                .where(batch_jobs.c.status == "planned", batch_jobs.c.created_at < cutoff)
                .order_by(batch_jobs.c.created_at)
                .limit(limit)
            )
        )
