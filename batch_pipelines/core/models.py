"""Facts about the provider models this project knows: the dated snapshot an alias answers with,
and the shortest prompt prefix the provider will cache. One table, read by the emulator (what it
answers and caches), the ledger (a snapshot priced at its alias's rates) and the planner (whether a
prefix can cache at all). Each row names its source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OPENAI_CACHE_SOURCE = (
    "OpenAI, Prompt caching guide (platform.openai.com/docs/guides/prompt-caching): "
    "prompts of 1,024 tokens or more, cache hits in 128-token steps"
)
ANTHROPIC_CACHE_SOURCE = (
    "Anthropic, Prompt caching (docs.claude.com/en/docs/build-with-claude/prompt-caching), "
    "'Cache limitations' minimum cacheable prompt length per model; quoted in "
    "anthropics/anthropic-sdk-python#1194 (shared/reference/batch-apis.md, corrections 2026-12-01)"
)
OPENAI_SNAPSHOT_SOURCE = (
    "OpenAI, Models pages (platform.openai.com/docs/models): the snapshot each alias points to"
)
ANTHROPIC_SNAPSHOT_SOURCE = (
    "Anthropic, Models overview (docs.claude.com/en/docs/about-claude/models/overview): "
    "Claude API model id of each alias"
)


@dataclass(frozen=True)
class ModelFacts:
    """One model alias. `snapshot` is the dated name responses carry (None: answered as given);
    `min_cacheable_tokens` is the shortest prefix the provider caches (None: the model's endpoint
    has no prompt cache, e.g. embeddings)."""

    alias: str
    provider: str
    snapshot: str | None
    min_cacheable_tokens: int | None
    cache_source: str
    snapshot_source: str


def _openai(alias: str, snapshot: str | None, min_cacheable: int | None = 1024) -> ModelFacts:
    return ModelFacts(
        alias,
        "openai",
        snapshot,
        min_cacheable,
        OPENAI_CACHE_SOURCE if min_cacheable else "embeddings have no prompt cache",
        OPENAI_SNAPSHOT_SOURCE,
    )


def _anthropic(alias: str, snapshot: str, min_cacheable: int) -> ModelFacts:
    return ModelFacts(
        alias,
        "anthropic",
        snapshot,
        min_cacheable,
        ANTHROPIC_CACHE_SOURCE,
        ANTHROPIC_SNAPSHOT_SOURCE,
    )


MODELS: dict[str, ModelFacts] = {
    facts.alias: facts
    for facts in (
        _openai("gpt-4o-mini", "gpt-4o-mini-2024-07-18"),
        _openai("gpt-4o", "gpt-4o-2024-08-06"),
        _openai("gpt-4.1", "gpt-4.1-2025-04-14"),
        _openai("gpt-4.1-mini", "gpt-4.1-mini-2025-04-14"),
        _openai("gpt-4.1-nano", "gpt-4.1-nano-2025-04-14"),
        _openai("text-embedding-3-small", None, None),
        _openai("text-embedding-3-large", None, None),
        _anthropic("claude-haiku-4-5", "claude-haiku-4-5-20251001", 4096),
        _anthropic("claude-sonnet-4-5", "claude-sonnet-4-5-20250929", 1024),
        _anthropic("claude-opus-4-5", "claude-opus-4-5-20251101", 4096),
        _anthropic("claude-opus-4-1", "claude-opus-4-1-20250805", 1024),
        _anthropic("claude-sonnet-4", "claude-sonnet-4-20250514", 1024),
        _anthropic("claude-opus-4", "claude-opus-4-20250514", 1024),
        _anthropic("claude-3-5-haiku", "claude-3-5-haiku-20241022", 2048),
    )
}
_BY_SNAPSHOT = {facts.snapshot: facts for facts in MODELS.values() if facts.snapshot}
# A dated snapshot: OpenAI `-YYYY-MM-DD`, Anthropic `-YYYYMMDD`.
_DATE_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8})$")


def model_facts(model: str) -> ModelFacts | None:
    """The facts of an alias or of one of its snapshots; None for a model this table lacks."""
    return MODELS.get(model) or _BY_SNAPSHOT.get(model) or MODELS.get(alias_of(model))


def snapshot_of(model: str) -> str:
    """The name a response carries for a request naming `model` (an unknown alias as given)."""
    facts = MODELS.get(model)
    return facts.snapshot if facts and facts.snapshot else model


def alias_of(model: str) -> str:
    """The alias of a dated snapshot (`gpt-4o-mini-2024-07-18` → `gpt-4o-mini`, also for
    snapshots this table does not list); any other name as given."""
    facts = _BY_SNAPSHOT.get(model)
    if facts:
        return facts.alias
    return _DATE_SUFFIX.sub("", model)


def min_cacheable_tokens(model: str) -> int | None:
    """The shortest prefix `model` caches, or None when it has no prompt cache or is unknown."""
    facts = model_facts(model)
    return facts.min_cacheable_tokens if facts else None
