-- What each (tenant, month) of :pairs has spent against its monthly budget, in micro-dollars:
-- the month's priced cost (cost_ledger by ledger_date), the month's usage not priced yet counted at
-- its request's reservation, and the reservations of the requests in a :reserving status
-- (pending, planned, submitted) whose partition_date (= the ledger_date they will be booked to)
-- is in the month.
-- :pairs is a JSON array of {"tenant_id", "month_start", "month_end"} (month_end exclusive).
WITH pairs AS (
    SELECT tenant_id, month_start, month_end
    FROM jsonb_to_recordset(CAST(:pairs AS jsonb))
        AS p (tenant_id text, month_start date, month_end date)
)
SELECT
    p.tenant_id,
    p.month_start,
    t.tenant_id IS NOT NULL AS known,
    t.policy ->> 'monthly_budget_usd' AS budget,
    jsonb_typeof(t.policy -> 'monthly_budget_usd') AS budget_type,
    (SELECT coalesce(sum(c.cost_micro_usd), 0) FROM cost_ledger AS c
      WHERE c.tenant_id = p.tenant_id
        AND c.ledger_date >= p.month_start AND c.ledger_date < p.month_end) AS spent,
    (SELECT coalesce(sum(r.estimated_cost_micro_usd), 0)
       FROM llm_usage AS u JOIN batch_requests AS r USING (custom_id)
      WHERE u.tenant_id = p.tenant_id
        AND u.ledger_date >= p.month_start AND u.ledger_date < p.month_end
        AND NOT EXISTS (SELECT 1 FROM cost_ledger AS c WHERE c.usage_id = u.usage_id))
        AS unpriced,
    (SELECT coalesce(sum(r.estimated_cost_micro_usd), 0) FROM batch_requests AS r
      WHERE r.tenant_id = p.tenant_id AND r.status = ANY(CAST(:reserving AS text[]))
        AND r.partition_date >= p.month_start AND r.partition_date < p.month_end) AS reserved
FROM pairs AS p
LEFT JOIN tenants AS t USING (tenant_id)
