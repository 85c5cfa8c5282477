"""Post-call analytics through Dagster as the daemon runs it: the window sensor pools every tenant's
calls into one batch, the poll sensor launches the ingest, the ledger is priced in the same run."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, text

from batch_pipelines.db.seed import seed_demo
from batch_pipelines.db.tables import (
    batch_jobs,
    batch_requests,
    call_analytics,
    cost_ledger,
    llm_usage,
)


def _settle(daemon, rounds: int = 10) -> None:
    for _ in range(rounds):
        launched = daemon.tick_sensor("batch_poll_sensor")
        if not launched:
            break


def test_window_sensor_pools_the_days_calls_of_every_tenant_into_one_batch(daemon, engine) -> None:
    today = dt.datetime.now(dt.UTC).date()
    seed_demo(
        engine, tenants=4, date=today, calls_per_tenant=3, leads_per_tenant=0, docs_per_tenant=0
    )
    daemon.tick_sensor("tenant_registry_sensor")
    runs = daemon.tick_sensor("post_call_window_sensor")
    assert len(runs) == 1 and runs[0].success
    assert daemon.tick_sensor("post_call_window_sensor") == []  # nothing new in this window
    _settle(daemon)

    with engine.connect() as conn:
        jobs = conn.execute(select(batch_jobs.c.status, batch_jobs.c.mode)).all()
        finished = conn.execute(
            text("SELECT count(*) FROM calls WHERE ended_at IS NOT NULL AND ended_at::date = :d"),
            {"d": today},
        ).scalar_one()
        analysed = conn.execute(select(func.count()).select_from(call_analytics)).scalar_one()
        open_items = conn.execute(
            select(func.count())
            .select_from(batch_requests)
            .where(batch_requests.c.status.in_(("pending", "planned", "submitted")))
        ).scalar_one()
        usage = conn.execute(select(func.count()).select_from(llm_usage)).scalar_one()
        priced = conn.execute(select(func.count()).select_from(cost_ledger)).scalar_one()
    # One batch pooled across the shared tenants, one of its own per isolated tenant.
    assert sorted(jobs) == [("ingested", "batch")] * (1 + _isolated_with_calls(engine))
    assert open_items == 0
    assert analysed == finished - _skipped(engine)
    assert usage == priced == analysed
    ingest_runs = [r for r in daemon.runs if r.dagster_run.job_name == "post_call_ingest_job"]
    assert len(ingest_runs) == len(jobs) and all(r.success for r in ingest_runs)
    tags = ingest_runs[0].dagster_run.tags
    assert tags["provider"] == "openai" and tags["workflow"] == "post_call" and tags["model"]


def _skipped(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count())
            .select_from(batch_requests)
            .where(batch_requests.c.status.in_(("skipped", "dead_letter")))
        ).scalar_one()


def _isolated_with_calls(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(DISTINCT t.tenant_id) FROM tenants t JOIN calls c USING (tenant_id)"
                " WHERE (t.policy->>'isolated')::boolean AND c.ended_at IS NOT NULL"
            )
        ).scalar_one()
