-- First pricing of a partition that has no ledger rows: ledger_priced_rows.sql inserted as it
-- is, and the partition's totals (partition_totals' columns) from what was inserted. A usage row
-- already priced under another partition (it moved) breaks uq_cost_ledger_usage_id: price_partition
-- then rolls this statement back and upserts (ledger_upsert.sql).
WITH inserted AS (
    INSERT INTO cost_ledger (
        usage_id, tenant_id, vertical, agent_id, workflow, provider, model, mode, ledger_date,
        input_tokens, cached_input_tokens, cache_write_tokens, cache_write_1h_tokens,
        output_tokens, cost_micro_usd, sync_cost_micro_usd, batch_discount_micro_usd,
        cache_read_savings_micro_usd, cache_write_premium_micro_usd, pricing_source,
        pricing_version, unit_prices, priced_by
    )
    {priced_rows}
    RETURNING input_tokens, cached_input_tokens, cache_write_tokens, output_tokens,
        cost_micro_usd, sync_cost_micro_usd, batch_discount_micro_usd,
        cache_read_savings_micro_usd, cache_write_premium_micro_usd
)
{totals}
FROM inserted
