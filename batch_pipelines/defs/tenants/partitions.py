import datetime as dt
import os
from collections.abc import Iterable, Mapping

import dagster as dg

# The first date of the date partitions. Kept recent: a new tenant gets a partition for every date
# back to it, and date × tenant partitions grow by the tenant count every day (README, "Scale").
PARTITIONS_START_ENV = "BATCH_PIPELINES_PARTITIONS_START"

# Keys are tenant slugs (`^[a-z0-9][a-z0-9_-]*$`), enforced by the `tenants` table: a `|` or `,`
# in a dynamic key would break multi-partition keys and UI backfills.
tenant_partitions = dg.DynamicPartitionsDefinition(name="tenants")

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=os.environ.get(PARTITIONS_START_ENV) or "2026-11-01", end_offset=1
)

# Keys read "2026-11-25|acme" (dimensions sort by name: date < tenant).
date_tenant_partitions = dg.MultiPartitionsDefinition(
    {"date": daily_partitions, "tenant": tenant_partitions}
)

# Dagster's tags for a run over a range of partition keys (what a single-run backfill launches).
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def date_range_tags(instance: dg.DagsterInstance, day: dt.date) -> dict[str, str]:
    """A run over every tenant's partition of `day` (a date x tenant range is the rectangle of its
    two dimensions' ranges; tenants in the order they were added). What a trigger launches for a
    date's work (a post-call window, the day's lead scoring): one run, not one per tenant."""
    tenants = instance.get_dynamic_partitions(tenant_partitions.name)
    if not tenants:
        raise ValueError("no tenant partitions yet")
    return {
        RANGE_START: f"{day.isoformat()}|{tenants[0]}",
        RANGE_END: f"{day.isoformat()}|{tenants[-1]}",
    }


def tenant_order(instance: dg.DagsterInstance) -> dict[str, int]:
    """Position of each tenant key in the dynamic partitions (the order Dagster ranges follow)."""
    return {key: n for n, key in enumerate(instance.get_dynamic_partitions(tenant_partitions.name))}


def covering_range_tags(
    instance: dg.DagsterInstance, partitions: Iterable[Mapping[str, str]], *, by_date: bool
) -> dict[str, str]:
    """A run over the smallest range holding every one of `partitions` ({"date", "tenant"} each;
    only the tenant without `by_date`): the ingest of a pooled batch materializes the results of
    every partition it serves in one run. A date x tenant range is a rectangle (its first to last
    date, times its first to last tenant in partition order), so partitions inside it that the
    batch does not serve are covered too (their figures are reported as they are; nothing is done
    twice). Tenants not yet in the partitions (added in the same tick, in sorted order) go last."""
    rows = list(partitions)
    order = tenant_order(instance)
    tenants = sorted({p["tenant"] for p in rows}, key=lambda t: (order.get(t, len(order)), t))
    if not by_date:
        return {RANGE_START: tenants[0], RANGE_END: tenants[-1]}
    dates = sorted({p["date"] for p in rows})
    return {RANGE_START: f"{dates[0]}|{tenants[0]}", RANGE_END: f"{dates[-1]}|{tenants[-1]}"}
