"""Account limits that depend on the tier, off unless configured: OpenAI's enqueued-token limit
per model (accepted, then `failed` with `token_limit_exceeded`) and Anthropic's queue of
unfinished batch requests (429 at create)."""

from __future__ import annotations

import anthropic
import pytest

from batch_pipelines.emulator import EmulatorConfig
from batch_pipelines.emulator.caching import openai_chat_prompt_tokens

from .conftest import chat_lines, message_request, submit
from .openapi import assert_valid


def _tokens(lines: list[dict]) -> int:
    return sum(openai_chat_prompt_tokens(line["body"]) for line in lines)


def _status(oai, batch_id: str) -> dict:
    raw = oai.batches.with_raw_response.retrieve(batch_id).http_response.json()
    assert_valid(raw, "Batch")
    return raw


def test_enqueued_token_limit_fails_a_create_past_the_models_live_tokens(emulator, oai):
    lines = chat_lines(4)
    limit = _tokens(lines) * 3 // 2  # room for one such batch, not two
    emulator.set_config(complete_after=100, enqueued_token_limit={"gpt-4o-mini": limit})
    first = submit(oai, lines)
    second = submit(oai, lines)  # accepted at create, like the real service ...
    assert second.status == "validating"
    other_model = submit(oai, chat_lines(4, model="gpt-4.1-mini"))  # the limit is per model
    emulator.advance(20)
    assert _status(oai, first.id)["status"] == "in_progress"
    failed = _status(oai, second.id)  # ... then failed as a whole
    assert failed["status"] == "failed" and failed["request_counts"]["total"] == 0
    (error,) = failed["errors"]["data"]
    assert error["code"] == "token_limit_exceeded" and error["line"] is None
    assert error["message"].startswith(
        f"Enqueued token limit reached for gpt-4o-mini in organization org-emulator. "
        f"Limit: {limit:,} enqueued tokens. Please try again once some in_progress batches "
        "have been completed."
    )
    assert _status(oai, other_model.id)["status"] == "in_progress"
    third = submit(oai, lines)  # the failed batch holds no tokens, the live one still does
    emulator.advance(81)
    assert _status(oai, first.id)["status"] == "completed"
    assert _status(oai, third.id)["status"] == "failed"
    fourth = submit(oai, lines)  # nothing live any more: admitted
    emulator.advance(101)
    assert _status(oai, fourth.id)["status"] == "completed"


def test_a_single_batch_larger_than_the_limit_fails_and_no_limit_means_none(emulator, oai):
    lines = chat_lines(2)
    emulator.set_config(enqueued_token_limit={"gpt-4o-mini": _tokens(lines) - 1})
    assert _status(oai, submit(oai, lines).id)["status"] == "failed"
    emulator.set_config(enqueued_token_limit={})
    assert _status(oai, submit(oai, lines).id)["status"] == "completed"


def test_enqueued_token_limit_is_read_as_model_equals_tokens():
    config = EmulatorConfig(enqueued_token_limit=["gpt-4o-mini=2,000,000", "gpt-4.1=5000"])
    assert config.enqueued_token_limit == {"gpt-4o-mini": 2_000_000, "gpt-4.1": 5000}
    with pytest.raises(ValueError):
        EmulatorConfig(enqueued_token_limit=["gpt-4o-mini"])


def test_anthropic_queue_limit_answers_429_past_the_unfinished_requests(emulator, claude):
    emulator.set_config(complete_after=100, anthropic_queue_limit=5, retry_after=30)
    claude.messages.batches.create(requests=[message_request(f"a{i}") for i in range(3)])
    with pytest.raises(anthropic.RateLimitError) as info:
        claude.messages.batches.create(requests=[message_request(f"b{i}") for i in range(3)])
    assert info.value.body["error"]["type"] == "rate_limit_error"
    assert info.value.response.headers["retry-after"] == "30"
    assert "limit of 5" in info.value.body["error"]["message"]
    assert len(claude.messages.batches.list().data) == 1  # nothing was created
    claude.messages.batches.create(requests=[message_request(f"c{i}") for i in range(2)])  # 3+2
    emulator.advance(101)  # both batches ended: the queue is empty again
    batch = claude.messages.batches.create(requests=[message_request(f"d{i}") for i in range(5)])
    assert batch.processing_status == "in_progress"
