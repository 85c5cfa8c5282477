"""The Dagster face of the ledger: cost_ledger per partition and per range, its checks evaluated
per partition (blocking ones failing the run, the WARN one for dead-lettered and held items),
tenant_cost_report and its daily schedule."""

from __future__ import annotations

import datetime as dt
import json
import re

import dagster as dg
import pytest
from sqlalchemy import text

from batch_pipelines.core.usage import TokenUsage
from batch_pipelines.db.settings import DATABASE_URL_ENV, HOME_ENV
from batch_pipelines.definitions import defs
from batch_pipelines.defs.ledger.assets import cost_ledger, tenant_cost_report
from batch_pipelines.defs.ledger.checks import cost_ledger_checks
from batch_pipelines.defs.resources import DatabaseResource
from batch_pipelines_tests.ledger.factories import (
    DAY,
    add_job,
    add_request,
    add_tenant,
    add_usage,
)

CHECKS = [cost_ledger_checks]  # the three blocking invariants and the WARN check, one step
RESOURCES = {"database": DatabaseResource(url=dg.EnvVar(DATABASE_URL_ENV))}
RANGE_OF_THE_DAY = {  # a single run over both tenants of 2026-11-25
    "dagster/asset_partition_range_start": "2026-11-25|acme",
    "dagster/asset_partition_range_end": "2026-11-25|beta",
}


@pytest.fixture
def two_tenants(engine, dagster_instance):
    with engine.begin() as conn:
        for tenant in ("acme", "beta"):
            add_tenant(conn, tenant)
        job = add_job(
            conn,
            "post_call",
            provider_usage={
                "input_tokens": 6000,
                "input_tokens_details": {"cached_tokens": 1000},
                "output_tokens": 600,
                "total_tokens": 6600,
            },
        )
        for tenant in ("acme", "beta"):
            for _ in range(2):
                add_usage(
                    conn,
                    tenant,
                    job,
                    TokenUsage(input_tokens=1250, cached_input_tokens=250, output_tokens=150),
                )
    dagster_instance.add_dynamic_partitions("tenants", ["acme", "beta"])
    return job


def _latest(instance: dg.DagsterInstance, key: str) -> dict:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("cost_ledger"), asset_partitions=[key]),
        limit=1,
    ).records
    assert records
    return records[0].asset_materialization.metadata


def test_one_partition(engine, dagster_instance, two_tenants) -> None:
    result = dg.materialize(
        [cost_ledger, *CHECKS],
        partition_key="2026-11-25|acme",
        instance=dagster_instance,
        resources=RESOURCES,
    )
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == 4 and all(e.passed for e in evaluations)
    assert {e.partition for e in evaluations} == {"2026-11-25|acme"}
    meta = _latest(dagster_instance, "2026-11-25|acme")
    assert meta["requests"].value == meta["dagster/row_count"].value == 2
    assert meta["input_tokens"].value == 3000  # every prompt token: 1250 uncached + 250 cached
    assert meta["cached_input_tokens"].value == 500
    assert meta["output_tokens"].value == 300
    # gpt-4o-mini batch: 1500 prompt x 0.075 + 150 x 0.3 = 157.5 micro-USD a line
    assert meta["cost_usd"].value == pytest.approx(0.000315)
    assert meta["saved_usd"].value == pytest.approx(0.000315)
    with engine.connect() as conn:
        tenants = conn.execute(text("SELECT DISTINCT tenant_id FROM cost_ledger")).scalars().all()
    assert tenants == ["acme"]


def test_a_broken_invariant_fails_the_blocking_check(engine, dagster_instance, two_tenants):
    # The provider says the batch used more tokens than the lines we ingested: a line is missing.
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE batch_jobs SET provider_usage = CAST(:u AS jsonb)"),
            {"u": json.dumps({"input_tokens": 9999, "output_tokens": 600})},
        )
    result = dg.materialize(
        [cost_ledger, *CHECKS],
        partition_key="2026-11-25|acme",
        instance=dagster_instance,
        resources=RESOURCES,
        raise_on_error=False,
    )
    assert not result.success
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert [e.check_name for e in failed] == ["batch_tokens_match_provider"]
    assert failed[0].partition == "2026-11-25|acme"
    assert failed[0].metadata["batches_mismatched"].value == 1
    # It says which batch differs, and how.
    assert failed[0].description == (
        f"batch {two_tenants} (provider batch pb-{two_tenants}): input_tokens: openai reports "
        "9999, the ledger has 6000"
    )
    assert list(failed[0].metadata["batches_differing"].value) == [two_tenants]


def test_a_batch_of_a_range_run_that_differs_is_named_once(engine, dagster_instance, two_tenants):
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE batch_jobs SET provider_usage = CAST(:u AS jsonb)"),
            {
                "u": json.dumps(
                    {
                        "input_tokens": 6000,
                        "input_tokens_details": {"cached_tokens": 999},
                        "output_tokens": 601,
                    }
                )
            },
        )
    result = dg.materialize(
        [cost_ledger, *CHECKS],
        instance=dagster_instance,
        resources=RESOURCES,
        tags=RANGE_OF_THE_DAY,
        raise_on_error=False,
    )
    assert not result.success  # blocking: the run fails
    failed = {e.partition: e for e in result.get_asset_check_evaluations() if not e.passed}
    # Each partition the batch serves fails on its own partition; the run's result counts them.
    assert set(failed) == {"2026-11-25|acme", "2026-11-25|beta", None}
    assert failed[None].metadata["partitions_failed"].value == 2
    for evaluation in failed.values():
        assert evaluation.check_name == "batch_tokens_match_provider"
        assert evaluation.description == (
            f"batch {two_tenants} (provider batch pb-{two_tenants}): output_tokens: openai "
            "reports 601, the ledger has 600; cached_tokens: openai reports 999, the ledger has "
            "1000"
        )


def test_a_range_run_shows_a_failure_on_its_own_partition_and_fails(
    engine, dagster_instance, two_tenants
) -> None:
    # One of beta's usage rows says another vertical than its request: only beta's partition is
    # misattributed once priced.
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE llm_usage SET vertical = 'healthcare' WHERE usage_id ="
                " (SELECT min(usage_id) FROM llm_usage WHERE tenant_id = 'beta')"
            )
        )
    result = dg.materialize(
        [cost_ledger, *CHECKS],
        instance=dagster_instance,
        resources=RESOURCES,
        tags=RANGE_OF_THE_DAY,
        raise_on_error=False,
    )
    assert not result.success
    attributed = {
        e.partition: e.passed
        for e in result.get_asset_check_evaluations()
        if e.check_name == "ledger_rows_attributed"
    }
    assert attributed == {"2026-11-25|acme": True, "2026-11-25|beta": False, None: False}
    # Stored on the partition: the UI shows it there.
    records = dagster_instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(cost_ledger.key, "ledger_rows_attributed"), limit=10
    )
    assert {r.partition for r in records} >= {"2026-11-25|acme", "2026-11-25|beta"}


def test_dead_lettered_and_held_items_warn_on_their_partition_and_block_nothing(
    engine, dagster_instance, two_tenants
) -> None:
    with engine.begin() as conn:
        add_request(conn, "beta", status="dead_letter", item_id="call-bad")
        add_request(conn, "beta", workflow="lead_scoring", status="held", item_id="lead-9")
    result = dg.materialize(
        [cost_ledger, *CHECKS],
        instance=dagster_instance,
        resources=RESOURCES,
        tags=RANGE_OF_THE_DAY,
    )
    assert result.success
    evaluations = {
        e.partition: e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "no_dead_lettered_or_held_items"
    }
    assert evaluations["2026-11-25|acme"].passed
    beta = evaluations["2026-11-25|beta"]
    assert not beta.passed and beta.severity == dg.AssetCheckSeverity.WARN
    assert beta.metadata["dead_lettered_items"].value == 1
    assert beta.metadata["held_items"].value == 1
    assert beta.description == (
        "lead scoring: 1 held (held: test); post-call analytics: 1 dead-letter (dead_letter: test)"
    )


def _coverage(dagster_instance) -> dg.AssetCheckEvaluation:
    result = (
        defs()
        .resolve_job_def("ledger_coverage_job")
        .execute_in_process(instance=dagster_instance, raise_on_error=False)
    )
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_usage_left_unpriced_for_an_hour_fails_the_coverage_check(
    engine, dagster_instance, two_tenants
) -> None:
    # Rows just recorded may wait for their pricing run; an hour later they may not.
    assert _coverage(dagster_instance).passed
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE llm_usage SET recorded_at = now() - interval '61 minutes'"
                " WHERE tenant_id = 'beta'"
            )
        )
    evaluation = _coverage(dagster_instance)
    assert not evaluation.passed
    assert evaluation.metadata["unpriced_usage_rows"].value == 2
    assert list(evaluation.metadata["partitions"].value) == ["2026-11-25|beta"]
    assert "materialize cost_ledger" in evaluation.description
    # Pricing the partition heals it.
    result = dg.materialize(
        [cost_ledger, *CHECKS],
        partition_key="2026-11-25|beta",
        instance=dagster_instance,
        resources=RESOURCES,
    )
    assert all(e.passed for e in result.get_asset_check_evaluations())
    assert _coverage(dagster_instance).passed


def test_a_range_run_prices_every_tenant_then_the_report_rolls_them_up(
    engine, dagster_instance, two_tenants, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path))
    result = dg.materialize(
        [cost_ledger, *CHECKS],
        instance=dagster_instance,
        resources=RESOURCES,
        tags=RANGE_OF_THE_DAY,
    )
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert all(e.passed for e in evaluations)
    # Each check on each partition, and once for the run.
    assert sorted(str(e.partition) for e in evaluations) == sorted(
        [*["2026-11-25|acme", "2026-11-25|beta", "None"] * 4]
    )
    assert all(
        e.metadata["partitions_checked"].value == 2 for e in evaluations if e.partition is None
    )
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM cost_ledger")).scalar() == 4
    for key in ("2026-11-25|acme", "2026-11-25|beta"):
        assert _latest(dagster_instance, key)["requests"].value == 2

    result = dg.materialize(
        [tenant_cost_report],
        partition_key=DAY.isoformat(),
        instance=dagster_instance,
        resources=RESOURCES,
    )
    assert result.success
    meta = result.asset_materializations_for_node("tenant_cost_report")[0].metadata
    assert re.search(r"\| acme +\| post-call analytics +\|", meta["report"].value)
    assert meta["tenants"].value == 2
    assert meta["cost_usd"].value == pytest.approx(0.00063)
    assert meta["requests"].value == 4 and meta["items_held"].value == 0
    # The per-tenant table the UI shows, and numeric keys it plots across partitions.
    table = meta["tenants_table"].value
    assert [c.name for c in table.schema.columns][:4] == [
        "tenant_id",
        "vertical",
        "tier",
        "tier_price_usd",
    ]
    assert [r.data["tenant_id"] for r in table.records] == ["acme", "beta"]
    assert sum(r.data["mtd_cost_usd"] for r in table.records) == pytest.approx(0.00063)
    assert all(isinstance(meta[k].value, float) for k in ("saved_usd", "mtd_saved_usd"))
    chart = tmp_path / "reports" / "2026-11-25.html"
    assert chart.is_file() and meta["chart"].value == str(chart)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM tenant_cost_reports")).scalar() == 2


def test_the_report_is_scheduled_daily_for_the_previous_day(
    engine, dagster_instance, two_tenants, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path))
    dg.materialize(
        [cost_ledger], instance=dagster_instance, resources=RESOURCES, tags=RANGE_OF_THE_DAY
    )
    location = defs()
    schedule = location.resolve_schedule_def("tenant_cost_report_schedule")
    assert schedule.cron_schedule == "0 6 * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    tick = dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(6), dt.UTC)
    (request,) = schedule.evaluate_tick(
        dg.build_schedule_context(
            instance=dagster_instance,
            scheduled_execution_time=tick,
            repository_def=location.get_repository_def(),
        )
    ).run_requests
    assert request.partition_key == DAY.isoformat()
    run = location.resolve_job_def(schedule.job_name).execute_in_process(
        instance=dagster_instance, partition_key=request.partition_key
    )
    assert run.success
    (report,) = run.asset_materializations_for_node("tenant_cost_report")
    assert report.partition == DAY.isoformat() and report.metadata["tenants"].value == 2
    # Both ledger assets declare when they are overdue.
    graph = location.resolve_asset_graph()
    for key in ("cost_ledger", "tenant_cost_report"):
        assert graph.get(dg.AssetKey(key)).freshness_policy is not None, key
