"""Synchronous /v1/chat/completions and /v1/embeddings: schema answers, tools, vectors."""

from __future__ import annotations

import math

import numpy as np
import openai
import orjson
import pytest
from jsonschema import Draft202012Validator

from .conftest import SCORE_SCHEMA, chat_body, openai_client
from .openapi import assert_valid


def test_chat_completion_is_a_valid_object_whose_content_matches_the_json_schema(oai):
    raw = oai.chat.completions.with_raw_response.create(**chat_body(1))
    assert raw.headers["x-request-id"].startswith("req_")
    body = raw.http_response.json()
    assert_valid(body, "CreateChatCompletionResponse")
    answer = orjson.loads(body["choices"][0]["message"]["content"])
    assert not list(Draft202012Validator(SCORE_SCHEMA).iter_errors(answer))
    assert body["choices"][0]["finish_reason"] == "stop"


def test_same_request_same_answer_and_different_requests_differ(oai):
    first = oai.chat.completions.create(**chat_body(1)).choices[0].message.content
    again = oai.chat.completions.create(**chat_body(1)).choices[0].message.content
    others = {
        oai.chat.completions.create(**chat_body(i)).choices[0].message.content for i in range(2, 8)
    }
    assert first == again
    assert len(others | {first}) > 3


def test_forced_tool_call_arguments_match_the_function_parameters(oai):
    tool = {
        "type": "function",
        "function": {"name": "score_lead", "parameters": SCORE_SCHEMA, "strict": True},
    }
    response = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "score this lead"}],
        tools=[tool],
        tool_choice={"type": "function", "function": {"name": "score_lead"}},
    )
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    call = choice.message.tool_calls[0]
    assert call.function.name == "score_lead"
    assert not list(
        Draft202012Validator(SCORE_SCHEMA).iter_errors(orjson.loads(call.function.arguments))
    )


def test_plain_chat_honours_n_and_max_tokens(oai):
    response = oai.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], n=2, max_tokens=3
    )
    assert len(response.choices) == 2
    assert all(c.finish_reason == "length" for c in response.choices)
    assert response.usage.completion_tokens == 6


def test_strict_schema_without_additional_properties_false_is_a_400(oai):
    body = chat_body(1)
    body["response_format"]["json_schema"]["schema"] = {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "required": ["a"],
    }
    with pytest.raises(openai.BadRequestError) as info:
        oai.chat.completions.create(**body)
    assert info.value.body["param"] == "response_format"


def test_chat_without_model_or_messages_is_a_400(oai):
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(model="gpt-4o-mini", messages=[])


def test_embeddings_are_deterministic_unit_vectors_one_per_input(oai):
    raw = oai.embeddings.with_raw_response.create(
        model="text-embedding-3-small", input=["alpha", "beta", "alpha"], encoding_format="float"
    )
    body = raw.http_response.json()
    assert_valid(body, "CreateEmbeddingResponse")
    vectors = [d["embedding"] for d in body["data"]]
    assert [d["index"] for d in body["data"]] == [0, 1, 2]
    assert all(len(v) == 1536 for v in vectors)
    assert vectors[0] == vectors[2] and vectors[0] != vectors[1]
    assert all(math.isclose(np.linalg.norm(v), 1.0, abs_tol=1e-5) for v in vectors)
    assert body["usage"] == {"prompt_tokens": 2 + 1 + 2, "total_tokens": 5}


def test_embedding_dimensions_default_per_model_and_can_be_requested(oai):
    large = oai.embeddings.create(
        model="text-embedding-3-large", input="x", encoding_format="float"
    )
    assert len(large.data[0].embedding) == 3072
    short = oai.embeddings.create(
        model="text-embedding-3-small", input="x", dimensions=256, encoding_format="float"
    )
    assert len(short.data[0].embedding) == 256
    with pytest.raises(openai.BadRequestError):
        oai.embeddings.create(model="text-embedding-3-small", input="x", dimensions=5000)


def test_sdk_default_base64_embeddings_decode_to_the_same_vectors(emulator, oai):
    lenient = openai_client(emulator, _strict_response_validation=False)
    decoded = lenient.embeddings.create(
        model="text-embedding-3-small", input="same text", dimensions=32
    )
    floats = oai.embeddings.create(
        model="text-embedding-3-small", input="same text", dimensions=32, encoding_format="float"
    )
    assert np.allclose(decoded.data[0].embedding, floats.data[0].embedding, atol=1e-7)


def test_sync_requests_are_recorded_for_inspection(emulator, oai):
    oai.chat.completions.create(**chat_body(7))
    received = [r for r in emulator.received_requests("openai") if r.source == "sync"]
    assert received[-1].endpoint == "/v1/chat/completions"
    assert received[-1].body == chat_body(7)
