import os

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
