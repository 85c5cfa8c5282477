import datetime as dt
import os

import dagster as dg

from batch_pipelines.defs.batching.partition_ranges import date_tenant_range_tags
from batch_pipelines.defs.batching.workflow_assets import WORKFLOW_DEFS

# The hour (UTC) at which the previous day's leads are scored.
LEAD_SCORING_HOUR = int(os.environ.get("BATCH_PIPELINES_LEAD_SCORING_HOUR_UTC", "2"))


@dg.schedule(
    job=WORKFLOW_DEFS["lead_scoring"].submit_job,
    cron_schedule=f"0 {LEAD_SCORING_HOUR} * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def lead_scoring_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    """Daily: one run covering every tenant for the previous day, so all leads pool into one
    Anthropic batch (sharded only at its limits) rather than one batch per tenant."""
    day = context.scheduled_execution_time.astimezone(dt.UTC).date() - dt.timedelta(days=1)
    tenants = context.instance.get_dynamic_partitions("tenants")
    if not tenants:
        return dg.SkipReason("no tenants yet")
    return dg.RunRequest(
        run_key=f"lead_scoring:{day.isoformat()}",
        tags=date_tenant_range_tags(context.instance, [day], tenants),
    )
