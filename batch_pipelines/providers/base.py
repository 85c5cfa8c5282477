"""The interface every batch provider adapter implements, and the shapes it returns."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

from batch_pipelines.core.prompts import ModelAnswer, Prompt
from batch_pipelines.core.usage import TokenUsage

BatchState = Literal["in_progress", "cancelling", "ended", "failed"]
LineOutcome = Literal["succeeded", "errored", "expired", "canceled"]


class ProviderError(RuntimeError):
    """A provider call failed in a way the engine records and retries later (network, 5xx, 429)."""


class ProviderConfigError(RuntimeError):
    """Credentials or endpoints are missing or wrong: a person must fix the configuration."""


@dataclass(frozen=True)
class ShardLimits:
    """Where a provider batch must be cut (with headroom below the documented limits)."""

    max_lines: int
    max_bytes: int
    max_embedding_inputs: int | None = None


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
    failure: str | None = None  # why the batch failed as a whole (validation, token limit)
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ResultLine:
    """One line of a provider's results, parsed. Usage is set whenever the provider billed the line."""

    custom_id: str
    outcome: LineOutcome
    answer: ModelAnswer | None = None
    usage: TokenUsage | None = None
    model: str | None = None
    error: str | None = None


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
        """Create the provider batch, tagged with our `batch_job_id` where the API allows."""

    @abstractmethod
    def find_created(
        self, batch_job_id: str, created_after: dt.datetime, request_count: int
    ) -> list[BatchStatus]:
        """Provider batches that may be the one created for `batch_job_id` (crash recovery)."""

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
