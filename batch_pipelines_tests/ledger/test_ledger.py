"""price_partition: set-based pricing equal to price_line row by row, idempotent re-pricing, the
backfill story, self-hosted allocation, and the invariant checks passing and failing."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from batch_pipelines.core.usage import TokenUsage
from batch_pipelines.ledger.ledger import (
    SELF_HOSTED_WINDOW_SECONDS,
    check_batch_tokens_match_provider,
    check_priced_exactly_once,
    check_rows_attributed,
    price_partition,
)
from batch_pipelines.ledger.pricing import (
    PriceOverrides,
    UnknownModelPrice,
    default_overrides,
    price_line,
    self_hosted_window_cost_micro_usd,
)
from batch_pipelines_tests.ledger.factories import (
    AT,
    DAY,
    add_job,
    add_tenant,
    add_usage,
    usage_of,
)

UTC = dt.UTC


def _ledger_rows(conn, tenant_id: str = "acme"):
    return conn.execute(
        text(
            "SELECT c.*, u.provider AS u_provider, u.occurred_at FROM cost_ledger c"
            " JOIN llm_usage u USING (usage_id) WHERE c.tenant_id = :t ORDER BY c.usage_id"
        ),
        {"t": tenant_id},
    ).all()


def _assert_rows_equal_price_line(conn, tenant_id: str, overrides=None, allocated=None) -> int:
    rows = _ledger_rows(conn, tenant_id)
    for row in rows:
        line = price_line(
            row.provider,
            row.model,
            row.mode,
            usage_of(row),
            row.occurred_at,
            overrides,
            tenant_id=tenant_id,
            allocated_cost_micro_usd=None if allocated is None else allocated[row.usage_id],
        )
        got = (
            row.cost_micro_usd,
            row.sync_cost_micro_usd,
            row.batch_discount_micro_usd,
            row.cache_read_savings_micro_usd,
            row.cache_write_premium_micro_usd,
            row.pricing_source,
            row.pricing_version,
            row.unit_prices,
            row.priced_by,
        )
        want = (
            line.cost_micro_usd,
            line.sync_cost_micro_usd,
            line.batch_discount_micro_usd,
            line.cache_read_savings_micro_usd,
            line.cache_write_premium_micro_usd,
            line.pricing_source,
            line.pricing_version,
            line.unit_prices,
            line.priced_by,
        )
        assert got == want, (row.usage_id, row.model, row.mode, row.occurred_at)
    return len(rows)


@pytest.fixture
def acme(engine):
    with engine.begin() as conn:
        add_tenant(conn, "acme")
        add_tenant(conn, "beta")
    return "acme"


# Edge cases for the price keys: dates either side of genai-prices' batch start (2026-10-14),
# prompt sizes either side of tier starts (claude-haiku-5-5 at 100K, gpt-5.5 at 272K), times
# either side of deepseek's off-peak bounds (00:30 and 16:30 UTC), cache classes, embeddings.
EDGE_LINES = [
    ("openai", "gpt-4o-mini", "batch", TokenUsage(1000, 500, 0, 0, 100), AT),
    ("openai", "gpt-4o-mini", "batch", TokenUsage(7, 3, 0, 0, 1), dt.datetime(2026, 10, 13, 23, 59, 59, tzinfo=UTC)),
    ("openai", "gpt-4o-mini", "batch", TokenUsage(7, 3, 0, 0, 1), dt.datetime(2026, 10, 14, tzinfo=UTC)),
    ("openai", "gpt-4o-mini", "sync", TokenUsage(1234, 4321, 0, 0, 77), AT),
    ("anthropic", "claude-haiku-4-5", "batch", TokenUsage(1000, 500, 300, 100, 100), AT),
    ("anthropic", "claude-haiku-4-5", "batch", TokenUsage(1, 1, 3, 3, 1), dt.datetime(2026, 9, 1, tzinfo=UTC)),
    ("anthropic", "claude-haiku-4-5", "sync", TokenUsage(11, 13, 17, 5, 19), AT),
    ("anthropic", "claude-haiku-5-5", "batch", TokenUsage(99_999, 0, 0, 0, 10), AT),
    ("anthropic", "claude-haiku-5-5", "batch", TokenUsage(90_000, 10_000, 0, 0, 10), AT),
    ("anthropic", "claude-haiku-5-5", "batch", TokenUsage(90_000, 5_000, 5_001, 1, 10), AT),
    ("anthropic", "claude-haiku-5-5", "sync", TokenUsage(100_001, 0, 0, 0, 3), AT),
    ("openai", "gpt-5.5", "batch", TokenUsage(271_999, 0, 0, 0, 5), AT),
    ("openai", "gpt-5.5", "batch", TokenUsage(272_000, 0, 0, 0, 5), AT),
    ("openai", "gpt-5.5", "batch", TokenUsage(200_000, 72_001, 0, 0, 5), AT),
    ("deepseek", "deepseek-chat", "sync", TokenUsage(1000, 10, 0, 0, 10), dt.datetime(2026, 11, 25, 0, 29, 59, 999999, tzinfo=UTC)),
    ("deepseek", "deepseek-chat", "sync", TokenUsage(1000, 10, 0, 0, 10), dt.datetime(2026, 11, 25, 0, 30, tzinfo=UTC)),
    ("deepseek", "deepseek-chat", "sync", TokenUsage(1000, 10, 0, 0, 10), dt.datetime(2026, 11, 25, 16, 29, 59, tzinfo=UTC)),
    ("deepseek", "deepseek-chat", "sync", TokenUsage(1000, 10, 0, 0, 10), dt.datetime(2026, 11, 25, 16, 30, tzinfo=UTC)),
    ("openai", "text-embedding-3-large", "batch", TokenUsage(4096), AT),
    ("openai", "text-embedding-3-small", "sync", TokenUsage(333), AT),
    # the dated names the services answer with: priced as their alias (or as themselves)
    ("openai", "gpt-4o-mini-2024-07-18", "batch", TokenUsage(1000, 500, 0, 0, 100), AT),
    ("openai", "gpt-4o-mini-2024-07-18", "sync", TokenUsage(1000, 500, 0, 0, 100), AT),
    ("openai", "gpt-4o-2024-05-13", "sync", TokenUsage(10, 20, 0, 0, 30), AT),
    ("anthropic", "claude-haiku-4-5-20251001", "batch", TokenUsage(1000, 500, 300, 100, 100), AT),
    ("anthropic", "claude-haiku-4-5-20251001", "batch", TokenUsage(1, 1, 3, 3, 1), dt.datetime(2026, 9, 1, tzinfo=UTC)),
]  # fmt: skip


def test_the_set_based_pricing_equals_price_line_row_by_row(engine, acme) -> None:
    with engine.begin() as conn:
        job = add_job(conn, "post_call")
        for provider, model, mode, usage, at in EDGE_LINES:
            add_usage(
                conn, "acme", job, usage, provider=provider, model=model, mode=mode, occurred_at=at
            )
        add_usage(conn, "beta", job, TokenUsage(5, 5, 0, 0, 5))
    with engine.connect() as conn:
        totals = price_partition(conn, DAY, "acme")
        conn.commit()
        assert _assert_rows_equal_price_line(conn, "acme") == len(EDGE_LINES)
        assert totals.requests == len(EDGE_LINES)
        assert totals.cost_micro_usd == sum(r.cost_micro_usd for r in _ledger_rows(conn))
        assert totals.saved_micro_usd == (
            totals.batch_discount_micro_usd
            + totals.cache_read_savings_micro_usd
            - totals.cache_write_premium_micro_usd
        )
        # only the partition's own rows: beta is not priced
        assert _ledger_rows(conn, "beta") == []
        versions = {r.pricing_version for r in _ledger_rows(conn)}
        assert {r.pricing_source for r in _ledger_rows(conn)} == {"genai-prices", "override"}
        assert any("price_overrides" in v for v in versions)


def test_rounding_ties_go_to_even_like_price_line(engine, acme) -> None:
    # 0.0000005-dollar-per-1M prices make class amounts end in exactly half a quantum.
    overrides = PriceOverrides.from_dict(
        {
            "version": "ties",
            "models": {
                "openai": {
                    "gpt-4o-mini": {
                        "batch": {"input": "0.0000005", "output": "0.0000015"},
                        "sync": {"input": "0.0000025", "output": "0.0000035"},
                    }
                }
            },
        }
    )
    with engine.begin() as conn:
        job = add_job(conn, "post_call")
        for n in range(1, 8):
            add_usage(conn, "acme", job, TokenUsage(n, n, 0, 0, n))
    with engine.connect() as conn:
        price_partition(conn, DAY, "acme", overrides)
        assert _assert_rows_equal_price_line(conn, "acme", overrides) == 7
        costs = [r.cost_micro_usd for r in _ledger_rows(conn)]
    assert costs[0] == Decimal(
        "0.000002"
    )  # 1 x 0.0000005 -> 0 (even), x2 cached, +1 x 1.5e-6 -> 2e-6


# Negotiated and tenant rates on aliases and on a snapshot, with prices of more than 6 decimals
# (so the rounded NUMERIC form of every figure is used, every token class non-zero).
NEGOTIATED_ODD = PriceOverrides.from_dict(
    {
        "version": "odd",
        "batch_fallback": {"multiplier": "0.5", "providers": ["openai", "anthropic"]},
        "negotiated": {
            "openai": {"gpt-4o-mini": {"batch": {"input": "0.0712345", "output": "0.2812345"}}},
            "anthropic": {
                "claude-haiku-4-5-20251001": {
                    "batch": {
                        "input": "0.4500001",
                        "cached_input": "0.0450003",
                        "cache_write_5m": "0.5625007",
                        "cache_write_1h": "0.9000009",
                        "output": "2.2500011",
                    }
                }
            },
        },
        "tenants": {
            "acme": {"openai": {"gpt-4o-mini": {"sync": {"input": "0.1300007", "output": "0.55"}}}}
        },
    }
)
SNAPSHOT_LINES = [
    ("openai", "gpt-4o-mini-2024-07-18", "batch", TokenUsage(1001, 499, 0, 0, 99)),
    ("openai", "gpt-4o-mini-2024-07-18", "sync", TokenUsage(777, 333, 0, 0, 55)),
    ("openai", "gpt-4o-mini", "batch", TokenUsage(3, 5, 0, 0, 7)),
    ("anthropic", "claude-haiku-4-5-20251001", "batch", TokenUsage(1003, 501, 301, 101, 97)),
    ("anthropic", "claude-haiku-4-5", "batch", TokenUsage(11, 13, 17, 5, 19)),
]


def test_negotiated_rates_price_the_snapshot_names_set_based_as_price_line(engine, acme) -> None:
    with engine.begin() as conn:
        job = add_job(conn, "post_call")
        for provider, model, mode, usage in SNAPSHOT_LINES:
            add_usage(conn, "acme", job, usage, provider=provider, model=model, mode=mode)
    with engine.connect() as conn:
        price_partition(conn, DAY, "acme", NEGOTIATED_ODD)
        assert _assert_rows_equal_price_line(conn, "acme", NEGOTIATED_ODD) == len(SNAPSHOT_LINES)
        priced_by = [r.priced_by for r in _ledger_rows(conn)]
    assert priced_by == [
        "price_overrides negotiated.openai.gpt-4o-mini.batch",
        "price_overrides tenants.acme.openai.gpt-4o-mini.sync",
        "price_overrides negotiated.openai.gpt-4o-mini.batch",
        "price_overrides negotiated.anthropic.claude-haiku-4-5-20251001.batch",
        "genai-prices anthropic/claude-haiku-4-5 batch",  # the exact entry is not the alias's
    ]


def test_repricing_is_idempotent_and_a_corrected_price_is_applied(engine, acme) -> None:
    with engine.begin() as conn:
        job = add_job(conn, "post_call")
        for _ in range(3):
            add_usage(conn, "acme", job, TokenUsage(1000, 0, 0, 0, 100))
    with engine.connect() as conn:
        first = price_partition(conn, DAY, "acme")
        again = price_partition(conn, DAY, "acme")
        assert again == first
        assert conn.execute(text("SELECT count(*) FROM cost_ledger")).scalar() == 3
        # gpt-4o-mini batch: 1000 x 0.075 + 100 x 0.3 = 105 micro-USD a line
        assert first.cost_micro_usd == Decimal("315")

        # A negotiated rate is added to the override table: the backfill re-prices the partition.
        raw = {
            "version": "2026-11-27.1",
            "batch_fallback": {"multiplier": "0.5", "providers": ["openai", "anthropic"]},
            "negotiated": {
                "openai": {"gpt-4o-mini": {"batch": {"input": "0.05", "output": "0.2"}}}
            },
        }
        corrected = PriceOverrides.from_dict(raw)
        backfilled = price_partition(conn, DAY, "acme", corrected)
        assert backfilled.cost_micro_usd == Decimal("210")  # 1000 x 0.05 + 100 x 0.2 = 70 a line
        assert backfilled.sync_cost_micro_usd == first.sync_cost_micro_usd
        rows = _ledger_rows(conn)
        assert len(rows) == 3
        assert {r.pricing_version for r in rows} == {
            "price_overrides 2026-11-27.1 + genai-prices 0.2.3"
        }
        assert rows[0].unit_prices["input"] == "0.05"
        assert _assert_rows_equal_price_line(conn, "acme", corrected) == 3


def test_repricing_an_unchanged_partition_writes_nothing(engine, acme) -> None:
    with engine.begin() as conn:
        job = add_job(conn, "post_call")
        for _ in range(3):
            add_usage(conn, "acme", job, TokenUsage(1000, 10, 0, 0, 100))
    versions = "SELECT ledger_id, xmin::text, priced_at FROM cost_ledger ORDER BY 1"
    with engine.connect() as conn:
        price_partition(conn, DAY, "acme")
        before = conn.execute(text(versions)).all()
        price_partition(conn, DAY, "acme")
        assert conn.execute(text(versions)).all() == before


def test_a_usage_row_moved_to_another_partition_moves_its_ledger_row(engine, acme) -> None:
    later = dt.date(2026, 11, 26)
    with engine.begin() as conn:
        job = add_job(conn, "post_call")
        moved = add_usage(conn, "acme", job, TokenUsage(1000, 0, 0, 0, 100))
        add_usage(conn, "acme", job, TokenUsage(1000, 0, 0, 0, 100))
    with engine.begin() as conn:  # several partitions in one transaction
        price_partition(conn, DAY, "acme")
        conn.execute(
            text("UPDATE llm_usage SET ledger_date = :d WHERE usage_id = :u"),
            {"d": later, "u": moved},
        )
        assert price_partition(conn, DAY, "acme").requests == 1
        assert price_partition(conn, later, "acme").requests == 1
        dates = conn.execute(text("SELECT usage_id, ledger_date FROM cost_ledger ORDER BY 1")).all()
    assert dates[0] == (moved, later) and dates[1][1] == DAY
    with engine.connect() as conn:
        assert all(c(conn, d, "acme").passed for c in CHECKS for d in (DAY, later))


def test_a_new_partition_whose_usage_row_is_priced_elsewhere_takes_it_over(engine, acme) -> None:
    # The new partition is priced before the old one is re-priced: its plain insert meets the
    # moved row's ledger row, is rolled back, and the partition is upserted instead.
    later = dt.date(2026, 11, 26)
    with engine.begin() as conn:
        job = add_job(conn, "post_call")
        moved = add_usage(conn, "acme", job, TokenUsage(1000, 0, 0, 0, 100))
        add_usage(conn, "acme", job, TokenUsage(1000, 0, 0, 0, 100), ledger_date=later)
    with engine.connect() as conn:
        price_partition(conn, DAY, "acme")
        conn.execute(
            text("UPDATE llm_usage SET ledger_date = :d WHERE usage_id = :u"),
            {"d": later, "u": moved},
        )
        conn.commit()
        totals = price_partition(conn, later, "acme")
        assert totals.requests == 2
        assert totals.cost_micro_usd == Decimal("210")
        assert price_partition(conn, DAY, "acme").requests == 0
        dates = conn.execute(text("SELECT usage_id, ledger_date FROM cost_ledger ORDER BY 1")).all()
        assert [d for _, d in dates] == [later, later] and dates[0][0] == moved
        assert _assert_rows_equal_price_line(conn, "acme") == 2
        assert all(c(conn, d, "acme").passed for c in CHECKS for d in (DAY, later))


def test_a_failed_pricing_writes_nothing(engine, acme) -> None:
    with engine.begin() as conn:
        job = add_job(conn, "kb_index")
        add_usage(conn, "acme", job, TokenUsage(100))
    with engine.connect() as conn:
        price_partition(conn, DAY, "acme")
    with engine.begin() as conn:
        add_usage(conn, "acme", job, TokenUsage(100, output_tokens=5))  # output on an embedding
        add_usage(conn, "acme", job, TokenUsage(100), model="no-such-model")
    with engine.connect() as conn, pytest.raises((ValueError, UnknownModelPrice)):
        price_partition(conn, DAY, "acme")
    with engine.connect() as conn:
        # the earlier pricing is still there, untouched
        assert conn.execute(text("SELECT count(*) FROM cost_ledger")).scalar() == 1


def test_self_hosted_rows_share_the_day_of_gpu_by_tokens(engine, acme) -> None:
    with engine.begin() as conn:
        job = add_job(
            conn, "post_call", provider="self_hosted", model="llama-3.1-8b", mode="self_hosted"
        )
        a1 = add_usage(conn, "acme", job, TokenUsage(3000, 0, 0, 0, 0))
        a2 = add_usage(conn, "acme", job, TokenUsage(1000, 0, 0, 0, 0))
        b1 = add_usage(conn, "beta", job, TokenUsage(2000, 0, 0, 0, 0))
    with engine.connect() as conn:
        acme_totals = price_partition(conn, DAY, "acme")
        beta_totals = price_partition(conn, DAY, "beta")
        day = self_hosted_window_cost_micro_usd(
            default_overrides().gpu_usd_per_hour, SELF_HOSTED_WINDOW_SECONDS
        )
        assert day == Decimal("60000000")  # $2.50 an hour for 24 hours
        assert acme_totals.cost_micro_usd + beta_totals.cost_micro_usd == day
        assert acme_totals.cost_micro_usd == Decimal("40000000")  # 4000 of 6000 tokens
        shares = {
            a1: Decimal("30000000.000000"),
            a2: Decimal("10000000.000000"),
            b1: Decimal("20000000.000000"),
        }
        assert _assert_rows_equal_price_line(conn, "acme", allocated=shares) == 2


def _self_hosted_job(conn) -> str:
    return add_job(
        conn, "post_call", provider="self_hosted", model="llama-3.1-8b", mode="self_hosted"
    )


def _day_shares(conn) -> dict[str, Decimal]:
    rows = conn.execute(
        text(
            "SELECT tenant_id, sum(cost_micro_usd) AS cost FROM cost_ledger"
            " WHERE mode = 'self_hosted' GROUP BY tenant_id ORDER BY tenant_id"
        )
    ).all()
    return {r.tenant_id: r.cost for r in rows}


GPU_DAY = Decimal("60000000")  # $2.50 an hour for 24 hours


def test_a_tenant_priced_before_the_others_arrive_gives_up_their_shares(engine, acme) -> None:
    # acme is priced while it is the day's only tenant (it owns the whole day); beta's rows arrive
    # and beta is priced: acme is re-priced in the same transaction, the day adds up exactly.
    with engine.begin() as conn:
        job = _self_hosted_job(conn)
        add_usage(conn, "acme", job, TokenUsage(3000, 0, 0, 0, 0))
    with engine.connect() as conn:
        price_partition(conn, DAY, "acme")
        assert _day_shares(conn) == {"acme": GPU_DAY}
    with engine.begin() as conn:
        add_usage(conn, "beta", job, TokenUsage(1000, 0, 0, 0, 1000))
        add_usage(conn, "beta", job, TokenUsage(1000, 0, 0, 0, 0))
    with engine.connect() as conn:
        price_partition(conn, DAY, "beta")
        assert _day_shares(conn) == {"acme": Decimal("30000000"), "beta": Decimal("30000000")}
        # acme's row is what price_line gives it with its new share
        acme_usage = conn.execute(
            text("SELECT usage_id FROM llm_usage WHERE tenant_id = 'acme'")
        ).scalar_one()
        assert (
            _assert_rows_equal_price_line(
                conn, "acme", allocated={acme_usage: Decimal("30000000.000000")}
            )
            == 1
        )
        assert all(c(conn, DAY, t).passed for c in CHECKS for t in ("acme", "beta"))

        # beta's usage shrinks (a row deleted): re-pricing beta re-prices acme again
        conn.execute(
            text(
                "DELETE FROM llm_usage WHERE usage_id = (SELECT max(usage_id) FROM llm_usage"
                " WHERE tenant_id = 'beta')"
            )
        )
        conn.commit()
        price_partition(conn, DAY, "beta")
        assert _day_shares(conn) == {"acme": Decimal("36000000"), "beta": Decimal("24000000")}
        assert sum(_day_shares(conn).values()) == GPU_DAY


def test_the_days_shares_do_not_depend_on_the_order_tenants_are_priced(engine, acme) -> None:
    with engine.begin() as conn:
        add_tenant(conn, "zeta")
        job = _self_hosted_job(conn)
        for tenant, tokens in (("zeta", 1), ("acme", 1), ("beta", 1), ("acme", 7)):
            add_usage(conn, tenant, job, TokenUsage(tokens, 0, 0, 0, 0))
    orders = (["zeta", "beta", "acme"], ["acme", "zeta", "beta"])
    seen = []
    for order in orders:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM cost_ledger"))
        with engine.connect() as conn:
            for tenant in order:
                price_partition(conn, DAY, tenant)
            seen.append(_day_shares(conn))
    # 60,000,000 micro-USD over 8 + 1 + 1 tokens: whole micro-dollars, all exact here
    assert (
        seen[0]
        == seen[1]
        == {
            "acme": Decimal("48000000"),
            "beta": Decimal("6000000"),
            "zeta": Decimal("6000000"),
        }
    )


# ---- invariants ----------------------------------------------------------------------------------


def _openai_usage(prompt: int, cached: int, output: int) -> dict:
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + output,
    }


@pytest.fixture
def priced(engine, acme):
    """acme and beta share an OpenAI batch whose aggregate matches; acme is priced."""
    with engine.begin() as conn:
        job = add_job(conn, "post_call", provider_usage=_openai_usage(4500, 1500, 300))
        for tenant in ("acme", "acme", "beta"):
            add_usage(conn, tenant, job, TokenUsage(1000, 500, 0, 0, 100))
        add_job(conn, "lead_scoring")  # Anthropic reports no aggregate
    with engine.begin() as conn:
        price_partition(conn, DAY, "acme")
    return job


CHECKS = (check_priced_exactly_once, check_batch_tokens_match_provider, check_rows_attributed)


def test_invariants_hold_on_a_freshly_priced_partition(engine, priced) -> None:
    with engine.connect() as conn:
        results = [check(conn, DAY, "acme") for check in CHECKS]
    assert [r.passed for r in results] == [True, True, True], results
    once, tokens, attributed = (r.details for r in results)
    assert once["usage_rows"] == 2
    assert tokens["batches_compared"] == 1  # beta's unpriced line counts with its usage tokens
    assert attributed["ledger_rows"] == 2


def test_a_usage_row_arriving_after_pricing_is_unpriced(engine, priced) -> None:
    with engine.begin() as conn:
        late = add_usage(conn, "acme", priced, TokenUsage(1, 0, 0, 0, 1))
    with engine.connect() as conn:
        passed, details = check_priced_exactly_once(conn, DAY, "acme")
        assert not passed and details["unpriced_usage_ids"] == [late]
        price_partition(conn, DAY, "acme")
        assert check_priced_exactly_once(conn, DAY, "acme").passed


def test_tokens_that_differ_from_the_provider_aggregate_fail(engine, priced) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE batch_jobs SET provider_usage = CAST(:u AS jsonb) WHERE batch_job_id = :j"
            ),
            {"u": json.dumps(_openai_usage(4500, 1500, 301)), "j": priced},
        )
    with engine.connect() as conn:
        passed, details = check_batch_tokens_match_provider(conn, DAY, "acme")
    assert not passed
    assert details["mismatches"][0]["provider"]["output_tokens"] == 301
    assert details["mismatches"][0]["ledger"]["output_tokens"] == 300


def test_a_ledger_row_whose_tokens_differ_from_its_usage_fails(engine, priced) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE cost_ledger SET output_tokens = output_tokens + 1"))
    with engine.connect() as conn:
        passed, details = check_batch_tokens_match_provider(conn, DAY, "acme")
    assert not passed and details["ledger_rows_with_other_tokens_than_usage"] == 2


def test_a_ledger_row_without_vertical_or_for_another_tenant_fails(engine, priced) -> None:
    with engine.begin() as conn:
        first, second = conn.execute(text("SELECT ledger_id FROM cost_ledger ORDER BY 1")).scalars()
        conn.execute(
            text("UPDATE cost_ledger SET vertical = '' WHERE ledger_id = :i"), {"i": first}
        )
        conn.execute(
            text("UPDATE cost_ledger SET tenant_id = 'beta' WHERE ledger_id = :i"), {"i": second}
        )
    with engine.connect() as conn:
        passed, details = check_rows_attributed(conn, DAY, "acme")
    assert not passed
    assert details["without_tenant_or_vertical"] == 1
    assert details["attribution_differs_from_usage_or_request"] == 1
    assert details["sample_ledger_ids"] == [first, second]


# ---- references (statement-level triggers in place of foreign keys, migration 0003) --------------


def _violation(conn, sql: str, params: dict | None = None) -> str:
    """The constraint a statement violates (it must raise foreign_key_violation)."""
    with pytest.raises(IntegrityError) as raised, conn.begin_nested():
        conn.execute(text(sql), params or {})
    assert raised.value.orig.sqlstate == "23503"
    return raised.value.orig.diag.constraint_name


def test_a_ledger_row_must_reference_a_usage_row_and_a_tenant(engine, priced) -> None:
    copy = (
        "INSERT INTO cost_ledger (usage_id, tenant_id, vertical, workflow, provider, model, mode,"
        " ledger_date, cost_micro_usd, sync_cost_micro_usd, pricing_source, pricing_version,"
        " unit_prices) SELECT {usage}, {tenant}, vertical, workflow, provider, model, mode,"
        " ledger_date, 0, 0, 'x', 'x', '{{}}' FROM cost_ledger LIMIT 1"
    )
    with engine.begin() as conn:
        assert _violation(conn, copy.format(usage="-1", tenant="tenant_id")) == (
            "fk_cost_ledger_usage_id_llm_usage"
        )
        unpriced = conn.execute(
            text("SELECT max(usage_id) FROM llm_usage WHERE tenant_id = 'beta'")
        ).scalar_one()
        first = conn.execute(text("SELECT min(usage_id) FROM cost_ledger")).scalar_one()
        assert _violation(conn, copy.format(usage=unpriced, tenant="'nobody'")) == (
            "fk_cost_ledger_tenant_id_tenants"
        )
        assert _violation(conn, "UPDATE cost_ledger SET usage_id = -usage_id") == (
            "fk_cost_ledger_usage_id_llm_usage"
        )
        # a referenced usage row keeps its id; a referenced tenant stays
        assert _violation(conn, "UPDATE llm_usage SET usage_id = -usage_id") == (
            "fk_cost_ledger_usage_id_llm_usage"
        )
        add_tenant(conn, "solo")  # referenced by a ledger row only
        conn.execute(
            text("UPDATE cost_ledger SET tenant_id = 'solo' WHERE usage_id = :u"), {"u": first}
        )
        for change in ("UPDATE tenants SET tenant_id = 'solo-2'", "DELETE FROM tenants"):
            assert _violation(conn, f"{change} WHERE tenant_id = 'solo'") == (
                "fk_cost_ledger_tenant_id_tenants"
            )
        assert conn.execute(text("SELECT count(*) FROM cost_ledger")).scalar() == 2


def test_deleting_or_truncating_usage_rows_deletes_their_ledger_rows(engine, priced) -> None:
    with engine.begin() as conn:
        first = conn.execute(text("SELECT min(usage_id) FROM cost_ledger")).scalar_one()
        conn.execute(text("DELETE FROM llm_usage WHERE usage_id = :u"), {"u": first})
        left = conn.execute(text("SELECT usage_id FROM cost_ledger")).scalars().all()
        assert len(left) == 1 and first not in left
        assert check_priced_exactly_once(conn, DAY, "acme").passed
        conn.execute(text("TRUNCATE llm_usage CASCADE"))
        assert conn.execute(text("SELECT count(*) FROM cost_ledger")).scalar() == 0
