"""OpenAI Batches API: lifecycle, request counts, output/error files, list, cancel, validation."""

from __future__ import annotations

import openai
import orjson
import pytest
from jsonschema import Draft202012Validator

from .conftest import SCORE_SCHEMA, chat_lines, jsonl, read_lines, submit, upload
from .openapi import assert_valid


def _batch_json(client: openai.OpenAI, batch_id: str) -> dict:
    body = client.batches.with_raw_response.retrieve(batch_id).http_response.json()
    assert_valid(body, "Batch")
    return body


def test_batch_moves_validating_in_progress_finalizing_completed_with_moving_counts(emulator, oai):
    emulator.set_config(complete_after=100)
    created = submit(oai, chat_lines(40), metadata={"batch_job": "42"})
    assert created.status == "validating"
    assert _batch_json(oai, created.id)["status"] == "validating"
    seen = []
    for step in (20, 30, 30, 16, 5):  # t = 20, 50, 80, 96, 101 seconds
        emulator.advance(step)
        body = _batch_json(oai, created.id)
        seen.append((body["status"], body["request_counts"]["completed"]))
    assert [s for s, _ in seen] == [
        "in_progress",
        "in_progress",
        "in_progress",
        "finalizing",
        "completed",
    ]
    counts = [c for _, c in seen]
    assert counts == [5, 20, 35, 40, 40]  # 40 lines * (t - 10) / 80 while in_progress
    final = _batch_json(oai, created.id)
    assert final["request_counts"] == {"total": 40, "completed": 40, "failed": 0}
    assert (
        final["created_at"]
        <= final["in_progress_at"]
        <= final["finalizing_at"]
        <= final["completed_at"]
    )
    assert final["expires_at"] == final["created_at"] + 86400
    assert final["metadata"] == {"batch_job": "42"}
    assert final["model"] == "gpt-4o-mini-2024-07-18"  # the dated snapshot, as the service says
    assert "error_file_id" not in final and "errors" not in final


def test_complete_after_zero_finishes_by_the_first_retrieve(oai):
    batch = submit(oai, chat_lines(3))
    assert batch.status == "validating"
    assert oai.batches.retrieve(batch.id).status == "completed"


def test_output_lines_are_valid_chat_completions_answering_the_schema(oai):
    batch = oai.batches.retrieve(submit(oai, chat_lines(25)).id)
    lines = read_lines(oai, batch.output_file_id)
    assert sorted(line["custom_id"] for line in lines) == sorted(f"req-{i}" for i in range(25))
    answer_schema = Draft202012Validator(SCORE_SCHEMA)
    totals = {"input": 0, "output": 0}
    for line in lines:
        assert_valid(line, "BatchRequestOutput")
        assert line["error"] is None and line["response"]["status_code"] == 200
        body = line["response"]["body"]
        assert_valid(body, "CreateChatCompletionResponse")
        assert body["service_tier"] == "default" and body["model"] == "gpt-4o-mini-2024-07-18"
        answer = orjson.loads(body["choices"][0]["message"]["content"])
        assert not list(answer_schema.iter_errors(answer))
        usage = body["usage"]
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        totals["input"] += usage["prompt_tokens"]
        totals["output"] += usage["completion_tokens"]
    assert len({line["id"] for line in lines}) == 25
    assert len({line["response"]["body"]["id"] for line in lines}) == 25
    usage = batch.usage
    assert (usage.input_tokens, usage.output_tokens) == (totals["input"], totals["output"])
    assert usage.total_tokens == totals["input"] + totals["output"]
    output_file = oai.files.retrieve(batch.output_file_id)
    assert output_file.purpose == "batch_output"
    assert batch.error_file_id is None


def test_same_requests_give_the_same_answers_in_two_batches(oai):
    first = oai.batches.retrieve(submit(oai, chat_lines(5)).id)
    second = oai.batches.retrieve(submit(oai, chat_lines(5)).id)

    def answers(batch):
        return {
            line["custom_id"]: line["response"]["body"]["choices"][0]["message"]["content"]
            for line in read_lines(oai, batch.output_file_id)
        }

    assert answers(first) == answers(second)
    assert len(set(answers(first).values())) > 1


def test_embedding_batch_lines_are_valid_embedding_responses(oai):
    lines = [
        {
            "custom_id": f"chunk-{i}",
            "method": "POST",
            "url": "/v1/embeddings",
            "body": {
                "model": "text-embedding-3-small",
                "input": [f"text {i}", "more"],
                "dimensions": 64,
            },
        }
        for i in range(4)
    ]
    batch = oai.batches.retrieve(submit(oai, lines, endpoint="/v1/embeddings").id)
    assert batch.status == "completed" and batch.model == "text-embedding-3-small"
    for line in read_lines(oai, batch.output_file_id):
        body = line["response"]["body"]
        assert_valid(body, "CreateEmbeddingResponse")
        assert [len(d["embedding"]) for d in body["data"]] == [64, 64]
    assert batch.usage.output_tokens == 0 and batch.usage.input_tokens > 0


def test_batch_list_is_newest_first_and_pages_with_after(oai):
    ids = [submit(oai, chat_lines(1)).id for _ in range(5)]
    raw = oai.batches.with_raw_response.list(limit=2).http_response.json()
    assert_valid(raw, "ListBatchesResponse")
    assert raw["object"] == "list" and raw["has_more"] is True
    assert [b["id"] for b in raw["data"]] == ids[::-1][:2]
    assert raw["first_id"] == ids[4] and raw["last_id"] == ids[3]
    assert [b.id for b in oai.batches.list(limit=2)] == ids[::-1]
    last = oai.batches.list(after=ids[1], limit=20)
    assert [b.id for b in last.data] == [ids[0]] and last.has_more is False


def test_cancel_keeps_finished_lines_and_reports_the_rest_as_batch_cancelled(emulator, oai):
    emulator.set_config(complete_after=100)
    batch = submit(oai, chat_lines(20))
    emulator.advance(50)  # halfway through in_progress: 20 * (50 - 10) / 80 = 10 lines done
    cancelling = oai.batches.with_raw_response.cancel(batch.id).http_response.json()
    assert_valid(cancelling, "Batch")
    assert cancelling["status"] == "cancelling" and "cancelling_at" in cancelling
    assert oai.batches.retrieve(batch.id).status == "cancelling"
    emulator.advance(11)
    done = _batch_json(oai, batch.id)
    assert done["status"] == "cancelled" and done["cancelled_at"] >= done["cancelling_at"]
    assert done["request_counts"] == {"total": 20, "completed": 10, "failed": 0}
    assert len(read_lines(oai, done["output_file_id"])) == 10
    errors = read_lines(oai, done["error_file_id"])
    assert len(errors) == 10
    for line in errors:
        assert_valid(line, "BatchRequestOutput")
        assert line["response"] is None and line["error"]["code"] == "batch_cancelled"


def test_cancelling_a_finished_batch_is_a_400(oai):
    batch = oai.batches.retrieve(submit(oai, chat_lines(1)).id)
    with pytest.raises(openai.BadRequestError):
        oai.batches.cancel(batch.id)


def test_a_batch_running_past_24_hours_expires_with_partial_results(emulator, oai):
    emulator.set_config(complete_after=200_000)
    batch = submit(oai, chat_lines(10))
    emulator.advance(86_401)
    body = _batch_json(oai, batch.id)
    assert body["status"] == "expired" and body["expired_at"] == body["expires_at"]
    done = int(10 * (86_400 - 20_000) / 160_000)
    assert body["request_counts"] == {"total": 10, "completed": done, "failed": 0}
    expired = read_lines(oai, body["error_file_id"])
    assert len(expired) == 10 - done
    assert {line["error"]["code"] for line in expired} == {"batch_expired"}
    assert all(line["response"] is None for line in expired)


@pytest.mark.parametrize(
    ("mutate", "code", "line"),
    [
        (lambda ls: ls[1].update(url="/v1/embeddings"), "url_mismatch", 2),
        (lambda ls: ls[2]["body"].update(model="gpt-4.1-mini"), "model_mismatch", 3),
        (lambda ls: ls[2].update(custom_id="req-0"), "duplicate_custom_id", 3),
        (lambda ls: ls[0].update(method="GET"), "invalid_method", 1),
        (lambda ls: ls[0].pop("custom_id"), "missing_required_parameter", 1),
        (lambda ls: ls[1].pop("body"), "missing_required_parameter", 2),
    ],
    ids=["url", "model", "duplicate", "method", "custom_id", "body"],
)
def test_invalid_input_files_make_the_batch_fail_validation_with_errors(oai, mutate, code, line):
    lines = chat_lines(3)
    mutate(lines)
    batch = submit(oai, lines)
    assert batch.status == "validating"
    body = _batch_json(oai, batch.id)
    assert body["status"] == "failed" and "failed_at" in body
    assert body["errors"]["object"] == "list"
    assert (body["errors"]["data"][0]["code"], body["errors"]["data"][0]["line"]) == (code, line)
    assert body["request_counts"] == {"total": 0, "completed": 0, "failed": 0}
    assert "output_file_id" not in body


def test_malformed_json_and_blank_lines_fail_validation(oai):
    data = jsonl(chat_lines(2)) + b"{not json\n\n"
    body = _batch_json(oai, submit(oai, data).id)
    assert [(e["code"], e["line"]) for e in body["errors"]["data"]] == [
        ("invalid_json_line", 3),
        ("invalid_json_line", 4),
    ]


def test_more_than_50000_requests_fail_validation(oai):
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    line = {"custom_id": "x", "method": "POST", "url": "/v1/chat/completions", "body": body}
    data = b"".join(orjson.dumps({**line, "custom_id": f"c{i}"}) + b"\n" for i in range(50_001))
    batch = _batch_json(oai, submit(oai, data).id)
    assert batch["status"] == "failed"
    assert [e["code"] for e in batch["errors"]["data"]] == ["too_many_tasks"]


def test_more_than_50000_embedding_inputs_fail_validation(oai):
    lines = [
        {
            "custom_id": f"c{i}",
            "method": "POST",
            "url": "/v1/embeddings",
            "body": {"model": "text-embedding-3-small", "input": ["a"] * 2001},
        }
        for i in range(25)
    ]
    body = _batch_json(oai, submit(oai, lines, endpoint="/v1/embeddings").id)
    assert [e["code"] for e in body["errors"]["data"]] == ["too_many_embedding_inputs"]


def test_create_rejects_bad_endpoint_window_metadata_and_file(oai):
    file = upload(oai, chat_lines(1))
    with pytest.raises(openai.BadRequestError) as info:
        oai.batches.create(input_file_id=file.id, endpoint="/v1/nope", completion_window="24h")
    assert info.value.body["param"] == "endpoint"
    with pytest.raises(openai.BadRequestError):
        oai.batches.create(
            input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="48h"
        )
    with pytest.raises(openai.BadRequestError):
        oai.batches.create(
            input_file_id=file.id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
            metadata={f"k{i}": "v" for i in range(17)},
        )
    with pytest.raises(openai.NotFoundError):
        oai.batches.create(
            input_file_id="file-missing", endpoint="/v1/chat/completions", completion_window="24h"
        )
    other = oai.files.create(file=("notes.txt", b"hello"), purpose="user_data")
    with pytest.raises(openai.BadRequestError):
        oai.batches.create(
            input_file_id=other.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
    with pytest.raises(openai.NotFoundError):
        oai.batches.retrieve("batch_missing")


def test_a_line_the_endpoint_rejects_goes_to_the_error_file_with_status_400(oai):
    lines = chat_lines(3)
    lines[1]["body"]["response_format"]["json_schema"]["schema"] = {
        "type": "object",
        "properties": {"a": {"type": "string"}},
    }  # strict mode needs additionalProperties: false and every key required
    lines[2]["body"]["messages"] = []
    batch = oai.batches.retrieve(submit(oai, lines).id)
    assert batch.status == "completed"
    assert batch.request_counts.model_dump() == {"total": 3, "completed": 1, "failed": 2}
    errors = {line["custom_id"]: line for line in read_lines(oai, batch.error_file_id)}
    for line in errors.values():
        assert_valid(line, "BatchRequestOutput")
        assert line["response"]["status_code"] == 400 and line["error"] is None
        assert line["response"]["body"]["error"]["type"] == "invalid_request_error"
    assert "additionalProperties" in errors["req-1"]["response"]["body"]["error"]["message"]


def test_output_expires_after_sets_the_output_file_expiry(oai):
    batch = submit(
        oai, chat_lines(1), output_expires_after={"anchor": "created_at", "seconds": 3600}
    )
    done = oai.batches.retrieve(batch.id)
    output = oai.files.retrieve(done.output_file_id)
    assert output.expires_at == output.created_at + 3600


def test_concurrent_polls_of_a_finishing_batch_generate_its_results_once(emulator, oai):
    from concurrent.futures import ThreadPoolExecutor

    emulator.set_config(complete_after=10)
    batch = submit(oai, chat_lines(300))
    emulator.advance(11)
    with ThreadPoolExecutor(8) as pool:
        seen = list(pool.map(lambda _: oai.batches.retrieve(batch.id), range(8)))
    assert {b.status for b in seen} == {"completed"}
    assert len({b.output_file_id for b in seen}) == 1
    assert [f.purpose for f in oai.files.list()].count("batch_output") == 1
