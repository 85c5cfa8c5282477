"""The deadline fallback: what a batch past its deadline did not finish goes through the
synchronous API, at full price, as a job of its own (`mode = 'sync'`, usage rows say so).

Crash-safe in two steps. Ingesting the cancelled batch plans each line worth sending again into
the sync job (one per batch job, its id derived from the batch job's) in the same transaction that
marks the batch line failed: a crash anywhere leaves every such line either still `submitted` in
the batch (the re-run's ingest sees it again) or `planned` in the sync job. Then the sync job's
calls are made one request at a time, each answer applied (usage, result, status) in a
transaction of its own, under the sync job's lock: a re-run calls only the requests still
`planned`, so each call is made, and billed, once. The one window left is a call answered but
killed before its transaction commits; nothing can tell that call apart from one never made (the
synchronous APIs have no idempotency keys), so it would be made again.

The batch job is marked `ingested` only once its sync job is done, so the ingest run that a crash
interrupted is simply run again; `submit_planned` also finishes sync jobs left behind.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from batch_pipelines.batching import manifest, transitions
from batch_pipelines.batching.attribution import JobState, read_chunks
from batch_pipelines.batching.credentials import provider_for_job
from batch_pipelines.batching.jobs import SYNC, JobRecord, load_job, select_jobs
from batch_pipelines.batching.planning import Checkpoint
from batch_pipelines.batching.storing import IngestResult, apply_chunk, fail_missing
from batch_pipelines.batching.workflow import Rendered, Workflow
from batch_pipelines.db.statuses import JobStatus, RequestStatus
from batch_pipelines.db.tables import batch_jobs
from batch_pipelines.providers.base import BatchProvider, ProviderConfigError
from batch_pipelines.providers.registry import ProviderRegistry


def sync_job_id_for(batch_job_id: str) -> str:
    """The one synchronous fallback job of a batch job (so a re-run finds the same one)."""
    return f"{batch_job_id}_sync"


def open_sync_job(engine: Engine, job: JobRecord, now: dt.datetime) -> str:
    """The batch job's sync job, created planned (empty) if it is not there yet."""
    sync_job_id = sync_job_id_for(job.batch_job_id)
    with engine.begin() as conn:
        if load_job(conn, sync_job_id) is None:
            transitions.insert_sync_job(conn, job, sync_job_id, now)
    return sync_job_id


def run_sync_job(
    engine: Engine,
    workflow: Workflow,
    provider: BatchProvider,
    sync_job_id: str,
    result: IngestResult,
    *,
    checkpoint: Checkpoint | None = None,
) -> bool:
    """Make the sync job's calls that are not made yet, one at a time, each applied as it answers.
    False if another process is running it now."""
    with manifest.job_lock(engine, f"sync:{sync_job_id}") as locked:
        if not locked:
            return False
        with engine.begin() as conn:
            job = load_job(conn, sync_job_id)
            if job is None or job.status is JobStatus.INGESTED:
                return True
            transitions.count_sync_requests(conn, sync_job_id)
            transitions.start_sync_calls(conn, sync_job_id)
            todo = manifest.job_requests(conn, sync_job_id, [RequestStatus.PLANNED])
            tenants = manifest.load_tenants(conn, {r.tenant_id for r in todo})
            rendered = {
                o.item.item_id: o
                for o in workflow.render(conn, [manifest.work_item(r) for r in todo], tenants)
            }
        if checkpoint:
            checkpoint("before_sync_calls")
        for request in todo:
            outcome = rendered.get(request.item_id)
            line = None
            if isinstance(outcome, Rendered):
                line = provider.complete_sync(
                    request.custom_id, job.model, job.endpoint, outcome.prompt
                )
                result.sent_sync += 1
            now = manifest.utcnow()
            with engine.begin() as conn:
                if not transitions.submit_sync_request(conn, request.custom_id):
                    continue
                state = _sync_state(job, request, now)
                if line is not None:
                    for chunk in read_chunks([line], state, 1):
                        apply_chunk(conn, workflow, state, chunk, result, now, None)
                fail_missing(conn, workflow, state, result, now, None)
            if checkpoint:
                checkpoint("mid_sync")
        with engine.begin() as conn:
            transitions.finish_sync_job(conn, sync_job_id)
    return True


def _sync_state(job: JobRecord, request, now: dt.datetime) -> JobState:
    """One sync request as a job of one line, for the batch ingest's own appliers."""
    return JobState(
        batch_job_id=job.batch_job_id,
        provider=job.provider,
        provider_batch_id=job.provider_batch_id or f"sync-{job.batch_job_id}",
        mode=SYNC,
        model=job.model,
        occurred_at=now,
        requests={request.custom_id: request},
        statuses={request.custom_id: RequestStatus.SUBMITTED.value},
    )


def run_sync_jobs(
    engine: Engine,
    workflow: Workflow,
    providers: ProviderRegistry,
    *,
    checkpoint: Checkpoint | None = None,
) -> IngestResult:
    """Finish the sync jobs of `workflow` a crash left planned or half-called (the ingest of their
    batch job does the same when it runs again)."""
    result = IngestResult("*")
    with engine.connect() as conn:
        jobs = select_jobs(
            conn,
            batch_jobs.c.workflow == workflow.name,
            batch_jobs.c.mode == SYNC,
            batch_jobs.c.status.in_((JobStatus.PLANNED, JobStatus.SUBMITTING)),
            order_by=batch_jobs.c.created_at,
        )
        adapters = {}
        for job in jobs:
            try:
                adapters[job.batch_job_id] = provider_for_job(conn, providers, job)
            except ProviderConfigError:
                continue  # the batch job's own ingest parks it, with the reason
    for job in jobs:
        if job.batch_job_id in adapters:
            run_sync_job(
                engine,
                workflow,
                adapters[job.batch_job_id],
                job.batch_job_id,
                result,
                checkpoint=checkpoint,
            )
    return result
