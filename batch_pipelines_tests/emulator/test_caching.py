"""Prompt caching: OpenAI automatic prefix caching, Anthropic cache_control; batch isolation."""

from __future__ import annotations

import anthropic
import pytest

from batch_pipelines.core.models import min_cacheable_tokens
from batch_pipelines.emulator.answers import tokens

from .conftest import chat_lines, message_request, read_lines, submit

LONG = "Static instructions for every call. " * 139  # 5004 bytes -> 1251 tokens


def _chat(oai, user: str, *, system: str = LONG, model: str = "gpt-4o-mini", **extra):
    return oai.chat.completions.create(
        model=model,
        messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
        **extra,
    )


def test_openai_reports_cached_tokens_for_a_repeated_prefix_of_1024_tokens_in_128_steps(oai):
    first = _chat(oai, "call one")
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    second = _chat(oai, "call two, a different tenant")
    system_tokens = 4 + tokens(LONG)
    assert second.usage.prompt_tokens_details.cached_tokens == system_tokens // 128 * 128 == 1152
    assert (
        second.usage.prompt_tokens == system_tokens + 4 + tokens("call two, a different tenant") + 3
    )
    again = _chat(oai, "call two, a different tenant")
    cached = again.usage.prompt_tokens_details.cached_tokens
    assert cached == (again.usage.prompt_tokens - 3) // 128 * 128 and cached % 128 == 0


def test_openai_short_prefixes_are_never_cached(oai):
    for _ in range(2):
        response = _chat(oai, "hello", system="short system prompt")
        assert response.usage.prompt_tokens_details.cached_tokens == 0


def test_openai_cache_is_keyed_by_model_and_prompt_cache_key(oai):
    _chat(oai, "a", prompt_cache_key="tenant-a")
    assert (
        _chat(oai, "b", prompt_cache_key="tenant-b").usage.prompt_tokens_details.cached_tokens == 0
    )
    assert (
        _chat(
            oai, "b", model="gpt-4.1-mini", prompt_cache_key="tenant-a"
        ).usage.prompt_tokens_details.cached_tokens
        == 0
    )
    assert (
        _chat(oai, "c", prompt_cache_key="tenant-a").usage.prompt_tokens_details.cached_tokens > 0
    )


def test_openai_cache_entries_expire_an_hour_after_last_use(emulator, oai):
    _chat(oai, "a")
    emulator.advance(3000)
    assert _chat(oai, "b").usage.prompt_tokens_details.cached_tokens > 0  # refreshes the entry
    emulator.advance(3000)
    assert _chat(oai, "c").usage.prompt_tokens_details.cached_tokens > 0
    emulator.advance(3601)
    assert _chat(oai, "d").usage.prompt_tokens_details.cached_tokens == 0


def test_openai_models_that_bill_cache_writes_report_cache_write_tokens(oai):
    first = _chat(oai, "a", model="gpt-5.6-luna")
    assert first.usage.prompt_tokens_details.cache_write_tokens >= 1024
    assert _chat(oai, "a", model="gpt-4o-mini").usage.prompt_tokens_details.cache_write_tokens == 0


def test_lines_of_one_openai_batch_do_not_see_each_others_cache_writes_but_the_next_batch_does(oai):
    first = oai.batches.retrieve(submit(oai, chat_lines(3, system=LONG)).id)
    cached = [
        line["response"]["body"]["usage"]["prompt_tokens_details"]["cached_tokens"]
        for line in read_lines(oai, first.output_file_id)
    ]
    assert cached == [0, 0, 0] and first.usage.input_tokens_details.cached_tokens == 0
    second = oai.batches.retrieve(submit(oai, chat_lines(3, system=LONG)).id)
    lines = read_lines(oai, second.output_file_id)
    cached = [
        line["response"]["body"]["usage"]["prompt_tokens_details"]["cached_tokens"]
        for line in lines
    ]
    assert len(set(cached)) == 1 and cached[0] >= 1024 and cached[0] % 128 == 0
    assert second.usage.input_tokens_details.cached_tokens == sum(cached)


def _system(ttl: str | None = "1h") -> list[dict]:
    block: dict = {"type": "text", "text": LONG}
    if ttl:
        block["cache_control"] = {"type": "ephemeral", "ttl": ttl}
    return [block]


def _message(
    claude, text: str, *, model: str = "claude-sonnet-4-5", ttl: str | None = "1h", **extra
):
    return claude.messages.create(
        model=model,
        max_tokens=200,
        system=_system(ttl),
        messages=[{"role": "user", "content": text}],
        **extra,
    )


def test_anthropic_cache_control_writes_first_then_reads_and_input_tokens_exclude_both(claude):
    system_tokens = tokens(LONG)
    first = _message(claude, "first call")
    usage = first.usage
    assert usage.cache_creation_input_tokens == system_tokens and usage.cache_read_input_tokens == 0
    assert usage.cache_creation.ephemeral_1h_input_tokens == system_tokens
    assert usage.cache_creation.ephemeral_5m_input_tokens == 0
    assert usage.input_tokens == tokens("first call") + 3
    second = _message(claude, "second call")
    assert second.usage.cache_read_input_tokens == system_tokens
    assert second.usage.cache_creation_input_tokens == 0
    assert second.usage.input_tokens == tokens("second call") + 3


def test_anthropic_5m_entries_expire_after_five_minutes_but_1h_entries_survive(emulator, claude):
    _message(claude, "a", ttl="5m")
    _message(claude, "a", ttl="1h", model="claude-opus-4-8")
    emulator.advance(301)
    assert _message(claude, "b", ttl="5m").usage.cache_read_input_tokens == 0
    assert (
        _message(claude, "b", ttl="1h", model="claude-opus-4-8").usage.cache_read_input_tokens > 0
    )


def _cache_tokens(claude, model: str, text: str) -> tuple[int, int]:
    usage = claude.messages.create(
        model=model,
        max_tokens=50,
        system=[{"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "x"}],
    ).usage
    return usage.cache_creation_input_tokens, usage.cache_read_input_tokens


@pytest.mark.parametrize(
    ("model", "minimum"),
    [
        ("claude-haiku-4-5", 4096),
        ("claude-haiku-4-5-20251001", 4096),
        ("claude-opus-4-5", 4096),
        ("claude-opus-4-6", 4096),
        ("claude-3-5-haiku-latest", 2048),
        ("claude-sonnet-4-5", 1024),
    ],
)
def test_anthropic_caches_only_prefixes_of_the_models_minimum_from_the_model_table(
    claude, model, minimum
):
    assert min_cacheable_tokens(model) == minimum  # one table, read by the emulator
    short = "Static rules. " * ((minimum - 8) * 4 // 14)  # a few tokens under the minimum
    assert minimum - 16 < tokens(short) < minimum
    for _ in range(2):  # nothing is written, so nothing is read either, and no error is raised
        assert _cache_tokens(claude, model, short) == (0, 0)
    long = short + " More rules." * 8
    assert tokens(long) >= minimum
    assert _cache_tokens(claude, model, long) == (tokens(long), 0)
    assert _cache_tokens(claude, model, long) == (0, tokens(long))


def test_anthropic_without_cache_control_nothing_is_cached(claude):
    for _ in range(2):
        usage = _message(claude, "x", ttl=None).usage
        assert usage.cache_creation_input_tokens == 0 and usage.cache_read_input_tokens == 0


def test_anthropic_top_level_cache_control_marks_the_last_block(claude):
    text = LONG + " and the transcript"
    first = claude.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=50,
        messages=[{"role": "user", "content": text}],
        cache_control={"type": "ephemeral"},
    )
    assert first.usage.cache_creation.ephemeral_5m_input_tokens == tokens(text) + 3
    assert first.usage.input_tokens == 0


def test_anthropic_breakpoints_split_cache_creation_by_ttl(claude):
    tool = {
        "name": "t",
        "input_schema": {"type": "object", "properties": {}},
        "description": LONG,
        "cache_control": {"type": "ephemeral", "ttl": "1h"},
    }
    usage = _message(claude, "x", ttl="5m", tools=[tool]).usage
    assert usage.cache_creation.ephemeral_1h_input_tokens > 1024
    assert usage.cache_creation.ephemeral_5m_input_tokens == tokens(LONG)
    assert usage.cache_creation_input_tokens == (
        usage.cache_creation.ephemeral_1h_input_tokens
        + usage.cache_creation.ephemeral_5m_input_tokens
    )


def test_anthropic_more_than_four_breakpoints_is_a_400(claude):
    blocks = [
        {"type": "text", "text": f"part {i}", "cache_control": {"type": "ephemeral"}}
        for i in range(5)
    ]
    with pytest.raises(anthropic.BadRequestError) as info:
        claude.messages.create(
            model="claude-sonnet-4-5",
            max_tokens=10,
            system=blocks,
            messages=[{"role": "user", "content": "x"}],
        )
    assert "maximum of 4 blocks" in info.value.body["error"]["message"]


def test_requests_of_one_message_batch_do_not_see_each_others_cache_writes_but_later_batches_do(
    claude,
):
    def run() -> list:
        requests = [message_request(f"r{i}", f"call {i}", system=_system("1h")) for i in range(3)]
        batch = claude.messages.batches.create(requests=requests)
        claude.messages.batches.retrieve(batch.id)
        return [r.result.message.usage for r in claude.messages.batches.results(batch.id)]

    first = run()
    assert [u.cache_creation_input_tokens for u in first] == [tokens(LONG)] * 3
    assert [u.cache_read_input_tokens for u in first] == [0, 0, 0]
    second = run()
    assert [u.cache_read_input_tokens for u in second] == [tokens(LONG)] * 3
    assert [u.cache_creation_input_tokens for u in second] == [0, 0, 0]
    assert _message(claude, "sync").usage.cache_read_input_tokens == tokens(LONG)
