"""The adapters' usage parsers: one token-class vocabulary for OpenAI chat/responses/embeddings
and Anthropic."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch_pipelines.core.usage import TokenUsage
from batch_pipelines.providers.anthropic_batch import parse_usage as parse_anthropic_usage
from batch_pipelines.providers.openai_batch import (
    parse_chat_usage,
    parse_embedding_usage,
    parse_responses_usage,
)

counts = st.integers(min_value=0, max_value=2_000_000)


# ---- OpenAI chat -----------------------------------------------------------------------------


def test_openai_chat_splits_cached_and_written_tokens_out_of_prompt_tokens() -> None:
    usage = parse_chat_usage(
        {
            "prompt_tokens": 10_000,
            "completion_tokens": 700,
            "total_tokens": 10_700,
            "prompt_tokens_details": {"cached_tokens": 6_000, "cache_write_tokens": 2_500},
            "completion_tokens_details": {"reasoning_tokens": 300},
        }
    )
    assert usage == TokenUsage(
        input_tokens=1_500, cached_input_tokens=6_000, cache_write_tokens=2_500, output_tokens=700
    )
    assert usage.prompt_tokens == 10_000


@pytest.mark.parametrize(
    "details",
    [None, {}, {"cached_tokens": None}, {"cached_tokens": 0, "audio_tokens": 0}],
    ids=["null", "empty", "null-cached", "zero-cached"],
)
def test_openai_chat_without_cache_details_is_all_uncached(details: dict | None) -> None:
    raw = {"prompt_tokens": 2_000, "completion_tokens": 100, "total_tokens": 2_100}
    if details is not None:
        raw["prompt_tokens_details"] = details
    assert parse_chat_usage(raw) == TokenUsage(input_tokens=2_000, output_tokens=100)


def test_openai_chat_rejects_cached_tokens_exceeding_the_prompt_they_belong_to() -> None:
    with pytest.raises(ValueError, match="exceed the prompt"):
        parse_chat_usage(
            {
                "prompt_tokens": 100,
                "completion_tokens": 1,
                "prompt_tokens_details": {"cached_tokens": 80, "cache_write_tokens": 30},
            }
        )


@pytest.mark.parametrize("missing", ["prompt_tokens", "completion_tokens"])
def test_openai_chat_rejects_missing_required_counts(missing: str) -> None:
    raw = {"prompt_tokens": 10, "completion_tokens": 2}
    del raw[missing]
    with pytest.raises(ValueError, match=f"required field '{missing}' is missing"):
        parse_chat_usage(raw)


@given(usage=st.builds(TokenUsage, counts, counts, counts, st.just(0), counts))
def test_openai_chat_normaliser_inverts_the_openai_counting(usage: TokenUsage) -> None:
    raw = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {
            "cached_tokens": usage.cached_input_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
    }
    assert parse_chat_usage(raw) == usage


# ---- OpenAI responses and embeddings ---------------------------------------------------------


def test_openai_responses_splits_cached_tokens_out_of_input_tokens() -> None:
    usage = parse_responses_usage(
        {
            "input_tokens": 3_000,
            "input_tokens_details": {"cached_tokens": 1_024},
            "output_tokens": 250,
            "output_tokens_details": {"reasoning_tokens": 50},
            "total_tokens": 3_250,
        }
    )
    assert usage == TokenUsage(input_tokens=1_976, cached_input_tokens=1_024, output_tokens=250)


def test_openai_embedding_usage_is_input_tokens_only() -> None:
    usage = parse_embedding_usage({"prompt_tokens": 8_191, "total_tokens": 8_191})
    assert usage == TokenUsage(input_tokens=8_191)
    with pytest.raises(ValueError, match="'prompt_tokens' is missing"):
        parse_embedding_usage({"total_tokens": 5})


# ---- Anthropic ---------------------------------------------------------------------------------


def test_anthropic_input_tokens_exclude_cache_classes_and_are_kept_as_is() -> None:
    usage = parse_anthropic_usage(
        {
            "input_tokens": 100,
            "output_tokens": 400,
            "cache_creation_input_tokens": 1_000,
            "cache_read_input_tokens": 5_000,
            "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 1_000},
            "service_tier": "batch",
        }
    )
    assert usage == TokenUsage(
        input_tokens=100,
        cached_input_tokens=5_000,
        cache_write_tokens=1_000,
        cache_write_1h_tokens=1_000,
        output_tokens=400,
    )
    # the whole prompt is input + writes + reads, as genai-prices' extractor computes (6100)
    assert usage.prompt_tokens == 6_100


def test_anthropic_without_cache_fields_has_no_cache_tokens() -> None:
    raw = {"input_tokens": 12, "output_tokens": 34, "cache_creation_input_tokens": None}
    assert parse_anthropic_usage(raw) == TokenUsage(input_tokens=12, output_tokens=34)


def test_anthropic_writes_fall_back_to_the_ttl_breakdown_when_the_total_is_absent() -> None:
    usage = parse_anthropic_usage(
        {
            "input_tokens": 1,
            "output_tokens": 1,
            "cache_creation": {"ephemeral_5m_input_tokens": 30, "ephemeral_1h_input_tokens": 70},
        }
    )
    assert (usage.cache_write_tokens, usage.cache_write_1h_tokens) == (100, 70)
    assert usage.cache_write_5m_tokens == 30


def test_anthropic_rejects_a_ttl_breakdown_larger_than_the_cache_writes() -> None:
    with pytest.raises(ValueError, match="exceeds cache_creation_input_tokens"):
        parse_anthropic_usage(
            {
                "input_tokens": 1,
                "output_tokens": 1,
                "cache_creation_input_tokens": 50,
                "cache_creation": {"ephemeral_1h_input_tokens": 60},
            }
        )


@given(
    usage=st.builds(TokenUsage, counts, counts, counts, st.just(0), counts).flatmap(
        lambda u: st.integers(0, u.cache_write_tokens).map(
            lambda h: TokenUsage(
                u.input_tokens, u.cached_input_tokens, u.cache_write_tokens, h, u.output_tokens
            )
        )
    )
)
def test_anthropic_normaliser_round_trips_every_token_class(usage: TokenUsage) -> None:
    raw = {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_input_tokens": usage.cached_input_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.cache_write_5m_tokens,
            "ephemeral_1h_input_tokens": usage.cache_write_1h_tokens,
        },
    }
    assert parse_anthropic_usage(raw) == usage


# ---- validation shared by every normaliser -----------------------------------------------------

NORMALISERS = {
    "openai_chat": (parse_chat_usage, {"prompt_tokens": 5, "completion_tokens": 5}),
    "openai_embedding": (parse_embedding_usage, {"prompt_tokens": 5}),
    "openai_responses": (parse_responses_usage, {"input_tokens": 5, "output_tokens": 5}),
    "anthropic": (parse_anthropic_usage, {"input_tokens": 5, "output_tokens": 5}),
}


@pytest.mark.parametrize("name", NORMALISERS)
@pytest.mark.parametrize("bad", [-1, 1.0, True, "5"], ids=["negative", "float", "bool", "str"])
def test_normalisers_reject_counts_that_are_not_non_negative_ints(name: str, bad: object) -> None:
    normalise, raw = NORMALISERS[name]
    key = next(iter(raw))
    with pytest.raises(ValueError, match=key):
        normalise({**raw, key: bad})


@pytest.mark.parametrize("name", NORMALISERS)
def test_normalisers_reject_a_usage_that_is_not_a_mapping(name: str) -> None:
    normalise, _ = NORMALISERS[name]
    with pytest.raises(ValueError, match="must be a mapping"):
        normalise([1, 2])  # type: ignore[arg-type]


def test_token_usage_rejects_negative_and_non_int_fields() -> None:
    with pytest.raises(ValueError, match="output_tokens must not be negative"):
        TokenUsage(output_tokens=-1)
    with pytest.raises(ValueError, match="input_tokens must be an int"):
        TokenUsage(input_tokens=1.5)  # type: ignore[arg-type]


def test_token_usage_rejects_more_1h_writes_than_writes() -> None:
    with pytest.raises(ValueError, match="cannot exceed cache_write_tokens"):
        TokenUsage(cache_write_tokens=10, cache_write_1h_tokens=11)


@given(
    a=st.builds(TokenUsage, counts, counts, counts, st.just(0), counts),
    b=st.builds(TokenUsage, counts, counts, counts, st.just(0), counts),
)
def test_adding_usages_adds_every_class_so_batch_totals_can_be_reconciled(
    a: TokenUsage, b: TokenUsage
) -> None:
    total = a + b
    assert total.prompt_tokens == a.prompt_tokens + b.prompt_tokens
    assert total.output_tokens == a.output_tokens + b.output_tokens
    assert total.cached_input_tokens == a.cached_input_tokens + b.cached_input_tokens
