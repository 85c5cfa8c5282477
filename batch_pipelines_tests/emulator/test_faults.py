"""Fault injection flags: deterministic by seed, each with the provider's real failure shape."""

from __future__ import annotations

import anthropic
import openai
import orjson
import pytest
from jsonschema import Draft202012Validator

from batch_pipelines.emulator import EmulatorConfig

from .conftest import SCORE_SCHEMA, chat_lines, message_request, read_lines, shared_http, submit
from .openapi import assert_valid

ANSWER = Draft202012Validator(SCORE_SCHEMA)


def _failing_ids(oai) -> tuple[set[str], list[dict]]:
    batch = oai.batches.retrieve(submit(oai, chat_lines(40)).id)
    errors = read_lines(oai, batch.error_file_id)
    assert batch.request_counts.failed == len(errors)
    assert batch.request_counts.completed == 40 - len(errors)
    return {line["custom_id"] for line in errors}, errors


def test_line_error_rate_puts_500_and_429_lines_in_the_openai_error_file(emulator, oai):
    emulator.set_config(line_error_rate=0.3, seed=1)
    failing, errors = _failing_ids(oai)
    assert 3 <= len(failing) <= 25
    for line in errors:
        assert_valid(line, "BatchRequestOutput")
        assert line["error"] is None and line["response"]["status_code"] in (500, 429)
        error = line["response"]["body"]["error"]
        assert set(error) == {"message", "type", "param", "code"}
    assert {line["response"]["status_code"] for line in errors} == {500, 429}


def test_faults_are_deterministic_for_a_seed_and_change_with_it(emulator, oai):
    emulator.set_config(line_error_rate=0.3, seed=1)
    first, _ = _failing_ids(oai)
    emulator.state.reset()
    emulator.set_config(line_error_rate=0.3, seed=1)
    again, _ = _failing_ids(oai)
    emulator.state.reset()
    emulator.set_config(line_error_rate=0.3, seed=2)
    other, _ = _failing_ids(oai)
    assert first == again and first != other


def test_line_error_rate_gives_doubly_nested_errored_anthropic_results(emulator, claude):
    emulator.set_config(line_error_rate=0.5, seed=3)
    batch = claude.messages.batches.create(requests=[message_request(f"r{i}") for i in range(20)])
    ended = claude.messages.batches.retrieve(batch.id)
    errored = [r for r in claude.messages.batches.results(batch.id) if r.result.type == "errored"]
    assert ended.request_counts.errored == len(errored) > 0
    assert ended.request_counts.succeeded == 20 - len(errored)
    for result in errored:
        assert result.result.error.type == "error"
        assert result.result.error.error.type in ("api_error", "overloaded_error")
        assert result.result.error.request_id


def test_malformed_rate_returns_200_lines_whose_content_breaks_the_schema(emulator, oai):
    emulator.set_config(malformed_rate=0.5, seed=4)
    batch = oai.batches.retrieve(submit(oai, chat_lines(30)).id)
    assert batch.request_counts.completed == 30
    bad = 0
    kinds = set()
    for line in read_lines(oai, batch.output_file_id):
        assert line["response"]["status_code"] == 200
        content = line["response"]["body"]["choices"][0]["message"]["content"]
        try:
            answer = orjson.loads(content)
        except orjson.JSONDecodeError:
            bad += 1
            kinds.add("broken_json")
            continue
        if list(ANSWER.iter_errors(answer)):
            bad += 1
            kinds.add("schema_violation")
    assert 5 <= bad <= 25 and kinds == {"broken_json", "schema_violation"}


def test_malformed_rate_breaks_anthropic_tool_inputs(emulator, claude):
    emulator.set_config(malformed_rate=1.0)
    request = message_request(
        "t1",
        tools=[{"name": "score", "input_schema": SCORE_SCHEMA}],
        tool_choice={"type": "tool", "name": "score"},
    )
    batch = claude.messages.batches.create(requests=[request])
    claude.messages.batches.retrieve(batch.id)
    (result,) = list(claude.messages.batches.results(batch.id))
    assert list(ANSWER.iter_errors(result.result.message.content[0].input))


def test_expire_rate_expires_openai_batches_with_partial_results(emulator, oai):
    emulator.set_config(expire_rate=1.0, complete_after=10)
    batch = submit(oai, chat_lines(20))
    emulator.advance(5)
    assert oai.batches.retrieve(batch.id).status == "in_progress"
    emulator.advance(6)
    expired = oai.batches.retrieve(batch.id)
    assert expired.status == "expired" and expired.expired_at is not None
    done = expired.request_counts.completed
    assert 0 < done < 20 and expired.request_counts.failed == 0
    assert len(read_lines(oai, expired.output_file_id)) == done
    leftovers = read_lines(oai, expired.error_file_id)
    assert len(leftovers) == 20 - done
    assert {(line["error"]["code"], line["response"]) for line in leftovers} == {
        ("batch_expired", None)
    }


def test_expire_rate_gives_expired_anthropic_results(emulator, claude):
    emulator.set_config(expire_rate=1.0)
    batch = claude.messages.batches.create(requests=[message_request(f"r{i}") for i in range(20)])
    ended = claude.messages.batches.retrieve(batch.id)
    counts = ended.request_counts
    assert counts.expired > 0 and counts.succeeded > 0 and counts.succeeded + counts.expired == 20
    kinds = [r.result.type for r in claude.messages.batches.results(batch.id)]
    assert kinds.count("expired") == counts.expired


def test_fail_validation_rate_fails_openai_batches_with_errors(emulator, oai):
    emulator.set_config(fail_validation_rate=1.0)
    created = submit(oai, chat_lines(2))
    raw = oai.batches.with_raw_response.retrieve(created.id).http_response.json()
    assert_valid(raw, "Batch")
    assert raw["status"] == "failed"
    assert raw["errors"]["data"][0]["code"] == "token_limit_exceeded"


def test_fail_validation_rate_never_fails_an_anthropic_create(emulator, claude):
    # Anthropic has no failed batch state and answers no 400 for a well-formed envelope.
    emulator.set_config(fail_validation_rate=1.0)
    batch = claude.messages.batches.create(requests=[message_request("r")])
    assert batch.processing_status == "in_progress"
    assert claude.messages.batches.retrieve(batch.id).request_counts.succeeded == 1


def test_rate_limit_create_answers_429_with_retry_after_to_the_first_n_creates(
    emulator, oai, claude
):
    emulator.set_config(rate_limit_create=2)
    file = oai.files.create(
        file=("in.jsonl", b"".join(orjson.dumps(x) + b"\n" for x in chat_lines(1))), purpose="batch"
    )
    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as info:
            oai.batches.create(
                input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h"
            )
        assert info.value.response.headers["retry-after"] == "1"
        assert info.value.body["code"] == "rate_limit_exceeded"
    assert oai.batches.create(
        input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    for _ in range(2):
        with pytest.raises(anthropic.RateLimitError) as info:
            claude.messages.batches.create(requests=[message_request("r")])
        assert info.value.response.headers["retry-after"] == "1"
        assert info.value.body["error"]["type"] == "rate_limit_error"
    assert claude.messages.batches.create(requests=[message_request("r")])


def test_server_errors_rate_answers_500_on_some_retrieves_and_retries_get_through(
    emulator, oai, claude
):
    emulator.set_config(server_errors_rate=0.5, seed=5)
    batch = submit(oai, chat_lines(1))
    message_batch = claude.messages.batches.create(requests=[message_request("r")])
    outcomes = {"openai": [], "anthropic": []}
    for _ in range(12):
        try:
            oai.batches.retrieve(batch.id)
            outcomes["openai"].append("ok")
        except openai.InternalServerError as exc:
            assert exc.body["type"] == "server_error" and exc.request_id
            outcomes["openai"].append("500")
        try:
            claude.messages.batches.retrieve(message_batch.id)
            outcomes["anthropic"].append("ok")
        except anthropic.InternalServerError as exc:
            assert exc.body["error"]["type"] == "api_error" and exc.request_id
            outcomes["anthropic"].append("500")
    for seen in outcomes.values():
        assert {"ok", "500"} == set(seen)


def test_admin_endpoint_reads_and_changes_flags_at_run_time(emulator):
    base = emulator.url + "/_emulator"
    assert shared_http().get(base + "/config").json() == EmulatorConfig().to_dict()
    changed = shared_http().post(base + "/config", json={"line_error_rate": 0.25, "seed": 9})
    assert changed.status_code == 200 and changed.json()["line_error_rate"] == 0.25
    assert emulator.config.seed == 9
    limits = shared_http().post(
        base + "/config",
        json={"enqueued_token_limit": {"gpt-4o-mini": 2_000_000}, "anthropic_queue_limit": 7},
    )
    assert limits.json()["enqueued_token_limit"] == {"gpt-4o-mini": 2_000_000}
    assert emulator.config.anthropic_queue_limit == 7
    assert shared_http().post(base + "/config", json={"nope": 1}).status_code == 400
    assert shared_http().post(base + "/config", json={"expire_rate": 2}).status_code == 400
    assert shared_http().post(base + "/advance", json={"seconds": 10}).json()["clock_offset"] == 10
    assert shared_http().post(base + "/reset").json() == {"reset": True}
    assert shared_http().get(base + "/health").json()["ok"] is True
