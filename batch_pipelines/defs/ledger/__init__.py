"""The cost ledger in Dagster: `cost_ledger` (date x tenant), its blocking checks, `tenant_cost_report`."""
