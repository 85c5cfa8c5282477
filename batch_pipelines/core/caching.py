"""Prompt caching as every layer sees it: a request's cacheable prefixes, how long a provider
keeps what it cached, which write class our requests pay, and a workflow's priming policy.

- The provider adapters say where a prompt's cache breakpoints are (`CachePrefix`, in prompt
  order: each one the whole prompt up to a breakpoint, so the later ones contain the earlier).
- The planner primes a new prefix with a small batch before the rest (`Priming`), because requests
  inside one batch do not read each other's cache writes while later batches read earlier writes;
  a synchronous call's write was *not* read by a batch a second later, so priming is a batch
  (anthropics/skills#1475, measured on claude-haiku-4-5; Anthropic's prompt-caching page,
  "Cache storage and sharing", advises a single-request batch with a 1-hour cache block).
- The ledger's cost bound counts one write per distinct prefix per TTL (`PROMPT_CACHES`).

The minimum cacheable length of each model is in `core.models` (`min_cacheable_tokens`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "AUTO_PRIMING",
    "PROMPT_CACHES",
    "CachePrefix",
    "Priming",
    "PrimingMode",
    "PromptCacheFacts",
    "prompt_cache",
]


@dataclass(frozen=True)
class CachePrefix:
    """The prompt up to one cache breakpoint: `key` identifies it exactly (provider, model, tools
    or response format, and every block up to the breakpoint); `tokens` is its estimated length
    (the documented estimate, 4 bytes a token)."""

    key: str
    tokens: int


@dataclass(frozen=True)
class PromptCacheFacts:
    """How a provider caches the prompts we send it.

    `ttl`: how long an entry lives after its last use with the TTL our requests ask for (a read
    refreshes it). `write_class`: the `TokenUsage` attribute our cache writes are billed under.
    `read_step`: cache reads come in multiples of it (OpenAI reads in 128-token steps)."""

    provider: str
    ttl: dt.timedelta
    write_class: str
    read_step: int
    source: str


PROMPT_CACHES: dict[str, PromptCacheFacts] = {
    facts.provider: facts
    for facts in (
        PromptCacheFacts(
            "anthropic",
            dt.timedelta(hours=1),
            "cache_write_1h_tokens",
            1,
            "Anthropic, Prompt caching: `cache_control` ttl '1h' (advised for batches, which can "
            "take longer than 5 minutes); every hit refreshes the entry",
        ),
        PromptCacheFacts(
            "openai",
            dt.timedelta(hours=1),
            "cache_write_5m_tokens",
            128,
            "OpenAI, Prompt caching guide: automatic, prefixes of 1,024 tokens or more, hits in "
            "128-token steps, kept after their last use for minutes and up to one hour; writes "
            "bill as uncached input (cache_write_tokens only on gpt-5.6 and later)",
        ),
    )
}


def prompt_cache(provider: str) -> PromptCacheFacts | None:
    """The provider's prompt-cache facts; None for one whose price a cache cannot change (a
    self-hosted server costs its GPU time)."""
    return PROMPT_CACHES.get(provider)


class PrimingMode(StrEnum):
    AUTO = "auto"  # prime where the model's batch price list makes a cache read cheaper
    ON = "on"  # prime every new shared prefix that clears the model's minimum
    OFF = "off"  # never: every request goes in the first batch that fits


@dataclass(frozen=True)
class Priming:
    """A workflow's priming policy: a prefix that no batch of the last TTL wrote, shared by at
    least `min_requests` requests of one plan, goes first as one line in a priming batch; the
    others wait for it to end, then read what it wrote. `min_requests` None: as many as pay for
    the write at the model's batch prices (3 on Claude Haiku 4.5 with 1-hour writes)."""

    mode: PrimingMode = PrimingMode.AUTO
    min_requests: int | None = None

    def __post_init__(self) -> None:
        if self.min_requests is not None and self.min_requests < 2:
            raise ValueError("priming needs at least 2 requests sharing a prefix to pay")


AUTO_PRIMING = Priming()
"""The default: prime where the price list says it saves money."""
