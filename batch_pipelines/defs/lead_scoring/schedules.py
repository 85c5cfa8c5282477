import datetime as dt
import os

import dagster as dg

from batch_pipelines.defs.batching.workflow_assets import WORKFLOW_DEFS
from batch_pipelines.defs.tenants.partitions import date_range_tags

# The hour (UTC) at which the previous day's leads are scored.
LEAD_SCORING_HOUR = int(os.environ.get("BATCH_PIPELINES_LEAD_SCORING_HOUR_UTC", "2"))


@dg.schedule(
    job=WORKFLOW_DEFS["lead_scoring"].request_job,
    cron_schedule=f"0 {LEAD_SCORING_HOUR} * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def lead_scoring_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    """Daily: one run over every tenant's partition of the previous day, queueing its leads
    (`batch_submit_sensor` pools them into Anthropic batches, sharded only at their limits)."""
    day = context.scheduled_execution_time.astimezone(dt.UTC).date() - dt.timedelta(days=1)
    if not context.instance.get_dynamic_partitions("tenants"):
        return dg.SkipReason("no tenants yet")
    return dg.RunRequest(
        run_key=f"lead_scoring:{day.isoformat()}", tags=date_range_tags(context.instance, day)
    )
