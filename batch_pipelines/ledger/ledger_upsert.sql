-- Re-prices one partition that already has ledger rows (or whose first pricing met a usage row
-- priced under another partition): ledger_priced_rows.sql upserted on usage_id.
--
-- A row whose figures did not change is not written again, so re-pricing an unchanged partition
-- writes nothing. Ledger rows whose usage row moved to another partition are deleted (a usage row
-- cannot vanish under its ledger row: deleting it deletes its ledger row); that join is on the
-- usage row's key only, so no statistics, however stale, make it rescan per row.
WITH moved AS (
    DELETE FROM cost_ledger AS c USING llm_usage AS u
    WHERE c.ledger_date = :ledger_date AND c.tenant_id = :tenant_id
        AND u.usage_id = c.usage_id
        AND (u.ledger_date <> :ledger_date OR u.tenant_id <> :tenant_id)
)
INSERT INTO cost_ledger (
    usage_id, tenant_id, vertical, agent_id, workflow, provider, model, mode, ledger_date,
    input_tokens, cached_input_tokens, cache_write_tokens, cache_write_1h_tokens,
    output_tokens, cost_micro_usd, sync_cost_micro_usd, batch_discount_micro_usd,
    cache_read_savings_micro_usd, cache_write_premium_micro_usd, pricing_source,
    pricing_version, unit_prices, priced_by
)
{priced_rows}
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
    priced_by = EXCLUDED.priced_by,
    priced_at = now()
WHERE (
    cost_ledger.tenant_id, cost_ledger.vertical, cost_ledger.agent_id, cost_ledger.workflow,
    cost_ledger.provider, cost_ledger.model, cost_ledger.mode, cost_ledger.ledger_date,
    cost_ledger.input_tokens, cost_ledger.cached_input_tokens, cost_ledger.cache_write_tokens,
    cost_ledger.cache_write_1h_tokens, cost_ledger.output_tokens, cost_ledger.cost_micro_usd,
    cost_ledger.sync_cost_micro_usd, cost_ledger.batch_discount_micro_usd,
    cost_ledger.cache_read_savings_micro_usd, cost_ledger.cache_write_premium_micro_usd,
    cost_ledger.pricing_source, cost_ledger.pricing_version, cost_ledger.unit_prices,
    cost_ledger.priced_by
) IS DISTINCT FROM (
    EXCLUDED.tenant_id, EXCLUDED.vertical, EXCLUDED.agent_id, EXCLUDED.workflow,
    EXCLUDED.provider, EXCLUDED.model, EXCLUDED.mode, EXCLUDED.ledger_date,
    EXCLUDED.input_tokens, EXCLUDED.cached_input_tokens, EXCLUDED.cache_write_tokens,
    EXCLUDED.cache_write_1h_tokens, EXCLUDED.output_tokens, EXCLUDED.cost_micro_usd,
    EXCLUDED.sync_cost_micro_usd, EXCLUDED.batch_discount_micro_usd,
    EXCLUDED.cache_read_savings_micro_usd, EXCLUDED.cache_write_premium_micro_usd,
    EXCLUDED.pricing_source, EXCLUDED.pricing_version, EXCLUDED.unit_prices,
    EXCLUDED.priced_by
)
