"""Fixtures: an in-process emulator on a free port with its own home, and strict SDK clients."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import openai
import orjson
import pytest

from batch_pipelines.emulator import EmulatorConfig, EmulatorServer

_HTTP: dict[str, httpx2.Client] = {}


def shared_http() -> httpx2.Client:
    """One HTTP client for every SDK client of the session (building one costs ~0.1 s of TLS setup)."""
    if "client" not in _HTTP:
        _HTTP["client"] = httpx2.Client(timeout=120)
    return _HTTP["client"]


@pytest.fixture(scope="session", autouse=True)
def _close_shared_http() -> Iterator[None]:
    yield
    if "client" in _HTTP:
        _HTTP.pop("client").close()


def openai_client(emu: EmulatorServer, **kwargs: Any) -> openai.OpenAI:
    options: dict[str, Any] = {
        "http_client": shared_http(),
        "base_url": emu.openai_base_url,
        "api_key": "test",
        "max_retries": 0,
        "_strict_response_validation": True,
    }
    options.update(kwargs)
    return openai.OpenAI(**options)


def anthropic_client(emu: EmulatorServer, **kwargs: Any) -> anthropic.Anthropic:
    options: dict[str, Any] = {
        "http_client": shared_http(),
        "base_url": emu.anthropic_base_url,
        "api_key": "test",
        "max_retries": 0,
        "_strict_response_validation": True,
    }
    options.update(kwargs)
    return anthropic.Anthropic(**options)


@pytest.fixture(scope="session")
def _session_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    home = tmp_path_factory.mktemp("emulator-home")
    with EmulatorServer(home=home, config=EmulatorConfig()) as emu:
        yield emu


@pytest.fixture
def emulator(_session_emulator: EmulatorServer) -> EmulatorServer:
    """A running emulator with empty state and default flags (reset before each test).

    One server per session keeps tests fast (stopping uvicorn costs ~0.2 s); tests about restarts
    start their own servers.
    """
    assert _session_emulator.state is not None
    _session_emulator.state.reset()
    _session_emulator.set_config(**EmulatorConfig().to_dict())
    return _session_emulator


@pytest.fixture
def oai(emulator: EmulatorServer) -> openai.OpenAI:
    return openai_client(emulator)


@pytest.fixture
def claude(emulator: EmulatorServer) -> anthropic.Anthropic:
    return anthropic_client(emulator)


SCORE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
        "score": {"type": "integer", "minimum": 1, "maximum": 5},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "summary": {"type": "string", "maxLength": 60},
        "topics": {
            "type": "array",
            "items": {"type": "string", "maxLength": 20},
            "minItems": 1,
            "maxItems": 3,
        },
        "callback": {
            "type": "object",
            "properties": {
                "needed": {"type": "boolean"},
                "when": {"type": ["string", "null"], "format": "date-time"},
            },
            "required": ["needed", "when"],
            "additionalProperties": False,
        },
    },
    "required": ["sentiment", "score", "confidence", "summary", "topics", "callback"],
    "additionalProperties": False,
}


def chat_body(index: int, *, model: str = "gpt-4o-mini", system: str = "You score calls.") -> dict:
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": f"Transcript {index}: the caller asked about prices."},
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "call_score", "schema": SCORE_SCHEMA, "strict": True},
        },
    }


def chat_lines(count: int, **kwargs: Any) -> list[dict]:
    return [
        {
            "custom_id": f"req-{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": chat_body(i, **kwargs),
        }
        for i in range(count)
    ]


def jsonl(lines: list[Any]) -> bytes:
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)


def upload(client: openai.OpenAI, lines: list[Any] | bytes, name: str = "input.jsonl"):
    data = lines if isinstance(lines, bytes) else jsonl(lines)
    return client.files.create(file=(name, io.BytesIO(data)), purpose="batch")


def submit(
    client: openai.OpenAI, lines: list[Any] | bytes, endpoint: str = "/v1/chat/completions", **kw
):
    file = upload(client, lines)
    return client.batches.create(
        input_file_id=file.id, endpoint=endpoint, completion_window="24h", **kw
    )


def read_lines(client: openai.OpenAI, file_id: str | None) -> list[dict]:
    if file_id is None:
        return []
    text = client.files.content(file_id).text
    assert "\n\n" not in text and text.endswith("\n")
    return [orjson.loads(line) for line in text.splitlines()]


def message_request(custom_id: str, text: str = "Hello", **params: Any) -> dict:
    return {
        "custom_id": custom_id,
        "params": {
            "model": params.pop("model", "claude-sonnet-4-5"),
            "max_tokens": params.pop("max_tokens", 512),
            "messages": [{"role": "user", "content": text}],
            **params,
        },
    }
