"""Anthropic Message Batches and Messages: lifecycle, results, list, cancel, delete, validation."""

from __future__ import annotations

import datetime as dt

import anthropic
import orjson
import pytest
from jsonschema import Draft202012Validator

from .conftest import SCORE_SCHEMA, anthropic_client, message_request, shared_http

COUNT_KEYS = {"processing", "succeeded", "errored", "canceled", "expired"}


def _raw_batch(client: anthropic.Anthropic, batch_id: str) -> dict:
    return client.messages.batches.with_raw_response.retrieve(batch_id).http_response.json()


def test_batch_is_in_progress_with_zero_outcomes_until_it_ends(emulator, claude):
    emulator.set_config(complete_after=60)
    batch = claude.messages.batches.create(requests=[message_request(f"r{i}") for i in range(4)])
    assert batch.processing_status == "in_progress" and batch.results_url is None
    emulator.advance(30)
    raw = _raw_batch(claude, batch.id)
    assert raw["processing_status"] == "in_progress"
    assert raw["request_counts"] == {
        "processing": 4,
        "succeeded": 0,
        "errored": 0,
        "canceled": 0,
        "expired": 0,
    }
    assert raw["ended_at"] is None and raw["results_url"] is None
    with pytest.raises(anthropic.AnthropicError):
        list(claude.messages.batches.results(batch.id))
    emulator.advance(31)
    raw = _raw_batch(claude, batch.id)
    assert raw["processing_status"] == "ended"
    assert raw["request_counts"] == {
        "processing": 0,
        "succeeded": 4,
        "errored": 0,
        "canceled": 0,
        "expired": 0,
    }


def test_timestamps_are_rfc3339_strings_and_expiry_is_24h_after_creation(claude):
    batch = claude.messages.batches.create(requests=[message_request("r1")])
    raw = _raw_batch(claude, batch.id)
    assert set(raw) >= {
        "id",
        "type",
        "processing_status",
        "request_counts",
        "created_at",
        "expires_at",
        "ended_at",
        "archived_at",
        "cancel_initiated_at",
        "results_url",
    }
    assert raw["type"] == "message_batch" and raw["id"].startswith("msgbatch_")
    created = dt.datetime.fromisoformat(raw["created_at"].replace("Z", "+00:00"))
    expires = dt.datetime.fromisoformat(raw["expires_at"].replace("Z", "+00:00"))
    assert raw["created_at"].endswith("Z") and expires - created == dt.timedelta(hours=24)


def test_results_url_is_absolute_to_the_emulator_and_results_stream_as_jsonl(emulator, claude):
    batch = claude.messages.batches.create(
        requests=[message_request(f"r{i}", f"hi {i}") for i in range(3)]
    )
    ended = claude.messages.batches.retrieve(batch.id)
    assert ended.results_url == f"{emulator.url}/v1/messages/batches/{batch.id}/results"
    raw = shared_http().get(
        ended.results_url, headers={"x-api-key": "k", "anthropic-version": "2023-06-01"}
    )
    assert raw.status_code == 200 and raw.headers["request-id"]
    assert "\n\n" not in raw.text and raw.text.endswith("\n")
    results = list(claude.messages.batches.results(batch.id))
    assert sorted(r.custom_id for r in results) == ["r0", "r1", "r2"]
    for result in results:
        assert result.result.type == "succeeded"
        message = result.result.message
        assert message.type == "message" and message.role == "assistant"
        assert message.content[0].type == "text" and message.stop_reason == "end_turn"
        assert message.usage.service_tier == "batch" and message.usage.input_tokens > 0


def test_tool_choice_gives_a_tool_use_block_valid_against_the_input_schema(claude):
    request = message_request(
        "tool-1",
        tools=[{"name": "score_call", "description": "Score a call", "input_schema": SCORE_SCHEMA}],
        tool_choice={"type": "tool", "name": "score_call"},
    )
    batch = claude.messages.batches.create(requests=[request])
    claude.messages.batches.retrieve(batch.id)
    (result,) = list(claude.messages.batches.results(batch.id))
    block = result.result.message.content[0]
    assert block.type == "tool_use" and block.name == "score_call" and block.id.startswith("toolu_")
    assert not list(Draft202012Validator(SCORE_SCHEMA).iter_errors(block.input))
    assert result.result.message.stop_reason == "tool_use"
    sync = claude.messages.create(**request["params"])
    assert sync.content[0].input == block.input  # same request, same answer
    assert sync.usage.service_tier == "standard"


def test_output_config_json_schema_gives_json_text_valid_against_the_schema(claude):
    message = claude.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=500,
        messages=[{"role": "user", "content": "score"}],
        output_config={"format": {"type": "json_schema", "schema": SCORE_SCHEMA}},
    )
    answer = orjson.loads(message.content[0].text)
    assert not list(Draft202012Validator(SCORE_SCHEMA).iter_errors(answer))


def test_list_is_newest_first_and_pages_with_after_id_and_before_id(claude):
    ids = [claude.messages.batches.create(requests=[message_request("r")]).id for _ in range(5)]
    page = claude.messages.batches.list(limit=2)
    assert [b.id for b in page.data] == [ids[4], ids[3]]
    assert page.has_more is True and page.first_id == ids[4] and page.last_id == ids[3]
    assert [b.id for b in claude.messages.batches.list(limit=2)] == ids[::-1]  # auto-paging
    older = claude.messages.batches.list(after_id=ids[3], limit=2)
    assert [b.id for b in older.data] == [ids[2], ids[1]] and older.has_more is True
    newer = claude.messages.batches.list(before_id=ids[1], limit=2)
    assert [b.id for b in newer.data] == [ids[3], ids[2]] and newer.has_more is True
    empty = claude.messages.batches.list(after_id=ids[0])
    assert empty.data == [] and empty.has_more is False and empty.first_id is None


def test_cancel_goes_canceling_then_ended_keeping_finished_requests(emulator, claude):
    emulator.set_config(complete_after=100)
    batch = claude.messages.batches.create(requests=[message_request(f"r{i}") for i in range(10)])
    emulator.advance(40)  # 4 of 10 requests finished
    canceling = claude.messages.batches.cancel(batch.id)
    assert canceling.processing_status == "canceling" and canceling.cancel_initiated_at is not None
    assert canceling.request_counts.processing == 10
    emulator.advance(11)
    ended = claude.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended"
    assert ended.request_counts.model_dump() == {
        "processing": 0,
        "succeeded": 4,
        "errored": 0,
        "canceled": 6,
        "expired": 0,
    }
    kinds = [r.result.type for r in claude.messages.batches.results(batch.id)]
    assert kinds.count("canceled") == 6 and kinds.count("succeeded") == 4


def test_delete_needs_an_ended_batch_and_then_it_is_gone(emulator, claude):
    emulator.set_config(complete_after=100)
    batch = claude.messages.batches.create(requests=[message_request("r")])
    with pytest.raises(anthropic.BadRequestError):
        claude.messages.batches.delete(batch.id)
    emulator.advance(101)
    deleted = claude.messages.batches.delete(batch.id)
    assert deleted.type == "message_batch_deleted" and deleted.id == batch.id
    with pytest.raises(anthropic.NotFoundError) as info:
        claude.messages.batches.retrieve(batch.id)
    assert info.value.body["error"]["type"] == "not_found_error"
    assert info.value.request_id


@pytest.mark.parametrize(
    ("custom_id", "fragment"),
    [
        ("x" * 65, "at most 64 characters"),
        ("tenant:acme", "should match pattern"),
        ("has.dot", "should match pattern"),
        ("", "should match pattern"),
    ],
)
def test_custom_ids_outside_the_pattern_are_rejected_with_400(claude, custom_id, fragment):
    with pytest.raises(anthropic.BadRequestError) as info:
        claude.messages.batches.create(requests=[message_request(custom_id)])
    body = info.value.body
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert (
        body["error"]["message"].startswith("requests.0.custom_id")
        and fragment in body["error"]["message"]
    )
    assert body["request_id"] == info.value.request_id


def test_duplicate_custom_ids_a_missing_params_object_and_no_requests_are_rejected_with_400(
    claude,
):
    with pytest.raises(anthropic.BadRequestError):
        claude.messages.batches.create(requests=[message_request("a"), message_request("a")])
    with pytest.raises(anthropic.BadRequestError) as info:
        claude.messages.batches.create(requests=[{"custom_id": "a"}])
    assert info.value.body["error"]["message"] == "requests.0.params: Field required"
    with pytest.raises(anthropic.BadRequestError):
        claude.messages.batches.create(requests=[])


def test_sampling_params_are_rejected_on_2026_10_21_but_accepted_on_2023_06_01(emulator):
    url = f"{emulator.anthropic_base_url}/v1/messages"
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 10,
        "temperature": 0.2,
        "messages": [{"role": "user", "content": "hi"}],
    }
    new = shared_http().post(
        url, json=body, headers={"x-api-key": "k", "anthropic-version": "2026-10-21"}
    )
    old = shared_http().post(
        url, json=body, headers={"x-api-key": "k", "anthropic-version": "2023-06-01"}
    )
    assert new.status_code == 400 and old.status_code == 200


def test_both_auth_styles_work_and_no_key_is_a_401(emulator):
    url = f"{emulator.anthropic_base_url}/v1/messages/batches"
    for headers in ({"x-api-key": "k"}, {"Authorization": "Bearer k"}):
        ok = shared_http().get(url, headers={**headers, "anthropic-version": "2023-06-01"})
        assert ok.status_code == 200 and ok.headers["request-id"]
    missing = shared_http().get(url, headers={"anthropic-version": "2026-10-21"})
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "authentication_error"
    assert missing.json()["request_id"] == missing.headers["request-id"]
    no_version = shared_http().get(url, headers={"x-api-key": "k"})
    assert no_version.status_code == 400
    bad_version = shared_http().get(
        url, headers={"x-api-key": "k", "anthropic-version": "2020-01-01"}
    )
    assert bad_version.status_code == 400
    client = anthropic_client(emulator, default_headers={"Authorization": "Basic x"})
    with pytest.raises(anthropic.AuthenticationError):
        client.messages.batches.list()


def test_requests_of_every_create_are_kept_for_inspection(emulator, claude):
    batch = claude.messages.batches.create(requests=[message_request("keep-1", "secret text")])
    with pytest.raises(anthropic.BadRequestError):
        claude.messages.batches.create(requests=[message_request("bad:id", "rejected text")])
    received = [r for r in emulator.received_requests("anthropic") if r.source == "anthropic_batch"]
    assert [(r.custom_id, r.batch_id) for r in received] == [("keep-1", batch.id), ("bad:id", None)]
    assert received[0].body["messages"][0]["content"] == "secret text"


def test_results_are_archived_after_29_days(emulator, claude):
    batch = claude.messages.batches.create(requests=[message_request("r")])
    claude.messages.batches.retrieve(batch.id)
    emulator.advance(29 * 86400 + 1)
    archived = claude.messages.batches.retrieve(batch.id)
    assert archived.archived_at is not None and archived.results_url is None
