-- Every self-hosted usage row of a date, of every tenant: the lines of the day's GPU windows, one
-- window per (provider, model), in the order the allocation's ties follow.
SELECT usage_id, tenant_id, provider, model, input_tokens, cached_input_tokens,
       cache_write_tokens, cache_write_1h_tokens, output_tokens
FROM llm_usage
WHERE ledger_date = :d AND mode = 'self_hosted'
ORDER BY provider, model, usage_id
