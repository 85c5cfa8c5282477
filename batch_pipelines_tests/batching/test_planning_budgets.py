"""Budget holds at plan time: each item against the budget of the month it is booked to (its
partition date, not the clock), one tenant's reservations serialised across planners of every
workflow (two processes), and a held item's `held_since` kept while it stays held."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import time
from decimal import Decimal

from sqlalchemy import Engine, text

from batch_pipelines.batching.lifecycle import run_to_completion
from batch_pipelines.batching.planning import plan
from batch_pipelines.core.usage import TokenUsage
from batch_pipelines.db.settings import DATABASE_URL_ENV, HOME_ENV
from batch_pipelines.ledger.budgets import held_items
from batch_pipelines.ledger.ledger import price_partition
from batch_pipelines.providers.registry import ProviderRegistry
from batch_pipelines_tests.batching.conftest import CallSummaries, add_calls, add_tenant
from batch_pipelines_tests.ledger.factories import add_job, add_usage

OCT_31 = dt.date(2026, 10, 31)
NOV_1 = dt.date(2026, 11, 1)
# Lead scoring's schedule: 02:00 UTC on the 1st, for the previous day.
FIRST_OF_NOVEMBER = dt.datetime(2026, 11, 1, 2, 0, tzinfo=dt.UTC)


def _requests(engine: Engine, tenant_id: str) -> list:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT custom_id, workflow, partition_date, status, error, held_since,"
                " estimated_cost_micro_usd FROM batch_requests WHERE tenant_id = :t"
                " ORDER BY partition_date, item_id, workflow"
            ),
            {"t": tenant_id},
        ).all()


def _set_budget(engine: Engine, tenant_id: str, usd: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE tenants SET policy = policy || jsonb_build_object('monthly_budget_usd',"
                " CAST(:b AS numeric)) WHERE tenant_id = :t"
            ),
            {"b": usd, "t": tenant_id},
        )


def _booked_micro_usd(engine: Engine, tenant_id: str, month: dt.date) -> Decimal:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT coalesce(sum(cost_micro_usd), 0) FROM cost_ledger WHERE tenant_id = :t"
                " AND date_trunc('month', ledger_date) = date_trunc('month', CAST(:m AS date))"
            ),
            {"t": tenant_id, "m": month},
        ).scalar_one()


def test_a_previous_day_planned_on_the_first_is_held_against_its_own_months_budget(
    engine, providers
) -> None:
    # acme's October budget is nearly spent: 9,900 of 10,000 micro-USD. November is empty. The
    # run on Nov 1 for Oct 31 must check October (where the work is booked), not November.
    add_tenant(engine, "acme", budget=0.01)
    with engine.begin() as conn:
        spend = add_job(conn, "post_call")
        add_usage(
            conn,
            "acme",
            spend,
            TokenUsage(100_000, 0, 0, 0, 8_000),
            ledger_date=dt.date(2026, 10, 5),
        )
    with engine.begin() as conn:
        assert price_partition(conn, dt.date(2026, 10, 5), "acme").cost_micro_usd == 9_900
    add_calls(engine, "acme", 3, day=OCT_31)
    add_calls(engine, "acme", 1, day=NOV_1)
    workflow = CallSummaries()

    result = plan(engine, workflow, providers, [OCT_31, NOV_1], now=FIRST_OF_NOVEMBER)

    rows = _requests(engine, "acme")
    october = [r for r in rows if r.partition_date == OCT_31]
    november = [r for r in rows if r.partition_date == NOV_1]
    assert result.held == 3 and [r.status for r in october] == ["held"] * 3
    assert all(r.estimated_cost_micro_usd > 100 for r in october)  # none fits the 100 left
    assert "budget for 2026-10 would be exceeded" in october[0].error
    assert "0.000100 of 0.010000 USD left" in october[0].error
    assert [r.status for r in november] == ["planned"]  # November's budget has room

    # Later plans (any clock, November's budget untouched) keep them held, and when they were
    # first held.
    first_held = {r.custom_id: r.held_since for r in october}
    assert all(first_held.values())
    for hours in (1, 30):
        plan(engine, workflow, providers, None, now=FIRST_OF_NOVEMBER + dt.timedelta(hours=hours))
        again = [r for r in _requests(engine, "acme") if r.partition_date == OCT_31]
        assert [r.status for r in again] == ["held"] * 3
        assert {r.custom_id: r.held_since for r in again} == first_held
    with engine.connect() as conn:
        assert [h.held_since for h in held_items(conn, "acme")] == sorted(first_held.values())

    # The October budget is raised: the held items go, and October's booked cost stays within.
    _set_budget(engine, "acme", "0.0105")
    run_to_completion(engine, workflow, providers, [OCT_31, NOV_1])
    released = [r for r in _requests(engine, "acme") if r.partition_date == OCT_31]
    assert [r.status for r in released] == ["succeeded"] * 3
    assert all(r.held_since is None for r in released)
    with engine.begin() as conn:
        price_partition(conn, OCT_31, "acme")
    assert _booked_micro_usd(engine, "acme", OCT_31) <= 10_500


def _plan_in_a_process(
    database_url: str, env: dict[str, str], workflow_name: str, start, results
) -> None:
    """A planner of its own process: it plans, then holds its transaction open for a second
    before it commits, so the other planner decides while this one's reservation is uncommitted."""
    os.environ.update(env)
    from batch_pipelines.db.engine import get_engine

    workflow = CallSummaries()
    workflow.name = workflow_name

    def linger(point: str) -> None:
        if point == "after_queue_written":
            time.sleep(1.0)

    engine = get_engine(database_url)
    start.wait(timeout=120)
    outcome = plan(
        engine, workflow, ProviderRegistry(max_retries=0, timeout=30), [OCT_31], checkpoint=linger
    )
    results.put((workflow_name, outcome.planned, outcome.held))


def test_two_planners_of_two_workflows_in_two_processes_spend_the_last_budget_once(
    engine, providers, fresh_database_url, emulator
) -> None:
    # What one call's request is estimated at, from a tenant without a budget (same text size),
    # on another day (the planners below plan Oct 31 only).
    add_tenant(engine, "probe")
    add_calls(engine, "probe", 1, day=OCT_31 - dt.timedelta(days=1))
    plan(engine, CallSummaries(), providers, [OCT_31 - dt.timedelta(days=1)])
    (probe,) = _requests(engine, "probe")
    one_item = Decimal(probe.estimated_cost_micro_usd)
    # tight: room for one item, not for two (one per workflow)
    add_tenant(engine, "tight", budget=float((one_item * 3 / 2).scaleb(-6)))
    add_calls(engine, "tight", 1, day=OCT_31)

    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(2), context.Queue()
    env = {
        name: os.environ[name]
        for name in (
            DATABASE_URL_ENV,
            HOME_ENV,
            "BATCH_PIPELINES_EMULATOR_URL",
            "BATCH_PIPELINES_CUSTOM_ID_SECRET",
        )
    }
    planners = [
        context.Process(
            target=_plan_in_a_process, args=(fresh_database_url, env, name, start, results)
        )
        for name in ("post_call", "lead_scoring")
    ]
    for process in planners:
        process.start()
    outcomes = sorted(results.get(timeout=180) for _ in planners)
    for process in planners:
        process.join(timeout=60)
        assert process.exitcode == 0

    # One of them planned the tenant's item, the other held its own: never both.
    assert sorted((planned, held) for _, planned, held in outcomes) == [(0, 1), (1, 0)]
    statuses = sorted((r.workflow, r.status) for r in _requests(engine, "tight"))
    assert sorted(s for _, s in statuses) == ["held", "planned"]
    with engine.connect() as conn:
        reserved = conn.execute(
            text(
                "SELECT sum(estimated_cost_micro_usd) FROM batch_requests"
                " WHERE tenant_id = 'tight' AND status = 'planned'"
            )
        ).scalar_one()
        budget = conn.execute(
            text("SELECT policy -> 'monthly_budget_usd' FROM tenants WHERE tenant_id = 'tight'")
        ).scalar_one()
    assert reserved <= Decimal(json.dumps(budget)).scaleb(6)
