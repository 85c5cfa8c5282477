import datetime as dt

import dagster as dg

from batch_pipelines.defs.ledger.assets import REPORT_HOUR
from batch_pipelines.defs.ledger.jobs import ledger_coverage_job, tenant_cost_report_job

# Hourly: the coverage check runs even on a day nothing is priced (that is when it matters).
ledger_coverage_schedule = dg.ScheduleDefinition(
    name="ledger_coverage_schedule",
    job=ledger_coverage_job,
    cron_schedule="17 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


@dg.schedule(
    job=tenant_cost_report_job,
    cron_schedule=f"0 {REPORT_HOUR} * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def tenant_cost_report_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Daily: the previous day's report, once its post-call windows and its lead scoring (02:00)
    have run. Materialising a date again (by hand, or a backfill after a price correction)
    rewrites it."""
    day = context.scheduled_execution_time.astimezone(dt.UTC).date() - dt.timedelta(days=1)
    return dg.RunRequest(run_key=f"tenant_cost_report:{day.isoformat()}", partition_key=str(day))
