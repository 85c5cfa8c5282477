"""Tenant cost reports: frames with exact totals at every level, storage, renderings, the HTML charts."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from batch_pipelines.core.usage import TokenUsage
from batch_pipelines.db.settings import HOME_ENV
from batch_pipelines.ledger.ledger import price_partition
from batch_pipelines.ledger.pricing import price_line
from batch_pipelines.ledger.reports import (
    TenantCostReport,
    add_report_arguments,
    build_month_report,
    build_tenant_cost_report,
    render_markdown,
    render_terminal,
    run_report,
    write_report_html,
)
from batch_pipelines_tests.ledger.factories import (
    DAY,
    DEFAULT_MODELS,
    add_job,
    add_request,
    add_tenant,
    add_usage,
)

D = Decimal
NOV_1, NOV_24, NOV_26 = dt.date(2026, 11, 1), dt.date(2026, 11, 24), dt.date(2026, 11, 26)
OCT_31 = dt.date(2026, 10, 31)


@pytest.fixture
def ledger(engine):
    """acme (growth, $499) and beta (starter, $149) with lines on several days, all priced."""
    with engine.begin() as conn:
        add_tenant(conn, "acme", tier="growth", tier_price_usd=499)
        add_tenant(conn, "beta", vertical="healthcare", tier="starter", tier_price_usd=149)
        calls = add_job(conn, "post_call")
        leads = add_job(conn, "lead_scoring")
        docs = add_job(conn, "kb_index")
        lines = [
            ("acme", calls, TokenUsage(1000, 0, 0, 0, 100), DAY),  # 105
            ("acme", calls, TokenUsage(1000, 0, 0, 0, 100), NOV_24),  # 105
            ("acme", calls, TokenUsage(1000, 0, 0, 0, 100), OCT_31),  # other month
            ("acme", calls, TokenUsage(1000, 0, 0, 0, 100), NOV_26),  # after the report date
            ("acme", leads, TokenUsage(1000, 2000, 0, 0, 100), DAY),  # 500 + 100 + 250 = 850
            ("beta", docs, TokenUsage(10_000), NOV_1),  # 650
        ]
        for tenant, job, usage, day in lines:
            add_usage(conn, tenant, job, usage, ledger_date=day)
        add_request(
            conn, "beta", workflow="lead_scoring", status="held", estimated_cost_micro_usd=9
        )
    with engine.begin() as conn:
        for tenant, _, _, day in lines:
            price_partition(conn, day, tenant)
    return engine


def _rows(frame) -> dict[tuple[str, str], dict]:
    return {(r["tenant_id"], r["workflow"]): r for r in frame.to_dict("records")}


def test_the_day_report_per_tenant_and_workflow(ledger) -> None:
    with ledger.begin() as conn:
        report = build_tenant_cost_report(conn, DAY)
    by_key = _rows(report.workflows)
    assert sorted(by_key) == [
        ("acme", "lead_scoring"),
        ("acme", "post_call"),
        ("beta", "kb_index"),
        ("beta", "lead_scoring"),
    ]
    calls = by_key[("acme", "post_call")]
    assert (calls["day_cost_micro_usd"], calls["mtd_cost_micro_usd"]) == (D(105), D(210))
    assert (calls["day_sync_cost_micro_usd"], calls["mtd_sync_cost_micro_usd"]) == (D(210), D(420))
    assert calls["mtd_saved_pct"] == D("50.0") and calls["mtd_requests"] == 2
    leads = by_key[("acme", "lead_scoring")]
    # claude-haiku-4-5 batch: 1000 x 0.5 + 2000 cache reads x 0.05 + 100 x 2.5
    assert leads["mtd_cost_micro_usd"] == D(850)
    assert leads["mtd_sync_cost_micro_usd"] == D(3500)
    assert leads["mtd_batch_discount_micro_usd"] == D(1750)
    assert leads["mtd_cache_read_savings_micro_usd"] == D(900)
    assert leads["mtd_saved_micro_usd"] == D(1750 + 900)
    docs = by_key[("beta", "kb_index")]
    assert (docs["day_cost_micro_usd"], docs["mtd_cost_micro_usd"]) == (D(0), D(650))
    held = by_key[("beta", "lead_scoring")]  # held work, no spend: the tenant's facts still there
    assert (held["items_held"], held["mtd_requests"], held["tier"]) == (1, 0, "starter")
    assert held["mtd_cost_micro_usd"] == D(0) and held["mtd_saved_pct"] is None

    acme, beta = report.tenants.to_dict("records")
    assert acme["mtd_cost_micro_usd"] == D(1060)
    assert acme["margin_micro_usd"] == D(499_000_000 - 1060)
    assert beta["margin_pct"] == D("100.0")  # 650 micro-USD of $149 rounds to 100.0%
    assert beta["items_held"] == 1
    # money stays Decimal at every level
    assert all(isinstance(v, Decimal) for v in report.tenants["mtd_cost_micro_usd"])
    assert isinstance(report.totals["mtd_saved_micro_usd"], Decimal)
    per_workflow = report.by_workflow.set_index("workflow")
    assert per_workflow.loc["post_call", "mtd_cost_micro_usd"] == D(210)
    assert per_workflow.loc["lead_scoring", "items_held"] == 1


def test_the_report_is_stored_idempotently(ledger) -> None:
    with ledger.begin() as conn:
        first = build_tenant_cost_report(conn, DAY)
    with ledger.begin() as conn:
        again = build_tenant_cost_report(conn, DAY)
        stored = conn.execute(
            text(
                "SELECT tenant_id, workflow, mtd_cost_micro_usd, items_held"
                " FROM tenant_cost_reports WHERE report_date = :d ORDER BY 1, 2"
            ),
            {"d": DAY},
        ).all()
    pd.testing.assert_frame_equal(again.workflows, first.workflows)
    assert [tuple(s) for s in stored] == [
        (r["tenant_id"], r["workflow"], r["mtd_cost_micro_usd"], r["items_held"])
        for r in first.workflows.to_dict("records")
    ]


def test_the_month_report_covers_the_whole_month_and_is_not_stored(ledger) -> None:
    with ledger.connect() as conn:
        report = build_month_report(conn, "2026-11")
        assert conn.execute(text("SELECT count(*) FROM tenant_cost_reports")).scalar() == 0
    assert report.report_date == dt.date(2026, 11, 30) and report.kind == "month"
    calls = _rows(report.workflows)[("acme", "post_call")]
    assert calls["mtd_cost_micro_usd"] == D(315)  # 24th, 25th and 26th
    terminal = render_terminal(report)
    assert "(whole month)" in terminal and "Day spend" not in terminal
    with ledger.connect() as conn, pytest.raises(ValueError, match="2026-13"):
        build_month_report(conn, "2026-13")


def test_renderings(ledger, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path))
    with ledger.begin() as conn:
        report = build_tenant_cost_report(conn, DAY)
    md = render_markdown(report)
    assert re.search(
        r"\| acme +\| post-call analytics +\| +\$0\.0001 \| +\$0\.0001 \| +\$0\.0002 \|", md
    )
    assert "| **Total** " in md and "#### Margin per tenant" in md
    terminal = render_terminal(report)
    assert "Tenant cost report 2026-11-25 (month to date from 2026-11-01)" in terminal
    assert "$499.00" in terminal and "50.0%" in terminal
    lines = terminal.splitlines()
    assert all(line == line.rstrip() for line in lines)
    total = next(line for line in lines if line.lstrip().startswith("Total"))
    assert "$0.0017" in total  # the footer: 1060 + 650 micro-USD month to date

    path = write_report_html(report)
    assert path == tmp_path / "reports" / "2026-11-25.html"
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 3
    for title in ("Spend against synchronous calls", "Gross margin", "Savings split"):
        assert title in page
    assert "acme (growth)" in page and "beta" in page
    # renders offline: nothing is fetched, nothing runs
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", page) and "<script" not in page
    empty = write_report_html(
        TenantCostReport("day", DAY, report.source.iloc[0:0]), tmp_path / "e.html"
    )
    assert "no rows" in empty.read_text()


def test_the_report_command(ledger, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path))
    parser = argparse.ArgumentParser()
    add_report_arguments(parser)
    assert run_report(parser.parse_args(["--date", "2026-11-25"])) == 0
    out = capsys.readouterr().out
    assert "Tenant cost report 2026-11-25" in out
    assert f"chart: {tmp_path / 'reports' / '2026-11-25.html'}" in out
    assert run_report(parser.parse_args(["--month", "2026-11", "--no-html"])) == 0
    assert "(whole month)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        parser.parse_args(["--month", "November"])


# ---- the totals are exact ------------------------------------------------------------------------

LINE = st.tuples(
    st.sampled_from(["acme", "beta"]),
    st.sampled_from(sorted(DEFAULT_MODELS)),
    st.sampled_from([NOV_1, NOV_24, DAY, NOV_26]),
    st.integers(0, 200_000),  # uncached input
    st.integers(0, 50_000),  # cache reads
    st.integers(0, 20_000),  # cache writes
    st.integers(0, 8_000),  # output
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lines=st.lists(LINE, min_size=1, max_size=12))
def test_per_row_costs_add_up_exactly_to_the_report_totals(engine, lines) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "TRUNCATE cost_ledger, llm_usage, tenant_cost_reports, batch_requests, batch_jobs,"
                " tenants CASCADE"
            )
        )
        add_tenant(conn, "acme")
        add_tenant(conn, "beta")
        jobs = {w: add_job(conn, w) for w in DEFAULT_MODELS}
        expected: dict[tuple[str, str], Decimal] = {}
        for tenant, workflow, day, uncached, read, write, output in lines:
            if workflow == "kb_index":  # embeddings: input only
                usage = TokenUsage(uncached + read + write)
            elif workflow == "post_call":  # OpenAI reports no cache writes for gpt-4o-mini
                usage = TokenUsage(uncached, read, 0, 0, output)
            else:
                usage = TokenUsage(uncached, read, write, write // 3, output)
            add_usage(conn, tenant, jobs[workflow], usage, ledger_date=day)
            provider, model, _ = DEFAULT_MODELS[workflow]
            line = price_line(
                provider, model, "batch", usage, dt.datetime(2026, 11, 25, 10, tzinfo=dt.UTC)
            )
            if day <= DAY:
                key = (tenant, workflow)
                expected[key] = expected.get(key, D(0)) + line.cost_micro_usd
        for tenant, _, day, *_ in lines:
            price_partition(conn, day, tenant)
        report = build_tenant_cost_report(conn, DAY)
        ledger_total = conn.execute(
            text(
                "SELECT coalesce(sum(cost_micro_usd), 0) FROM cost_ledger WHERE ledger_date <= :d"
            ),
            {"d": DAY},
        ).scalar()
    assert {k: r["mtd_cost_micro_usd"] for k, r in _rows(report.workflows).items()} == expected
    totals = report.totals
    assert totals["mtd_cost_micro_usd"] == sum(expected.values(), D(0)) == ledger_total
    assert totals["mtd_saved_micro_usd"] == (
        totals["mtd_batch_discount_micro_usd"]
        + totals["mtd_cache_read_savings_micro_usd"]
        - totals["mtd_cache_write_premium_micro_usd"]
    )
    for level in (report.tenants, report.by_workflow):
        assert sum(level["mtd_cost_micro_usd"], D(0)) == totals["mtd_cost_micro_usd"]
        assert sum(level["mtd_saved_micro_usd"], D(0)) == totals["mtd_saved_micro_usd"]
