import dagster as dg

from batch_pipelines.db.tenants import is_valid_tenant_id, tenant_ids
from batch_pipelines.defs.resources import DatabaseResource
from batch_pipelines.defs.tenants.partitions import tenant_partitions


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def tenant_registry_sensor(
    context: dg.SensorEvaluationContext, database: DatabaseResource
) -> dg.SensorResult | dg.SkipReason:
    """Keeps the `tenants` dynamic partitions equal to the `tenants` table."""
    with database.engine().connect() as conn:
        wanted = [t for t in tenant_ids(conn) if is_valid_tenant_id(t)]
    current = set(context.instance.get_dynamic_partitions(tenant_partitions.name))
    to_add = [t for t in wanted if t not in current]
    to_delete = sorted(current - set(wanted))
    if not to_add and not to_delete:
        return dg.SkipReason(f"{len(current)} tenant partitions already match the tenants table")
    requests = []
    if to_add:
        requests.append(tenant_partitions.build_add_request(to_add))
    if to_delete:
        requests.append(tenant_partitions.build_delete_request(to_delete))
    context.log.info(f"tenant partitions: +{len(to_add)} -{len(to_delete)}")
    return dg.SensorResult(dynamic_partitions_requests=requests)
