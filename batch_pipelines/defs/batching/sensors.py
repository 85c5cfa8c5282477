import datetime as dt

import dagster as dg

from batch_pipelines.batching.polling import ended_jobs_awaiting_ingest, poll, submittable_jobs
from batch_pipelines.defs.batching.partition_ranges import (
    date_tenant_range_tags,
    partitions_of_job,
    tenant_range_tags,
)
from batch_pipelines.defs.batching.steps import BATCH_JOB_TAG
from batch_pipelines.defs.kb_index.assets import (
    kb_embedding_requests,
    kb_index_ingest_job,
    kb_index_job,
)
from batch_pipelines.defs.lead_scoring.assets import lead_scoring_ingest_job, lead_scoring_job
from batch_pipelines.defs.post_call.assets import post_call_ingest_job, post_call_job
from batch_pipelines.defs.resources import BatchProviderResource, DatabaseResource
from batch_pipelines.defs.tenants.partitions import tenant_partitions

# workflow → (submit job, ingest job, whether its partitions have a date dimension)
WORKFLOW_JOBS = {
    "post_call": (post_call_job, post_call_ingest_job, True),
    "lead_scoring": (lead_scoring_job, lead_scoring_ingest_job, True),
    "kb_index": (kb_index_job, kb_index_ingest_job, False),
}
REQUEST_ASSETS = {
    "post_call": dg.AssetKey("post_call_requests"),
    "lead_scoring": dg.AssetKey("lead_score_requests"),
    "kb_index": kb_embedding_requests.key,
}
# A planned job (waiting for admission, deferred by a 429, left by a crash) gets a submit run of
# its workflow at most this often; one older than `RESUBMIT_AFTER` (its own submit run had its
# chance) is picked up.
RESUBMIT_EVERY = dt.timedelta(minutes=1)
RESUBMIT_AFTER = dt.timedelta(seconds=30)


def _range_tags(instance: dg.DagsterInstance, workflow: str, partitions: list) -> dict[str, str]:
    dates, tenants = partitions_of_job(partitions)
    if WORKFLOW_JOBS[workflow][2]:
        return date_tenant_range_tags(instance, dates, tenants)
    return tenant_range_tags(instance, tenants)


@dg.sensor(
    jobs=[job for jobs in WORKFLOW_JOBS.values() for job in jobs[:2]],
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def batch_poll_sensor(
    context: dg.SensorEvaluationContext,
    database: DatabaseResource,
    batch_providers: BatchProviderResource,
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
            asset_key=REQUEST_ASSETS[p.workflow],
            metadata={
                "batch_job_id": p.batch_job_id,
                "provider_status": p.provider_status,
                "status": p.status,
                **{f"lines_{k}": v for k, v in p.request_counts.items()},
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
                job_name=WORKFLOW_JOBS[job.workflow][1].name,
                tags={
                    BATCH_JOB_TAG: job.batch_job_id,
                    "workflow": job.workflow,
                    "provider": job.provider,
                    "model": job.model,
                    **_range_tags(context.instance, job.workflow, job.partitions),
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
                job_name=WORKFLOW_JOBS[workflow][0].name,
                tags=_range_tags(context.instance, workflow, partitions),
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
