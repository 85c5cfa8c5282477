"""Submit groups: the queued work that pools into one provider batch, and when it is due.

A group is (workflow, provider, credentials, model, endpoint): one provider batch (sharded at the
provider's limits) holds lines of one group only. Tenants on the shared credentials pool across
every run that queued their work; an isolated tenant's own credentials make a group of its own, so
its batches hold only its lines. Two workflows on the same model do not share a batch: a batch job
is ingested by its one workflow.

A group is due for a submit run (`due_groups`) when the oldest of its queued lines has waited the
batch window (`BATCH_PIPELINES_BATCH_WINDOW_SECONDS`, five minutes by default) or its queued lines
fill a shard; also when it has planned jobs still to send (waiting for room in the provider's
queue, deferred by a Retry-After, left by a crash), or its workflow has requests due to be queued
again (a batch's failures backing off). Everything is read from Postgres, so any machine decides
the same.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, func, or_, select

from batch_pipelines.batching.jobs import SYNC, due
from batch_pipelines.db.statuses import JobStatus, RequestStatus
from batch_pipelines.db.tables import batch_jobs, batch_requests, request_lines
from batch_pipelines.providers.base import ShardLimits
from batch_pipelines.providers.registry import ProviderRegistry

BATCH_WINDOW_ENV = "BATCH_PIPELINES_BATCH_WINDOW_SECONDS"
DEFAULT_BATCH_WINDOW = dt.timedelta(minutes=5)
# The planner's estimate of a line's input tokens, for admission control: one per 4 bytes of the
# line's whole JSON (its markup, schema and ids too), above the ~4 characters a token of English
# prose the providers' tokenizers count. Text of denser scripts may count more.
BYTES_PER_TOKEN = 4


def batch_window() -> dt.timedelta:
    """How long queued work waits for more to pool with (`BATCH_PIPELINES_BATCH_WINDOW_SECONDS`;
    read each time, so a process can shorten it once its own work is queued, as `run-day` does)."""
    value = os.environ.get(BATCH_WINDOW_ENV, "").strip()
    if not value:
        return DEFAULT_BATCH_WINDOW
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"{BATCH_WINDOW_ENV} must be a number of seconds, not {value!r}") from None
    if seconds < 0:
        raise ValueError(f"{BATCH_WINDOW_ENV} must not be negative, not {value!r}")
    return dt.timedelta(seconds=seconds)


def estimated_tokens(nbytes: int) -> int:
    """What a line of `nbytes` takes of its model's enqueued-token limit."""
    return -(-nbytes // BYTES_PER_TOKEN)


@dataclass(frozen=True, order=True)
class SubmitGroup:
    """Queued work that pools into the same provider batches."""

    workflow: str
    provider: str
    credentials_ref: str
    model: str
    endpoint: str

    @property
    def key(self) -> str:
        """A stable name (run keys, logs): `post_call/openai/default/gpt-4o-mini//v1/chat/...`."""
        return "/".join(dataclasses.astuple(self))


def shard_limits(
    providers: ProviderRegistry, provider: str, model: str, endpoint: str
) -> ShardLimits:
    """The provider's per-batch limits, and the model's queue limit: a shard never takes more
    than the whole queue alone (it could never be admitted)."""
    limits = providers.get(provider).limits(endpoint)
    queue = providers.queue_limit(provider, model)
    if queue is None:
        return limits
    if queue.unit == "requests":
        return dataclasses.replace(limits, max_lines=min(limits.max_lines, queue.limit))
    return dataclasses.replace(limits, max_input_tokens=queue.limit)


class DueBecause(StrEnum):
    WINDOW = "window"  # its oldest queued line has waited the batch window
    FULL_SHARD = "full_shard"  # its queued lines fill a provider batch
    PLANNED_JOBS = "planned_jobs"  # planned jobs still to send
    REQUEUED = "requeued"  # requests of its workflow due to be queued again


@dataclass(frozen=True)
class QueuedGroup:
    group: SubmitGroup
    oldest_queued_at: dt.datetime
    lines: int
    nbytes: int
    embedding_inputs: int

    def fills_a_shard(self, limits: ShardLimits) -> bool:
        return (
            self.lines >= limits.max_lines
            or self.nbytes >= limits.max_bytes
            or (
                limits.max_embedding_inputs is not None
                and self.embedding_inputs >= limits.max_embedding_inputs
            )
            or (
                limits.max_input_tokens is not None
                and estimated_tokens(self.nbytes) >= limits.max_input_tokens
            )
        )


@dataclass(frozen=True)
class DueGroup:
    """A group a submit run should be launched for, and why. `window_start` names the window (the
    oldest queued line's time) when the group is due for its queued work."""

    group: SubmitGroup | None  # None: a workflow's requeued requests, whichever group they join
    workflow: str
    because: DueBecause
    window_start: dt.datetime | None = None
    lines: int = 0


def queued_groups(conn: Connection) -> list[QueuedGroup]:
    """Every group with queued lines: how many, how big, since when."""
    group_columns = (
        request_lines.c.workflow,
        request_lines.c.provider,
        request_lines.c.credentials_ref,
        request_lines.c.model,
        request_lines.c.endpoint,
    )
    rows = conn.execute(
        select(
            *group_columns,
            func.min(request_lines.c.queued_at),
            func.count(),
            func.sum(request_lines.c.nbytes),
            func.sum(request_lines.c.embedding_inputs),
        )
        .select_from(batch_requests.join(request_lines))
        .where(batch_requests.c.status == RequestStatus.QUEUED)
        .group_by(*group_columns)
        .order_by(*group_columns)
    )
    return [
        QueuedGroup(SubmitGroup(*row[:5]), row[5], row[6], int(row[7]), int(row[8])) for row in rows
    ]


def planned_job_groups(
    conn: Connection, *, older_than: dt.timedelta, now: dt.datetime
) -> list[SubmitGroup]:
    """Groups with jobs a submit run should look at: planned ones nobody sent (waiting for room,
    deferred by a 429 whose wait is over, left by a crash) and synchronous fallbacks a crash
    interrupted, each older than `older_than` (its own submit run had its chance)."""
    rows = conn.execute(
        select(
            batch_jobs.c.workflow,
            batch_jobs.c.provider,
            batch_jobs.c.credentials_ref,
            batch_jobs.c.model,
            batch_jobs.c.endpoint,
        )
        .where(
            or_(
                batch_jobs.c.status == JobStatus.PLANNED,
                (batch_jobs.c.mode == SYNC) & (batch_jobs.c.status == JobStatus.SUBMITTING),
            ),
            batch_jobs.c.created_at < now - older_than,
            due(now),
        )
        .distinct()
    )
    return sorted(SubmitGroup(*row) for row in rows)


def requeue_due_workflows(conn: Connection, now: dt.datetime) -> list[str]:
    """Workflows with requests waiting to be queued again whose wait is over (a batch that
    failed as a whole backs off; an item released from a parked batch)."""
    return sorted(
        conn.execute(
            select(batch_requests.c.workflow)
            .where(
                batch_requests.c.status == RequestStatus.PENDING,
                or_(batch_requests.c.not_before.is_(None), batch_requests.c.not_before <= now),
            )
            .distinct()
        ).scalars()
    )


def due_groups(
    conn: Connection,
    providers: ProviderRegistry,
    *,
    window: dt.timedelta,
    now: dt.datetime,
    resubmit_after: dt.timedelta,
    workflows: Sequence[str] | None = None,
) -> list[DueGroup]:
    """The groups a submit run should be launched for now, at most one reason each (module
    docstring), of `workflows` (None: all)."""
    wanted = set(workflows) if workflows is not None else None
    out: dict[SubmitGroup | str, DueGroup] = {}
    for queued in queued_groups(conn):
        group = queued.group
        if wanted is not None and group.workflow not in wanted:
            continue
        limits = shard_limits(providers, group.provider, group.model, group.endpoint)
        because = None
        if now - queued.oldest_queued_at >= window:
            because = DueBecause.WINDOW
        elif queued.fills_a_shard(limits):
            because = DueBecause.FULL_SHARD
        if because is not None:
            out[group] = DueGroup(
                group, group.workflow, because, queued.oldest_queued_at, queued.lines
            )
    for group in planned_job_groups(conn, older_than=resubmit_after, now=now):
        if (wanted is None or group.workflow in wanted) and group not in out:
            out[group] = DueGroup(group, group.workflow, DueBecause.PLANNED_JOBS)
    covered = {d.workflow for d in out.values()}
    for workflow in requeue_due_workflows(conn, now):
        if (wanted is None or workflow in wanted) and workflow not in covered:
            out[workflow] = DueGroup(None, workflow, DueBecause.REQUEUED)
    return list(out.values())
