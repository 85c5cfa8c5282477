import dagster as dg

# Keys are tenant slugs (`^[a-z0-9][a-z0-9_-]*$`), enforced by the `tenants` table: a `|` or `,`
# in a dynamic key would break multi-partition keys and UI backfills.
tenant_partitions = dg.DynamicPartitionsDefinition(name="tenants")
