"""The engine's two sensors: `batch_submit_sensor` launches a submit run per group of queued work
once its batch window has passed (or it fills a shard); `batch_poll_sensor` polls the live batches
and launches the ingest run of each finished one."""

import datetime as dt
from collections.abc import Mapping

import dagster as dg

from batch_pipelines.batching.groups import DueBecause, DueGroup, batch_window, due_groups
from batch_pipelines.batching.polling import ended_jobs_awaiting_ingest, poll
from batch_pipelines.defs.batching.steps import (
    BATCH_JOB_TAG,
    CREDENTIALS_TAG,
    SUBMIT_GROUP_TAG,
    workflow_tags,
)
from batch_pipelines.defs.batching.workflow_assets import WORKFLOW_DEFS, WorkflowDefs
from batch_pipelines.defs.resources import BatchProviderResource, DatabaseResource
from batch_pipelines.defs.tenants.partitions import covering_range_tags, tenant_partitions

# Planned jobs still to send (waiting for room in the provider's queue, deferred by a 429, left by
# a crash) get a submit run of their group at most this often, once older than `RESUBMIT_AFTER`
# (their own submit run had its chance).
RESUBMIT_EVERY = dt.timedelta(minutes=1)
RESUBMIT_AFTER = dt.timedelta(seconds=30)
RUN_KEY_TAG = "dagster/run_key"
_UNFINISHED_RUNS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


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


# --- submit --------------------------------------------------------------------------------------


def build_batch_submit_sensor(workflows: Mapping[str, WorkflowDefs]) -> dg.SensorDefinition:
    """The submit sensor over these workflows' queued work (every declared workflow's in the code
    location), launching their submit jobs."""

    @dg.sensor(
        name="batch_submit_sensor",
        jobs=[w.submit_job for w in workflows.values()],
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def batch_submit_sensor(
        context: dg.SensorEvaluationContext,
        database: DatabaseResource,
        batch_providers: BatchProviderResource,
    ) -> dg.SensorResult:
        return submit_due_groups(context, database, batch_providers, workflows)

    return batch_submit_sensor


def submit_due_groups(
    context: dg.SensorEvaluationContext,
    database: DatabaseResource,
    batch_providers: BatchProviderResource,
    workflows: Mapping[str, WorkflowDefs],
) -> dg.SensorResult:
    """One submit run for each group (workflow, provider, credentials, model, endpoint) whose
    oldest queued line has waited the batch window (`BATCH_PIPELINES_BATCH_WINDOW_SECONDS`) or
    whose queued lines fill a shard: everything queued in the window pools, whatever runs queued
    it. Keyed by group and window (the oldest line's time), so a tick while the run is on its way
    launches nothing twice; a run that failed is launched again under the next attempt's key.
    Groups with planned jobs still to send get a run at most once a minute."""
    now = dt.datetime.now(dt.UTC)
    with database.engine().connect() as conn:
        due = due_groups(
            conn,
            batch_providers.registry(),
            window=batch_window(),
            now=now,
            resubmit_after=RESUBMIT_AFTER,
            workflows=list(workflows),
        )
    run_requests = []
    for group in due:
        request = _submit_request(context.instance, workflows[group.workflow], group, now)
        if request is not None:
            run_requests.append(request)
    if not run_requests:
        return dg.SensorResult(skip_reason="no group's batch window has passed")
    return dg.SensorResult(run_requests=run_requests)


def _submit_request(
    instance: dg.DagsterInstance, workflow: WorkflowDefs, due: DueGroup, now: dt.datetime
) -> dg.RunRequest | None:
    group_key = due.group.key if due.group else f"{due.workflow}/*"
    runs = instance.get_run_records(
        filters=dg.RunsFilter(tags={SUBMIT_GROUP_TAG: group_key}), limit=20
    )
    if any(r.dagster_run.status in _UNFINISHED_RUNS for r in runs):
        return None  # its submit run is on its way: it plans whatever is queued when it starts
    if due.because in (DueBecause.WINDOW, DueBecause.FULL_SHARD):
        assert due.window_start is not None
        window = f"submit:{group_key}:{due.window_start.isoformat()}"
    else:
        bucket = int(now.timestamp() // RESUBMIT_EVERY.total_seconds())
        window = f"submit:{group_key}:{due.because}:{bucket}"
    failed = sum(
        1
        for r in runs
        if r.dagster_run.status is dg.DagsterRunStatus.FAILURE
        and r.dagster_run.tags.get(RUN_KEY_TAG, "").startswith(window)
    )
    tags = {**workflow_tags(workflow.declared), SUBMIT_GROUP_TAG: group_key}
    if due.group is not None:
        tags |= {
            CREDENTIALS_TAG: due.group.credentials_ref,
            "provider": due.group.provider,
            "model": due.group.model,
        }
    return dg.RunRequest(
        run_key=window if not failed else f"{window}:attempt-{failed + 1}",
        job_name=workflow.submit_job.name,
        tags={**tags, "batch_pipelines/due_because": str(due.because)},
    )


# --- poll ----------------------------------------------------------------------------------------


def build_batch_poll_sensor(workflows: Mapping[str, WorkflowDefs]) -> dg.SensorDefinition:
    """The poll sensor over these workflows' batches (every declared workflow's in the code
    location), launching their ingest jobs."""

    @dg.sensor(
        name="batch_poll_sensor",
        jobs=[w.ingest_job for w in workflows.values()],
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
    their progress as observations of the workflow's request asset, and launches the ingest run of
    every finished batch over the partitions it serves, keyed by its ingest attempt so a failed
    ingest runs again. A job parked for a person is logged, with why."""
    engine = database.engine()
    result = poll(engine, batch_providers.registry(), max_calls=batch_providers.max_polls_per_tick)
    observations = [
        dg.AssetObservation(
            asset_key=workflows[p.workflow].request_asset.key,
            metadata={
                "batch_job_id": p.batch_job_id,
                "provider": p.provider,
                "provider_status": p.provider_status,
                # The value, not the enum: Dagster's serdes would store our `JobStatus` under the
                # old storage name of its own InstigatorStatus, and fail reading it back.
                "status": str(p.status),
                **progress_metadata(p.provider, p.request_counts),
            },
        )
        for p in result.polled
        if p.workflow in workflows
    ]
    for job_id, error in result.errors.items():
        context.log.warning(f"poll of {job_id} failed (will retry): {error}")
    for job_id, reason in result.parked.items():
        context.log.error(f"batch job {job_id} needs attention: {reason}")

    known = set(context.instance.get_dynamic_partitions(tenant_partitions.name))
    missing_tenants: set[str] = set()
    run_requests = []
    for job in ended_jobs_awaiting_ingest(engine):
        if job.workflow not in workflows:
            continue
        missing_tenants |= {p["tenant"] for p in job.partitions} - known
        wiring = workflows[job.workflow]
        run_requests.append(
            dg.RunRequest(
                run_key=f"ingest:{job.batch_job_id}:{job.ingest_attempt}",
                job_name=wiring.ingest_job.name,
                tags={
                    BATCH_JOB_TAG: job.batch_job_id,
                    "workflow": job.workflow,
                    "provider": job.provider,
                    "model": job.model,
                    **covering_range_tags(
                        context.instance, job.partitions, by_date=wiring.declared.by_date
                    ),
                },
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


batch_submit_sensor = build_batch_submit_sensor(WORKFLOW_DEFS)
batch_poll_sensor = build_batch_poll_sensor(WORKFLOW_DEFS)
