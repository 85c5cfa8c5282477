"""A batch job as the engine reads it: a frozen record built from a `batch_jobs` row, and the
queries that select jobs by what happens to them next. Every write is a named transition in
`transitions.py`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, and_, func, or_, select

from batch_pipelines.db.statuses import (
    OPEN_REQUEST_STATUSES,
    QUEUED_JOB_STATUSES,
    Attention,
    JobStatus,
)
from batch_pipelines.db.tables import batch_jobs, batch_requests

BATCH = "batch"  # the mode of a provider batch (`sync`: a deadline's synchronous fallback)
SYNC = "sync"


@dataclass(frozen=True)
class JobRecord:
    """One row of `batch_jobs`."""

    batch_job_id: str
    workflow: str
    provider: str
    mode: str
    model: str
    endpoint: str
    credentials_ref: str
    status: JobStatus
    attention: Attention | None
    resume_status: JobStatus | None
    not_before: dt.datetime | None
    provider_status: str | None
    provider_batch_id: str | None
    input_file_id: str | None
    output_file_id: str | None
    error_file_id: str | None
    attempt: int
    request_count: int
    estimated_input_tokens: int
    partitions: Sequence[Mapping[str, str]]
    deadline_at: dt.datetime | None
    priming: bool
    primed_by: str | None
    cache_prefixes: Sequence[str]
    provider_usage: Mapping[str, Any] | None
    request_counts: Mapping[str, int] | None
    last_polled_at: dt.datetime | None
    ingest_attempt: int
    ingest_started_at: dt.datetime | None
    error: str | None
    created_at: dt.datetime
    submitted_at: dt.datetime | None
    finished_at: dt.datetime | None
    ingested_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: Row) -> JobRecord:
        values = row._mapping
        return cls(
            **{
                name: values[name]
                for name in cls.__dataclass_fields__
                if name not in ("status", "attention", "resume_status")
            },
            status=JobStatus(values["status"]),
            attention=Attention(values["attention"]) if values["attention"] else None,
            resume_status=JobStatus(values["resume_status"]) if values["resume_status"] else None,
        )

    @property
    def tenant_id(self) -> str | None:
        """The isolated tenant whose own key this job uses (None: the shared credentials)."""
        if self.credentials_ref == "default":
            return None
        return self.credentials_ref.removeprefix("tenant:")

    @property
    def credentials(self) -> str:
        """Whose credentials, for messages: 'the shared key' or 'tenant X's key'."""
        return "the shared key" if self.tenant_id is None else f"tenant {self.tenant_id}'s key"

    def due(self, now: dt.datetime) -> bool:
        """Not deferred past `now`."""
        return self.not_before is None or self.not_before <= now


def load_job(conn: Connection, batch_job_id: str, *, for_update: bool = False) -> JobRecord | None:
    query = select(batch_jobs).where(batch_jobs.c.batch_job_id == batch_job_id)
    if for_update:
        query = query.with_for_update()
    row = conn.execute(query).one_or_none()
    return JobRecord.from_row(row) if row is not None else None


def select_jobs(conn: Connection, *where: Any, order_by: Any = None, limit: int | None = None):
    query = select(batch_jobs).where(*where)
    if order_by is not None:
        query = query.order_by(order_by)
    if limit is not None:
        query = query.limit(limit)
    return [JobRecord.from_row(row) for row in conn.execute(query)]


def due(now: dt.datetime) -> Any:
    """Jobs not deferred past `now` (a Retry-After, a parked job's next check)."""
    return or_(batch_jobs.c.not_before.is_(None), batch_jobs.c.not_before <= now)


def queued_alongside(job: JobRecord, *, same_model: bool) -> Any:
    """The other batches of `job`'s provider and credentials that count against the same queue:
    created or being created and not finished at the provider (a job parked for its
    configuration while submitted still has its batch there)."""
    clauses = [
        batch_jobs.c.provider == job.provider,
        batch_jobs.c.credentials_ref == job.credentials_ref,
        batch_jobs.c.mode == BATCH,
        or_(
            batch_jobs.c.status.in_(QUEUED_JOB_STATUSES),
            (batch_jobs.c.status == JobStatus.NEEDS_ATTENTION)
            & (batch_jobs.c.resume_status == JobStatus.SUBMITTED),
        ),
        batch_jobs.c.batch_job_id != job.batch_job_id,
    ]
    if same_model:
        clauses.append(batch_jobs.c.model == job.model)
    return and_(*clauses)


def open_requests() -> Any:
    """Requests still waiting for a batch or a result, except those of a parked job (they wait for
    a person) and held ones (they wait for budget)."""
    return (
        select(func.count())
        .select_from(batch_requests.outerjoin(batch_jobs))
        .where(
            batch_requests.c.status.in_(OPEN_REQUEST_STATUSES),
            or_(
                batch_requests.c.batch_job_id.is_(None),
                batch_jobs.c.status != JobStatus.NEEDS_ATTENTION,
            ),
        )
    )


@dataclass(frozen=True)
class BlockedJob:
    """A parked job, as `run-day` reports it."""

    batch_job_id: str
    workflow: str
    provider: str
    credentials: str
    attention: Attention
    reason: str
    requests: int
    tenants: tuple[str, ...]


def blocked_jobs(conn: Connection, workflow: str | None = None) -> list[BlockedJob]:
    """Every parked job, oldest first."""
    where = [batch_jobs.c.status == JobStatus.NEEDS_ATTENTION]
    if workflow is not None:
        where.append(batch_jobs.c.workflow == workflow)
    blocked = []
    for job in select_jobs(conn, *where, order_by=batch_jobs.c.created_at):
        tenants = conn.execute(
            select(batch_requests.c.tenant_id)
            .where(batch_requests.c.batch_job_id == job.batch_job_id)
            .distinct()
            .order_by(batch_requests.c.tenant_id)
        ).scalars()
        blocked.append(
            BlockedJob(
                batch_job_id=job.batch_job_id,
                workflow=job.workflow,
                provider=job.provider,
                credentials=job.credentials,
                attention=job.attention or Attention.AMBIGUOUS_CREATE,
                reason=job.error or "",
                requests=job.request_count,
                tenants=tuple(tenants),
            )
        )
    return blocked
