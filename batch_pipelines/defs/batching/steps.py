"""The engine steps as asset bodies call them: partitions in, engine call, metadata out.

Metadata is reported per partition (`context.add_asset_metadata(..., partition_key=...)`): each
partition a run covers gets its own figures, read from Postgres (`ledger.partition_figures`), under
the same keys for every workflow and provider, so the UI can plot them across partitions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import dagster as dg
from sqlalchemy import Connection

from batch_pipelines.batching.ingest import IngestResult, ingest_job
from batch_pipelines.batching.planning import plan_queued, queue
from batch_pipelines.batching.polling import ended_jobs_awaiting_ingest
from batch_pipelines.batching.submission import submit_planned
from batch_pipelines.batching.workflow import Workflow
from batch_pipelines.core.workflows import WorkflowDeclaration
from batch_pipelines.defs.resources import BatchProviderResource, DatabaseResource
from batch_pipelines.defs.tenants.partitions import date_tenant_partitions
from batch_pipelines.ledger.partition_figures import (
    PartitionFigures,
    PartitionKey,
    workflow_partition_figures,
)

BATCH_JOB_TAG = "batch_pipelines/batch_job_id"
# A submit run's group (`batching.groups.SubmitGroup`): its credentials, and its whole key (the
# batch submit sensor finds a group's runs by it). A run without them submits every group of its
# workflow (launched by hand, or for requests due to be queued again).
CREDENTIALS_TAG = "batch_pipelines/credentials"
SUBMIT_GROUP_TAG = "batch_pipelines/submit_group"
ROW_COUNT = "dagster/row_count"


@runtime_checkable
class ReportsPartitions(Protocol):
    """Optional for a `Workflow`: more metadata per partition than the engine's counts (the PII a
    post-call partition had replaced, for instance)."""

    def partition_metadata(
        self, conn: Connection, partitions: Sequence[tuple[dt.date, str]]
    ) -> Mapping[tuple[dt.date, str], Mapping[str, float | int]]: ...


def workflow_tags(declared: WorkflowDeclaration) -> dict[str, str]:
    """Run tags of the runs that talk to the workflow's provider (submit, ingest): the run queue
    limits runs per provider."""
    return {"workflow": declared.name, "provider": declared.provider, "model": declared.model}


def run_partitions(context: dg.AssetExecutionContext, by_date: bool) -> dict[str, PartitionKey]:
    """Each partition key of the run (one, or every key of a range) with its (date, tenant)."""
    if not context.has_partition_key and not context.has_partition_key_range:
        return {}
    out: dict[str, PartitionKey] = {}
    for key in context.partition_keys:
        if by_date:
            dims = date_tenant_partitions.get_partition_key_from_str(key).keys_by_dimension
            out[key] = (dt.date.fromisoformat(dims["date"]), dims["tenant"])
        else:
            out[key] = (None, key)
    return out


def queue_requests(
    context: dg.AssetExecutionContext,
    declared: WorkflowDeclaration,
    workflow: Workflow,
    database: DatabaseResource,
    batch_providers: BatchProviderResource,
) -> dg.MaterializeResult:
    """Queue the due items of the run's partitions, whatever they are (one, a range, a tenant's
    every date): rendered, budget-checked, written to the manifest as queued work. Nothing is
    submitted here: `batch_submit_sensor` pools what every run queued, per group, once the batch
    window has passed. Each partition then reports its manifest: lines queued or sent, held,
    skipped and dead-lettered items."""
    partitions = run_partitions(context, declared.by_date)
    tenants = sorted({tenant for _, tenant in partitions.values()})
    # A tenant-partitioned workflow's items carry their own dates (KB: the upload date); the
    # run's day only says that due items are wanted.
    dates = (
        sorted({day for day, _ in partitions.values() if day is not None})
        if declared.by_date
        else [dt.datetime.now(dt.UTC).date()]
    )
    engine = database.engine()
    queued = queue(engine, workflow, batch_providers.registry(), dates, tenants)
    # What the run did as a whole belongs to no one partition: the log says it.
    context.log.info(
        f"queued {queued.queued} requests of {len(queued.queued_by_tenant)} tenants for "
        f"batch_submit_sensor; held {queued.held}, skipped {queued.skipped}, dead-lettered "
        f"{queued.rejected}, retried {queued.retries}"
    )
    with engine.connect() as conn:
        figures = workflow_partition_figures(conn, declared.name, list(partitions.values()))
    for key, partition in partitions.items():
        add_partition_metadata(context, key, request_metadata(figures[partition]))
    return dg.MaterializeResult()


def submit_group(
    context: dg.OpExecutionContext,
    workflow: Workflow,
    database: DatabaseResource,
    batch_providers: BatchProviderResource,
) -> None:
    """A submit run, for the group its tags name (every group of the workflow without them):
    requests due to be queued again are queued first, then every queued line of the group is
    planned into pooled, sharded jobs, and the group's planned jobs are submitted under admission
    control. Everything it reads is in Postgres: it may run on any machine."""
    engine = database.engine()
    registry = batch_providers.registry()
    credentials_ref = context.run.tags.get(CREDENTIALS_TAG)
    requeued = queue(engine, workflow, registry, None)
    planned = plan_queued(engine, workflow, registry, credentials_ref=credentials_ref)
    submitted = submit_planned(engine, workflow, registry, credentials_ref=credentials_ref)
    for job_id, reason in submitted.deferred.items():
        context.log.warning(f"batch job {job_id} not submitted yet: {reason}")
    for job_id, reason in submitted.waiting.items():
        context.log.info(f"batch job {job_id} waits: {reason}")
    for job_id in submitted.needs_attention:
        context.log.error(f"batch job {job_id} needs a person: see batch_jobs.error")
    context.log.info(
        f"{context.run.tags.get(SUBMIT_GROUP_TAG) or workflow.name + ' (every group)'}: "
        f"re-queued {requeued.queued}; planned {planned.planned} requests of "
        f"{len(planned.requests_by_tenant)} tenants in {len(planned.batch_job_ids)} batch jobs "
        f"({', '.join(planned.batch_job_ids) or 'none'}); submitted "
        f"{len(submitted.submitted) + len(submitted.adopted)}, deferred {len(submitted.deferred)}, "
        f"waiting {len(submitted.waiting)}, parked {len(submitted.needs_attention)}"
    )


def ingest(
    context: dg.AssetExecutionContext,
    workflow: Workflow,
    database: DatabaseResource,
    batch_providers: BatchProviderResource,
) -> IngestResult:
    """Ingest the job named by the run's tag (a run launched by `batch_poll_sensor`), or else every
    ended job of the workflow (a run launched by hand); then queue what failed again (it pools
    with the next window's work) and submit the workflow's planned jobs (the ended batch left room
    in its provider's queue)."""
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
    retry = queue(engine, workflow, registry, None)
    if retry.queued:
        context.log.info(f"re-queued {retry.queued} failed lines for the next batch window")
    # The ended batch left room in its provider's queue: the retries, and any job admission held
    # back, go now.
    submit_planned(engine, workflow, registry)
    rejected = sum(total.rejected.values())
    context.log.info(
        f"ingested {total.lines} lines of {len(job_ids)} batch jobs: {total.succeeded} stored, "
        f"{total.invalid_answers} invalid answers, {total.failed_lines} failed, {total.missing} "
        f"missing, {total.retried} retried, {total.requeued} re-queued, {total.dead_lettered} "
        f"dead-lettered, {total.sent_sync} sent synchronously"
    )
    if rejected:
        context.log.warning(
            f"{rejected} result lines attributed to no one (not in the manifest, signature or "
            f"batch mismatch): {dict(total.rejected)}"
        )
    return total


def report_results(
    context: dg.AssetExecutionContext,
    declared: WorkflowDeclaration,
    workflow: Workflow,
    database: DatabaseResource,
) -> None:
    """Each result asset's partitions of the run, with that partition's own figures."""
    partitions = run_partitions(context, declared.by_date)
    with database.engine().connect() as conn:
        figures = workflow_partition_figures(conn, declared.name, list(partitions.values()))
        extra: Mapping = {}
        if declared.by_date and isinstance(workflow, ReportsPartitions):
            extra = workflow.partition_metadata(conn, list(partitions.values()))  # type: ignore[arg-type]
    for asset in declared.result_asset_names:
        for key, partition in partitions.items():
            metadata = {**result_metadata(figures[partition]), **extra.get(partition, {})}
            add_partition_metadata(context, key, metadata, asset_key=dg.AssetKey(asset))


def add_partition_metadata(
    context: dg.AssetExecutionContext,
    partition_key: str,
    metadata: Mapping[str, dg.RawMetadataValue],
    asset_key: dg.AssetKey | None = None,
) -> None:
    context.add_asset_metadata(dict(metadata), asset_key=asset_key, partition_key=partition_key)


def request_metadata(figures: PartitionFigures) -> dict[str, int]:
    return {
        "requests": figures.lines_written,
        "queued_requests": figures.in_flight,
        "held_items": figures.held,
        "skipped_items": figures.skipped,
        "dead_lettered_items": figures.dead_lettered,
    }


def result_metadata(figures: PartitionFigures) -> dict[str, int]:
    return {
        "requests": figures.requests,
        "input_tokens": figures.input_tokens,
        "cached_input_tokens": figures.cached_input_tokens,
        "cache_write_tokens": figures.cache_write_tokens,
        "output_tokens": figures.output_tokens,
        "failed_lines": figures.failed_lines,
        "dead_lettered": figures.dead_lettered,
        "held_items": figures.held,
        "in_flight": figures.in_flight,
        ROW_COUNT: figures.results,
    }
