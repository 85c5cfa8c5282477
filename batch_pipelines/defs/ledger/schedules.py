import dagster as dg

from batch_pipelines.defs.ledger.jobs import ledger_coverage_job

# Hourly: the coverage check runs even on a day nothing is priced (that is when it matters).
ledger_coverage_schedule = dg.ScheduleDefinition(
    name="ledger_coverage_schedule",
    job=ledger_coverage_job,
    cron_schedule="17 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
