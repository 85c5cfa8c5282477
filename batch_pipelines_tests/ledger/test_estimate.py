"""The ROI estimate: per-unit costs observed in the ledger, and refusing to guess without them."""

from __future__ import annotations

import argparse
import datetime as dt
from decimal import Decimal

import pytest

from batch_pipelines.core.usage import TokenUsage
from batch_pipelines.ledger.estimate import (
    NotEnoughData,
    add_estimate_arguments,
    estimate_tenant_month,
    render_estimate,
    run_estimate,
)
from batch_pipelines.ledger.ledger import price_partition
from batch_pipelines_tests.ledger.factories import DAY, add_job, add_tenant, add_usage

D = Decimal


@pytest.fixture
def observed(engine):
    """Sales: 2 calls (one billed twice: a retry), 1 lead, 2 documents; healthcare: 1 call."""
    with engine.begin() as conn:
        add_tenant(conn, "acme", vertical="sales", tier="growth", tier_price_usd=499)
        add_tenant(conn, "bolt", vertical="sales", tier="starter", tier_price_usd=149)
        add_tenant(conn, "care", vertical="healthcare")
        calls = add_job(conn, "post_call")
        leads = add_job(conn, "lead_scoring")
        docs = add_job(conn, "kb_index")
        call = TokenUsage(1000, 0, 0, 0, 100)  # 105 micro-USD
        add_usage(conn, "acme", calls, call, item_id="call-1")
        add_usage(conn, "acme", calls, call, item_id="call-1", mode="sync")  # 210 at sync price
        add_usage(conn, "bolt", calls, call, item_id="call-2")
        add_usage(conn, "care", calls, TokenUsage(10**6), item_id="call-3")
        add_usage(conn, "acme", leads, TokenUsage(1000, 0, 0, 0, 100), item_id="lead-1")  # 750
        add_usage(conn, "acme", docs, TokenUsage(1000), item_id="doc-1@v1")  # 65
        add_usage(conn, "bolt", docs, TokenUsage(2000), item_id="doc-2@v1")  # 130
    with engine.begin() as conn:
        for tenant in ("acme", "bolt", "care"):
            price_partition(conn, DAY, tenant)
    return engine


def test_estimate_from_observed_unit_costs(observed) -> None:
    with observed.connect() as conn:
        est = estimate_tenant_month(
            conn, "sales", {"calls_per_day": 300, "leads_per_day": 50, "docs_per_month": 40}
        )
    calls, leads, docs = est.lines
    assert (calls.unit, calls.observations, calls.tenants) == ("call", 2, 2)
    assert calls.unit_cost_micro_usd == D(420) / 2  # (105 + 210 + 105) / 2 calls
    assert calls.monthly_cost_micro_usd == D(210) * 300 * 30
    assert (leads.observations, leads.unit_cost_micro_usd) == (1, D(750))
    assert leads.monthly_cost_micro_usd == D(750) * 50 * 30
    assert (docs.unit, docs.observations, docs.unit_cost_micro_usd) == ("document", 2, D("97.5"))
    assert docs.monthly_cost_micro_usd == D("97.5") * 40
    assert est.monthly_cost_micro_usd == D(1_890_000 + 1_125_000 + 3_900)
    assert est.monthly_sync_cost_micro_usd > est.monthly_cost_micro_usd
    assert est.tier_prices_usd == {"starter": D(149), "growth": D(499)}
    text = render_estimate(est)
    assert "2 calls of 2 tenant(s)" in text and "On the growth tier ($499.00/month)" in text


def test_a_unit_cost_that_does_not_divide_is_rounded_to_the_quantum(observed) -> None:
    with observed.begin() as conn:
        job = add_job(conn, "lead_scoring")
        add_usage(conn, "bolt", job, TokenUsage(1, 0, 0, 0, 0), item_id="lead-2")  # 0.5
        add_usage(conn, "bolt", job, TokenUsage(1, 0, 0, 0, 0), item_id="lead-3")  # 0.5
        price_partition(conn, DAY, "bolt")
        est = estimate_tenant_month(
            conn, "sales", {"calls_per_day": 0, "leads_per_day": 1, "docs_per_month": 0}
        )
    (leads,) = est.lines
    assert leads.observations == 3
    assert leads.unit_cost_micro_usd == D("250.333333")  # 751 / 3
    assert leads.monthly_cost_micro_usd == D(751 * 30) / 3


def test_no_observation_for_a_needed_workflow_refuses_to_guess(observed) -> None:
    with observed.connect() as conn:
        with pytest.raises(NotEnoughData, match="lead scoring .per lead. for the healthcare"):
            estimate_tenant_month(
                conn, "healthcare", {"calls_per_day": 10, "leads_per_day": 5, "docs_per_month": 0}
            )
        # a workflow with no volume needs no observation
        est = estimate_tenant_month(
            conn, "healthcare", {"calls_per_day": 10, "leads_per_day": 0, "docs_per_month": 0}
        )
        assert [ln.workflow for ln in est.lines] == ["post_call"]
        with pytest.raises(NotEnoughData, match="post-call"):
            estimate_tenant_month(
                conn, "salon", {"calls_per_day": 1, "leads_per_day": 0, "docs_per_month": 0}
            )
        with pytest.raises(NotEnoughData, match="since 2026-12-01"):
            estimate_tenant_month(
                conn,
                "sales",
                {"calls_per_day": 1, "leads_per_day": 0, "docs_per_month": 0},
                since=dt.date(2026, 12, 1),
            )
        with pytest.raises(ValueError, match="unknown vertical"):
            estimate_tenant_month(
                conn, "bakery", {"calls_per_day": 1, "leads_per_day": 0, "docs_per_month": 0}
            )
        with pytest.raises(ValueError, match="calls_per_day"):
            estimate_tenant_month(
                conn, "sales", {"calls_per_day": -1, "leads_per_day": 0, "docs_per_month": 0}
            )


def test_the_estimate_command(observed, capsys) -> None:
    parser = argparse.ArgumentParser()
    add_estimate_arguments(parser)
    args = ["--vertical", "sales", "--calls-per-day", "300", "--leads-per-day", "50"]
    assert run_estimate(parser.parse_args([*args, "--docs-per-month", "40"])) == 0
    out = capsys.readouterr().out
    assert "Monthly estimate for a sales tenant" in out and "Total" in out
    with pytest.raises(NotEnoughData):
        run_estimate(parser.parse_args(["--vertical", "salon", "--calls-per-day", "1"]))


def test_a_workflow_observed_at_too_few_tenants_is_not_enough_data(observed) -> None:
    with observed.connect() as conn:
        est = estimate_tenant_month(
            conn,
            "sales",
            {"calls_per_day": 300, "leads_per_day": 0, "docs_per_month": 40},
            min_tenants=2,
        )  # 2 tenants each
        assert [ln.tenants for ln in est.lines] == [2, 2]
        with pytest.raises(NotEnoughData, match="not enough data for this vertical") as refused:
            estimate_tenant_month(
                conn,
                "sales",
                {"calls_per_day": 300, "leads_per_day": 50, "docs_per_month": 40},
                min_tenants=2,
            )  # 1 lead tenant
        assert (refused.value.vertical, refused.value.workflows) == ("sales", ("lead_scoring",))
        assert "acme" not in str(refused.value) and "bolt" not in str(refused.value)
        with pytest.raises(ValueError, match="at most 1,000,000"):
            estimate_tenant_month(
                conn, "sales", {"calls_per_day": 1_000_001, "leads_per_day": 0, "docs_per_month": 0}
            )
