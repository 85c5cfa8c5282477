-- One partition's usage rows as priced ledger rows (the columns of ledger_insert.sql and
-- ledger_upsert.sql, in their order).
--
-- pg_temp.bp_ledger_prices holds one row per price key with the unit prices `price_line` resolved
-- for it (USD per 1M tokens, so tokens x price = micro-dollars) and its model's bucket bounds;
-- {allocated} is each self-hosted row's GPU share (pg_temp.bp_ledger_allocations, joined only
-- when the partition has self-hosted rows). The arithmetic is price_line's, class by class: every
-- class amount is rounded once to 0.000001 micro-dollars (a quantum), half to even, and every
-- figure is a sum or difference of such amounts, i.e. a whole number of quanta.
--
-- With `exact` prices (at most 6 decimals, as whole quanta per token in q_*) no class amount is
-- rounded: tokens x quanta is exact in bigint, so a figure's class amounts are added as
-- tokens x (price difference), which is the same integer. Otherwise each class amount is
-- rounded with pg_temp.bp_ledger_quanta (NUMERIC, half to even).
SELECT
    u.usage_id, u.tenant_id, u.vertical, u.agent_id, u.workflow, u.provider, u.model, u.mode,
    u.ledger_date, u.input_tokens, u.cached_input_tokens, u.cache_write_tokens,
    u.cache_write_1h_tokens, u.output_tokens,
    -- cost: what the line paid, per class
    CASE
        WHEN u.mode = 'self_hosted' THEN {allocated}
        WHEN p.exact THEN (
            u.input_tokens * p.q_input
            + u.cached_input_tokens * p.q_cached_input
            + (u.cache_write_tokens - u.cache_write_1h_tokens) * p.q_cache_write_5m
            + u.cache_write_1h_tokens * p.q_cache_write_1h
            + u.output_tokens * p.q_output
        ) * 0.000001
        ELSE (
            pg_temp.bp_ledger_quanta(u.input_tokens * p.input)
            + pg_temp.bp_ledger_quanta(u.cached_input_tokens * p.cached_input)
            + pg_temp.bp_ledger_quanta((u.cache_write_tokens - u.cache_write_1h_tokens) * p.cache_write_5m)
            + pg_temp.bp_ledger_quanta(u.cache_write_1h_tokens * p.cache_write_1h)
            + pg_temp.bp_ledger_quanta(u.output_tokens * p.output)
        ) * 0.000001
    END AS cost_micro_usd,
    -- sync_cost: the same tokens at the synchronous, uncached price
    CASE
        WHEN p.exact THEN (
            (u.input_tokens + u.cached_input_tokens + u.cache_write_tokens) * p.q_sync_input
            + u.output_tokens * p.q_sync_output
        ) * 0.000001
        ELSE (
            pg_temp.bp_ledger_quanta(u.input_tokens * p.sync_input)
            + pg_temp.bp_ledger_quanta(u.cached_input_tokens * p.sync_input)
            + pg_temp.bp_ledger_quanta((u.cache_write_tokens - u.cache_write_1h_tokens) * p.sync_input)
            + pg_temp.bp_ledger_quanta(u.cache_write_1h_tokens * p.sync_input)
            + pg_temp.bp_ledger_quanta(u.output_tokens * p.sync_output)
        ) * 0.000001
    END AS sync_cost_micro_usd,
    -- batch_discount: sync price minus the line's own uncached price, per class (for a
    -- self-hosted line: everything it saved against the reference API model)
    CASE
        WHEN u.mode = 'self_hosted' THEN
            CASE
                WHEN p.exact THEN (
                    (u.input_tokens + u.cached_input_tokens + u.cache_write_tokens) * p.q_sync_input
                    + u.output_tokens * p.q_sync_output
                ) * 0.000001
                ELSE (
                    pg_temp.bp_ledger_quanta(u.input_tokens * p.sync_input)
                    + pg_temp.bp_ledger_quanta(u.cached_input_tokens * p.sync_input)
                    + pg_temp.bp_ledger_quanta((u.cache_write_tokens - u.cache_write_1h_tokens) * p.sync_input)
                    + pg_temp.bp_ledger_quanta(u.cache_write_1h_tokens * p.sync_input)
                    + pg_temp.bp_ledger_quanta(u.output_tokens * p.sync_output)
                ) * 0.000001
            END - {allocated}
        WHEN p.exact THEN (
            (u.input_tokens + u.cached_input_tokens + u.cache_write_tokens)
                * (p.q_sync_input - p.q_input)
            + u.output_tokens * (p.q_sync_output - p.q_output)
        ) * 0.000001
        ELSE (
            (pg_temp.bp_ledger_quanta(u.input_tokens * p.sync_input)
                - pg_temp.bp_ledger_quanta(u.input_tokens * p.input))
            + (pg_temp.bp_ledger_quanta(u.cached_input_tokens * p.sync_input)
                - pg_temp.bp_ledger_quanta(u.cached_input_tokens * p.input))
            + (pg_temp.bp_ledger_quanta((u.cache_write_tokens - u.cache_write_1h_tokens) * p.sync_input)
                - pg_temp.bp_ledger_quanta((u.cache_write_tokens - u.cache_write_1h_tokens) * p.input))
            + (pg_temp.bp_ledger_quanta(u.cache_write_1h_tokens * p.sync_input)
                - pg_temp.bp_ledger_quanta(u.cache_write_1h_tokens * p.input))
            + (pg_temp.bp_ledger_quanta(u.output_tokens * p.sync_output)
                - pg_temp.bp_ledger_quanta(u.output_tokens * p.output))
        ) * 0.000001
    END AS batch_discount_micro_usd,
    -- cache_read_savings: cache reads at the line's uncached input price minus what they paid
    CASE
        WHEN u.mode = 'self_hosted' THEN 0
        WHEN p.exact THEN u.cached_input_tokens * (p.q_input - p.q_cached_input) * 0.000001
        ELSE (
            pg_temp.bp_ledger_quanta(u.cached_input_tokens * p.input)
            - pg_temp.bp_ledger_quanta(u.cached_input_tokens * p.cached_input)
        ) * 0.000001
    END AS cache_read_savings_micro_usd,
    -- cache_write_premium: what cache writes paid over the line's uncached input price
    CASE
        WHEN u.mode = 'self_hosted' THEN 0
        WHEN p.exact THEN (
            (u.cache_write_tokens - u.cache_write_1h_tokens) * (p.q_cache_write_5m - p.q_input)
            + u.cache_write_1h_tokens * (p.q_cache_write_1h - p.q_input)
        ) * 0.000001
        ELSE (
            (pg_temp.bp_ledger_quanta((u.cache_write_tokens - u.cache_write_1h_tokens) * p.cache_write_5m)
                - pg_temp.bp_ledger_quanta((u.cache_write_tokens - u.cache_write_1h_tokens) * p.input))
            + (pg_temp.bp_ledger_quanta(u.cache_write_1h_tokens * p.cache_write_1h)
                - pg_temp.bp_ledger_quanta(u.cache_write_1h_tokens * p.input))
        ) * 0.000001
    END AS cache_write_premium_micro_usd,
    p.pricing_source, p.pricing_version, p.unit_prices
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
