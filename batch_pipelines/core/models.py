"""Facts about the provider models this project knows: the dated snapshot an alias answers with,
and the shortest prompt prefix the provider will cache. One table, read by the emulator (what it
answers, caches and accepts), the ledger (a snapshot priced at its alias's rates) and the planner
(whether a prefix can cache at all). Each row names its sources; `guess` marks a row where the
sources disagree or are third-party only (the emulator README lists them).
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
    "'Cache limitations': minimum cacheable prompt length per model, as quoted in "
    "anthropics/anthropic-sdk-python#1194 (shared/reference/batch-apis.md, corrections 2026-12-01)"
)
ANTHROPIC_CACHE_SOURCE_3P = (
    "not on the stored copies of Anthropic's page; third-party tables: dev.to/creeta "
    "'Claude's prompt cache fails silently below 1,024 tokens', clawdemy.org prompt-caching "
    "cheatsheet"
)
SONNET_4_6_CACHE_SOURCE = (
    "sources disagree: Anthropic's page as quoted in anthropics/anthropic-sdk-python#1194 says "
    "1,024, the reporter of that issue observed caching only from 2,048, and docs.orq.ai lists "
    "2,048 (so does shared/reference/batch-apis.md, corrections 2026-12-01); the higher, "
    "observed value is used so the emulator never caches what production would not"
)
OPENAI_SNAPSHOT_SOURCE = (
    "OpenAI, Models pages (platform.openai.com/docs/models): the snapshot each alias points to"
)
OPENAI_SNAPSHOT_OBSERVED = (
    "observed: batch output lines answer `gpt-4o-mini` with `gpt-4o-mini-2024-07-18` "
    "(openai-api-rs examples/data/batch_result.json); a Batch object of `gpt-5.4-pro` carries "
    "`model='gpt-5.4-pro-2026-03-05'` (ProjectTech4DevAI/kaapi-backend#723)"
)
ANTHROPIC_SNAPSHOT_SOURCE = (
    "Anthropic, Models overview (docs.claude.com/en/docs/about-claude/models/overview): "
    "Claude API id of each alias"
)
ANTHROPIC_UNDATED_SOURCE = (
    "Anthropic, Models overview: the 4.6 and later models have undated API ids "
    "(`claude-opus-4-6`, `claude-sonnet-4-6`; tygartmedia.com and claudeapi.com model-id "
    "lists), so responses carry the name as given"
)
NO_CACHE_SOURCE = "embeddings have no prompt cache"
UNDATED_OPENAI_SOURCE = "OpenAI, Models pages: embedding models have no dated snapshot"


@dataclass(frozen=True)
class ModelFacts:
    """One model alias. `snapshot` is the dated name responses carry (None: answered as given);
    `min_cacheable_tokens` is the shortest prefix the provider caches (None: the model's endpoint
    has no prompt cache, e.g. embeddings); `guess` marks a value the sources do not settle."""

    alias: str
    provider: str
    snapshot: str | None
    min_cacheable_tokens: int | None
    cache_source: str
    snapshot_source: str
    guess: bool = False


def _openai(
    alias: str,
    snapshot: str | None,
    min_cacheable: int | None = 1024,
    snapshot_source: str = OPENAI_SNAPSHOT_SOURCE,
) -> ModelFacts:
    return ModelFacts(
        alias,
        "openai",
        snapshot,
        min_cacheable,
        OPENAI_CACHE_SOURCE if min_cacheable else NO_CACHE_SOURCE,
        snapshot_source,
    )


def _anthropic(
    alias: str,
    snapshot: str | None,
    min_cacheable: int,
    cache_source: str = ANTHROPIC_CACHE_SOURCE,
    guess: bool = False,
) -> ModelFacts:
    return ModelFacts(
        alias,
        "anthropic",
        snapshot,
        min_cacheable,
        cache_source,
        ANTHROPIC_SNAPSHOT_SOURCE if snapshot else ANTHROPIC_UNDATED_SOURCE,
        guess,
    )


MODELS: dict[str, ModelFacts] = {
    facts.alias: facts
    for facts in (
        _openai("gpt-4o-mini", "gpt-4o-mini-2024-07-18", snapshot_source=OPENAI_SNAPSHOT_OBSERVED),
        _openai("gpt-4o", "gpt-4o-2024-08-06"),
        _openai("gpt-4.1", "gpt-4.1-2025-04-14"),
        _openai("gpt-4.1-mini", "gpt-4.1-mini-2025-04-14"),
        _openai("gpt-4.1-nano", "gpt-4.1-nano-2025-04-14"),
        _openai("gpt-5", "gpt-5-2025-08-07"),
        _openai("gpt-5-mini", "gpt-5-mini-2025-08-07"),
        _openai("gpt-5-nano", "gpt-5-nano-2025-08-07"),
        _openai("gpt-5.4-pro", "gpt-5.4-pro-2026-03-05", snapshot_source=OPENAI_SNAPSHOT_OBSERVED),
        _openai("text-embedding-3-small", None, None, UNDATED_OPENAI_SOURCE),
        _openai("text-embedding-3-large", None, None, UNDATED_OPENAI_SOURCE),
        _openai("text-embedding-ada-002", None, None, UNDATED_OPENAI_SOURCE),
        _anthropic("claude-opus-4-8", None, 1024, ANTHROPIC_CACHE_SOURCE_3P, guess=True),
        # Opus 4.7: dev.to/creeta says 2,048, clawdemy.org 4,096; the higher one is used.
        _anthropic("claude-opus-4-7", None, 4096, ANTHROPIC_CACHE_SOURCE_3P, guess=True),
        _anthropic("claude-opus-4-6", None, 4096),
        _anthropic("claude-sonnet-4-6", None, 2048, SONNET_4_6_CACHE_SOURCE, guess=True),
        _anthropic("claude-haiku-4-5", "claude-haiku-4-5-20251001", 4096),
        _anthropic("claude-sonnet-4-5", "claude-sonnet-4-5-20250929", 1024),
        _anthropic("claude-opus-4-5", "claude-opus-4-5-20251101", 4096),
        _anthropic("claude-opus-4-1", "claude-opus-4-1-20250805", 1024),
        _anthropic("claude-sonnet-4-0", "claude-sonnet-4-20250514", 1024),
        _anthropic("claude-opus-4-0", "claude-opus-4-20250514", 1024),
        _anthropic("claude-3-7-sonnet-latest", "claude-3-7-sonnet-20250219", 1024),
        _anthropic("claude-3-5-haiku-latest", "claude-3-5-haiku-20241022", 2048),
    )
}
_BY_SNAPSHOT = {facts.snapshot: facts for facts in MODELS.values() if facts.snapshot}
# A dated snapshot: OpenAI `-YYYY-MM-DD`, Anthropic `-YYYYMMDD`.
_DATE_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8})$")


def model_facts(model: str) -> ModelFacts | None:
    """The facts of an alias or of one of its snapshots (also a dated snapshot the table does not
    list, through its alias); None for a model this table lacks."""
    return listed_model(model) or MODELS.get(alias_of(model))


def listed_model(model: str) -> ModelFacts | None:
    """The facts of `model` only when the table lists it by that exact name (alias or snapshot):
    what the emulator accepts as a model the service knows."""
    return MODELS.get(model) or _BY_SNAPSHOT.get(model)


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
