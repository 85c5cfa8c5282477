"""Responses name the dated snapshot of the alias a request gave (`core.models.snapshot_of`)."""

from __future__ import annotations

import pytest

from .conftest import message_request


@pytest.mark.parametrize(
    ("requested", "answered"),
    [
        ("gpt-4o-mini", "gpt-4o-mini-2024-07-18"),
        ("gpt-4.1-mini", "gpt-4.1-mini-2025-04-14"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini-2024-07-18"),
        ("gpt-5.6-luna", "gpt-5.6-luna"),  # an alias the table does not know: as given
    ],
)
def test_openai_answers_name_the_dated_snapshot(oai, requested, answered):
    response = oai.chat.completions.create(
        model=requested, messages=[{"role": "user", "content": "hi"}]
    )
    assert response.model == answered


@pytest.mark.parametrize(
    ("requested", "answered"),
    [
        ("claude-haiku-4-5", "claude-haiku-4-5-20251001"),
        ("claude-sonnet-4-5", "claude-sonnet-4-5-20250929"),
        ("claude-sonnet-4-6", "claude-sonnet-4-6"),  # undated API id: as given
    ],
)
def test_anthropic_answers_name_the_dated_snapshot_in_sync_and_batch_results(
    claude, requested, answered
):
    sync = claude.messages.create(
        model=requested, max_tokens=20, messages=[{"role": "user", "content": "hi"}]
    )
    assert sync.model == answered
    batch = claude.messages.batches.create(requests=[message_request("r", model=requested)])
    claude.messages.batches.retrieve(batch.id)
    (result,) = list(claude.messages.batches.results(batch.id))
    assert result.result.message.model == answered
