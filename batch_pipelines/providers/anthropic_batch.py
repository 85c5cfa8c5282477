"""Anthropic Message Batches (and the synchronous Messages API for deadlines)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

import anthropic
import orjson
from anthropic.types.messages import MessageBatch

from batch_pipelines.core.caching import PROMPT_CACHES, CachePrefix
from batch_pipelines.core.prompts import ChatPrompt, ModelAnswer, Prompt
from batch_pipelines.core.usage import TokenUsage
from batch_pipelines.providers import wire
from batch_pipelines.providers.base import (
    BatchProvider,
    BatchState,
    BatchStatus,
    FailureKind,
    LineOutcome,
    RequestLines,
    ResultLine,
    ShardLimits,
    cache_key,
    estimated_tokens,
    http_failure_kind,
    jsonl_lines,
    provider_error,
)

MESSAGES = "/v1/messages"
# Documented: 100,000 requests or 256 MB per batch. Keep headroom.
_LIMITS = ShardLimits(max_lines=90_000, max_bytes=230_000_000)
# A batch can take longer than 5 minutes, so the static prefix is cached for an hour (the write
# class `core.caching.PROMPT_CACHES` declares for Anthropic).
_CACHE_CONTROL = {
    "type": "ephemeral",
    "ttl": {"cache_write_1h_tokens": "1h", "cache_write_5m_tokens": "5m"}[
        PROMPT_CACHES["anthropic"].write_class
    ],
}
_MAX_BREAKPOINTS = 4
# Anthropic has no batch metadata: a batch created between our create attempt and its end, with
# the same request count, is a candidate when healing a create whose answer was lost. The slack
# covers the difference between the provider's clock and ours.
_CLOCK_SLACK = dt.timedelta(seconds=60)
# Error types of an `errored` result that sending the request again cannot fix (the 4xx types of
# Anthropic's Errors page); the others (api_error, overloaded_error, rate_limit_error,
# timeout_error) are transient.
_PERMANENT_ERROR_TYPES = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "billing_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
    }
)
_STATES = {
    "in_progress": BatchState.IN_PROGRESS,
    "canceling": BatchState.CANCELLING,
    "ended": BatchState.ENDED,
}
_BODY_CHUNK = 1 << 20
_REQUESTS_OPEN, _REQUESTS_CLOSE = b'{"requests":[', b"]}"


def _requests_body(lines: RequestLines) -> tuple[int, Iterator[bytes]]:
    """The create body `{"requests":[<line>,<line>…]}` streamed from the spooled lines (each one
    JSON object), and its exact length: read from the file in two passes, never held whole."""
    count = size = 0
    for line in lines:
        count += 1
        size += len(line.rstrip(b"\r\n"))
    length = len(_REQUESTS_OPEN) + size + max(0, count - 1) + len(_REQUESTS_CLOSE)

    def chunks() -> Iterator[bytes]:
        buffer = [_REQUESTS_OPEN]
        buffered = 0
        first = True
        for line in lines:
            if not first:
                buffer.append(b",")
            first = False
            body = line.rstrip(b"\r\n")
            buffer.append(body)
            buffered += len(body)
            if buffered >= _BODY_CHUNK:
                yield b"".join(buffer)
                buffer, buffered = [], 0
        buffer.append(_REQUESTS_CLOSE)
        yield b"".join(buffer)

    return length, chunks()


def _breakpoints(count: int) -> tuple[int, ...]:
    """Which static blocks end with a cache breakpoint: each of them, most widely shared first (the
    instructions, a vertical's rubric, a tenant's context), at most Anthropic's 4 (then the
    first three and the last)."""
    if count <= _MAX_BREAKPOINTS:
        return tuple(range(count))
    return (*range(_MAX_BREAKPOINTS - 1), count - 1)


def _tool(prompt: ChatPrompt) -> dict[str, Any]:
    return {
        "name": prompt.schema_name,
        "description": "Record the answer. Always call this tool exactly once.",
        "input_schema": dict(prompt.json_schema),
    }


def message_params(model: str, prompt: Prompt) -> dict[str, Any]:
    if not isinstance(prompt, ChatPrompt):
        raise ValueError(f"Anthropic Messages cannot send a {type(prompt).__name__}")
    system = [{"type": "text", "text": block} for block in prompt.static_blocks]
    for index in _breakpoints(len(system)):
        system[index]["cache_control"] = dict(_CACHE_CONTROL)
    return {
        "model": model,
        "max_tokens": prompt.max_output_tokens,
        "system": system,
        "messages": [{"role": "user", "content": prompt.user}],
        "tools": [_tool(prompt)],
        "tool_choice": {"type": "tool", "name": prompt.schema_name},
    }


def cache_prefixes(model: str, prompt: Prompt) -> tuple[CachePrefix, ...]:
    """The prompt up to each breakpoint of `message_params`: Anthropic caches tools, then system
    blocks, in that order, so the tool's schema is part of every prefix."""
    if not isinstance(prompt, ChatPrompt) or not prompt.static_blocks:
        return ()
    tool = orjson.dumps(_tool(prompt), option=orjson.OPT_SORT_KEYS)
    parts: list[str | bytes] = ["anthropic", model, tool]
    tokens = estimated_tokens(tool)
    ends = set(_breakpoints(len(prompt.static_blocks)))
    prefixes = []
    for index, block in enumerate(prompt.static_blocks):
        parts.append(block)
        tokens += estimated_tokens(block)
        if index in ends:
            prefixes.append(CachePrefix(cache_key(*parts), tokens))
    return tuple(prefixes)


def parse_usage(usage: Mapping[str, Any]) -> TokenUsage:
    """An Anthropic ``message.usage`` object → token classes.

    ``input_tokens`` already excludes cache reads and writes and is kept as is. The 1-hour
    writes come from ``cache_creation.ephemeral_1h_input_tokens``. When
    ``cache_creation_input_tokens`` is absent, the writes are the sum of the ``cache_creation``
    breakdown.
    """
    where = "Anthropic usage"
    usage = wire.mapping(usage, where)
    uncached = wire.required(usage, "input_tokens", where)
    output = wire.required(usage, "output_tokens", where)
    read = wire.optional(usage, "cache_read_input_tokens", where)
    breakdown = wire.optional_mapping(usage, "cache_creation", where)
    written_5m = wire.optional(breakdown, "ephemeral_5m_input_tokens", f"{where}.cache_creation")
    written_1h = wire.optional(breakdown, "ephemeral_1h_input_tokens", f"{where}.cache_creation")
    if usage.get("cache_creation_input_tokens") is None:
        written = written_5m + written_1h
    else:
        written = wire.required(usage, "cache_creation_input_tokens", where)
        if written_5m + written_1h > written:
            raise ValueError(
                f"{where}: cache_creation breakdown (5m {written_5m} + 1h {written_1h}) exceeds "
                f"cache_creation_input_tokens ({written})"
            )
    return TokenUsage(
        input_tokens=uncached,
        cached_input_tokens=read,
        cache_write_tokens=written,
        cache_write_1h_tokens=written_1h,
        output_tokens=output,
    )


def parse_message(message: Mapping[str, Any]) -> tuple[ModelAnswer, TokenUsage]:
    model = str(message.get("model") or "")
    usage = parse_usage(message["usage"])
    finish = message.get("stop_reason")
    texts = []
    for block in message.get("content") or []:
        if block.get("type") == "tool_use" and isinstance(block.get("input"), dict):
            return ModelAnswer(model=model, json=block["input"], finish_reason=finish), usage
        if block.get("type") == "text":
            texts.append(block.get("text") or "")
    text = "".join(texts)
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        return ModelAnswer(model=model, json=parsed, finish_reason=finish), usage
    return ModelAnswer(model=model, text=text, finish_reason=finish), usage


def _rfc3339(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


class AnthropicBatchProvider(BatchProvider):
    name = "anthropic"

    def __init__(self, client: anthropic.Anthropic) -> None:
        self.client = client

    def limits(self, endpoint: str) -> ShardLimits:
        return _LIMITS

    def encode_line(self, custom_id: str, model: str, endpoint: str, prompt: Prompt) -> bytes:
        return (
            orjson.dumps({"custom_id": custom_id, "params": message_params(model, prompt)}) + b"\n"
        )

    def cache_prefixes(self, model: str, endpoint: str, prompt: Prompt) -> tuple[CachePrefix, ...]:
        return cache_prefixes(model, prompt)

    def with_cache_breakpoints(self, line: bytes, keep: int) -> bytes:
        request = orjson.loads(line)
        marked = [b for b in request["params"].get("system") or () if "cache_control" in b]
        for block in marked[keep:]:
            del block["cache_control"]
        return orjson.dumps(request) + b"\n"

    def upload(self, batch_job_id: str, lines: RequestLines) -> str | None:
        return None

    def create(
        self,
        batch_job_id: str,
        endpoint: str,
        input_file_id: str | None,
        lines: RequestLines | None,
    ) -> BatchStatus:
        if lines is None:
            raise ValueError("Anthropic batches are created from their request lines")
        # The body streams from the spool (a shard can be 230 MB: as Python objects, gigabytes).
        # Creates are not idempotent: never retried by the SDK; one that raised is reconciled.
        length, body = _requests_body(lines)
        try:
            batch = self.client.with_options(max_retries=0).post(
                "/v1/messages/batches",
                content=body,
                cast_to=MessageBatch,
                options={"headers": {"Content-Length": str(length)}},
            )
        except anthropic.APIError as exc:
            raise provider_error(exc, "Anthropic batch create") from exc
        return self._status(batch)

    def find_created(
        self,
        batch_job_id: str,
        created_after: dt.datetime,
        created_before: dt.datetime,
        request_count: int,
    ) -> list[BatchStatus]:
        # No metadata to match on: creation time and request count are all there is. The engine
        # holds the credential's create lock from create to record, so no other live create can
        # fall in the window; anything but exactly one unclaimed candidate needs a person.
        lower = created_after - _CLOCK_SLACK
        upper = created_before + _CLOCK_SLACK
        found = []
        try:
            for batch in self.client.messages.batches.list(limit=100):
                created = _rfc3339(batch.created_at)
                if created < lower:
                    break
                total = sum(batch.request_counts.model_dump().values())
                if created <= upper and total == request_count:
                    found.append(self._status(batch))
        except anthropic.APIError as exc:
            raise provider_error(exc, "Anthropic batch list") from exc
        return found

    def retrieve(self, provider_batch_id: str) -> BatchStatus:
        try:
            return self._status(self.client.messages.batches.retrieve(provider_batch_id))
        except anthropic.APIError as exc:
            raise provider_error(exc, "Anthropic batch retrieve") from exc

    def cancel(self, provider_batch_id: str) -> BatchStatus:
        try:
            return self._status(self.client.messages.batches.cancel(provider_batch_id))
        except anthropic.APIError as exc:
            raise provider_error(exc, "Anthropic batch cancel") from exc

    def iter_results(self, status: BatchStatus) -> Iterator[ResultLine]:
        try:
            with self.client.messages.batches.with_streaming_response.results(
                status.provider_batch_id
            ) as response:
                for raw in jsonl_lines(response.iter_bytes()):
                    yield self._parse_line(raw)
        except anthropic.APIError as exc:
            raise provider_error(exc, "Anthropic results download") from exc

    def _parse_line(self, raw: str | bytes) -> ResultLine:
        try:
            line = orjson.loads(raw)
            custom_id = str(line["custom_id"])
            result = line["result"]
            kind = result["type"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return ResultLine(
                custom_id="", outcome=LineOutcome.ERRORED, error="unparseable result line"
            )
        if kind == "succeeded":
            try:
                answer, usage = parse_message(result["message"])
            except (KeyError, TypeError, ValueError) as exc:
                return ResultLine(
                    custom_id=custom_id,
                    outcome=LineOutcome.ERRORED,
                    error=f"malformed message: {exc}",
                )
            return ResultLine(
                custom_id=custom_id,
                outcome=LineOutcome.SUCCEEDED,
                answer=answer,
                usage=usage,
                model=answer.model,
            )
        if kind in ("expired", "canceled"):
            return ResultLine(
                custom_id=custom_id, outcome=LineOutcome(kind), error=f"request {kind}"
            )
        error = result.get("error") if isinstance(result, dict) else None
        inner = (error.get("error") if isinstance(error, dict) else None) or {}
        error_type = inner.get("type", "error")
        return ResultLine(
            custom_id=custom_id,
            outcome=LineOutcome.ERRORED,
            error=f"{error_type}: {inner.get('message', 'no message')}",
            error_kind=(
                FailureKind.PERMANENT
                if error_type in _PERMANENT_ERROR_TYPES
                else FailureKind.TRANSIENT
            ),
        )

    def complete_sync(
        self, custom_id: str, model: str, endpoint: str, prompt: Prompt
    ) -> ResultLine:
        try:
            # A synchronous call is billed when it runs: never sent twice by the SDK.
            message = self.client.with_options(max_retries=0).messages.create(
                **message_params(model, prompt)
            )
        except anthropic.APIError as exc:
            status = getattr(exc, "status_code", None)
            return ResultLine(
                custom_id=custom_id,
                outcome=LineOutcome.ERRORED,
                error=f"sync call failed: {exc}",
                error_kind=http_failure_kind(status if isinstance(status, int) else None),
            )
        answer, usage = parse_message(message.model_dump())
        return ResultLine(
            custom_id=custom_id,
            outcome=LineOutcome.SUCCEEDED,
            answer=answer,
            usage=usage,
            model=answer.model,
        )

    def _status(self, batch: Any) -> BatchStatus:
        counts = batch.request_counts.model_dump()
        state = _STATES.get(batch.processing_status, BatchState.IN_PROGRESS)
        return BatchStatus(
            provider_batch_id=batch.id,
            state=state,
            provider_status=batch.processing_status,
            created_at=_rfc3339(batch.created_at),
            request_counts=counts,
        )
