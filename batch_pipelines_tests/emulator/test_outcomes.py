"""Per-line outcomes as the services name them, and validation when the batch runs (Anthropic
params are checked asynchronously; OpenAI invalid lines are 400 error-file lines); results are
not in input order."""

from __future__ import annotations

import anthropic
import pytest
from anthropic.types.messages import MessageBatchIndividualResponse

from .conftest import chat_lines, message_request, read_lines, submit
from .openapi import assert_valid


def _results(claude: anthropic.Anthropic, batch_id: str) -> dict[str, dict]:
    """Results by custom_id, each checked strictly against the SDK's result type (the SDK
    itself never validates JSONL results)."""
    claude.messages.batches.retrieve(batch_id)
    raw = claude.messages.batches.with_raw_response.results(batch_id).http_response.read()
    results = {}
    for line in raw.decode().splitlines():
        MessageBatchIndividualResponse.model_validate_json(line, strict=True)
        parsed = MessageBatchIndividualResponse.model_validate_json(line).model_dump()
        results[parsed["custom_id"]] = parsed["result"]
    return results


def test_anthropic_params_are_validated_when_the_batch_runs_not_at_create(emulator, claude):
    requests = [
        message_request("ok"),
        message_request("no-messages"),
        message_request("zero-max-tokens", max_tokens=0),
        message_request("unknown-model", model="claude-nonexistent-9"),
        message_request("sampling", temperature=0.2),  # removed in anthropic-version 2026-10-21
    ]
    requests[1]["params"]["messages"] = []
    batch = claude.messages.batches.create(requests=requests)
    assert batch.processing_status == "in_progress"  # create accepts every well-formed envelope
    ended = claude.messages.batches.retrieve(batch.id)
    assert (ended.request_counts.succeeded, ended.request_counts.errored) == (1, 4)
    results = _results(claude, batch.id)
    assert results["ok"]["type"] == "succeeded"
    kinds = {cid: r["error"]["error"]["type"] for cid, r in results.items() if cid != "ok"}
    assert kinds == {
        "no-messages": "invalid_request_error",
        "zero-max-tokens": "invalid_request_error",
        "unknown-model": "not_found_error",  # the Messages API answers an unknown model 404
        "sampling": "invalid_request_error",
    }
    assert "messages" in results["no-messages"]["error"]["error"]["message"]
    assert results["unknown-model"]["error"]["error"]["message"] == "model: claude-nonexistent-9"


def test_an_invalid_openai_line_is_a_400_error_file_line_while_the_others_run(oai):
    lines = chat_lines(3)
    lines[0]["body"]["max_tokens"] = 0
    batch = oai.batches.retrieve(submit(oai, lines).id)
    assert batch.status == "completed"
    assert (batch.request_counts.completed, batch.request_counts.failed) == (2, 1)
    (error,) = read_lines(oai, batch.error_file_id)
    assert_valid(error, "BatchRequestOutput")
    assert error["custom_id"] == "req-0" and error["error"] is None
    assert error["response"]["status_code"] == 400
    assert error["response"]["body"]["error"]["type"] == "invalid_request_error"


def test_invalid_request_rate_rejects_lines_of_both_providers_when_the_batch_runs(
    emulator, oai, claude
):
    emulator.set_config(invalid_request_rate=1.0)
    batch = oai.batches.retrieve(submit(oai, chat_lines(2)).id)
    assert batch.status == "completed" and batch.request_counts.failed == 2
    for line in read_lines(oai, batch.error_file_id):
        assert_valid(line, "BatchRequestOutput")
        assert line["response"]["status_code"] == 400
        assert line["response"]["body"]["error"]["type"] == "invalid_request_error"
    created = claude.messages.batches.create(requests=[message_request("a")])
    result = _results(claude, created.id)["a"]
    assert result["type"] == "errored"
    assert result["error"]["error"]["type"] == "invalid_request_error"


def test_timeout_rate_gives_openai_request_timeout_lines_without_a_response(emulator, oai):
    emulator.set_config(timeout_rate=1.0)
    batch = oai.batches.retrieve(submit(oai, chat_lines(2)).id)
    assert batch.request_counts.model_dump() == {"total": 2, "completed": 0, "failed": 2}
    assert batch.output_file_id is None
    for line in read_lines(oai, batch.error_file_id):
        assert_valid(line, "BatchRequestOutput")
        assert line["response"] is None and line["error"]["code"] == "request_timeout"


def _openai_order(oai) -> list[str]:
    batch = oai.batches.retrieve(submit(oai, chat_lines(30)).id)
    return [line["custom_id"] for line in read_lines(oai, batch.output_file_id)]


def _anthropic_order(claude) -> list[str]:
    batch = claude.messages.batches.create(requests=[message_request(f"r{i}") for i in range(30)])
    return list(_results(claude, batch.id))


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_results_are_shuffled_by_the_seed_and_ordered_results_keeps_input_order(
    emulator, oai, claude, provider
):
    order = (
        (lambda: _openai_order(oai)) if provider == "openai" else lambda: _anthropic_order(claude)
    )
    input_order = [f"req-{i}" if provider == "openai" else f"r{i}" for i in range(30)]
    emulator.set_config(seed=11)
    shuffled = order()
    assert sorted(shuffled) == sorted(input_order) and shuffled != input_order
    emulator.state.reset()
    emulator.set_config(seed=11)
    assert order() == shuffled  # deterministic for a seed
    emulator.set_config(ordered_results=True)
    assert order() == input_order
