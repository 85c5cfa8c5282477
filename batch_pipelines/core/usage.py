"""Token usage of one billed provider line, normalised across providers (each adapter parses its
own wire format into it: `providers/openai_batch.py`, `providers/anthropic_batch.py`).

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

from collections.abc import Iterable
from dataclasses import dataclass, fields

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


_FIELD_NAMES = tuple(f.name for f in fields(TokenUsage))
