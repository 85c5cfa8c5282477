"""OpenAI Batch API (Files + Batches) for `/v1/chat/completions` and `/v1/embeddings`."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import openai
import orjson

from batch_pipelines.core.caching import CachePrefix
from batch_pipelines.core.prompts import ChatPrompt, EmbeddingInput, ModelAnswer, Prompt
from batch_pipelines.core.usage import TokenUsage
from batch_pipelines.providers import wire
from batch_pipelines.providers.base import (
    BatchFailure,
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
    prefix_key,
    provider_error,
)

CHAT = "/v1/chat/completions"
EMBEDDINGS = "/v1/embeddings"
_STATES: dict[str, BatchState] = {
    "validating": BatchState.IN_PROGRESS,
    "in_progress": BatchState.IN_PROGRESS,
    "finalizing": BatchState.IN_PROGRESS,
    "cancelling": BatchState.CANCELLING,
    "completed": BatchState.ENDED,
    "expired": BatchState.ENDED,
    "cancelled": BatchState.ENDED,
    "failed": BatchState.FAILED,
}
# Documented: 50,000 lines, 200 MB, 50,000 embedding inputs per batch. Keep headroom.
_LIMITS = ShardLimits(max_lines=45_000, max_bytes=180_000_000, max_embedding_inputs=45_000)
# A batch that failed as a whole with one of these codes failed because of its file or its model:
# sending it again fails again. The input-file codes of the Batch API reference (quoted in
# stdapi-ai/stdapi.ai#240: invalid_json_line, duplicate_custom_id, url_mismatch, model_mismatch,
# empty_file, too_many_tasks), and an unknown model.
_PERMANENT_BATCH_ERRORS = frozenset(
    {
        "invalid_json_line",
        "duplicate_custom_id",
        "url_mismatch",
        "model_mismatch",
        "empty_file",
        "too_many_tasks",
        "model_not_found",
        "invalid_model",
    }
)
# Line errors without an HTTP status: the line never ran (reference §3, "Per-line error codes").
_NOT_RUN_CODES = {"batch_expired": LineOutcome.EXPIRED, "batch_cancelled": LineOutcome.CANCELED}


def _response_format(prompt: ChatPrompt) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {
            "name": prompt.schema_name,
            "schema": dict(prompt.json_schema),
            "strict": True,
        },
    }


def chat_body(model: str, prompt: ChatPrompt) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": "\n\n".join(prompt.static_blocks)},
            {"role": "user", "content": prompt.user},
        ],
        "response_format": _response_format(prompt),
        "max_completion_tokens": prompt.max_output_tokens,
        # Routes requests sharing a static prefix to the same cache.
        "prompt_cache_key": prefix_key(prompt),
    }


def chat_cache_prefixes(model: str, prompt: Prompt) -> tuple[CachePrefix, ...]:
    """OpenAI caches at message boundaries, after the tools and response format; the static
    blocks are one system message, so a chat request has one cacheable prefix: the response
    format and the system message (under its `prompt_cache_key`)."""
    if not isinstance(prompt, ChatPrompt) or not prompt.static_blocks:
        return ()
    head = orjson.dumps(_response_format(prompt), option=orjson.OPT_SORT_KEYS)
    system = "\n\n".join(prompt.static_blocks)
    key = cache_key("openai", model, prefix_key(prompt), head, system)
    # Each message adds a few tokens of its own (role and separators).
    return (CachePrefix(key, estimated_tokens(head) + estimated_tokens(system) + 4),)


def embedding_body(model: str, prompt: EmbeddingInput) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "input": list(prompt.texts), "encoding_format": "float"}
    if prompt.dimensions:
        body["dimensions"] = prompt.dimensions
    return body


def request_body(model: str, endpoint: str, prompt: Prompt) -> dict[str, Any]:
    if endpoint == CHAT and isinstance(prompt, ChatPrompt):
        return chat_body(model, prompt)
    if endpoint == EMBEDDINGS and isinstance(prompt, EmbeddingInput):
        return embedding_body(model, prompt)
    raise ValueError(f"OpenAI cannot send a {type(prompt).__name__} to {endpoint}")


def parse_chat_usage(usage: Mapping[str, Any]) -> TokenUsage:
    """A Chat Completions ``usage`` (``CompletionUsage``) object → token classes.

    ``prompt_tokens`` includes ``prompt_tokens_details.cached_tokens`` and
    ``prompt_tokens_details.cache_write_tokens``; they are split out here.
    """
    where = "OpenAI chat usage"
    usage = wire.mapping(usage, where)
    prompt = wire.required(usage, "prompt_tokens", where)
    completion = wire.required(usage, "completion_tokens", where)
    details = wire.optional_mapping(usage, "prompt_tokens_details", where)
    cached = wire.optional(details, "cached_tokens", f"{where}.prompt_tokens_details")
    written = wire.optional(details, "cache_write_tokens", f"{where}.prompt_tokens_details")
    return TokenUsage(
        input_tokens=wire.uncached(prompt, cached, written, where),
        cached_input_tokens=cached,
        cache_write_tokens=written,
        output_tokens=completion,
    )


def parse_responses_usage(usage: Mapping[str, Any]) -> TokenUsage:
    """A Responses API ``usage`` object (``input_tokens`` includes the cached tokens)."""
    where = "OpenAI responses usage"
    usage = wire.mapping(usage, where)
    prompt = wire.required(usage, "input_tokens", where)
    output = wire.required(usage, "output_tokens", where)
    details = wire.optional_mapping(usage, "input_tokens_details", where)
    cached = wire.optional(details, "cached_tokens", f"{where}.input_tokens_details")
    written = wire.optional(details, "cache_write_tokens", f"{where}.input_tokens_details")
    return TokenUsage(
        input_tokens=wire.uncached(prompt, cached, written, where),
        cached_input_tokens=cached,
        cache_write_tokens=written,
        output_tokens=output,
    )


def parse_embedding_usage(usage: Mapping[str, Any]) -> TokenUsage:
    """An Embeddings ``usage`` object: input tokens only."""
    where = "OpenAI embedding usage"
    usage = wire.mapping(usage, where)
    return TokenUsage(input_tokens=wire.required(usage, "prompt_tokens", where))


def parse_response_body(endpoint: str, body: Mapping[str, Any]) -> tuple[ModelAnswer, TokenUsage]:
    """A 200 response body → (answer, usage). Raises ValueError on a body that is not the endpoint's."""
    model = str(body.get("model") or "")
    if endpoint == EMBEDDINGS:
        data = sorted(body["data"], key=lambda d: d["index"])
        answer = ModelAnswer(model=model, embeddings=[d["embedding"] for d in data])
        return answer, parse_embedding_usage(body["usage"])
    usage = parse_chat_usage(body["usage"])
    choice = body["choices"][0]
    message = choice.get("message") or {}
    content = message.get("content")
    finish = choice.get("finish_reason")
    if content is None:
        text = message.get("refusal") or ""
        return ModelAnswer(model=model, text=text, finish_reason=finish), usage
    if not isinstance(content, str):
        raise TypeError(f"message content is a {type(content).__name__}, not a string")
    try:
        parsed = orjson.loads(content)
    except orjson.JSONDecodeError:
        return ModelAnswer(model=model, text=content, finish_reason=finish), usage
    if not isinstance(parsed, dict):
        return ModelAnswer(model=model, text=content, finish_reason=finish), usage
    return ModelAnswer(model=model, json=parsed, finish_reason=finish), usage


def _error_text(line: Mapping[str, Any]) -> str:
    error = line.get("error")
    if error:
        return f"{error.get('code')}: {error.get('message')}"
    response = line.get("response") or {}
    body = response.get("body") or {}
    inner = body.get("error") if isinstance(body, dict) else None
    if isinstance(inner, dict):
        # Both the error's type (e.g. invalid_request_error) and its code (e.g. invalid_value).
        kind, code = inner.get("type"), inner.get("code")
        label = " ".join(
            str(x) for x in (kind, f"({code})" if code and code != kind else None) if x
        )
        return f"HTTP {response.get('status_code')} {label or 'error'}: {inner.get('message')}"
    return f"HTTP {response.get('status_code')}"


def batch_failure_kind(codes: list[str | None]) -> BatchFailure:
    """What a whole-batch failure with these `errors.data[].code`s calls for."""
    if "token_limit_exceeded" in codes:
        return BatchFailure.TOKEN_LIMIT
    if any(code in _PERMANENT_BATCH_ERRORS for code in codes):
        return BatchFailure.PERMANENT
    return BatchFailure.TRANSIENT


class OpenAIBatchProvider(BatchProvider):
    name = "openai"

    def __init__(
        self,
        client: openai.OpenAI | None = None,
        *,
        client_factory: Callable[[], openai.OpenAI] | None = None,
    ) -> None:
        """`client`, or `client_factory` to build it on first use: planning only encodes lines,
        and building a client (its TLS context) costs more than encoding thousands of them."""
        if client is None and client_factory is None:
            raise TypeError("OpenAIBatchProvider needs a client or a client_factory")
        self._client = client
        self._client_factory = client_factory
        self._client_lock = threading.Lock()

    @property
    def client(self) -> openai.OpenAI:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    assert self._client_factory is not None
                    self._client = self._client_factory()
        return self._client

    @client.setter
    def client(self, value: openai.OpenAI) -> None:
        self._client = value

    def limits(self, endpoint: str) -> ShardLimits:
        return _LIMITS

    def encode_line(self, custom_id: str, model: str, endpoint: str, prompt: Prompt) -> bytes:
        line = {
            "custom_id": custom_id,
            "method": "POST",
            "url": endpoint,
            "body": request_body(model, endpoint, prompt),
        }
        return orjson.dumps(line) + b"\n"

    def cache_prefixes(self, model: str, endpoint: str, prompt: Prompt) -> tuple[CachePrefix, ...]:
        return chat_cache_prefixes(model, prompt) if endpoint == CHAT else ()

    @property
    def _once(self) -> openai.OpenAI:
        """The client without SDK retries: for calls that must not be sent twice blindly."""
        return self.client.with_options(max_retries=0)

    def upload(self, batch_job_id: str, lines: RequestLines) -> str | None:
        # An open file, not a path or bytes: the SDK reads a path into memory whole, but streams a
        # file object into the multipart body. Not retried by the SDK: a failed upload is tried
        # again by a later submit (an upload bills nothing).
        try:
            with lines.open() as handle:
                uploaded = self._once.files.create(
                    file=(f"{batch_job_id}.jsonl", handle, "application/jsonl"), purpose="batch"
                )
        except openai.APIError as exc:
            raise provider_error(exc, "OpenAI file upload") from exc
        return uploaded.id

    def create(
        self,
        batch_job_id: str,
        endpoint: str,
        input_file_id: str | None,
        lines: RequestLines | None,
    ) -> BatchStatus:
        if input_file_id is None:
            raise ValueError("OpenAI batches need an uploaded input file")
        # Creates are not idempotent: never retried by the SDK. One that raised is reconciled by
        # the engine (by `metadata.batch_job_id`) before anything is sent again.
        try:
            batch = self._once.batches.create(
                input_file_id=input_file_id,
                endpoint=endpoint,  # type: ignore[arg-type]
                completion_window="24h",
                metadata={"batch_job_id": batch_job_id},
            )
        except openai.APIError as exc:
            raise provider_error(exc, "OpenAI batch create") from exc
        return self._status(batch)

    def find_created(
        self,
        batch_job_id: str,
        created_after: dt.datetime,
        created_before: dt.datetime,
        request_count: int,
    ) -> list[BatchStatus]:
        # Our batch_job_id travels in the batch metadata, so the match is exact; the time bounds
        # only say where to stop reading the (newest first) list.
        cutoff = int(created_after.timestamp()) - 60
        found = []
        try:
            for batch in self.client.batches.list(limit=100):
                if batch.created_at < cutoff:
                    break
                if (batch.metadata or {}).get("batch_job_id") == batch_job_id:
                    found.append(self._status(batch))
        except openai.APIError as exc:
            raise provider_error(exc, "OpenAI batch list") from exc
        return found

    def retrieve(self, provider_batch_id: str) -> BatchStatus:
        try:
            return self._status(self.client.batches.retrieve(provider_batch_id))
        except openai.APIError as exc:
            raise provider_error(exc, "OpenAI batch retrieve") from exc

    def cancel(self, provider_batch_id: str) -> BatchStatus:
        try:
            return self._status(self.client.batches.cancel(provider_batch_id))
        except openai.APIError as exc:
            raise provider_error(exc, "OpenAI batch cancel") from exc

    def iter_results(self, status: BatchStatus) -> Iterator[ResultLine]:
        endpoint = status.metadata.get("endpoint", CHAT)
        for file_id in (status.output_file_id, status.error_file_id):
            if file_id:
                yield from self._iter_file(file_id, endpoint)

    def _iter_file(self, file_id: str, endpoint: str) -> Iterator[ResultLine]:
        try:
            with self.client.files.with_streaming_response.content(file_id) as response:
                for raw in jsonl_lines(response.iter_bytes()):
                    yield self.parse_line(raw, endpoint)
        except openai.APIError as exc:
            raise provider_error(exc, "OpenAI file download") from exc

    def parse_line(self, raw: str | bytes, endpoint: str) -> ResultLine:
        """One line of a batch output or error file."""
        try:
            line = orjson.loads(raw)
            custom_id = str(line["custom_id"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return ResultLine(
                custom_id="", outcome=LineOutcome.ERRORED, error="unparseable result line"
            )
        response = line.get("response") or {}
        status_code = response.get("status_code") if isinstance(response, dict) else None
        if status_code == 200 and isinstance(response.get("body"), dict):
            try:
                answer, usage = parse_response_body(endpoint, response["body"])
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                return ResultLine(
                    custom_id=custom_id,
                    outcome=LineOutcome.ERRORED,
                    error=f"malformed response body: {exc}",
                )
            return ResultLine(
                custom_id=custom_id,
                outcome=LineOutcome.SUCCEEDED,
                answer=answer,
                usage=usage,
                model=answer.model,
            )
        error = line.get("error") or {}
        code = error.get("code") if isinstance(error, dict) else None
        if code in _NOT_RUN_CODES:
            return ResultLine(
                custom_id=custom_id, outcome=_NOT_RUN_CODES[code], error=_error_text(line)
            )
        # `request_timeout` (no HTTP status) and 5xx/429 lines are transient; other 4xx permanent.
        kind = (
            http_failure_kind(status_code)
            if isinstance(status_code, int)
            else FailureKind.TRANSIENT
        )
        return ResultLine(
            custom_id=custom_id,
            outcome=LineOutcome.ERRORED,
            error=_error_text(line),
            error_kind=kind,
        )

    def complete_sync(
        self, custom_id: str, model: str, endpoint: str, prompt: Prompt
    ) -> ResultLine:
        body = request_body(model, endpoint, prompt)
        path = "/embeddings" if endpoint == EMBEDDINGS else "/chat/completions"
        try:
            # A synchronous call is billed when it runs: never sent twice by the SDK.
            response = self._once.post(path, body=body, cast_to=object)
        except openai.APIError as exc:
            status = getattr(exc, "status_code", None)
            return ResultLine(
                custom_id=custom_id,
                outcome=LineOutcome.ERRORED,
                error=f"sync call failed: {exc}",
                error_kind=http_failure_kind(status if isinstance(status, int) else None),
            )
        answer, usage = parse_response_body(endpoint, response)  # type: ignore[arg-type]
        return ResultLine(
            custom_id=custom_id,
            outcome=LineOutcome.SUCCEEDED,
            answer=answer,
            usage=usage,
            model=answer.model,
        )

    def _status(self, batch: Any) -> BatchStatus:
        counts = batch.request_counts
        failure = failure_kind = None
        if batch.status == "failed":
            errors = list(batch.errors.data) if batch.errors and batch.errors.data else []
            failure = (
                "; ".join(f"{e.code}: {e.message}" for e in errors) or "failed without a reason"
            )
            failure_kind = batch_failure_kind([e.code for e in errors])
        usage = batch.usage.model_dump() if getattr(batch, "usage", None) else None
        metadata = dict(batch.metadata or {})
        metadata["endpoint"] = batch.endpoint
        return BatchStatus(
            provider_batch_id=batch.id,
            state=_STATES.get(batch.status, BatchState.IN_PROGRESS),
            provider_status=batch.status,
            created_at=dt.datetime.fromtimestamp(batch.created_at, dt.UTC),
            request_counts=(
                {"total": counts.total, "completed": counts.completed, "failed": counts.failed}
                if counts
                else {}
            ),
            output_file_id=batch.output_file_id,
            error_file_id=batch.error_file_id,
            usage=usage,
            failure=failure,
            failure_kind=failure_kind,
            metadata=metadata,
        )
