"""The poll sensor's progress observations read the same keys whichever the provider."""

from __future__ import annotations

import pytest

from batch_pipelines.defs.batching.sensors import progress_metadata


@pytest.mark.parametrize(
    ("provider", "request_counts"),
    [
        # OpenAI Batch `request_counts`
        ("openai", {"total": 10, "completed": 6, "failed": 1}),
        # Anthropic Message Batches `request_counts`
        ("anthropic", {"processing": 3, "succeeded": 6, "errored": 1, "canceled": 0, "expired": 0}),
    ],
)
def test_both_providers_report_the_same_progress_keys(provider: str, request_counts: dict) -> None:
    assert progress_metadata(provider, request_counts) == {
        "lines_total": 10,
        "lines_succeeded": 6,
        "lines_failed": 1,
        "lines_pending": 3,
    }
