-- The date's other tenants whose self-hosted ledger rows no longer hold their GPU share of the
-- day (pg_temp.bp_ledger_allocations, just computed): a share that changed, or a row the day no
-- longer allocates to. Their partitions are re-priced so the shares add up to the day's cost.
SELECT DISTINCT c.tenant_id
FROM cost_ledger AS c
LEFT JOIN pg_temp.bp_ledger_allocations AS a ON a.usage_id = c.usage_id
WHERE c.ledger_date = :ledger_date AND c.mode = 'self_hosted' AND c.tenant_id <> :tenant_id
    AND (a.usage_id IS NULL OR c.cost_micro_usd <> a.allocated)
ORDER BY c.tenant_id
