-- The ledger rows of a period with what the cost bound needs of each: its tokens, when it ran,
-- whose credentials (a prompt cache is per organisation or workspace) and its prompt's chain of
-- cache prefixes (NULL when none was recorded: an embedding, a row planned before migration 0010).
SELECT c.ledger_id,
       c.tenant_id,
       c.workflow,
       c.provider,
       c.model,
       c.mode,
       c.ledger_date,
       u.occurred_at,
       c.input_tokens,
       c.cached_input_tokens,
       c.cache_write_tokens,
       c.cache_write_1h_tokens,
       c.output_tokens,
       c.cost_micro_usd,
       coalesce(j.credentials_ref, 'default') AS credentials_ref,
       coalesce(j.priming, false) AS primed,
       p.keys AS prefix_keys,
       p.tokens AS prefix_tokens
  FROM cost_ledger c
  JOIN llm_usage u ON u.usage_id = c.usage_id
  LEFT JOIN batch_jobs j ON j.batch_job_id = u.batch_job_id
  LEFT JOIN batch_requests r ON r.custom_id = u.custom_id
  LEFT JOIN prompt_prefixes p ON p.prefix_key = r.cache_prefix
 WHERE c.ledger_date >= :start AND c.ledger_date <= :end
 ORDER BY u.occurred_at, c.ledger_id
