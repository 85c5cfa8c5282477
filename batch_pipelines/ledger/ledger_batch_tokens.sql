-- Tokens of every batch job the partition's usage rows came from, over ALL the job's lines (every
-- tenant): the ledger row's tokens where the line is priced, else its usage row's. Only lines of
-- the job's provider batch count (lines re-sent synchronously belong to a job of their own).
WITH touched AS (
    SELECT DISTINCT batch_job_id
    FROM llm_usage
    WHERE ledger_date = :d AND tenant_id = :t AND batch_job_id IS NOT NULL
)
SELECT
    j.batch_job_id,
    j.provider,
    j.provider_batch_id,
    j.status,
    j.provider_usage,
    coalesce(sum(
        coalesce(c.input_tokens, u.input_tokens)
        + coalesce(c.cached_input_tokens, u.cached_input_tokens)
        + coalesce(c.cache_write_tokens, u.cache_write_tokens)
    ), 0) AS prompt_tokens,
    coalesce(sum(coalesce(c.cached_input_tokens, u.cached_input_tokens)), 0) AS cached_tokens,
    coalesce(sum(coalesce(c.output_tokens, u.output_tokens)), 0) AS output_tokens
FROM touched
JOIN batch_jobs AS j USING (batch_job_id)
LEFT JOIN llm_usage AS u
    ON u.batch_job_id = j.batch_job_id AND u.provider_batch_id = j.provider_batch_id
LEFT JOIN cost_ledger AS c ON c.usage_id = u.usage_id
GROUP BY j.batch_job_id, j.provider, j.provider_batch_id, j.status, j.provider_usage
ORDER BY j.batch_job_id
