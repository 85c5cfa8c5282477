"""Faults of a batch create: answers lost after the batch was created (creates are not
idempotent), 429 with a configurable Retry-After, and Anthropic's 529 overloaded_error."""

from __future__ import annotations

import anthropic
import openai
import pytest

from .conftest import anthropic_client, chat_lines, message_request, openai_client, upload


def _create(client: openai.OpenAI, file_id: str):
    return client.batches.create(
        input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
    )


def test_a_lost_openai_create_answer_leaves_a_batch_that_runs_and_is_billed(emulator, oai):
    file = upload(oai, chat_lines(2))
    emulator.set_config(lose_create_response_rate=1.0)
    with pytest.raises(openai.InternalServerError) as info:
        _create(oai, file.id)
    assert info.value.status_code == 502
    (batch,) = oai.batches.list().data
    done = oai.batches.retrieve(batch.id)
    assert done.status == "completed" and done.usage.input_tokens > 0


def test_an_sdk_retry_of_a_lost_create_creates_the_batch_twice(emulator):
    emulator.set_config(lose_create_response_rate=1.0)
    retrying = openai_client(emulator, max_retries=1)
    file = upload(retrying, chat_lines(1))
    with pytest.raises(openai.InternalServerError):
        _create(retrying, file.id)
    assert len(retrying.batches.list().data) == 2


def test_a_lost_anthropic_create_answer_leaves_a_batch_that_runs(emulator, claude):
    emulator.set_config(lose_create_response_rate=1.0)
    with pytest.raises(anthropic.InternalServerError) as info:
        claude.messages.batches.create(requests=[message_request("r")])
    assert info.value.status_code == 502
    (batch,) = claude.messages.batches.list().data
    assert claude.messages.batches.retrieve(batch.id).request_counts.succeeded == 1


def test_rate_limited_creates_carry_the_configured_retry_after(emulator, oai, claude):
    emulator.set_config(rate_limit_create=1, retry_after=90)
    file = upload(oai, chat_lines(1))
    with pytest.raises(openai.RateLimitError) as info:
        _create(oai, file.id)
    assert info.value.response.headers["retry-after"] == "90"
    with pytest.raises(anthropic.RateLimitError) as info:
        claude.messages.batches.create(requests=[message_request("r")])
    assert info.value.response.headers["retry-after"] == "90"
    assert info.value.body["error"]["type"] == "rate_limit_error"


def test_overloaded_rate_answers_anthropic_creates_529_and_creates_nothing(emulator, oai):
    emulator.set_config(overloaded_rate=1.0)
    claude = anthropic_client(emulator)
    with pytest.raises(anthropic.OverloadedError) as info:
        claude.messages.batches.create(requests=[message_request("r")])
    assert info.value.status_code == 529
    assert info.value.body["error"]["type"] == "overloaded_error"
    assert info.value.request_id
    assert claude.messages.batches.list().data == []
    assert _create(oai, upload(oai, chat_lines(1)).id).status == "validating"  # OpenAI: no 529
