"""`price`: price 1,000,000 usage rows into the ledger.

Set up once (not timed): 100 tenants with 10,000 `llm_usage` rows each on one date (their manifest
rows too), 90 % `gpt-4o-mini` with cached reads on some lines, 10 % `claude-haiku-4-5` with 1-hour
cache writes and reads, spread over the day. Measured: `ledger.price_partition` for every
(date, tenant) partition into an empty `cost_ledger`, each in its own transaction, as the
`cost_ledger` asset prices a range run. Floor: one set-based `INSERT … SELECT` computing cost and sync cost for all
rows with the same unit prices, into a table of the ledger's columns without indexes or constraints.
"""

from __future__ import annotations

from sqlalchemy import text

from batch_pipelines.ledger.ledger import price_partition
from benchmarks import data
from benchmarks.harness import BenchServer, Figure, log, ratio_figure, timed

ROWS = 1_000_000
TENANTS = 100
TARGET_RATIO = 3.0

_SETUP = [
    """
    INSERT INTO tenants (tenant_id, name, vertical, tier, tier_price_usd)
    SELECT 'tenant-' || lpad(t::text, 4, '0'), 'Tenant ' || t,
           (ARRAY['healthcare','sales','real_estate','salon','hospitality','home_services'])[1 + t % 6],
           'growth', 499
    FROM generate_series(1, :tenants) AS t
    """,
    """
    INSERT INTO batch_jobs (batch_job_id, workflow, provider, model, endpoint, status,
                            provider_batch_id, request_count)
    VALUES ('bj_bench_openai', 'post_call', 'openai', 'gpt-4o-mini', '/v1/chat/completions',
            'ingested', 'batch_bench_openai', 0),
           ('bj_bench_anthropic', 'post_call', 'anthropic', 'claude-haiku-4-5', '/v1/messages',
            'ingested', 'msgbatch_bench_anthropic', 0)
    """,
    """
    INSERT INTO batch_requests (custom_id, batch_job_id, tenant_id, vertical, workflow, item_id,
                                partition_date, status)
    SELECT 'pc' || g, CASE WHEN g % 10 = 0 THEN 'bj_bench_anthropic' ELSE 'bj_bench_openai' END,
           'tenant-' || lpad((1 + g % :tenants)::text, 4, '0'), 'sales', 'post_call',
           'call-' || g, :day, 'succeeded'
    FROM generate_series(1, :rows) AS g
    """,
    """
    INSERT INTO llm_usage (provider, provider_batch_id, custom_id, batch_job_id, tenant_id,
                           vertical, workflow, model, mode, input_tokens, cached_input_tokens,
                           cache_write_tokens, cache_write_1h_tokens, output_tokens, ledger_date,
                           occurred_at)
    SELECT CASE WHEN a THEN 'anthropic' ELSE 'openai' END,
           CASE WHEN a THEN 'msgbatch_bench_anthropic' ELSE 'batch_bench_openai' END,
           'pc' || g, CASE WHEN a THEN 'bj_bench_anthropic' ELSE 'bj_bench_openai' END,
           'tenant-' || lpad((1 + g % :tenants)::text, 4, '0'), 'sales', 'post_call',
           CASE WHEN a THEN 'claude-haiku-4-5' ELSE 'gpt-4o-mini' END, 'batch',
           800 + g % 7919, CASE WHEN g % 3 = 0 THEN 1152 ELSE 0 END,
           CASE WHEN a AND g % 7 = 0 THEN 2304 ELSE 0 END,
           CASE WHEN a AND g % 7 = 0 THEN 2304 ELSE 0 END,
           60 + g % 941, :day,
           CAST(:day AS timestamptz) + (g % 86400) * interval '1 second'
    FROM generate_series(1, :rows) AS g, LATERAL (SELECT g % 10 = 0 AS a) AS k
    """,
    # Columns of the ledger, nothing else: no keys, no indexes, no checks, no defaults.
    "CREATE TABLE bench_floor_ledger (LIKE cost_ledger)",
]

# The unit prices (USD per 1M tokens = micro-dollars per token) the floor applies, from
# reference/batch-apis.md section 7.
_FLOOR = """
INSERT INTO bench_floor_ledger (
    ledger_id, usage_id, tenant_id, vertical, agent_id, workflow, provider, model, mode,
    ledger_date, input_tokens, cached_input_tokens, cache_write_tokens, cache_write_1h_tokens,
    output_tokens, cost_micro_usd, sync_cost_micro_usd, batch_discount_micro_usd,
    cache_read_savings_micro_usd, cache_write_premium_micro_usd, pricing_source,
    pricing_version, unit_prices, priced_at)
SELECT u.usage_id, u.usage_id, u.tenant_id, u.vertical, u.agent_id, u.workflow, u.provider,
       u.model, u.mode, u.ledger_date, u.input_tokens, u.cached_input_tokens,
       u.cache_write_tokens, u.cache_write_1h_tokens, u.output_tokens,
       round(u.input_tokens * p.input + u.cached_input_tokens * p.cached
             + u.cache_write_tokens * p.write + u.output_tokens * p.output, 6),
       round((u.input_tokens + u.cached_input_tokens + u.cache_write_tokens) * p.s_input
             + u.output_tokens * p.s_output, 6),
       0, 0, 0, 'floor', 'floor', '{}'::jsonb, now()
FROM llm_usage AS u
JOIN (VALUES ('gpt-4o-mini', 0.075, 0.075, 0.075, 0.30, 0.15, 0.60),
             ('claude-haiku-4-5', 0.50, 0.05, 1.00, 2.50, 1.00, 5.00))
     AS p (model, input, cached, write, output, s_input, s_output)
  ON p.model = u.model
WHERE u.ledger_date = :day
"""


def run(server: BenchServer, scale: float, repeats: int) -> list[Figure]:
    rows = max(1000, round(ROWS * scale))
    tenants = max(2, round(TENANTS * min(scale, 1.0)))
    source = server.create("price_src")
    with server.use(source) as engine, engine.begin() as conn:
        for statement in _SETUP:
            conn.execute(text(statement), {"tenants": tenants, "rows": rows, "day": data.DAY})
    server.vacuum_analyze(source)
    log(f"price: {rows:,} usage rows over {tenants} tenants ready")
    tenant_ids = [f"tenant-{t:04d}" for t in range(1, tenants + 1)]
    runs: list[float] = []
    floors: list[float] = []
    for attempt in range(repeats):
        db = server.create("price", template=source)
        with server.use(db) as engine:

            def price_all(engine=engine) -> int:
                # As the `cost_ledger` asset prices a range: a transaction per partition, the
                # resolved prices shared across the partitions.
                priced, price_cache = 0, {}
                for tenant_id in tenant_ids:
                    with engine.begin() as conn:
                        priced += price_partition(
                            conn, data.DAY, tenant_id, price_cache=price_cache
                        ).requests
                return priced

            seconds, priced = timed(price_all)
            runs.append(seconds)

            def floor(engine=engine) -> None:
                with engine.begin() as conn:
                    conn.execute(text(_FLOOR), {"day": data.DAY})

            floors.append(timed(floor)[0])
        server.drop(db)
        log(
            f"price run {attempt + 1}: {priced:,} rows priced in {seconds:.2f} s "
            f"(floor {floors[-1]:.2f} s)"
        )
    server.drop(source)
    return [
        ratio_figure(
            "price",
            runs,
            floors,
            TARGET_RATIO,
            note=f"{rows:,} usage rows, {tenants} partitions; floor: one INSERT … SELECT",
        )
    ]
