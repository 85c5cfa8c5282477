"""`batch_submit_sensor` through the loop `run-day` uses: queued work waits for its batch window,
then one submit run per group (workflow, provider, credentials, model, endpoint) carrying the tags
the run queue limits by; the loop records every tick on the instance as the daemon does, and
reports the poll sensor's progress observations."""

from __future__ import annotations

import datetime as dt

import dagster as dg
from dagster._core.scheduler.instigation import TickStatus
from sqlalchemy import func, select

from batch_pipelines.batching.groups import BATCH_WINDOW_ENV
from batch_pipelines.daemon_loop import DaemonLoop
from batch_pipelines.db.seed import seed_demo
from batch_pipelines.db.tables import batch_jobs, batch_requests, tenants
from batch_pipelines.defs.batching.steps import SUBMIT_GROUP_TAG
from batch_pipelines.defs.tenants.partitions import date_range_tags
from batch_pipelines.providers.registry import tenant_credentials_ref

DAY = dt.date(2026, 11, 12)


def _ticks(daemon: DaemonLoop, sensor: str) -> list:
    """The sensor's ticks on the instance, newest first (what the UI's sensor page lists)."""
    selector = DaemonLoop.selector_id(sensor)
    return list(daemon.instance.get_ticks(selector, selector))


def test_queued_work_waits_for_its_window_then_one_submit_run_per_group_with_ticks_recorded(
    daemon: DaemonLoop, engine, emulator, monkeypatch
) -> None:
    seed_demo(
        engine, tenants=6, date=DAY, calls_per_tenant=2, leads_per_tenant=0, docs_per_tenant=0
    )
    with engine.connect() as conn:
        policies = dict(conn.execute(select(tenants.c.tenant_id, tenants.c.policy)).all())
    groups = {
        tenant_credentials_ref(t) if p.get("isolated") else "default" for t, p in policies.items()
    }
    assert "default" in groups and len(groups) > 1  # the premise: shared and isolated tenants
    daemon.tick_sensor("tenant_registry_sensor")
    queued = daemon.launch(
        "post_call_job", dg.RunRequest(tags=date_range_tags(daemon.instance, DAY))
    )
    assert queued is not None and queued.success
    with engine.connect() as conn:
        statuses = set(conn.execute(select(batch_requests.c.status).distinct()).scalars())
        assert conn.execute(select(func.count()).select_from(batch_jobs)).scalar_one() == 0
    assert "queued" in statuses

    # Within the window: nothing is submitted, and the tick says why.
    monkeypatch.setenv(BATCH_WINDOW_ENV, "300")
    assert daemon.tick_sensor("batch_submit_sensor") == []
    (skipped,) = _ticks(daemon, "batch_submit_sensor")
    assert skipped.status is TickStatus.SKIPPED and "window" in skipped.skip_reason

    # The window has passed: one submit run per group, tagged for the run queue's limits.
    monkeypatch.setenv(BATCH_WINDOW_ENV, "0")
    runs = daemon.tick_sensor("batch_submit_sensor")
    assert runs and all(r.success for r in runs)
    assert len(runs) == len(groups)
    for run in runs:
        tags = run.dagster_run.tags
        assert run.dagster_run.job_name == "post_call_submit_job"
        assert (tags["workflow"], tags["provider"], tags["model"]) == (
            "post_call",
            "openai",
            "gpt-4o-mini",
        )
        assert tags[SUBMIT_GROUP_TAG].startswith("post_call/openai/")
    assert {r.dagster_run.tags["batch_pipelines/credentials"] for r in runs} == groups
    latest = _ticks(daemon, "batch_submit_sensor")[0]
    assert latest.status is TickStatus.SUCCESS
    assert sorted(latest.run_ids) == sorted(r.run_id for r in runs)
    with engine.connect() as conn:
        jobs = conn.execute(select(batch_jobs.c.credentials_ref, batch_jobs.c.status)).all()
    assert {credentials for credentials, _ in jobs} == groups
    assert {status for _, status in jobs} <= {"submitted", "ended"}
    # Nothing queued is left: the next tick launches nothing again.
    assert daemon.tick_sensor("batch_submit_sensor") == []

    # The poll sensor's progress observations reach the instance (the asset's page shows them).
    daemon.tick_sensor("batch_poll_sensor")
    observed = daemon.instance.fetch_observations(dg.AssetKey("post_call_requests"), limit=50)
    assert observed.records
    metadata = observed.records[0].asset_observation.metadata
    assert {"lines_total", "lines_succeeded", "lines_pending"} <= set(metadata)
    assert _ticks(daemon, "batch_poll_sensor")
