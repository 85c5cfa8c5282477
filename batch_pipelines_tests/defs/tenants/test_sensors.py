"""tenant_registry_sensor keeps the `tenants` dynamic partitions equal to the tenants table."""

from __future__ import annotations

import dagster as dg
from sqlalchemy import text

from batch_pipelines.definitions import defs


def _insert_tenant(engine, tenant_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenants (tenant_id, name, vertical, tier, tier_price_usd)"
                " VALUES (:t, :t, 'sales', 'starter', 149)"
            ),
            {"t": tenant_id},
        )


def _tick(instance: dg.DagsterInstance):
    """Evaluates the sensor as the daemon does (resources from the definitions)."""
    definitions = defs()
    sensor = definitions.resolve_sensor_def("tenant_registry_sensor")
    context = dg.build_sensor_context(
        instance_ref=instance.get_ref(), definitions=definitions, resources=definitions.resources
    )
    return sensor.evaluate_tick(context)


def _apply(instance: dg.DagsterInstance, result) -> None:
    for request in result.dynamic_partitions_requests or []:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)


def test_new_tenants_are_added_and_removed_tenants_deleted(engine, dagster_instance) -> None:
    _insert_tenant(engine, "acme")
    _insert_tenant(engine, "zeta-salon")
    dagster_instance.add_dynamic_partitions("tenants", ["gone-tenant"])

    result = _tick(dagster_instance)
    _apply(dagster_instance, result)

    assert sorted(dagster_instance.get_dynamic_partitions("tenants")) == ["acme", "zeta-salon"]
    again = _tick(dagster_instance)
    assert not again.dynamic_partitions_requests
    assert "already match" in (again.skip_message or "")
