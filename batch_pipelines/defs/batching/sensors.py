import datetime as dt
from collections.abc import Mapping

import dagster as dg

from batch_pipelines.batching.polling import ended_jobs_awaiting_ingest, poll, submittable_jobs
from batch_pipelines.defs.batching.partition_ranges import (
    date_tenant_range_tags,
    partitions_of_job,
    tenant_range_tags,
)
from batch_pipelines.defs.batching.steps import BATCH_JOB_TAG
from batch_pipelines.defs.batching.workflow_assets import WORKFLOW_DEFS, WorkflowDefs
from batch_pipelines.defs.resources import BatchProviderResource, DatabaseResource
from batch_pipelines.defs.tenants.partitions import tenant_partitions

# A planned job (waiting for admission, deferred by a 429, left by a crash) gets a submit run of
# its workflow at most this often; one older than `RESUBMIT_AFTER` (its own submit run had its
# chance) is picked up.
RESUBMIT_EVERY = dt.timedelta(minutes=1)
RESUBMIT_AFTER = dt.timedelta(seconds=30)


def _range_tags(
    instance: dg.DagsterInstance, workflow: WorkflowDefs, partitions: list
) -> dict[str, str]:
    dates, tenants = partitions_of_job(partitions)
    if workflow.declared.by_date:
        return date_tenant_range_tags(instance, dates, tenants)
    return tenant_range_tags(instance, tenants)


def progress_metadata(provider: str, request_counts: Mapping[str, int]) -> dict[str, int]:
    """A batch's line counts under the same keys for every provider: OpenAI reports `total`,
    `completed`, `failed`; Anthropic `processing`, `succeeded`, `errored`, `canceled`, `expired`
    (Message Batches `request_counts`). Ended lines whose outcome is not yet known count as done."""
    if provider == "anthropic":
        failed = sum(request_counts.get(k, 0) for k in ("errored", "canceled", "expired"))
        succeeded = request_counts.get("succeeded", 0)
        pending = request_counts.get("processing", 0)
        total = succeeded + failed + pending
    else:  # OpenAI Batch and self-hosted (same shape)
        total = request_counts.get("total", 0)
        succeeded = request_counts.get("completed", 0)
        failed = request_counts.get("failed", 0)
        pending = max(total - succeeded - failed, 0)
    return {
        "lines_total": total,
        "lines_succeeded": succeeded,
        "lines_failed": failed,
        "lines_pending": pending,
    }


def build_batch_poll_sensor(workflows: Mapping[str, WorkflowDefs]) -> dg.SensorDefinition:
    """The poll sensor over these workflows' batches (every declared workflow's in the code
    location), launching their submit and ingest jobs."""

    @dg.sensor(
        name="batch_poll_sensor",
        jobs=[job for w in workflows.values() for job in (w.submit_job, w.ingest_job)],
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def batch_poll_sensor(
        context: dg.SensorEvaluationContext,
        database: DatabaseResource,
        batch_providers: BatchProviderResource,
    ) -> dg.SensorResult:
        return poll_batches(context, database, batch_providers, workflows)

    return batch_poll_sensor


def poll_batches(
    context: dg.SensorEvaluationContext,
    database: DatabaseResource,
    batch_providers: BatchProviderResource,
    workflows: Mapping[str, WorkflowDefs],
) -> dg.SensorResult:
    """Polls the live provider batches (read from Postgres, a bounded number per tick), records
    their progress as observations, and launches the ingest run of every finished batch, keyed by
    its ingest attempt so a failed ingest runs again. Planned batches still to go (waiting for
    room in the provider's queue, deferred by a Retry-After, left by a crash) get a submit run of
    their workflow at most once a minute. A job parked for a person is logged, with why."""
    engine = database.engine()
    result = poll(engine, batch_providers.registry(), max_calls=batch_providers.max_polls_per_tick)
    observations = [
        dg.AssetObservation(
            asset_key=workflows[p.workflow].request_asset.key,
            metadata={
                "batch_job_id": p.batch_job_id,
                "provider": p.provider,
                "provider_status": p.provider_status,
                "status": p.status,
                **progress_metadata(p.provider, p.request_counts),
            },
        )
        for p in result.polled
    ]
    for job_id, error in result.errors.items():
        context.log.warning(f"poll of {job_id} failed (will retry): {error}")
    for job_id, reason in result.parked.items():
        context.log.error(f"batch job {job_id} needs attention: {reason}")

    known = set(context.instance.get_dynamic_partitions(tenant_partitions.name))
    missing_tenants: set[str] = set()
    run_requests = []
    for job in ended_jobs_awaiting_ingest(engine):
        missing_tenants |= {p["tenant"] for p in job.partitions} - known
        run_requests.append(
            dg.RunRequest(
                run_key=f"ingest:{job.batch_job_id}:{job.ingest_attempt}",
                job_name=workflows[job.workflow].ingest_job.name,
                tags={
                    BATCH_JOB_TAG: job.batch_job_id,
                    "workflow": job.workflow,
                    "provider": job.provider,
                    "model": job.model,
                    **_range_tags(context.instance, workflows[job.workflow], job.partitions),
                },
            )
        )
    bucket = int(dt.datetime.now(dt.UTC).timestamp() // RESUBMIT_EVERY.total_seconds())
    to_submit: dict[str, list] = {}
    for job in submittable_jobs(engine, older_than=RESUBMIT_AFTER):
        to_submit.setdefault(job.workflow, []).extend(job.partitions)
    for workflow, partitions in sorted(to_submit.items()):
        missing_tenants |= {p["tenant"] for p in partitions} - known
        # One run per workflow submits all its planned jobs (`submit_planned`).
        run_requests.append(
            dg.RunRequest(
                run_key=f"submit:{workflow}:{bucket}",
                job_name=workflows[workflow].submit_job.name,
                tags=_range_tags(context.instance, workflows[workflow], partitions),
            )
        )
    return dg.SensorResult(
        run_requests=run_requests,
        asset_events=observations,
        dynamic_partitions_requests=(
            [tenant_partitions.build_add_request(sorted(missing_tenants))]
            if missing_tenants
            else []
        ),
        skip_reason=None if run_requests or observations else "no live batches",
    )


batch_poll_sensor = build_batch_poll_sensor(WORKFLOW_DEFS)
