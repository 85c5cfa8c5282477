"""The engine steps as asset bodies call them: partitions in, engine call, metadata out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import dagster as dg

from batch_pipelines.batching.ingest import IngestResult, ingest_job
from batch_pipelines.batching.planning import plan
from batch_pipelines.batching.polling import ended_jobs_awaiting_ingest
from batch_pipelines.batching.submission import submit_planned
from batch_pipelines.batching.workflow import Workflow
from batch_pipelines.defs.resources import BatchProviderResource, DatabaseResource
from batch_pipelines.defs.tenants.partitions import date_tenant_partitions

BATCH_JOB_TAG = "batch_pipelines/batch_job_id"


def workflow_tags(workflow: Workflow) -> dict[str, str]:
    """Run tags every run of a workflow carries (the run queue limits runs per provider)."""
    return {"workflow": workflow.name, "provider": workflow.provider, "model": workflow.model}


def partition_keys(context: dg.AssetExecutionContext) -> list[str]:
    if not context.has_partition_key and not context.has_partition_key_range:
        return []
    return list(context.partition_keys)


def dates_and_tenants(
    context: dg.AssetExecutionContext,
) -> tuple[list[dt.date], list[str]]:
    """The dates and tenants a date × tenant run covers (one run = one or more whole dates)."""
    dates: set[dt.date] = set()
    tenants: set[str] = set()
    for key in partition_keys(context):
        dims = date_tenant_partitions.get_partition_key_from_str(key).keys_by_dimension
        dates.add(dt.date.fromisoformat(dims["date"]))
        tenants.add(dims["tenant"])
    return sorted(dates), sorted(tenants)


def plan_and_submit(
    context: dg.AssetExecutionContext,
    workflow: Workflow,
    database: DatabaseResource,
    batch_providers: BatchProviderResource,
    dates: Sequence[dt.date] | None,
    tenants: Sequence[str] | None,
) -> dg.MaterializeResult:
    """Plan the due items of the run's partitions into pooled batches, and submit every planned
    job of the workflow (including any a crash or a rate limit left behind)."""
    engine = database.engine()
    registry = batch_providers.registry()
    planned = plan(engine, workflow, registry, dates, tenants)
    submitted = submit_planned(engine, workflow, registry)
    for job_id, reason in submitted.deferred.items():
        context.log.warning(f"batch job {job_id} not submitted yet: {reason}")
    for job_id, reason in submitted.waiting.items():
        context.log.info(f"batch job {job_id} waits: {reason}")
    for job_id in submitted.needs_attention:
        context.log.error(f"batch job {job_id} needs a person: see batch_jobs.error")
    return dg.MaterializeResult(
        metadata={
            "requests": planned.planned,
            "batch_jobs": len(planned.batch_job_ids),
            "submitted_jobs": len(submitted.submitted) + len(submitted.adopted),
            "deferred_jobs": len(submitted.deferred),
            "waiting_jobs": len(submitted.waiting),
            "parked_jobs": len(submitted.needs_attention),
            "held_items": planned.held,
            "skipped_items": planned.skipped,
            "dead_lettered_items": planned.rejected,
            "retried_requests": planned.retries,
            "batch_job_ids": dg.MetadataValue.json(planned.batch_job_ids),
        }
    )


def ingest(
    context: dg.AssetExecutionContext,
    workflow: Workflow,
    database: DatabaseResource,
    batch_providers: BatchProviderResource,
) -> IngestResult:
    """Ingest the job named by the run's tag (a run launched by `batch_poll_sensor`), or else every
    ended job of the workflow (a run launched by hand); then plan what failed into new batches and
    submit the workflow's planned jobs (the ended batch left room in its provider's queue)."""
    engine = database.engine()
    registry = batch_providers.registry()
    job_id = context.run.tags.get(BATCH_JOB_TAG)
    job_ids = (
        [job_id]
        if job_id
        else [
            j.batch_job_id
            for j in ended_jobs_awaiting_ingest(engine)
            if j.workflow == workflow.name
        ]
    )
    total = IngestResult(job_id or "*")
    for batch_job_id in job_ids:
        ingested = ingest_job(engine, workflow, registry, batch_job_id)
        if ingested.parked:
            context.log.error(f"batch job {batch_job_id} needs attention: {ingested.parked}")
        total.add(ingested)
    retry = plan(engine, workflow, registry, None)
    if retry.batch_job_ids:
        context.log.info(
            f"re-queued {retry.planned} failed lines in {len(retry.batch_job_ids)} batches"
        )
    # The ended batch left room in its provider's queue: the retries, and any job admission held
    # back, go now.
    submit_planned(engine, workflow, registry)
    return total


def ingest_metadata(result: IngestResult) -> dict[str, dg.RawMetadataValue]:
    return {
        "requests": result.lines,
        "succeeded": result.succeeded,
        "failed_lines": result.failed_lines + result.invalid_answers + result.missing,
        "invalid_answers": result.invalid_answers,
        "retried": result.retried,
        "requeued": result.requeued,
        "dead_lettered": result.dead_lettered,
        "sent_sync": result.sent_sync,
        "rejected_lines": sum(result.rejected.values()),
        "input_tokens": result.usage.prompt_tokens,
        "cached_input_tokens": result.usage.cached_input_tokens,
        "output_tokens": result.usage.output_tokens,
    }
