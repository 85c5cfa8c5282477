-- Ledger rows of the partition (by their own columns or by the usage row they price) that lack a
-- tenant or vertical, or whose tenant / vertical / workflow differ from their usage row's or
-- their manifest request's.
WITH ids AS (
    SELECT ledger_id FROM cost_ledger WHERE ledger_date = :d AND tenant_id = :t
    UNION
    SELECT c.ledger_id
    FROM llm_usage AS u JOIN cost_ledger AS c USING (usage_id)
    WHERE u.ledger_date = :d AND u.tenant_id = :t
),
rows AS (
    SELECT
        c.ledger_id,
        coalesce(c.tenant_id, '') = '' OR coalesce(c.vertical, '') = '' AS unattributed,
        c.tenant_id IS DISTINCT FROM u.tenant_id
            OR c.vertical IS DISTINCT FROM u.vertical
            OR c.workflow IS DISTINCT FROM u.workflow
            OR c.tenant_id IS DISTINCT FROM r.tenant_id
            OR c.vertical IS DISTINCT FROM r.vertical
            OR c.workflow IS DISTINCT FROM r.workflow AS misattributed
    FROM ids
    JOIN cost_ledger AS c USING (ledger_id)
    LEFT JOIN llm_usage AS u ON u.usage_id = c.usage_id
    LEFT JOIN batch_requests AS r ON r.custom_id = u.custom_id
)
SELECT
    count(*) AS ledger_rows,
    count(*) FILTER (WHERE unattributed) AS without_tenant_or_vertical,
    count(*) FILTER (WHERE misattributed AND NOT unattributed) AS misattributed,
    (array_agg(ledger_id ORDER BY ledger_id) FILTER (WHERE unattributed OR misattributed))[1:10]
        AS sample_ids
FROM rows
