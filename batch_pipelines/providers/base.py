"""The interface every batch provider adapter implements, and the shapes it returns."""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import hashlib
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO

from batch_pipelines.core.caching import CachePrefix
from batch_pipelines.core.prompts import ModelAnswer, Prompt
from batch_pipelines.core.usage import TokenUsage


class BatchState(StrEnum):
    """A provider batch's state, normalised (each adapter maps its provider's statuses)."""

    IN_PROGRESS = "in_progress"
    CANCELLING = "cancelling"
    ENDED = "ended"  # terminal: results (possibly partial) can be read
    FAILED = "failed"  # failed as a whole: nothing ran


class LineOutcome(StrEnum):
    """What became of one request line, as both services name the kinds."""

    SUCCEEDED = "succeeded"
    ERRORED = "errored"
    EXPIRED = "expired"  # OpenAI `batch_expired`, Anthropic `expired`: never ran
    CANCELED = "canceled"  # OpenAI `batch_cancelled`, Anthropic `canceled`: never ran


class FailureKind(StrEnum):
    """How a line that did not succeed should be retried (shared/reference/batch-apis.md,
    corrections 2026-12-01: "Per-line outcomes differ in kind")."""

    NOT_RUN = "not_run"  # expired or cancelled before it ran: not billed, uses no attempt
    TRANSIENT = "transient"  # 5xx, 429, overloaded, timeout, an unusable answer: attempt + 1
    PERMANENT = "permanent"  # invalid request and other 4xx: sending it again cannot help


class BatchFailure(StrEnum):
    """Why a batch failed as a whole, by what the engine should do about it."""

    TOKEN_LIMIT = "token_limit"  # the model's enqueued-token limit: wait for room, unchanged
    PERMANENT = "permanent"  # the file or the model is wrong: a person must look
    TRANSIENT = "transient"  # anything else: back off and try again


class ProviderError(RuntimeError):
    """A provider call failed and may or may not have taken effect (network, timeout, 5xx, 529):
    the engine records it and tries again later; after a create, it reconciles first."""


class ProviderRateLimited(ProviderError):
    """429: the call was not carried out; try again no earlier than `retry_after` seconds (None:
    the provider did not say)."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderRefused(ProviderError):
    """A 4xx other than 401/403/408/409/429: the call was not carried out, and the same call
    will be refused again."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class ProviderConfigError(RuntimeError):
    """Credentials or endpoints are missing or wrong: a person must fix the configuration."""


class ProviderAuthError(ProviderConfigError):
    """The provider refused the credentials (401) or their permissions (403)."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


# Statuses after which the SDKs retry (408 request timeout, 409 lock timeout): not the caller's
# fault, and nothing says whether the call took effect.
_UNKNOWN_OUTCOME_STATUSES = (408, 409)


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """`retry-after-ms` or `retry-after` (seconds, or an HTTP date) of a response, as the SDKs
    read them; None when absent or unreadable."""
    if not headers:
        return None
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return float(milliseconds) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        return None if parsed is None else max(0.0, email.utils.mktime_tz(parsed) - time.time())


def provider_error(exc: Exception, action: str) -> ProviderError | ProviderConfigError:
    """The typed error for an SDK exception (`openai.APIError`, `anthropic.APIError`): what the
    status code says about whether the call took effect and whether it is worth repeating."""
    message = f"{action} failed: {exc}"
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int):
        return ProviderError(message)  # no answer at all (connection, timeout)
    if status in (401, 403):
        return ProviderAuthError(message, status)
    if status == 429:
        response = getattr(exc, "response", None)
        return ProviderRateLimited(message, retry_after_seconds(getattr(response, "headers", None)))
    if 400 <= status < 500 and status not in _UNKNOWN_OUTCOME_STATUSES:
        return ProviderRefused(message, status)
    return ProviderError(message)


def http_failure_kind(status_code: int | None) -> FailureKind:
    """The kind of a line that came back with an HTTP status (OpenAI error files): 408, 409, 429
    and 5xx are worth another attempt, any other 4xx is not."""
    if status_code is None or status_code >= 500 or status_code in (408, 409, 429):
        return FailureKind.TRANSIENT
    return FailureKind.PERMANENT


@dataclass(frozen=True)
class ShardLimits:
    """Where a provider batch must be cut (with headroom below the documented limits)."""

    max_lines: int
    max_bytes: int
    max_embedding_inputs: int | None = None
    # Admission control: a shard never takes more than the whole queue limit alone.
    max_input_tokens: int | None = None


@dataclass(frozen=True)
class RequestLines:
    """A job's request lines (JSONL, each ending in a newline) as a file on disk: opened or
    iterated anew each time, never held in memory whole (a shard can be ~200 MB)."""

    path: Path

    def open(self) -> BinaryIO:
        return open(self.path, "rb")

    def __iter__(self) -> Iterator[bytes]:
        with self.open() as handle:
            for line in handle:
                if line.strip():
                    yield line


@dataclass(frozen=True)
class BatchStatus:
    """A provider batch as last seen, normalised. `state` is ours; `provider_status` is theirs."""

    provider_batch_id: str
    state: BatchState
    provider_status: str
    created_at: dt.datetime
    request_counts: Mapping[str, int]
    output_file_id: str | None = None
    error_file_id: str | None = None
    usage: Mapping[str, Any] | None = None
    failure: str | None = None  # why the batch failed as a whole: the provider's own words
    failure_kind: BatchFailure | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ResultLine:
    """One line of a provider's results, parsed. Usage is set whenever the provider billed the
    line. An errored line says of which kind its failure is (the adapter knows its wire codes)."""

    custom_id: str
    outcome: LineOutcome
    answer: ModelAnswer | None = None
    usage: TokenUsage | None = None
    model: str | None = None
    error: str | None = None
    error_kind: FailureKind = FailureKind.TRANSIENT

    @property
    def failure_kind(self) -> FailureKind | None:
        """None for a success, else how to retry it."""
        if self.outcome == LineOutcome.SUCCEEDED:
            return None
        if self.outcome in (LineOutcome.EXPIRED, LineOutcome.CANCELED):
            return FailureKind.NOT_RUN
        return self.error_kind


def jsonl_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The non-blank lines of a JSONL stream given as byte chunks of any size, without their
    newline. Lines end at `\\n` only, as JSONL defines them (a JSON string may hold U+2028 or
    U+0085 unescaped, which text-mode line splitting would cut on); one line at a time is held,
    never the whole file."""
    rest = b""
    for chunk in chunks:
        if not chunk:
            continue
        if rest:
            chunk = rest + chunk
        lines = chunk.split(b"\n")
        rest = lines.pop()
        for line in lines:
            if line and not line.isspace():
                yield line
    if rest and not rest.isspace():
        yield rest


def estimated_tokens(data: bytes | str) -> int:
    """The documented estimate of a text's tokens, ceil(UTF-8 bytes / 4) (what
    `text_cleaning.estimate_tokens` counts; real tokenizers differ by a few per cent)."""
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8"))
    return -(-size // 4)


def cache_key(*parts: str | bytes) -> str:
    """A short stable key for the exact text of a cacheable prefix (its parts in prompt order)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else part.encode("utf-8"))
        digest.update(b"\x1e")
    return digest.hexdigest()[:32]


def prefix_key(prompt: Prompt) -> str:
    """A short stable key for a prompt's static prefix: equal keys can share a prompt cache."""
    return _prefix_key(tuple(getattr(prompt, "static_blocks", ())))


@functools.lru_cache(maxsize=4096)
def _prefix_key(blocks: tuple[str, ...]) -> str:
    # Cached: the many requests of a tenant share their blocks (often the very same strings, whose
    # hashes Python keeps), and hashing kilobytes of instructions per request adds up.
    digest = hashlib.sha256("\x1e".join(blocks).encode("utf-8")).hexdigest()
    return digest[:24]


class BatchProvider(ABC):
    """One provider account (credentials) speaking one batch API."""

    name: str

    @abstractmethod
    def limits(self, endpoint: str) -> ShardLimits: ...

    @abstractmethod
    def encode_line(self, custom_id: str, model: str, endpoint: str, prompt: Prompt) -> bytes:
        """One request as a JSONL line (ending in a newline), exactly as it will be sent."""

    def cache_prefixes(self, model: str, endpoint: str, prompt: Prompt) -> tuple[CachePrefix, ...]:
        """The prompt's cacheable prefixes as this provider lays the request out, shortest first
        (each ends at a cache breakpoint). Empty by default: a provider whose prices no cache
        changes (a self-hosted server bills GPU time)."""
        return ()

    def with_cache_breakpoints(self, line: bytes, keep: int) -> bytes:
        """An encoded line (`encode_line`) keeping only its first `keep` cache breakpoints, so that
        it writes no prefix past them. The same line where the provider caches without explicit
        breakpoints (OpenAI: automatic; writes bill as uncached input)."""
        return line

    @abstractmethod
    def upload(self, batch_job_id: str, lines: RequestLines) -> str | None:
        """Send the request lines ahead of creation (OpenAI Files), streamed from their file; None
        where there is no upload."""

    @abstractmethod
    def create(
        self,
        batch_job_id: str,
        endpoint: str,
        input_file_id: str | None,
        lines: RequestLines | None,
    ) -> BatchStatus:
        """Create the provider batch, tagged with our `batch_job_id` where the API allows. Sent
        once: a create that raised anything but `ProviderRateLimited`, `ProviderRefused` or
        `ProviderAuthError` may have created the batch, and must be reconciled."""

    @abstractmethod
    def find_created(
        self,
        batch_job_id: str,
        created_after: dt.datetime,
        created_before: dt.datetime,
        request_count: int,
    ) -> list[BatchStatus]:
        """Provider batches that may be the one created for `batch_job_id` by a create attempted
        between `created_after` and `created_before` (a lost answer, a crash)."""

    @abstractmethod
    def retrieve(self, provider_batch_id: str) -> BatchStatus: ...

    @abstractmethod
    def cancel(self, provider_batch_id: str) -> BatchStatus: ...

    @abstractmethod
    def iter_results(self, status: BatchStatus) -> Iterator[ResultLine]:
        """Stream every result line of an ended batch (never the whole file in memory)."""

    @abstractmethod
    def complete_sync(
        self, custom_id: str, model: str, endpoint: str, prompt: Prompt
    ) -> ResultLine:
        """The same request through the synchronous API, at full price."""
