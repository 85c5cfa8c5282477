-- One partition's usage rows as priced ledger rows (the columns of ledger_insert.sql and
-- ledger_upsert.sql, in their order).
--
-- pg_temp.bp_ledger_prices holds one row per price key with the unit prices `price_line` resolved
-- for it (USD per 1M tokens, so tokens x price = micro-dollars) and its model's bucket bounds;
-- pg_temp.bp_ledger_allocations each self-hosted row's GPU share (joined only when the partition
-- has self-hosted rows). Each {{figure}} is written by ledger._priced_rows_sql from the token
-- classes (token_classes.figure_sql): price_line's arithmetic, class by class, where every class
-- amount is rounded once to 0.000001 micro-dollars (a quantum), half to even, and every figure is
-- a sum or difference of such amounts, i.e. a whole number of quanta.
--
-- With `exact` prices (at most 6 decimals, as whole quanta per token in q_*) no class amount is
-- rounded: tokens x quanta is exact in bigint, so classes summing the same prices are added as
-- (their tokens) x (the price difference), which is the same integer. Otherwise each class amount
-- is rounded with pg_temp.bp_ledger_quanta (NUMERIC, half to even).
SELECT
    u.usage_id, u.tenant_id, u.vertical, u.agent_id, u.workflow, u.provider, u.model, u.mode,
    u.ledger_date, u.input_tokens, u.cached_input_tokens, u.cache_write_tokens,
    u.cache_write_1h_tokens, u.output_tokens,
    -- what the line paid
    {cost_micro_usd} AS cost_micro_usd,
    -- the same tokens at the synchronous, uncached price
    {sync_cost_micro_usd} AS sync_cost_micro_usd,
    -- sync price minus the line's own uncached price (self-hosted: all it saved against the
    -- reference API model)
    {batch_discount_micro_usd} AS batch_discount_micro_usd,
    -- cache reads at the line's uncached input price minus what they paid
    {cache_read_savings_micro_usd} AS cache_read_savings_micro_usd,
    -- what cache writes paid over the line's uncached input price
    {cache_write_premium_micro_usd} AS cache_write_premium_micro_usd,
    p.pricing_source, p.pricing_version, p.unit_prices, p.priced_by
FROM llm_usage AS u
JOIN pg_temp.bp_ledger_prices AS p
    ON p.provider = u.provider AND p.model = u.model AND p.mode = u.mode
    AND p.price_day = (u.occurred_at AT TIME ZONE 'UTC')::date
    AND p.time_bucket = CASE
        WHEN p.time_bounds IS NULL THEN 0
        ELSE width_bucket(
            extract(epoch FROM (u.occurred_at AT TIME ZONE 'UTC')::time), p.time_bounds
        )
    END
    AND p.tier_bucket = CASE
        WHEN p.tier_starts IS NULL THEN 0
        ELSE width_bucket(
                u.input_tokens + u.cached_input_tokens + u.cache_write_tokens, p.tier_starts
            )
            + width_bucket(
                u.input_tokens + u.cached_input_tokens + u.cache_write_tokens - 1, p.tier_starts
            )
    END
{allocations_join}
WHERE u.ledger_date = :ledger_date AND u.tenant_id = :tenant_id
