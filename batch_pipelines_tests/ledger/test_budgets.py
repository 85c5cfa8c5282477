"""Budgets: budget - month's cost - unpriced usage - reservations, and the items held."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import text

from batch_pipelines.core.usage import TokenUsage
from batch_pipelines.ledger.budgets import available_micro_usd, held_items
from batch_pipelines.ledger.ledger import price_partition
from batch_pipelines_tests.ledger.factories import DAY, add_job, add_request, add_tenant, add_usage

NOV = dt.date(2026, 11, 1)
LINE = TokenUsage(1000, 0, 0, 0, 100)  # gpt-4o-mini batch: 105 micro-USD


@pytest.fixture
def budgeted(engine):
    """acme: budget 1000 micro-USD; 210 priced in November, 105 in October, one line of
    November ingested but not priced yet (reserved at 40), reservations 100 + 50 + 25."""
    with engine.begin() as conn:
        add_tenant(conn, "acme", budget_usd="0.001")
        add_tenant(conn, "free")  # no budget: unlimited
        job = add_job(conn, "post_call")
        live = add_job(conn, "post_call", status="submitted")
        for _ in range(2):
            add_usage(conn, "acme", job, LINE)
        add_usage(conn, "acme", job, LINE, ledger_date=dt.date(2026, 10, 31))
        add_request(conn, "acme", status="pending", estimated_cost_micro_usd=100)
        add_request(conn, "acme", status="planned", job_id=live, estimated_cost_micro_usd=50)
        add_request(conn, "acme", status="submitted", job_id=live, estimated_cost_micro_usd=25)
        # not reservations: held (it did not fit), succeeded (its cost is in the ledger),
        # failed, and a pending request of December
        add_request(conn, "acme", status="held", estimated_cost_micro_usd=999)
        add_request(conn, "acme", status="succeeded", estimated_cost_micro_usd=500)
        add_request(conn, "acme", status="failed", estimated_cost_micro_usd=7)
        add_request(
            conn,
            "acme",
            status="pending",
            partition_date=dt.date(2026, 12, 1),
            estimated_cost_micro_usd=11,
        )
        add_request(conn, "free", status="pending", estimated_cost_micro_usd=10**9)
    with engine.begin() as conn:
        price_partition(conn, DAY, "acme")
        price_partition(conn, dt.date(2026, 10, 31), "acme")
        late = add_usage(conn, "acme", job, LINE)
        conn.execute(
            text(
                "UPDATE batch_requests SET estimated_cost_micro_usd = 40 WHERE custom_id ="
                " (SELECT custom_id FROM llm_usage WHERE usage_id = :u)"
            ),
            {"u": late},
        )
    return job


def test_available_is_budget_minus_cost_unpriced_usage_and_reservations(engine, budgeted):
    with engine.connect() as conn:
        available = available_micro_usd(conn, ["acme", "free"], NOV)
    assert available == {"acme": Decimal(1000 - 210 - 40 - (100 + 50 + 25)), "free": None}


def test_any_date_of_the_month_selects_it(engine, budgeted):
    with engine.connect() as conn:
        assert available_micro_usd(conn, ["acme"], dt.date(2026, 11, 30)) == {"acme": Decimal(575)}


def test_reservations_are_replaced_by_actual_cost_once_priced(engine, budgeted):
    with engine.begin() as conn:
        price_partition(conn, DAY, "acme")  # the late line: 40 reserved -> 105 actual
        assert available_micro_usd(conn, ["acme"], NOV) == {"acme": Decimal(1000 - 315 - 175)}
        # ingest marks a submitted request succeeded: its reservation goes; its usage counts
        conn.execute(
            text("UPDATE batch_requests SET status = 'succeeded' WHERE status = 'submitted'")
        )
        assert available_micro_usd(conn, ["acme"], NOV) == {"acme": Decimal(1000 - 315 - 150)}


def test_over_budget_is_negative_and_a_raised_budget_or_new_month_releases(engine, budgeted):
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE tenants SET policy = CAST(:p AS jsonb) WHERE tenant_id = 'acme'"),
            {"p": json.dumps({"monthly_budget_usd": 0.0002})},
        )
        over = available_micro_usd(conn, ["acme"], NOV)["acme"]
        assert over == Decimal(200 - 425) < 0
        held = held_items(conn, "acme")
        assert [h.estimated_cost_micro_usd for h in held] == [Decimal(999)]
        # held work fits again when the budget is raised ...
        conn.execute(
            text("UPDATE tenants SET policy = CAST(:p AS jsonb) WHERE tenant_id = 'acme'"),
            {"p": json.dumps({"monthly_budget_usd": 12.5})},
        )
        raised = available_micro_usd(conn, ["acme"], NOV)["acme"]
        assert raised == Decimal(12_500_000 - 425) >= held[0].estimated_cost_micro_usd
        # ... and in a new month only that month's reservations count
        assert available_micro_usd(conn, ["acme"], dt.date(2026, 12, 5)) == {
            "acme": Decimal(12_500_000 - 11)
        }


def test_null_budget_is_unlimited_and_bad_input_is_refused(engine, budgeted):
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE tenants SET policy = '{\"monthly_budget_usd\": null}' WHERE tenant_id = 'acme'"
            )
        )
        assert available_micro_usd(conn, ["acme"], NOV) == {"acme": None}
        assert available_micro_usd(conn, [], NOV) == {}
        with pytest.raises(LookupError, match="nobody"):
            available_micro_usd(conn, ["acme", "nobody"], NOV)
        conn.execute(
            text(
                "UPDATE tenants SET policy = '{\"monthly_budget_usd\": -5}' WHERE tenant_id = 'acme'"
            )
        )
        with pytest.raises(ValueError, match="non-negative"):
            available_micro_usd(conn, ["acme"], NOV)


def test_held_items_of_everyone_or_one_tenant(engine, budgeted):
    with engine.begin() as conn:
        add_request(conn, "free", status="held", estimated_cost_micro_usd=3)
        everyone = held_items(conn)
        assert sorted(h.tenant_id for h in everyone) == ["acme", "free"]
        assert [h.tenant_id for h in held_items(conn, "free")] == ["free"]
        assert everyone[0].reason == "test" and everyone[0].workflow == "post_call"
