-- The (ledger_date, tenant) partitions holding usage rows of a workflow's batch jobs that have no
-- ledger row, whichever run wrote them (an ingest stopped after some chunks committed leaves rows
-- its re-run does not count again). Read per job through ix_llm_usage_batch_job_id.
SELECT DISTINCT u.ledger_date, u.tenant_id
FROM batch_jobs AS j
JOIN llm_usage AS u ON u.batch_job_id = j.batch_job_id
WHERE j.workflow = :workflow
    AND NOT EXISTS (SELECT 1 FROM cost_ledger AS c WHERE c.usage_id = u.usage_id)
ORDER BY u.ledger_date, u.tenant_id
