import datetime as dt

import dagster as dg

from batch_pipelines.batching.planning import due_tenants
from batch_pipelines.defs.batching.workflow_assets import WORKFLOW_DEFS
from batch_pipelines.defs.resources import DatabaseResource
from batch_pipelines.defs.tenants.partitions import date_range_tags

post_call = WORKFLOW_DEFS["post_call"]
WINDOW = post_call.declared.cadence.every


@dg.sensor(
    job=post_call.request_job,
    minimum_interval_seconds=int(WINDOW.total_seconds()),
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def post_call_window_sensor(
    context: dg.SensorEvaluationContext, database: DatabaseResource
) -> dg.SensorResult | dg.SkipReason:
    """Every 5 minutes: for each date with newly finished calls, one run over the date's tenants
    that queues them (`batch_submit_sensor` then pools them across tenants into provider
    batches). Yesterday is looked at too, for calls that ended just before midnight."""
    now = dt.datetime.now(dt.UTC)
    known = set(context.instance.get_dynamic_partitions("tenants"))
    window = int(now.timestamp()) // int(WINDOW.total_seconds())
    requests = []
    for day in (now.date() - dt.timedelta(days=1), now.date()):
        # Tenants not yet in the partitions wait for tenant_registry_sensor's next tick.
        if any(t in known for t in due_tenants(database.engine(), post_call.workflow, [day])):
            requests.append(
                dg.RunRequest(
                    run_key=f"post_call:{day.isoformat()}:{window}",
                    tags=date_range_tags(context.instance, day),
                )
            )
    if not requests:
        return dg.SkipReason("no newly finished calls")
    return dg.SensorResult(run_requests=requests)
