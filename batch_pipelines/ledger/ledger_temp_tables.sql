-- Session-local work objects of price_partition, created once per connection (the tables are
-- emptied per use). Real tables rather than inline VALUES, so the planner knows their sizes.

-- Bucket bounds of the (provider, model, mode) combinations priced by time of day or by prompt
-- tier; other combinations have no row (bucket 0).
CREATE TEMP TABLE IF NOT EXISTS bp_ledger_flags (
    provider text NOT NULL, model text NOT NULL, mode text NOT NULL,
    time_bounds numeric[], tier_starts bigint[]
) ON COMMIT DELETE ROWS;

-- Unit prices in USD per 1M tokens (an absent class costs 0), one per token class and one per
-- synchronous reference (token_classes.WORK_TABLE_PRICE_NAMES), then q_*: the same prices in
-- quanta (0.000001 micro-dollars) per token, set when every price has at most 6 decimals
-- (`exact`). {{price_columns}} is token_classes.price_columns_sql('ddl').
-- time_bounds / tier_starts: the key's model's bucket bounds (its bp_ledger_flags row's).
CREATE TEMP TABLE IF NOT EXISTS bp_ledger_prices (
    provider text NOT NULL, model text NOT NULL, mode text NOT NULL, price_day date NOT NULL,
    time_bucket int NOT NULL, tier_bucket int NOT NULL,
    exact boolean NOT NULL,
    {price_columns},
    pricing_source text NOT NULL, pricing_version text NOT NULL, priced_by text NOT NULL,
    unit_prices jsonb NOT NULL,
    time_bounds numeric[], tier_starts bigint[]
) ON COMMIT DELETE ROWS;

CREATE TEMP TABLE IF NOT EXISTS bp_ledger_allocations (
    usage_id bigint PRIMARY KEY, allocated numeric NOT NULL
) ON COMMIT DELETE ROWS;

-- x micro-dollars (x >= 0) in whole quanta, rounded half to even: round() rounds half away from
-- zero, so an exact tie on an odd quantum count is taken one down.
CREATE OR REPLACE FUNCTION pg_temp.bp_ledger_quanta(x numeric) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS 'SELECT (round(x * 1000000) - (mod(x * 1000000, 2) = 0.5)::int)::bigint';
