"""Admission control: a planned job is sent only while its provider's queue has room for it.

OpenAI counts the input tokens of a model's batches still validating, in progress or finalizing
against the model's enqueued-token limit, and fails a batch past it (`token_limit_exceeded`);
splitting the work into smaller batches sent together does not help, waiting for live ones does.
Anthropic counts the requests of every Message Batch not yet processed against one queue limit,
whatever the model. So per (provider, credentials[, model]): the planner's estimate of the batches
we have there (`submitting`, `submitted` in `batch_jobs`) plus this job's must stay within the
limit (`providers/settings.py`). A job that does not fit stays `planned` and goes when room frees,
from the next submit (the poll tick launches one once a job ends).

A job planned to read a cache prefix that its priming job writes (`primed_by`) is admitted only
once that job has ended: requests inside one batch do not read each other's cache writes, later
batches read earlier ones (`core/caching.py`). A priming job that failed, or was parked, no longer
holds it back: the job then goes, and its first requests write the prefix themselves.

Everything it reads is in Postgres, so a submit on any machine decides the same. It is called
under the credentials' create lock (`submission.py`), so two submitters never both take the last
room.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from batch_pipelines.batching.jobs import JobRecord, queued_alongside
from batch_pipelines.db.statuses import JobStatus
from batch_pipelines.db.tables import batch_jobs
from batch_pipelines.providers.settings import QueueLimit

# A priming job in one of these has not ended yet: what it writes is not readable.
PRIMING_UNDER_WAY = (JobStatus.PLANNED, JobStatus.SUBMITTING, JobStatus.SUBMITTED)


@dataclass(frozen=True)
class Admission:
    admitted: bool
    queued: int = 0  # what the other live batches take of the limit
    needed: int = 0  # what this job takes
    limit: QueueLimit | None = None
    primed_by: str | None = None  # the priming job it waits for

    @property
    def reason(self) -> str:
        if self.primed_by is not None:
            return (
                f"waiting for its priming batch {self.primed_by} to end: it writes the prompt "
                "cache this batch reads"
            )
        if self.limit is None:
            return "no queue limit"
        unit = self.limit.unit
        return (
            f"waiting for room in the provider's queue: {self.queued:,} of {self.limit.limit:,} "
            f"{unit} ({self.limit.scope}) taken by live batches, this batch needs {self.needed:,}"
        )


def admit(conn: Connection, job: JobRecord, limit: QueueLimit | None) -> Admission:
    """Whether `job` may be created now: its priming job (if any) has ended, and its queue has
    room. A job alone in the queue always has (the planner never makes one bigger than the limit;
    if the limit was lowered since, alone is the best it gets)."""
    if job.primed_by is not None:
        priming = conn.execute(
            select(batch_jobs.c.status).where(batch_jobs.c.batch_job_id == job.primed_by)
        ).scalar_one_or_none()
        if priming in PRIMING_UNDER_WAY:
            return Admission(False, primed_by=job.primed_by)
    if limit is None:
        return Admission(True)
    tokens = limit.unit == "tokens"
    needed = job.estimated_input_tokens if tokens else job.request_count
    size = batch_jobs.c.estimated_input_tokens if tokens else batch_jobs.c.request_count
    queued = conn.execute(
        select(func.coalesce(func.sum(size), 0)).where(queued_alongside(job, same_model=tokens))
    ).scalar_one()
    admitted = queued == 0 or queued + needed <= limit.limit
    return Admission(admitted, int(queued), needed, limit)
