"""Pricing: golden lines computed by hand from batch-apis.md section 7, properties, and agreement
with genai-prices' own calc_price.

Amounts are micro-dollars: tokens x (USD per 1M tokens).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import genai_prices
import pytest
from genai_prices import calc_price, data_snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch_pipelines.core.usage import TokenUsage
from batch_pipelines.ledger.pricing import (
    QUANTUM,
    LinePrice,
    OverridesError,
    PriceOverrides,
    UnknownModelPrice,
    allocate_self_hosted,
    default_overrides,
    estimate_cost_micro_usd,
    genai_usage,
    largest_remainder,
    load_overrides,
    price_line,
    resolve_unit_prices,
    self_hosted_window_cost_micro_usd,
)
from batch_pipelines.ledger.token_classes import PRICE_NAMES, TOKEN_CLASSES
from batch_pipelines.providers.anthropic_batch import parse_usage as parse_anthropic_usage
from batch_pipelines.providers.openai_batch import (
    parse_chat_usage,
    parse_embedding_usage,
)

D = Decimal
NOV = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)  # genai-prices models batch from 2026-10-14
SEP = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)  # before that: the override's 50% rule
GP = f"genai-prices {genai_prices.__version__}"
OV = f"price_overrides {default_overrides().version}"
AMOUNTS = (
    "cost_micro_usd",
    "sync_cost_micro_usd",
    "batch_discount_micro_usd",
    "cache_read_savings_micro_usd",
    "cache_write_premium_micro_usd",
)

ledger_settings = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def amounts(line: LinePrice) -> tuple[Decimal, ...]:
    return tuple(getattr(line, name) for name in AMOUNTS)


def chat(prompt: int, completion: int, cached: int = 0, written: int = 0) -> TokenUsage:
    return parse_chat_usage(
        {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "prompt_tokens_details": {"cached_tokens": cached, "cache_write_tokens": written},
        }
    )


# ---- golden lines, by hand from the published prices ------------------------------------------


def test_gpt_4o_mini_batch_with_cached_tokens_is_priced_at_genai_prices_batch_rates() -> None:
    # 2000 prompt (1024 cached) + 100 out. Batch: input 0.075, cached 0.075 (no batch cached rate
    # is published; genai-prices keeps 0.075), output 0.30. Sync list: 0.15 / 0.60.
    line = price_line("openai", "gpt-4o-mini", "batch", chat(2000, 100, cached=1024), NOV)
    assert line.cost_micro_usd == D("180")  # 976*0.075 + 1024*0.075 + 100*0.30 ($0.000180)
    assert line.sync_cost_micro_usd == D("360")  # 2000*0.15 + 100*0.60
    assert line.batch_discount_micro_usd == D("180")  # 2000*0.075 + 100*0.30
    assert line.cache_read_savings_micro_usd == 0  # cached = uncached within the batch
    assert line.cache_write_premium_micro_usd == 0
    assert (line.pricing_source, line.pricing_version) == ("genai-prices", GP)
    assert line.unit_prices == {
        "input": "0.075",
        "cached_input": "0.075",
        "cache_write_5m": "0.075",
        "cache_write_1h": "0.075",
        "output": "0.3",
        "sync_input": "0.15",
        "sync_output": "0.6",
    }


def test_gpt_4o_mini_sync_bills_cached_tokens_at_the_cached_price() -> None:
    line = price_line("openai", "gpt-4o-mini", "sync", chat(2000, 100, cached=1024), NOV)
    assert line.cost_micro_usd == D("283.2")  # 976*0.15 + 1024*0.075 + 100*0.60 ($0.0002832)
    assert line.sync_cost_micro_usd == D("360")
    assert line.batch_discount_micro_usd == 0
    assert line.cache_read_savings_micro_usd == D("76.8")  # 1024 * (0.15 - 0.075)
    assert line.cache_write_premium_micro_usd == 0


def test_claude_haiku_4_5_batch_halves_input_output_cache_reads_and_both_cache_writes() -> None:
    usage = parse_anthropic_usage(
        {
            "input_tokens": 300,
            "output_tokens": 500,
            "cache_read_input_tokens": 4000,
            "cache_creation_input_tokens": 2500,
            "cache_creation": {"ephemeral_5m_input_tokens": 500, "ephemeral_1h_input_tokens": 2000},
        }
    )
    line = price_line("anthropic", "claude-haiku-4-5", "batch", usage, NOV)
    # batch: input 0.50, 5m write 0.625, 1h write 1.00, read 0.05, output 2.50
    # 300*0.5 + 4000*0.05 + 500*0.625 + 2000*1.0 + 500*2.5 = 150 + 200 + 312.5 + 2000 + 1250
    assert line.cost_micro_usd == D("3912.5")
    assert line.sync_cost_micro_usd == D("9300")  # 6800*1.00 + 500*5.00
    assert line.batch_discount_micro_usd == D("4650")  # 6800*0.50 + 500*2.50
    assert line.cache_read_savings_micro_usd == D("1800")  # 4000*(0.50-0.05)
    assert line.cache_write_premium_micro_usd == D("1062.5")  # 500*0.125 + 2000*0.50
    assert line.unit_prices["cache_write_1h"] == "1"
    assert line.unit_prices["cache_write_5m"] == "0.625"


def test_claude_haiku_4_5_sync_bills_1h_cache_writes_at_twice_the_input_price() -> None:
    usage = TokenUsage(input_tokens=1000, cache_write_tokens=1000, cache_write_1h_tokens=1000)
    line = price_line("anthropic", "claude-haiku-4-5", "sync", usage, NOV)
    assert line.cost_micro_usd == D("3000")  # 1000*1.00 + 1000*2.00
    assert line.sync_cost_micro_usd == D("2000")
    assert line.cache_write_premium_micro_usd == D("1000")
    assert line.savings_micro_usd == D("-1000")


@pytest.mark.parametrize(
    ("model", "batch", "sync"),
    [("text-embedding-3-large", "0.065", "0.13"), ("text-embedding-3-small", "0.01", "0.02")],
)
def test_embedding_batch_is_priced_by_the_override_table(model: str, batch: str, sync: str) -> None:
    usage = parse_embedding_usage({"prompt_tokens": 12345, "total_tokens": 12345})
    line = price_line("openai", model, "batch", usage, NOV)
    assert line.cost_micro_usd == 12345 * D(batch)  # 802.425 for -3-large
    assert line.sync_cost_micro_usd == 12345 * D(sync)
    assert line.batch_discount_micro_usd == line.sync_cost_micro_usd - line.cost_micro_usd
    assert (line.pricing_source, line.pricing_version) == ("override", OV)
    assert line.unit_prices["input"] == batch
    assert "output" not in line.unit_prices


def test_batch_before_2026_10_14_is_half_the_standard_price_of_that_date() -> None:
    # genai-prices returns standard prices for batch before 2026-10-14; the override halves them,
    # cached reads included: input 0.075, cached 0.0375, output 0.30.
    line = price_line("openai", "gpt-4o-mini", "batch", chat(2000, 100, cached=1024), SEP)
    assert line.cost_micro_usd == D("141.6")  # 976*0.075 + 1024*0.0375 + 100*0.30
    assert line.sync_cost_micro_usd == D("360")
    assert line.batch_discount_micro_usd == D("180")
    assert line.cache_read_savings_micro_usd == D("38.4")  # 1024*(0.075-0.0375)
    assert line.pricing_source == "override"
    assert line.pricing_version == f"{OV} + {GP}"
    assert line.unit_prices["batch_multiplier"] == "0.5"


def test_anthropic_pre_cutoff_batch_fallback_equals_genai_prices_batch_after_cutoff() -> None:
    usage = TokenUsage(
        input_tokens=300,
        cached_input_tokens=4000,
        cache_write_tokens=2500,
        cache_write_1h_tokens=2000,
        output_tokens=500,
    )
    before = price_line("anthropic", "claude-haiku-4-5", "batch", usage, SEP)
    after = price_line("anthropic", "claude-haiku-4-5", "batch", usage, NOV)
    assert before.pricing_source == "override" and after.pricing_source == "genai-prices"
    assert amounts(before) == amounts(after)


def test_gpt_5_6_luna_batch_bills_cache_writes_at_the_batch_write_price() -> None:
    # batch: input 0.10, cached 0.01, cache write 0.125 (sync 0.25), output 0.60; sync 0.20 / 1.20
    line = price_line("openai", "gpt-5.6-luna", "batch", chat(10_000, 1000, 6000, 2000), NOV)
    assert line.cost_micro_usd == D("1110")  # 2000*0.1 + 6000*0.01 + 2000*0.125 + 1000*0.6
    assert line.sync_cost_micro_usd == D("3200")  # 10000*0.2 + 1000*1.2
    assert line.batch_discount_micro_usd == D("1600")
    assert line.cache_read_savings_micro_usd == D("540")  # 6000*(0.10-0.01)
    assert line.cache_write_premium_micro_usd == D("50")  # 2000*(0.125-0.10)


def test_cache_writes_cost_the_input_price_on_models_without_a_write_price() -> None:
    line = price_line("openai", "gpt-4o-mini", "sync", chat(3000, 0, written=1000), NOV)
    assert line.cost_micro_usd == D("450")  # 3000*0.15
    assert line.cache_write_premium_micro_usd == 0


def test_long_prompts_use_the_long_context_tier_for_every_token() -> None:
    # gpt-6-luna over 272K prompt tokens: 2x input, 1.5x output. Batch 0.05 -> 0.10, 0.25 -> 0.375.
    line = price_line("openai", "gpt-6-luna", "batch", chat(300_000, 1000), NOV)
    assert line.cost_micro_usd == D("30375")  # 300000*0.10 + 1000*0.375
    assert line.sync_cost_micro_usd == D("60750")  # 300000*0.20 + 1000*0.75
    short = price_line("openai", "gpt-6-luna", "batch", chat(272_000, 1000), NOV)
    assert short.cost_micro_usd == D("13850")  # 272000*0.05 + 1000*0.25


def test_self_hosted_line_costs_its_share_and_compares_with_the_reference_sync_model() -> None:
    usage = TokenUsage(input_tokens=1000, output_tokens=500)
    line = price_line(
        "vllm", "llama-3.1-8b", "self_hosted", usage, NOV, allocated_cost_micro_usd=D("50.000000")
    )
    assert line.cost_micro_usd == D("50")
    assert line.sync_cost_micro_usd == D("450")  # gpt-4o-mini sync: 1000*0.15 + 500*0.60
    assert line.batch_discount_micro_usd == D("400")
    assert line.unit_prices["gpu_usd_per_hour"] == "2.5"
    assert line.unit_prices["sync_reference"] == "openai/gpt-4o-mini"
    assert line.pricing_source == "override"
    assert line.pricing_version == f"{OV} + {GP}"


def test_self_hosted_window_cost_is_the_hourly_price_pro_rata_rounded_once() -> None:
    # $2.50/h for 60 s = $0.041666... = 41666.6666...7 micro-USD
    assert self_hosted_window_cost_micro_usd("2.50", 60) == D("41666.666667")
    assert self_hosted_window_cost_micro_usd(D("2.50"), 3600) == D("2500000")


def test_estimate_assumes_no_cache_hit() -> None:
    estimate = estimate_cost_micro_usd("openai", "gpt-4o-mini", "batch", 2000, 100, NOV)
    assert estimate == D("180")  # 2000*0.075 + 100*0.30
    assert estimate_cost_micro_usd("anthropic", "claude-haiku-4-5", "sync", 1000, 100, SEP) == D(
        "1500"
    )  # 1000*1.00 + 100*5.00


def test_self_hosted_estimate_is_the_reference_sync_price() -> None:
    assert estimate_cost_micro_usd("vllm", "llama", "self_hosted", 1000, 500, NOV) == D("450")


# ---- sources, versions, errors ------------------------------------------------------------------


def test_unknown_model_raises_an_actionable_error() -> None:
    with pytest.raises(UnknownModelPrice) as excinfo:
        price_line("openai", "gpt-nonexistent-9", "batch", chat(10, 1), NOV)
    message = str(excinfo.value)
    assert "'gpt-nonexistent-9'" in message and "'openai'" in message
    assert "price_overrides.yaml" in message and "models.openai.gpt-nonexistent-9.batch" in message


def test_unknown_provider_raises_unknown_model_price() -> None:
    with pytest.raises(UnknownModelPrice, match="'nosuchcloud'"):
        price_line("nosuchcloud", "gpt-4o-mini", "sync", chat(10, 1), NOV)


def test_batch_without_any_batch_price_is_refused_rather_than_billed_at_full_price() -> None:
    no_fallback = PriceOverrides.from_dict({"version": "t1"})
    with pytest.raises(UnknownModelPrice, match="no batch price"):
        price_line("openai", "gpt-4o-mini", "batch", chat(10, 1), SEP, no_fallback)


def test_output_tokens_on_an_input_only_model_are_rejected() -> None:
    with pytest.raises(ValueError, match="no output price"):
        price_line("openai", "text-embedding-3-large", "batch", TokenUsage(1, output_tokens=1), NOV)


def test_naive_timestamps_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        price_line("openai", "gpt-4o-mini", "sync", chat(10, 1), datetime(2026, 11, 1))


def test_self_hosted_line_requires_its_allocated_share() -> None:
    with pytest.raises(ValueError, match="allocate_self_hosted"):
        price_line("vllm", "llama", "self_hosted", TokenUsage(1), NOV)
    with pytest.raises(ValueError, match="finer than the quantum"):
        price_line(
            "vllm", "llama", "self_hosted", TokenUsage(1), NOV, allocated_cost_micro_usd=D("1e-7")
        )


NEGOTIATED = {
    "version": "t2",
    "negotiated": {"openai": {"gpt-4o-mini": {"batch": {"input": "0.07", "output": "0.28"}}}},
    "tenants": {
        "acme": {"openai": {"gpt-4o-mini": {"batch": {"input": "0.06", "output": "0.25"}}}}
    },
}


def test_tenant_negotiated_rate_wins_over_the_organisation_rate_and_list_price() -> None:
    ov = PriceOverrides.from_dict(NEGOTIATED)
    usage = chat(1000, 100)
    acme = price_line("openai", "gpt-4o-mini", "batch", usage, NOV, ov, tenant_id="acme")
    other = price_line("openai", "gpt-4o-mini", "batch", usage, NOV, ov, tenant_id="zen")
    assert acme.cost_micro_usd == D("85")  # 1000*0.06 + 100*0.25
    assert other.cost_micro_usd == D("98")  # 1000*0.07 + 100*0.28
    # the sync reference stays the list price from genai-prices
    assert acme.sync_cost_micro_usd == D("210")
    assert acme.pricing_source == "override"
    assert acme.pricing_version == f"price_overrides t2 + {GP}"


# ---- model names: providers answer with dated snapshots ---------------------------------------

SNAPSHOT_RATES = PriceOverrides.from_dict(
    {
        "version": "snap",
        "negotiated": {
            "openai": {
                "gpt-4o-mini": {"batch": {"input": "0.07", "output": "0.28"}},
                # an exact snapshot entry wins over its alias's entry in the same table
                "gpt-4o-mini-2024-07-18": {"sync": {"input": "0.12", "output": "0.5"}},
            }
        },
        "tenants": {
            "acme": {
                "anthropic": {"claude-haiku-4-5": {"batch": {"input": "0.45", "output": "2.25"}}}
            }
        },
    }
)


@pytest.mark.parametrize(
    "model", ["gpt-4o-mini", "gpt-4o-mini-2024-07-18", "gpt-4o-mini-2099-01-01"]
)
def test_a_negotiated_alias_rate_prices_every_snapshot_the_provider_answers_with(model) -> None:
    line = price_line("openai", model, "batch", chat(1000, 100), NOV, SNAPSHOT_RATES)
    assert line.cost_micro_usd == D("98")  # 1000 x 0.07 + 100 x 0.28
    assert line.priced_by == "price_overrides negotiated.openai.gpt-4o-mini.batch"
    assert line.pricing_source == "override"


def test_an_override_naming_the_snapshot_exactly_wins_over_its_alias() -> None:
    line = price_line(
        "openai", "gpt-4o-mini-2024-07-18", "sync", chat(1000, 100), NOV, SNAPSHOT_RATES
    )
    assert line.cost_micro_usd == D("170")  # 1000 x 0.12 + 100 x 0.5
    assert line.priced_by == "price_overrides negotiated.openai.gpt-4o-mini-2024-07-18.sync"
    # the alias itself, and another snapshot, are list price (genai-prices)
    other = price_line(
        "openai", "gpt-4o-mini-2099-01-01", "sync", chat(1000, 100), NOV, SNAPSHOT_RATES
    )
    assert (
        other.cost_micro_usd == D("210")
        and other.priced_by == "genai-prices openai/gpt-4o-mini standard"
    )


def test_a_tenant_rate_for_an_alias_prices_the_tenants_snapshot_lines() -> None:
    usage = TokenUsage(1000, output_tokens=100)
    args = ("anthropic", "claude-haiku-4-5-20251001", "batch", usage, NOV, SNAPSHOT_RATES)
    acme = price_line(*args, tenant_id="acme")
    zen = price_line(*args, tenant_id="zen")
    assert acme.cost_micro_usd == D("675")  # 1000 x 0.45 + 100 x 2.25
    assert acme.priced_by == "price_overrides tenants.acme.anthropic.claude-haiku-4-5.batch"
    assert zen.cost_micro_usd == D("750")  # genai-prices batch: 1000 x 0.5 + 100 x 2.5
    assert zen.priced_by == "genai-prices anthropic/claude-haiku-4-5 batch"


def test_genai_prices_knows_some_snapshots_apart_from_their_alias() -> None:
    # gpt-4o-2024-05-13 has prices of its own ($5 / $15), not gpt-4o's ($2.50 / $10)
    dated = price_line("openai", "gpt-4o-2024-05-13", "sync", chat(1000, 100), NOV, NO_OVERRIDES)
    alias = price_line("openai", "gpt-4o", "sync", chat(1000, 100), NOV, NO_OVERRIDES)
    assert dated.cost_micro_usd == D("6500") and alias.cost_micro_usd == D("3500")
    assert dated.priced_as == "openai/gpt-4o-2024-05-13"


def test_an_unknown_snapshot_of_a_known_alias_is_priced_as_its_alias() -> None:
    line = price_line("openai", "gpt-4o-mini-2099-01-01", "batch", chat(2000, 100), NOV)
    assert line == price_line("openai", "gpt-4o-mini", "batch", chat(2000, 100), NOV)


def test_the_batch_fallback_says_it_priced_the_line() -> None:
    line = price_line("openai", "gpt-4o-mini-2024-07-18", "batch", chat(2000, 100), SEP)
    assert line.priced_by == (
        "genai-prices openai/gpt-4o-mini standard x price_overrides batch_fallback 0.5"
    )


def test_every_token_class_is_a_price_of_every_entry() -> None:
    # One declaration: an override entry takes exactly the classes' prices, and omitted ones
    # default to the class's reference (output: none at all).
    entry = PriceOverrides.from_dict(
        {"version": "x", "models": {"openai": {"m": {"sync": {"input": "2"}}}}}
    ).models[("openai", "m", "sync")]
    assert set(entry.by_class) == set(PRICE_NAMES)
    assert {name: entry.by_class[name] for name in PRICE_NAMES} == {
        **{c.price: D("2") for c in TOKEN_CLASSES if c.reference == "input"},
        "output": None,
    }


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({"models": {}}, "version"),
        ({"version": "x", "models": {"openai": {"m": {"batch": {"input": 0.01}}}}}, "quoted"),
        ({"version": "x", "models": {"openai": {"m": {"batch": {"output": "1"}}}}}, "`input`"),
        ({"version": "x", "models": {"openai": {"m": {"flex": {"input": "1"}}}}}, "unknown key"),
        ({"version": "x", "models": {"openai": {"m": {"batch": {"inptu": "1"}}}}}, "unknown key"),
        ({"version": "x", "self_hosted": {"gpu_usd_per_hour": 2.5}}, "quoted"),
        ({"version": "x", "batch_fallback": {"multiplier": "-1"}}, "non-negative"),
        ({"version": "x", "prices": {}}, "unknown key"),
    ],
    ids=["no-version", "float", "no-input", "bad-mode", "typo", "float-gpu", "negative", "top-key"],
)
def test_override_table_rejects_malformed_entries(raw: dict, match: str) -> None:
    with pytest.raises(OverridesError, match=match):
        PriceOverrides.from_dict(raw)


def test_bundled_override_table_is_versioned_and_complete() -> None:
    ov = load_overrides()
    assert ov.version == "2026-11-26.1"
    assert ov.batch_fallback_multiplier == D("0.5")
    assert ov.batch_fallback_providers == {"openai", "anthropic"}
    assert ov.gpu_usd_per_hour == D("2.50")
    assert (ov.reference_provider, ov.reference_model) == ("openai", "gpt-4o-mini")


@pytest.mark.parametrize("model", ["text-embedding-3-small", "text-embedding-3-large"])
def test_override_sync_embedding_prices_match_genai_prices_list_prices(model: str) -> None:
    # catches drift between the table and genai-prices' standard price
    ov = default_overrides()
    empty = PriceOverrides.from_dict({"version": "none"})
    ours = resolve_unit_prices("openai", model, "sync", NOV, overrides=ov)
    theirs = resolve_unit_prices("openai", model, "sync", NOV, overrides=empty)
    assert ours.source == "override" and theirs.source == "genai-prices"
    assert ours.unit_prices.input == theirs.unit_prices.input


def test_pricing_uses_the_bundled_data_even_when_genai_prices_was_auto_updated() -> None:
    before = price_line("openai", "gpt-4o-mini", "batch", chat(2000, 100), NOV)
    data_snapshot.set_custom_snapshot(
        data_snapshot.DataSnapshot(providers=[], from_auto_update=True)
    )
    try:
        with pytest.raises(LookupError):  # genai-prices itself now sees the "updated" data
            calc_price(genai_usage(chat(1, 1)), "gpt-4o-mini", provider_id="openai")
        after = price_line("openai", "gpt-4o-mini", "batch", chat(2000, 100), NOV)
    finally:
        data_snapshot.set_custom_snapshot(None)
    assert after == before


# ---- genai-prices agreement ---------------------------------------------------------------------

NO_OVERRIDES = PriceOverrides.from_dict({"version": "none"})
FALLBACK_ONLY = PriceOverrides.from_dict(
    {"version": "f", "batch_fallback": {"multiplier": "0.5", "providers": ["openai", "anthropic"]}}
)
CHAT_MODELS = [
    ("openai", "gpt-4o-mini"),
    ("openai", "gpt-4.1-mini"),
    ("openai", "gpt-5-mini"),
    ("openai", "gpt-5.4-nano"),
    ("openai", "gpt-5.6-luna"),
    ("openai", "gpt-6-luna"),
    ("anthropic", "claude-haiku-4-5"),
    ("anthropic", "claude-haiku-5-5"),
    ("anthropic", "claude-sonnet-4-6"),
    ("anthropic", "claude-opus-4-8"),
]
EMBEDDING_MODELS = [("openai", "text-embedding-3-large"), ("openai", "text-embedding-3-small")]

tokens = st.integers(min_value=0, max_value=150_000)
times = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
after_cutoff = st.datetimes(
    min_value=datetime(2026, 10, 14), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@st.composite
def chat_usages(draw: st.DrawFn) -> TokenUsage:
    written = draw(tokens)
    return TokenUsage(
        input_tokens=draw(tokens),
        cached_input_tokens=draw(tokens),
        cache_write_tokens=written,
        cache_write_1h_tokens=draw(st.integers(0, written)),
        output_tokens=draw(st.integers(0, 50_000)),
    )


@st.composite
def priced_lines(draw: st.DrawFn, when: st.SearchStrategy[datetime] = times):
    """(provider, model, usage, occurred_at) for any default-ish model, embeddings included."""
    if draw(st.booleans()) and draw(st.booleans()):
        provider, model = draw(st.sampled_from(EMBEDDING_MODELS))
        usage = TokenUsage(input_tokens=draw(st.integers(0, 3_000_000)))
    else:
        provider, model = draw(st.sampled_from(CHAT_MODELS))
        usage = draw(chat_usages())
    return provider, model, usage, draw(when)


@ledger_settings
@given(line=priced_lines(after_cutoff), mode=st.sampled_from(["batch", "sync"]))
def test_cost_agrees_exactly_with_genai_prices_calc_price(line: tuple, mode: str) -> None:
    provider, model, usage, at = line
    if mode == "batch" and model.startswith("text-embedding"):
        # genai-prices has no batch embedding price (it would bill the full rate): refused
        # without the override table rather than silently billed at twice the real price
        with pytest.raises(UnknownModelPrice, match="no batch price"):
            price_line(provider, model, mode, usage, at, NO_OVERRIDES)
        return
    ours = price_line(provider, model, mode, usage, at, NO_OVERRIDES)
    assert ours.pricing_source == "genai-prices"
    theirs = calc_price(
        genai_usage(usage),
        model,
        provider_id=provider,
        genai_request_timestamp=at,
        price_context={"processing": "batch"} if mode == "batch" else None,
    )
    assert ours.cost_micro_usd == theirs.total_price * 1_000_000
    uncached = TokenUsage(input_tokens=usage.prompt_tokens, output_tokens=usage.output_tokens)
    standard = calc_price(
        genai_usage(uncached), model, provider_id=provider, genai_request_timestamp=at
    )
    assert ours.sync_cost_micro_usd == standard.total_price * 1_000_000


@ledger_settings
@given(line=priced_lines(), days_before=st.integers(1, 300))
def test_batch_fallback_is_exactly_half_of_genai_prices_standard_price(
    line: tuple, days_before: int
) -> None:
    provider, model, usage, _ = line
    at = datetime(2026, 10, 14, tzinfo=UTC) - timedelta(days=days_before)
    ours = price_line(provider, model, "batch", usage, at, FALLBACK_ONLY)
    assert ours.unit_prices["batch_multiplier"] == "0.5"
    standard = calc_price(
        genai_usage(usage), model, provider_id=provider, genai_request_timestamp=at
    )
    assert ours.cost_micro_usd == standard.total_price * 1_000_000 / 2


# ---- properties -----------------------------------------------------------------------------------

CLASSES = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
)


def grow(usage: TokenUsage, token_class: str, extra: int) -> TokenUsage:
    fields = {name: getattr(usage, name) for name in CLASSES}
    fields[token_class] += extra
    if token_class == "cache_write_1h_tokens":
        fields["cache_write_tokens"] += extra  # a 1h write is also a write
    return TokenUsage(**fields)


@ledger_settings
@given(
    line=priced_lines(),
    mode=st.sampled_from(["batch", "sync"]),
    token_class=st.sampled_from(CLASSES),
    extra=st.integers(1, 200_000),
)
def test_cost_never_decreases_when_any_token_class_grows(
    line: tuple, mode: str, token_class: str, extra: int
) -> None:
    provider, model, usage, at = line
    if model.startswith("text-embedding") and token_class != "input_tokens":
        token_class = "input_tokens"
    more = grow(usage, token_class, extra)
    before = price_line(provider, model, mode, usage, at)
    after = price_line(provider, model, mode, more, at)
    assert after.cost_micro_usd >= before.cost_micro_usd
    assert after.sync_cost_micro_usd >= before.sync_cost_micro_usd


@ledger_settings
@given(line=priced_lines())
def test_batch_never_costs_more_than_sync_for_the_same_tokens(line: tuple) -> None:
    provider, model, usage, at = line
    batch = price_line(provider, model, "batch", usage, at)
    sync = price_line(provider, model, "sync", usage, at)
    assert batch.cost_micro_usd <= sync.cost_micro_usd
    assert batch.sync_cost_micro_usd == sync.sync_cost_micro_usd
    assert batch.batch_discount_micro_usd >= 0


@ledger_settings
@given(line=priced_lines(), mode=st.sampled_from(["batch", "sync"]), data=st.data())
def test_a_cached_read_never_costs_more_than_an_uncached_token(
    line: tuple, mode: str, data: st.DataObject
) -> None:
    provider, model, usage, at = line
    if model.startswith("text-embedding"):
        return
    moved = data.draw(st.integers(0, usage.input_tokens))
    cached = TokenUsage(
        usage.input_tokens - moved,
        usage.cached_input_tokens + moved,
        usage.cache_write_tokens,
        usage.cache_write_1h_tokens,
        usage.output_tokens,
    )
    assert (
        price_line(provider, model, mode, cached, at).cost_micro_usd
        <= price_line(provider, model, mode, usage, at).cost_micro_usd
    )
    assert price_line(provider, model, mode, usage, at).cache_read_savings_micro_usd >= 0


ODD_PRICES = PriceOverrides.from_dict(
    {
        "version": "odd",
        "negotiated": {
            "openai": {
                "gpt-4o-mini": {
                    "batch": {
                        "input": "0.0733333333333",
                        "cached_input": "0.0211111111",
                        "cache_write_5m": "0.0917777777777",
                        "cache_write_1h": "0.14666666666667",
                        "output": "0.2999999999",
                    },
                    "sync": {"input": "0.1555555555555", "output": "0.6123456789123"},
                }
            }
        },
        "batch_fallback": {"multiplier": "0.5", "providers": ["openai", "anthropic"]},
    }
)


@ledger_settings
@given(
    line=priced_lines(),
    mode=st.sampled_from(["batch", "sync", "self_hosted"]),
    odd=st.booleans(),
    allocated=st.integers(0, 10**12),
)
def test_savings_split_adds_up_exactly_and_amounts_are_decimals_at_the_quantum(
    line: tuple, mode: str, odd: bool, allocated: int
) -> None:
    provider, model, usage, at = line
    if odd:  # negotiated prices with 10+ decimals force rounding at the quantum
        provider, model = "openai", "gpt-4o-mini"
    extra = {"allocated_cost_micro_usd": D(allocated).scaleb(-6)} if mode == "self_hosted" else {}
    p = price_line(provider, model, mode, usage, at, ODD_PRICES if odd else None, **extra)
    assert p.sync_cost_micro_usd - p.cost_micro_usd == (
        p.batch_discount_micro_usd
        + p.cache_read_savings_micro_usd
        - p.cache_write_premium_micro_usd
    )
    for name in AMOUNTS:
        value = getattr(p, name)
        assert type(value) is Decimal, name
        assert value.as_tuple().exponent == QUANTUM.as_tuple().exponent, (name, value)
    assert p.cost_micro_usd >= 0 and p.sync_cost_micro_usd >= 0
    prices = {k: v for k, v in p.unit_prices.items() if k != "sync_reference"}
    assert all(type(v) is str and Decimal(v) >= 0 for v in prices.values())


TENANT_IDS = st.sampled_from(["acme", "beta", "zeta", "a-1"])


@given(
    gpu=st.decimals(min_value=0, max_value=1000, places=4).map(str),
    seconds=st.integers(0, 7 * 24 * 3600),
    lines=st.lists(
        st.tuples(
            TENANT_IDS, st.builds(TokenUsage, tokens, tokens, st.just(0), st.just(0), tokens)
        ),
        max_size=40,
    ),
)
@settings(max_examples=300, deadline=None)
def test_self_hosted_shares_add_up_exactly_per_tenant_and_per_window(
    gpu: str, seconds: int, lines: list[tuple[str, TokenUsage]]
) -> None:
    keyed = [(f"req-{i}", tenant, u) for i, (tenant, u) in enumerate(lines)]
    shares = allocate_self_hosted(gpu, seconds, keyed)
    window = self_hosted_window_cost_micro_usd(gpu, seconds)
    if not keyed:
        assert shares == {}
        return
    assert sum(shares.values()) == window
    assert list(shares) == [key for key, _, _ in keyed]
    assert all(type(v) is Decimal and v >= 0 for v in shares.values())
    weight = {key: u.prompt_tokens + u.output_tokens for key, _, u in keyed}
    tenants = sorted({t for _, t, _ in keyed})
    tenant_weight = {t: sum(weight[k] for k, tt, _ in keyed if tt == t) for t in tenants}
    total = sum(tenant_weight.values())
    tenant_share = {t: sum(shares[k] for k, tt, _ in keyed if tt == t) for t in tenants}
    for tenant in tenants:
        exact = window * tenant_weight[tenant] / total if total else window / len(tenants)
        assert abs(tenant_share[tenant] - exact) < 1  # within one micro-dollar of its share
        if window == window.to_integral_value():
            assert tenant_share[tenant] == tenant_share[tenant].to_integral_value()
        rows = [k for k, tt, _ in keyed if tt == tenant]
        row_total = sum(weight[k] for k in rows)
        for key in rows:  # within one quantum of its share of the tenant's share
            exact = (
                tenant_share[tenant] * weight[key] / row_total
                if row_total
                else tenant_share[tenant] / len(rows)
            )
            assert abs(shares[key] - exact) < QUANTUM


def test_self_hosted_tenant_shares_are_whole_micro_dollars_ties_to_the_lower_tenant_id() -> None:
    # $0.000001 x 3600 s/h -> 1 micro-USD for the window, three tenants of equal weight.
    usage = TokenUsage(10, output_tokens=5)
    lines = [("z1", "zeta", usage), ("a1", "acme", usage), ("b1", "beta", usage)]
    assert allocate_self_hosted("0.000001", 3600, lines) == {
        "z1": D("0"),
        "a1": D("1"),
        "b1": D("0"),
    }
    # 2 micro-USD: acme and beta one each; zeta, last by id, none
    shares = allocate_self_hosted("0.000002", 3600, lines)
    assert (shares["a1"], shares["b1"], shares["z1"]) == (D("1"), D("1"), D("0"))
    # 3 micro-USD over 3 + 3 tokens: 1.5 each, the odd micro-dollar to acme (the lower id); its
    # 2 split over its lines by tokens in quanta, the odd quantum to the larger remainder (a1)
    lines = [
        ("a1", "acme", TokenUsage(1)),
        ("a2", "acme", TokenUsage(2)),
        ("b1", "beta", TokenUsage(3)),
    ]
    assert allocate_self_hosted("0.000003", 3600, lines) == {
        "a1": D("0.666667"),
        "a2": D("1.333333"),
        "b1": D("1"),
    }


def test_self_hosted_window_with_no_tokens_is_split_equally() -> None:
    shares = allocate_self_hosted(
        "3.6", 1, [("a", "acme", TokenUsage()), ("b", "beta", TokenUsage())]
    )
    assert shares == {"a": D("500"), "b": D("500")}


@given(
    total=st.integers(0, 10**15),
    weights=st.lists(st.integers(0, 10**9), max_size=30),
    unit=st.sampled_from([1, 7, 10**6]),
)
def test_largest_remainder_adds_up_and_stays_within_a_unit(
    total: int, weights: list[int], unit: int
) -> None:
    parts = largest_remainder(total, weights, unit)
    assert len(parts) == len(weights)
    if not weights:
        return
    assert sum(parts) == total
    effective = weights if any(weights) else [1] * len(weights)
    for part, weight in zip(parts, effective, strict=True):
        assert abs(Fraction(part) - Fraction(total * weight, sum(effective))) < unit
    short = total % unit
    assert sum(1 for p in parts if p % unit) <= (1 if short else 0)


@pytest.mark.parametrize("bad", [2.5, True, "two"])
def test_self_hosted_gpu_price_must_be_exact(bad: object) -> None:
    with pytest.raises(ValueError, match="gpu_usd_per_hour"):
        allocate_self_hosted(bad, 60, [("a", "acme", TokenUsage(1))])  # type: ignore[arg-type]


def test_self_hosted_allocation_rejects_duplicate_keys() -> None:
    with pytest.raises(ValueError, match="unique"):
        allocate_self_hosted("1", 60, [("a", "acme", TokenUsage(1)), ("a", "beta", TokenUsage(2))])


def test_ledger_tests_run_with_the_network_blocked() -> None:
    import socket

    with pytest.raises(AssertionError, match="network"):
        socket.create_connection(("127.0.0.1", 9))


def test_each_token_class_amount_is_rounded_once_half_even_at_the_quantum() -> None:
    ov = PriceOverrides.from_dict(
        {
            "version": "r",
            "negotiated": {
                "openai": {
                    "gpt-4o-mini": {
                        "sync": {"input": "0.0000005", "cached_input": "0.0000005", "output": "0"}
                    }
                }
            },
        }
    )
    # 1 x 0.0000005 = 0.0000005 -> 0.000000 (half to even); 3 x ... = 0.0000015 -> 0.000002
    one = price_line("openai", "gpt-4o-mini", "sync", TokenUsage(input_tokens=1), NOV, ov)
    three = price_line("openai", "gpt-4o-mini", "sync", TokenUsage(input_tokens=3), NOV, ov)
    assert one.cost_micro_usd == D("0.000000")
    assert three.cost_micro_usd == D("0.000002")
    # uncached and cached classes are rounded separately: 0.000000 + 0.000002
    split = price_line("openai", "gpt-4o-mini", "sync", TokenUsage(1, 3), NOV, ov)
    assert split.cost_micro_usd == D("0.000002")
