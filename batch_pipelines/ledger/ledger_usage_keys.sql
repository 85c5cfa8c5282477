-- The price keys of one (ledger_date, tenant) partition's usage rows, with what price_line needs
-- to price a representative line of each key, and how many rows each key has.
--
-- Rows with equal keys have equal unit prices (see ledger.py): prices change at UTC dates
-- (price_day), at a few times of day for time-of-day priced models (time_bucket: how many of the
-- sorted interval bounds the UTC time of day has reached), and at prompt-size tiers (tier_bucket:
-- 2 x #starts below the prompt + #starts equal to it, so "prompt > start" and "prompt >= start"
-- tiers are both told apart). Models without such prices (no bp_ledger_flags row, or NULL
-- bounds) get bucket 0. ledger_priced_rows.sql computes the same buckets from the same arrays.
SELECT
    u.provider, u.model, u.mode,
    (u.occurred_at AT TIME ZONE 'UTC')::date AS price_day,
    CASE
        WHEN f.time_bounds IS NULL THEN 0
        ELSE width_bucket(
            extract(epoch FROM (u.occurred_at AT TIME ZONE 'UTC')::time), f.time_bounds
        )
    END AS time_bucket,
    CASE
        WHEN f.tier_starts IS NULL THEN 0
        ELSE width_bucket(
                u.input_tokens + u.cached_input_tokens + u.cache_write_tokens, f.tier_starts
            )
            + width_bucket(
                u.input_tokens + u.cached_input_tokens + u.cache_write_tokens - 1, f.tier_starts
            )
    END AS tier_bucket,
    min(u.occurred_at) AS sample_at,
    min(u.input_tokens + u.cached_input_tokens + u.cache_write_tokens) AS sample_prompt,
    max(u.output_tokens) AS max_output,
    count(*) AS n
FROM llm_usage AS u
LEFT JOIN pg_temp.bp_ledger_flags AS f
    ON f.provider = u.provider AND f.model = u.model AND f.mode = u.mode
WHERE u.ledger_date = :ledger_date AND u.tenant_id = :tenant_id
GROUP BY 1, 2, 3, 4, 5, 6
