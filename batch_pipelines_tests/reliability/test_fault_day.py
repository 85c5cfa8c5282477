"""The day of issue 16's "Done when": every new fault of the emulator on at once, on each provider
(invalid requests, timeouts, expiries, create answers lost, line errors, and a queue limit small
enough that the day needs several waves). It must end with every item succeeded or dead-lettered
with a reason; every batch the emulator created recorded in `batch_jobs`; the tokens the
emulator billed equal to the tokens in `llm_usage`, to the token; no permanent error retried; no
item dead-lettered for expiring fewer than 5 times; at most two batches failed on the token
limit.

The tenants share the engine's key: the emulator counts one organisation's queue whatever the key,
while the engine keeps each key's batches within the limit (an isolated tenant's key may well be
an organisation of its own)."""

from __future__ import annotations

import anthropic
import openai
import orjson
import pytest
from sqlalchemy import text

from batch_pipelines.batching.lifecycle import run_to_completion
from batch_pipelines.providers.registry import ProviderRegistry
from batch_pipelines.providers.settings import ANTHROPIC_QUEUE_LIMIT_ENV, ENQUEUED_TOKEN_LIMITS_ENV

from .conftest import DAY, PROVIDERS, add_calls, add_tenant, post_call

pytestmark = pytest.mark.reliability

# About three post-call lines (~1,700 tokens each): the day's 18 lines go in several waves.
TOKEN_LIMIT = 5_500
QUEUE_LIMIT = 3
CALLS_PER_TENANT = 6
FAULTS = {
    # High enough that some line is invalid in practically every run (0.7^18 ≈ 0.2% of none).
    "invalid_request_rate": 0.3,
    "timeout_rate": 0.15,
    "expire_rate": 0.5,
    "lose_create_response_rate": 0.5,
    "line_error_rate": 0.1,
}


def _billed_by_the_emulator(emulator, provider: str) -> tuple[dict[str, tuple[int, int]], set[str]]:
    """What the emulator billed, read back through the SDK from every batch it holds: per batch,
    (prompt tokens, output tokens) of its succeeded lines; and the ids of all its batches."""
    billed: dict[str, tuple[int, int]] = {}
    if provider == "openai":
        client = openai.OpenAI(base_url=emulator.openai_base_url, api_key="x", max_retries=0)
        batches = list(client.batches.list(limit=100))
        for batch in batches:
            prompt = output = 0
            if batch.output_file_id:
                for raw in client.files.content(batch.output_file_id).read().splitlines():
                    usage = orjson.loads(raw)["response"]["body"]["usage"]
                    prompt += usage["prompt_tokens"]
                    output += usage.get("completion_tokens", 0)
            billed[batch.id] = (prompt, output)
        return billed, {b.id for b in batches}
    client = anthropic.Anthropic(base_url=emulator.anthropic_base_url, api_key="x", max_retries=0)
    batches = list(client.messages.batches.list(limit=100))
    for batch in batches:
        prompt = output = 0
        if batch.processing_status == "ended":
            for line in client.messages.batches.results(batch.id):
                if line.result.type == "succeeded":
                    usage = line.result.message.usage
                    prompt += (
                        usage.input_tokens
                        + (usage.cache_creation_input_tokens or 0)
                        + (usage.cache_read_input_tokens or 0)
                    )
                    output += usage.output_tokens
        billed[batch.id] = (prompt, output)
    return billed, {b.id for b in batches}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_day_with_every_new_fault_on_ends_accounted_for_to_the_token(
    engine, emulator, providers, provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    for tenant in ("acme", "zeta", "brightsmile"):
        add_tenant(engine, tenant)
        add_calls(engine, tenant, CALLS_PER_TENANT)
    if provider == "openai":
        monkeypatch.setenv(ENQUEUED_TOKEN_LIMITS_ENV, f"gpt-4o-mini={TOKEN_LIMIT}")
        emulator.set_config(enqueued_token_limit={"gpt-4o-mini": TOKEN_LIMIT}, **FAULTS)
    else:
        monkeypatch.setenv(ANTHROPIC_QUEUE_LIMIT_ENV, str(QUEUE_LIMIT))
        emulator.set_config(anthropic_queue_limit=QUEUE_LIMIT, **FAULTS)
    outcome = run_to_completion(
        engine, post_call(provider), ProviderRegistry(max_retries=2), [DAY], max_rounds=300
    )
    assert outcome.open_requests == 0 and outcome.blocked == []

    with engine.connect() as conn:
        latest = conn.execute(
            text(
                "SELECT DISTINCT ON (item_id) item_id, status, error, requeues FROM batch_requests"
                " ORDER BY item_id, created_at DESC"
            )
        ).all()
        jobs = conn.execute(
            text(
                "SELECT provider_batch_id, status, error, request_count FROM batch_jobs"
                " WHERE mode = 'batch' AND provider_batch_id IS NOT NULL"
            )
        ).all()
        usage = {
            batch: (int(prompt), int(output))
            for batch, prompt, output in conn.execute(
                text(
                    "SELECT provider_batch_id, sum(input_tokens + cached_input_tokens"
                    " + cache_write_tokens), sum(output_tokens) FROM llm_usage"
                    " GROUP BY provider_batch_id"
                )
            )
        }
        expired_lines = conn.execute(
            text("SELECT count(*) FROM batch_requests WHERE requeues > 0")
        ).scalar_one()
        retried_permanent = conn.execute(
            text(
                "SELECT count(*) FROM batch_requests WHERE status = 'failed'"
                " AND error ~ '(invalid_request_error|not_found_error|HTTP 4(0[0-7]|1[0-9]))'"
            )
        ).scalar_one()
    # Every item succeeded or was dead-lettered with a reason, and the faults did happen.
    assert len(latest) == 3 * CALLS_PER_TENANT
    assert {r.status for r in latest} <= {"succeeded", "dead_letter"}
    assert all(r.error for r in latest if r.status == "dead_letter")
    assert any(r.status == "succeeded" for r in latest)
    assert outcome.adopted  # some creates lost their answer, and were reconciled
    assert any(r.error.startswith("permanent error") for r in latest if r.status == "dead_letter")
    assert expired_lines > 0  # some lines never ran, and went again
    # Every batch the emulator created is ours, recorded once.
    billed, created = _billed_by_the_emulator(emulator, provider)
    ours = [j.provider_batch_id for j in jobs]
    assert len(ours) == len(set(ours)) and set(ours) == created
    assert len(created) >= 3  # several waves
    # The tokens it billed, to the token, batch by batch.
    assert usage == {batch: tokens for batch, tokens in billed.items() if tokens != (0, 0)}
    # No permanent error was sent again.
    assert retried_permanent == 0
    # Only lines that never ran 5 times (or 72 h) are dead-lettered for it.
    for row in latest:
        if row.status == "dead_letter" and row.error.startswith("never ran"):
            assert row.requeues >= 5
    # Admission kept (nearly) every batch within the queue.
    token_failures = [j for j in jobs if j.status == "failed" and "token_limit" in (j.error or "")]
    assert len(token_failures) <= 2
