"""A negotiated rate in price_overrides.yaml prices a day's lines end to end (planned, sent to the
emulator through the SDK, ingested, priced), whatever model name the provider answers with: the
real services answer with dated snapshots (`gpt-4o-mini-2024-07-18`, batch-apis.md corrections
2026-12-01), the rate names the alias."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from batch_pipelines.batching.lifecycle import run_to_completion
from batch_pipelines.ledger.ledger import price_partition
from batch_pipelines.ledger.pricing import DEFAULT_OVERRIDES_PATH, load_overrides
from batch_pipelines_tests.batching.conftest import DAY, CallSummaries, add_calls, add_tenant

RATE = {"input": "0.05", "cached_input": "0.025", "output": "0.2"}


@pytest.fixture
def negotiated(tmp_path: Path):
    """The bundled table with a negotiated gpt-4o-mini batch rate, as a price correction adds it."""
    raw = yaml.safe_load(DEFAULT_OVERRIDES_PATH.read_text(encoding="utf-8"))
    raw["version"] = "2026-12-01.1"
    raw["negotiated"] = {"openai": {"gpt-4o-mini": {"batch": RATE}}}
    path = tmp_path / "price_overrides.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return load_overrides(path)


@pytest.mark.parametrize("answered_as", [None, "gpt-4o-mini-2024-07-18", "gpt-4o-mini-2025-01-01"])
def test_a_negotiated_alias_rate_prices_the_days_lines_whatever_the_model_answers_with(
    engine, providers, negotiated, answered_as
) -> None:
    add_tenant(engine, "acme")
    add_calls(engine, "acme", 4)
    run_to_completion(engine, CallSummaries(), providers, [DAY])
    with engine.begin() as conn:
        if answered_as is not None:  # as the real service names its lines
            conn.execute(text("UPDATE llm_usage SET model = :m"), {"m": answered_as})
        price_partition(conn, DAY, "acme", negotiated)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT model, input_tokens, cached_input_tokens, output_tokens, cost_micro_usd,"
                " priced_by, pricing_version FROM cost_ledger ORDER BY usage_id"
            )
        ).all()
    assert len(rows) == 4
    for row in rows:
        expected = (
            row.input_tokens * Decimal(RATE["input"])
            + row.cached_input_tokens * Decimal(RATE["cached_input"])
            + row.output_tokens * Decimal(RATE["output"])
        )
        assert row.cost_micro_usd == expected
        assert row.priced_by == "price_overrides negotiated.openai.gpt-4o-mini.batch"
        assert row.pricing_version.startswith("price_overrides 2026-12-01.1")
        assert row.model == (answered_as or row.model)
