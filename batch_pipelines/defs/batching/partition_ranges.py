"""Run requests over partition ranges: how one run covers many tenants (so their work pools)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import dagster as dg

from batch_pipelines.defs.tenants.partitions import tenant_partitions

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def tenant_order(instance: dg.DagsterInstance) -> dict[str, int]:
    """Position of each tenant key in the dynamic partitions (the order Dagster ranges follow)."""
    keys = instance.get_dynamic_partitions(tenant_partitions.name)
    return {key: n for n, key in enumerate(keys)}


def date_tenant_range_tags(
    instance: dg.DagsterInstance, dates: Iterable[dt.date], tenants: Iterable[str]
) -> dict[str, str]:
    """Range tags from the first to the last (date, tenant) in Dagster's order, which is date-major
    and then tenant insertion order. Keys in between are covered too: planning and ingest only act on
    what is due, so covering an extra partition does no work twice."""
    tenants = _ordered(instance, tenants)
    dates = sorted(set(dates))
    return {
        RANGE_START: f"{dates[0].isoformat()}|{tenants[0]}",
        RANGE_END: f"{dates[-1].isoformat()}|{tenants[-1]}",
    }


def tenant_range_tags(instance: dg.DagsterInstance, tenants: Iterable[str]) -> dict[str, str]:
    ordered = _ordered(instance, tenants)
    return {RANGE_START: ordered[0], RANGE_END: ordered[-1]}


def _ordered(instance: dg.DagsterInstance, tenants: Iterable[str]) -> list[str]:
    """Tenants in partition order; ones being added in the same tick (added in sorted order) last."""
    order = tenant_order(instance)
    return sorted(set(tenants), key=lambda t: (order.get(t, len(order)), t))


def partitions_of_job(partitions: Iterable[Mapping[str, str]]) -> tuple[list[dt.date], list[str]]:
    rows = list(partitions)
    return (
        sorted({dt.date.fromisoformat(p["date"]) for p in rows}),
        sorted({p["tenant"] for p in rows}),
    )
