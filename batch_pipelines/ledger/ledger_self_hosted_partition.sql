-- Whether a (ledger_date, tenant) partition has self-hosted usage rows, or self-hosted ledger rows
-- (whose usage may have moved or changed): its pricing then touches the day's GPU shares. Both
-- probes read only the partial indexes on self-hosted rows (migration 0006), so an API-only
-- partition pays two empty index lookups.
SELECT
    EXISTS (
        SELECT 1 FROM llm_usage
        WHERE ledger_date = :ledger_date AND tenant_id = :tenant_id AND mode = 'self_hosted'
    ) AS has_usage,
    EXISTS (
        SELECT 1 FROM cost_ledger
        WHERE ledger_date = :ledger_date AND tenant_id = :tenant_id AND mode = 'self_hosted'
    ) AS has_ledger_rows
