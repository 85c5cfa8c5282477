import datetime as dt

import dagster as dg

from batch_pipelines.batching.planning import due_tenants
from batch_pipelines.defs.batching.partition_ranges import date_tenant_range_tags
from batch_pipelines.defs.batching.workflow_assets import WORKFLOW_DEFS
from batch_pipelines.defs.resources import DatabaseResource

post_call = WORKFLOW_DEFS["post_call"]
WINDOW = post_call.declared.cadence.every


@dg.sensor(
    job=post_call.submit_job,
    minimum_interval_seconds=int(WINDOW.total_seconds()),
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def post_call_window_sensor(
    context: dg.SensorEvaluationContext, database: DatabaseResource
) -> dg.SensorResult | dg.SkipReason:
    """Every 5 minutes: one run covering the tenants with newly finished calls, so the window's
    calls of every tenant pool into one provider batch per model. Yesterday is looked at too, for
    calls that ended just before midnight."""
    now = dt.datetime.now(dt.UTC)
    known = set(context.instance.get_dynamic_partitions("tenants"))
    due = {}
    for day in (now.date() - dt.timedelta(days=1), now.date()):
        # Tenants not yet in the partitions wait for tenant_registry_sensor's next tick.
        tenants = [
            t for t in due_tenants(database.engine(), post_call.workflow, [day]) if t in known
        ]
        if tenants:
            due[day] = tenants
    if not due:
        return dg.SkipReason("no newly finished calls")
    window = int(now.timestamp()) // int(WINDOW.total_seconds())
    tenants = sorted({t for ts in due.values() for t in ts})
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"post_call:{window}",
                tags=date_tenant_range_tags(context.instance, due, tenants),
            )
        ]
    )
