-- Usage rows recorded before :cutoff (or before llm_usage.recorded_at existed: NULL) that have no
-- ledger row, per (ledger_date, tenant) partition: how many, of which workflows, and a few ids.
SELECT
    u.ledger_date,
    u.tenant_id,
    count(*) AS usage_rows,
    array_agg(DISTINCT u.workflow ORDER BY u.workflow) AS workflows,
    (array_agg(u.usage_id ORDER BY u.usage_id))[1:CAST(:n AS integer)] AS sample_ids
FROM llm_usage AS u
WHERE (u.recorded_at IS NULL OR u.recorded_at < :cutoff)
    AND NOT EXISTS (SELECT 1 FROM cost_ledger AS c WHERE c.usage_id = u.usage_id)
GROUP BY u.ledger_date, u.tenant_id
ORDER BY u.ledger_date, u.tenant_id
