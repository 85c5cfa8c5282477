"""The model facts table: snapshots resolve to their alias, aliases to their snapshot."""

from __future__ import annotations

import pytest

from batch_pipelines.core.models import (
    MODELS,
    alias_of,
    min_cacheable_tokens,
    model_facts,
    snapshot_of,
)


@pytest.mark.parametrize(
    ("snapshot", "alias"),
    [
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("gpt-4o-mini-2099-01-01", "gpt-4o-mini"),  # a snapshot the table does not list
        ("claude-haiku-4-5-20990101", "claude-haiku-4-5"),
        ("text-embedding-3-large", "text-embedding-3-large"),
        ("my-finetune", "my-finetune"),
    ],
)
def test_a_snapshot_resolves_to_its_alias(snapshot: str, alias: str) -> None:
    assert alias_of(snapshot) == alias


def test_every_alias_round_trips_through_its_snapshot() -> None:
    for alias, facts in MODELS.items():
        assert alias_of(snapshot_of(alias)) == alias
        assert model_facts(snapshot_of(alias)) is facts


def test_unknown_alias_is_answered_as_given() -> None:
    assert snapshot_of("gpt-unknown") == "gpt-unknown"
    assert min_cacheable_tokens("gpt-unknown") is None


def test_haiku_4_5_caches_from_4096_tokens() -> None:
    assert min_cacheable_tokens("claude-haiku-4-5") == 4096
    assert min_cacheable_tokens("claude-haiku-4-5-20251001") == 4096
    assert min_cacheable_tokens("gpt-4o-mini") == 1024
    assert min_cacheable_tokens("text-embedding-3-large") is None
