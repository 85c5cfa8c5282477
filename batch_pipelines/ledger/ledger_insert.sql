-- Prices one partition's usage rows into cost_ledger, set-based.
--
-- pg_temp.bp_ledger_prices holds one row per price key with the unit prices `price_line` resolved
-- for it (USD per 1M tokens, so tokens x price = micro-dollars); pg_temp.bp_ledger_allocations the
-- GPU share of each self-hosted row. The arithmetic is price_line's, class by class: every class
-- amount is rounded once to 0.000001 micro-dollars (a quantum), half to even, and every figure is
-- a sum or difference of such amounts, i.e. a whole number of quanta.
--
-- An upsert on usage_id: a row whose figures did not change is not written again, so re-pricing
-- an unchanged partition writes nothing. Ledger rows whose usage row moved to another partition
-- are deleted (a usage row cannot vanish under its ledger row: the foreign key cascades); that
-- join is on the usage row's key only, so no statistics, however stale, make it rescan per row.
WITH moved AS (
    DELETE FROM cost_ledger AS c USING llm_usage AS u
    WHERE c.ledger_date = :ledger_date AND c.tenant_id = :tenant_id
        AND u.usage_id = c.usage_id
        AND (u.ledger_date <> :ledger_date OR u.tenant_id <> :tenant_id)
),
keyed AS (
    {usage_keys}
),
amounts AS (
    -- Each class amount in quanta (0.000001 micro-dollars, as bigint): tokens x price x 1e6,
    -- rounded half to even. With `exact` prices (at most 6 decimals, as integers of quanta per
    -- token in q_*) that is integer arithmetic with nothing to round.
    SELECT
        k.*,
        p.pricing_source, p.pricing_version, p.unit_prices,
        a.allocated,
        -- what the line paid, per class
        CASE WHEN p.exact THEN k.input_tokens * p.q_input
             ELSE pg_temp.bp_ledger_quanta(k.input_tokens * p.input) END AS c_u,
        CASE WHEN p.exact THEN k.cached_input_tokens * p.q_cached_input
             ELSE pg_temp.bp_ledger_quanta(k.cached_input_tokens * p.cached_input) END AS c_r,
        CASE WHEN p.exact THEN (k.cache_write_tokens - k.cache_write_1h_tokens) * p.q_cache_write_5m
             ELSE pg_temp.bp_ledger_quanta((k.cache_write_tokens - k.cache_write_1h_tokens) * p.cache_write_5m) END AS c_w5,
        CASE WHEN p.exact THEN k.cache_write_1h_tokens * p.q_cache_write_1h
             ELSE pg_temp.bp_ledger_quanta(k.cache_write_1h_tokens * p.cache_write_1h) END AS c_w1,
        CASE WHEN p.exact THEN k.output_tokens * p.q_output
             ELSE pg_temp.bp_ledger_quanta(k.output_tokens * p.output) END AS c_o,
        -- the cache classes at the line's own uncached input price
        CASE WHEN p.exact THEN k.cached_input_tokens * p.q_input
             ELSE pg_temp.bp_ledger_quanta(k.cached_input_tokens * p.input) END AS l_r,
        CASE WHEN p.exact THEN (k.cache_write_tokens - k.cache_write_1h_tokens) * p.q_input
             ELSE pg_temp.bp_ledger_quanta((k.cache_write_tokens - k.cache_write_1h_tokens) * p.input) END AS l_w5,
        CASE WHEN p.exact THEN k.cache_write_1h_tokens * p.q_input
             ELSE pg_temp.bp_ledger_quanta(k.cache_write_1h_tokens * p.input) END AS l_w1,
        -- the same tokens at the synchronous, uncached price
        CASE WHEN p.exact THEN k.input_tokens * p.q_sync_input
             ELSE pg_temp.bp_ledger_quanta(k.input_tokens * p.sync_input) END AS s_u,
        CASE WHEN p.exact THEN k.cached_input_tokens * p.q_sync_input
             ELSE pg_temp.bp_ledger_quanta(k.cached_input_tokens * p.sync_input) END AS s_r,
        CASE WHEN p.exact THEN (k.cache_write_tokens - k.cache_write_1h_tokens) * p.q_sync_input
             ELSE pg_temp.bp_ledger_quanta((k.cache_write_tokens - k.cache_write_1h_tokens) * p.sync_input) END AS s_w5,
        CASE WHEN p.exact THEN k.cache_write_1h_tokens * p.q_sync_input
             ELSE pg_temp.bp_ledger_quanta(k.cache_write_1h_tokens * p.sync_input) END AS s_w1,
        CASE WHEN p.exact THEN k.output_tokens * p.q_sync_output
             ELSE pg_temp.bp_ledger_quanta(k.output_tokens * p.sync_output) END AS s_o
    FROM keyed AS k
    JOIN pg_temp.bp_ledger_prices AS p
        ON p.provider = k.provider AND p.model = k.model AND p.mode = k.mode
        AND p.price_day = k.price_day AND p.time_bucket = k.time_bucket
        AND p.tier_bucket = k.tier_bucket
    LEFT JOIN pg_temp.bp_ledger_allocations AS a ON a.usage_id = k.usage_id
),
figures AS (
    SELECT
        m.*,
        (m.s_u + m.s_r + m.s_w5 + m.s_w1 + m.s_o)::numeric / 1000000 AS sync_cost,
        CASE WHEN m.mode = 'self_hosted' THEN m.allocated
             ELSE (m.c_u + m.c_r + m.c_w5 + m.c_w1 + m.c_o)::numeric / 1000000 END AS cost,
        CASE WHEN m.mode = 'self_hosted'
             THEN (m.s_u + m.s_r + m.s_w5 + m.s_w1 + m.s_o)::numeric / 1000000 - m.allocated
             ELSE ((m.s_u - m.c_u) + (m.s_r - m.l_r) + (m.s_w5 - m.l_w5) + (m.s_w1 - m.l_w1)
                   + (m.s_o - m.c_o))::numeric / 1000000 END AS batch_discount,
        CASE WHEN m.mode = 'self_hosted' THEN 0
             ELSE (m.l_r - m.c_r)::numeric / 1000000 END AS cache_read_savings,
        CASE WHEN m.mode = 'self_hosted' THEN 0
             ELSE ((m.c_w5 - m.l_w5) + (m.c_w1 - m.l_w1))::numeric / 1000000
        END AS cache_write_premium
    FROM amounts AS m
)
INSERT INTO cost_ledger (
    usage_id, tenant_id, vertical, agent_id, workflow, provider, model, mode, ledger_date,
    input_tokens, cached_input_tokens, cache_write_tokens, cache_write_1h_tokens,
    output_tokens, cost_micro_usd, sync_cost_micro_usd, batch_discount_micro_usd,
    cache_read_savings_micro_usd, cache_write_premium_micro_usd, pricing_source,
    pricing_version, unit_prices
)
SELECT
    usage_id, tenant_id, vertical, agent_id, workflow, provider, model, mode, ledger_date,
    input_tokens, cached_input_tokens, cache_write_tokens, cache_write_1h_tokens,
    output_tokens, cost, sync_cost, batch_discount, cache_read_savings, cache_write_premium,
    pricing_source, pricing_version, unit_prices
FROM figures
ON CONFLICT (usage_id) DO UPDATE SET
    tenant_id = EXCLUDED.tenant_id,
    vertical = EXCLUDED.vertical,
    agent_id = EXCLUDED.agent_id,
    workflow = EXCLUDED.workflow,
    provider = EXCLUDED.provider,
    model = EXCLUDED.model,
    mode = EXCLUDED.mode,
    ledger_date = EXCLUDED.ledger_date,
    input_tokens = EXCLUDED.input_tokens,
    cached_input_tokens = EXCLUDED.cached_input_tokens,
    cache_write_tokens = EXCLUDED.cache_write_tokens,
    cache_write_1h_tokens = EXCLUDED.cache_write_1h_tokens,
    output_tokens = EXCLUDED.output_tokens,
    cost_micro_usd = EXCLUDED.cost_micro_usd,
    sync_cost_micro_usd = EXCLUDED.sync_cost_micro_usd,
    batch_discount_micro_usd = EXCLUDED.batch_discount_micro_usd,
    cache_read_savings_micro_usd = EXCLUDED.cache_read_savings_micro_usd,
    cache_write_premium_micro_usd = EXCLUDED.cache_write_premium_micro_usd,
    pricing_source = EXCLUDED.pricing_source,
    pricing_version = EXCLUDED.pricing_version,
    unit_prices = EXCLUDED.unit_prices,
    priced_at = now()
WHERE (
    cost_ledger.tenant_id, cost_ledger.vertical, cost_ledger.agent_id, cost_ledger.workflow,
    cost_ledger.provider, cost_ledger.model, cost_ledger.mode, cost_ledger.ledger_date,
    cost_ledger.input_tokens, cost_ledger.cached_input_tokens, cost_ledger.cache_write_tokens,
    cost_ledger.cache_write_1h_tokens, cost_ledger.output_tokens, cost_ledger.cost_micro_usd,
    cost_ledger.sync_cost_micro_usd, cost_ledger.batch_discount_micro_usd,
    cost_ledger.cache_read_savings_micro_usd, cost_ledger.cache_write_premium_micro_usd,
    cost_ledger.pricing_source, cost_ledger.pricing_version, cost_ledger.unit_prices
) IS DISTINCT FROM (
    EXCLUDED.tenant_id, EXCLUDED.vertical, EXCLUDED.agent_id, EXCLUDED.workflow,
    EXCLUDED.provider, EXCLUDED.model, EXCLUDED.mode, EXCLUDED.ledger_date,
    EXCLUDED.input_tokens, EXCLUDED.cached_input_tokens, EXCLUDED.cache_write_tokens,
    EXCLUDED.cache_write_1h_tokens, EXCLUDED.output_tokens, EXCLUDED.cost_micro_usd,
    EXCLUDED.sync_cost_micro_usd, EXCLUDED.batch_discount_micro_usd,
    EXCLUDED.cache_read_savings_micro_usd, EXCLUDED.cache_write_premium_micro_usd,
    EXCLUDED.pricing_source, EXCLUDED.pricing_version, EXCLUDED.unit_prices
)
