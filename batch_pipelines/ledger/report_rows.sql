-- The tenant cost report's source: one row per (tenant, workflow) with ledger rows this month up to
-- :day. Every column but the keys and the tenant's facts is summed again per tenant, per workflow
-- and in total (reports.py), so a new summed column is one more line here.
SELECT t.tenant_id,
       t.name AS tenant_name,
       t.vertical,
       t.tier,
       t.tier_price_usd * 1000000 AS tier_price_micro_usd,
       c.workflow,
       count(*) FILTER (WHERE c.ledger_date = :day) AS day_requests,
       coalesce(sum(c.cost_micro_usd) FILTER (WHERE c.ledger_date = :day), 0) AS day_cost_micro_usd,
       coalesce(sum(c.sync_cost_micro_usd) FILTER (WHERE c.ledger_date = :day), 0)
           AS day_sync_cost_micro_usd,
       count(*) AS mtd_requests,
       sum(c.cost_micro_usd) AS mtd_cost_micro_usd,
       sum(c.sync_cost_micro_usd) AS mtd_sync_cost_micro_usd,
       sum(c.batch_discount_micro_usd) AS mtd_batch_discount_micro_usd,
       sum(c.cache_read_savings_micro_usd) AS mtd_cache_read_savings_micro_usd,
       sum(c.cache_write_premium_micro_usd) AS mtd_cache_write_premium_micro_usd,
       sum(c.input_tokens + c.cached_input_tokens + c.cache_write_tokens) AS mtd_prompt_tokens,
       sum(c.cached_input_tokens) AS mtd_cached_input_tokens
  FROM cost_ledger c
  JOIN tenants t USING (tenant_id)
 WHERE c.ledger_date >= :start AND c.ledger_date <= :day
 GROUP BY t.tenant_id, c.workflow
