"""Token usage of one billed provider line, normalised across providers.

The providers count prompt tokens differently:

- OpenAI chat / Responses: ``prompt_tokens`` (``input_tokens``) INCLUDES the cached reads
  (``cached_tokens``) and the cache writes (``cache_write_tokens``, newer models only).
- Anthropic: ``input_tokens`` EXCLUDES cache reads (``cache_read_input_tokens``) and cache writes
  (``cache_creation_input_tokens``); the whole prompt is the sum of the three.
- OpenAI embeddings: ``prompt_tokens`` only, no cache and no output.

`TokenUsage` stores disjoint classes, so the whole prompt is always
``input_tokens + cached_input_tokens + cache_write_tokens`` and ``input_tokens`` is the uncached
part, as the ``llm_usage`` / ``cost_ledger`` tables define it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["TokenUsage"]


@dataclass(frozen=True)
class TokenUsage:
    """Disjoint token classes of one line.

    ``cache_write_1h_tokens`` is the subset of ``cache_write_tokens`` written with the 1-hour TTL
    (Anthropic); the rest of ``cache_write_tokens`` are standard (5-minute / OpenAI) writes.
    """

    input_tokens: int = 0
    """Uncached prompt tokens only."""
    cached_input_tokens: int = 0
    """Prompt tokens read from the prompt cache."""
    cache_write_tokens: int = 0
    """Prompt tokens written to the prompt cache (all TTLs)."""
    cache_write_1h_tokens: int = 0
    """The part of ``cache_write_tokens`` written with a 1-hour TTL."""
    output_tokens: int = 0
    """Completion tokens (reasoning / thinking tokens included)."""

    def __post_init__(self) -> None:
        # Runs for every billed line ingested: a fixed tuple of names, not `dataclasses.fields`.
        for name in _FIELD_NAMES:
            value = getattr(self, name)
            if type(value) is not int and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(
                    f"TokenUsage.{name} must be an int, got {type(value).__name__} {value!r}"
                )
            if value < 0:
                raise ValueError(f"TokenUsage.{name} must not be negative, got {value}")
        if self.cache_write_1h_tokens > self.cache_write_tokens:
            raise ValueError(
                f"cache_write_1h_tokens ({self.cache_write_1h_tokens}) cannot exceed "
                f"cache_write_tokens ({self.cache_write_tokens})"
            )

    @property
    def prompt_tokens(self) -> int:
        """The whole prompt: uncached + cache reads + cache writes."""
        return self.input_tokens + self.cached_input_tokens + self.cache_write_tokens

    @property
    def cache_write_5m_tokens(self) -> int:
        """Cache writes that are not 1-hour writes (Anthropic 5m, or OpenAI's only kind)."""
        return self.cache_write_tokens - self.cache_write_1h_tokens

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.output_tokens

    def __add__(self, other: object) -> TokenUsage:
        if not isinstance(other, TokenUsage):
            return NotImplemented
        return TokenUsage(
            self.input_tokens + other.input_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.cache_write_1h_tokens + other.cache_write_1h_tokens,
            self.output_tokens + other.output_tokens,
        )

    @classmethod
    def sum(cls, usages: Iterable[TokenUsage]) -> TokenUsage:
        """The total of many usages (one object, not one per addition)."""
        totals = [0, 0, 0, 0, 0]
        for u in usages:
            totals[0] += u.input_tokens
            totals[1] += u.cached_input_tokens
            totals[2] += u.cache_write_tokens
            totals[3] += u.cache_write_1h_tokens
            totals[4] += u.output_tokens
        return cls(*totals)

    # ---- normalisers -------------------------------------------------------------------------

    @classmethod
    def from_openai_chat(cls, usage: Mapping[str, Any]) -> TokenUsage:
        """From a Chat Completions ``usage`` (``CompletionUsage``) object.

        ``prompt_tokens`` includes ``prompt_tokens_details.cached_tokens`` and
        ``prompt_tokens_details.cache_write_tokens``; they are split out here.
        """
        where = "OpenAI chat usage"
        usage = _mapping(usage, where)
        prompt = _required(usage, "prompt_tokens", where)
        completion = _required(usage, "completion_tokens", where)
        details = _optional_mapping(usage, "prompt_tokens_details", where)
        cached = _optional(details, "cached_tokens", f"{where}.prompt_tokens_details")
        written = _optional(details, "cache_write_tokens", f"{where}.prompt_tokens_details")
        return cls(
            input_tokens=_uncached(prompt, cached, written, where),
            cached_input_tokens=cached,
            cache_write_tokens=written,
            output_tokens=completion,
        )

    @classmethod
    def from_openai_responses(cls, usage: Mapping[str, Any]) -> TokenUsage:
        """From a Responses API ``usage`` object (``input_tokens`` includes the cached tokens)."""
        where = "OpenAI responses usage"
        usage = _mapping(usage, where)
        prompt = _required(usage, "input_tokens", where)
        output = _required(usage, "output_tokens", where)
        details = _optional_mapping(usage, "input_tokens_details", where)
        cached = _optional(details, "cached_tokens", f"{where}.input_tokens_details")
        written = _optional(details, "cache_write_tokens", f"{where}.input_tokens_details")
        return cls(
            input_tokens=_uncached(prompt, cached, written, where),
            cached_input_tokens=cached,
            cache_write_tokens=written,
            output_tokens=output,
        )

    @classmethod
    def from_openai_embedding(cls, usage: Mapping[str, Any]) -> TokenUsage:
        """From an Embeddings ``usage`` object: input tokens only."""
        where = "OpenAI embedding usage"
        usage = _mapping(usage, where)
        return cls(input_tokens=_required(usage, "prompt_tokens", where))

    @classmethod
    def from_anthropic(cls, usage: Mapping[str, Any]) -> TokenUsage:
        """From an Anthropic ``message.usage`` object.

        ``input_tokens`` already excludes cache reads and writes and is kept as is. The 1-hour
        writes come from ``cache_creation.ephemeral_1h_input_tokens``. When
        ``cache_creation_input_tokens`` is absent, the writes are the sum of the ``cache_creation``
        breakdown.
        """
        where = "Anthropic usage"
        usage = _mapping(usage, where)
        uncached = _required(usage, "input_tokens", where)
        output = _required(usage, "output_tokens", where)
        read = _optional(usage, "cache_read_input_tokens", where)
        breakdown = _optional_mapping(usage, "cache_creation", where)
        w5m = _optional(breakdown, "ephemeral_5m_input_tokens", f"{where}.cache_creation")
        w1h = _optional(breakdown, "ephemeral_1h_input_tokens", f"{where}.cache_creation")
        if usage.get("cache_creation_input_tokens") is None:
            written = w5m + w1h
        else:
            written = _required(usage, "cache_creation_input_tokens", where)
            if w5m + w1h > written:
                raise ValueError(
                    f"{where}: cache_creation breakdown (5m {w5m} + 1h {w1h}) exceeds "
                    f"cache_creation_input_tokens ({written})"
                )
        return cls(
            input_tokens=uncached,
            cached_input_tokens=read,
            cache_write_tokens=written,
            cache_write_1h_tokens=w1h,
            output_tokens=output,
        )


_FIELD_NAMES = tuple(f.name for f in fields(TokenUsage))


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be a mapping, got {type(value).__name__}")
    return value


def _count(value: object, key: str, where: str) -> int:
    if type(value) is not int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"{where}: {key} must be an int, got {type(value).__name__} {value!r}")
    if value < 0:
        raise ValueError(f"{where}: {key} must not be negative, got {value}")
    return value


def _required(usage: Mapping[str, Any], key: str, where: str) -> int:
    if usage.get(key) is None:
        raise ValueError(f"{where}: required field {key!r} is missing")
    return _count(usage[key], key, where)


def _optional(usage: Mapping[str, Any], key: str, where: str) -> int:
    value = usage.get(key)
    return 0 if value is None else _count(value, key, where)


def _optional_mapping(usage: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = usage.get(key)
    if value is None:
        return {}
    return _mapping(value, f"{where}.{key}")


def _uncached(prompt: int, cached: int, written: int, where: str) -> int:
    if cached + written > prompt:
        raise ValueError(
            f"{where}: cached ({cached}) + cache-write ({written}) tokens exceed the prompt "
            f"tokens ({prompt}) they are part of"
        )
    return prompt - cached - written
