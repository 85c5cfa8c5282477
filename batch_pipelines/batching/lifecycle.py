"""The whole lifecycle in one loop, without Dagster: plan, submit, poll, ingest, retry, until every
item of the partitions is succeeded, skipped, dead-lettered, held or parked with a person. Dagster
runs the same steps as assets and sensors; this loop serves scripts, tests and benchmarks."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, func, select

from batch_pipelines.batching.ingest import IngestResult, ingest_job
from batch_pipelines.batching.jobs import BlockedJob, blocked_jobs, open_requests
from batch_pipelines.batching.planning import Checkpoint, plan
from batch_pipelines.batching.polling import ended_jobs_awaiting_ingest, poll
from batch_pipelines.batching.submission import submit_planned
from batch_pipelines.batching.workflow import Workflow
from batch_pipelines.db.statuses import LIVE_JOB_STATUSES
from batch_pipelines.db.tables import batch_jobs, batch_requests
from batch_pipelines.providers.base import ProviderError
from batch_pipelines.providers.registry import ProviderRegistry


@dataclass
class LifecycleResult:
    rounds: int = 0
    jobs: list[str] = field(default_factory=list)
    ingested: IngestResult = field(default_factory=lambda: IngestResult("*"))
    open_requests: int = 0
    ingest_errors: list[str] = field(default_factory=list)
    blocked: list[BlockedJob] = field(default_factory=list)  # parked jobs, each with its reason
    adopted: list[str] = field(default_factory=list)  # jobs whose lost create was reconciled


def open_request_count(engine: Engine, workflow: str) -> int:
    """Requests still waiting for a batch or a result (held ones wait for budget, parked ones for
    a person, not for us)."""
    with engine.connect() as conn:
        return conn.execute(
            open_requests().where(batch_requests.c.workflow == workflow)
        ).scalar_one()


def live_job_count(engine: Engine, workflow: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count())
            .select_from(batch_jobs)
            .where(batch_jobs.c.workflow == workflow, batch_jobs.c.status.in_(LIVE_JOB_STATUSES))
        ).scalar_one()


def run_to_completion(
    engine: Engine,
    workflow: Workflow,
    providers: ProviderRegistry,
    partition_dates: Sequence[dt.date],
    tenant_ids: Sequence[str] | None = None,
    *,
    max_rounds: int = 50,
    poll_interval: float = 0.05,
    checkpoint: Checkpoint | None = None,
    clock: Callable[[], dt.datetime] | None = None,
) -> LifecycleResult:
    result = LifecycleResult()
    planned = plan(engine, workflow, providers, partition_dates, tenant_ids, checkpoint=checkpoint)
    result.jobs += planned.batch_job_ids
    for _ in range(max_rounds):
        result.rounds += 1
        now = clock() if clock else None
        retry_plan = plan(engine, workflow, providers, None, now=now)
        result.jobs += retry_plan.batch_job_ids
        submitted = submit_planned(engine, workflow, providers, checkpoint=checkpoint, now=now)
        result.adopted += submitted.adopted
        poll(engine, providers, now=now)
        for job in ended_jobs_awaiting_ingest(engine):
            if job.workflow != workflow.name:
                continue
            try:
                ingested = ingest_job(
                    engine, workflow, providers, job.batch_job_id, checkpoint=checkpoint
                )
            except ProviderError as exc:
                # The job stays `ended` with the error recorded; the next round tries again.
                result.ingest_errors.append(f"{job.batch_job_id}: {exc}")
                continue
            result.ingested.add(ingested)
        if not open_request_count(engine, workflow.name) and not live_job_count(
            engine, workflow.name
        ):
            break
        time.sleep(poll_interval)
    result.open_requests = open_request_count(engine, workflow.name)
    with engine.connect() as conn:
        result.blocked = blocked_jobs(conn, workflow.name)
    return result
