"""OpenAI Files API: upload, retrieve, content, list, delete, auth and error shapes."""

from __future__ import annotations

import io

import openai
import pytest

from .conftest import chat_lines, jsonl, openai_client, shared_http, upload
from .openapi import assert_valid


def test_upload_returns_a_valid_file_object_with_purpose_batch(oai):
    data = jsonl(chat_lines(3))
    file = upload(oai, chat_lines(3))
    raw = oai.files.with_raw_response.retrieve(file.id)
    assert raw.headers["x-request-id"].startswith("req_")
    body = raw.http_response.json()
    assert_valid(body, "OpenAIFile")
    assert body["purpose"] == "batch" and body["bytes"] == len(data)
    assert body["filename"] == "input.jsonl" and body["status"] == "processed"
    assert isinstance(body["created_at"], int) and body["expires_at"] > body["created_at"]


def test_upload_honours_expires_after(oai):
    file = oai.files.create(
        file=("in.jsonl", io.BytesIO(jsonl(chat_lines(1)))),
        purpose="batch",
        expires_after={"anchor": "created_at", "seconds": 7200},
    )
    assert file.expires_at == file.created_at + 7200


def test_file_content_returns_the_exact_uploaded_bytes(oai):
    data = jsonl(chat_lines(5))
    file = oai.files.create(file=("in.jsonl", io.BytesIO(data)), purpose="batch")
    assert oai.files.content(file.id).read() == data


def test_batch_purpose_requires_a_jsonl_file(oai):
    with pytest.raises(openai.BadRequestError) as info:
        oai.files.create(file=("in.csv", io.BytesIO(b"a,b\n")), purpose="batch")
    assert info.value.body["param"] == "file"


def test_file_list_pages_with_after_limit_and_order(oai):
    ids = [upload(oai, chat_lines(1)).id for _ in range(5)]
    page = oai.files.with_raw_response.list(limit=2)
    body = page.http_response.json()
    assert_valid(body, "ListFilesResponse")
    assert [f["id"] for f in body["data"]] == ids[::-1][:2]
    assert body["has_more"] is True and body["first_id"] == ids[4] and body["last_id"] == ids[3]
    assert [f.id for f in oai.files.list(limit=2)] == ids[::-1]  # auto-pagination via `after`
    asc = oai.files.list(order="asc", limit=10).data
    assert [f.id for f in asc] == ids
    assert oai.files.list(purpose="batch_output").data == []
    empty = oai.files.with_raw_response.list(purpose="batch_output").http_response.json()
    assert_valid(empty, "ListFilesResponse")
    assert empty["has_more"] is False


def test_deleted_file_is_gone_from_retrieve_and_list(oai):
    file = upload(oai, chat_lines(1))
    raw = oai.files.with_raw_response.delete(file.id).http_response.json()
    assert_valid(raw, "DeleteFileResponse")
    assert raw == {"id": file.id, "object": "file", "deleted": True}
    with pytest.raises(openai.NotFoundError):
        oai.files.retrieve(file.id)
    assert file.id not in [f.id for f in oai.files.list()]


def test_unknown_file_is_a_404_with_openai_error_body_and_request_id(emulator):
    response = shared_http().get(
        f"{emulator.openai_base_url}/files/file-nope", headers={"Authorization": "Bearer k"}
    )
    assert response.status_code == 404
    assert response.headers["x-request-id"].startswith("req_")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"


def test_openai_routes_answer_401_without_an_api_key(emulator):
    for method, path in [("GET", "/files"), ("GET", "/batches"), ("POST", "/chat/completions")]:
        response = shared_http().request(method, emulator.openai_base_url + path)
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "invalid_request_error"
        assert "x-request-id" in response.headers
    client = openai_client(emulator, default_headers={"Authorization": "Basic abc"})
    with pytest.raises(openai.AuthenticationError):
        client.files.list()


def test_unknown_route_is_a_provider_shaped_404(emulator):
    response = shared_http().get(
        emulator.openai_base_url + "/nope", headers={"Authorization": "Bearer k"}
    )
    assert response.status_code == 404
    assert "error" in response.json()
