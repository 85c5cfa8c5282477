"""`run-day` with one tenant's key variable unset (item 1 of issue 16): every other tenant's work
of the day is finished and priced, the parked work is printed with the tenant and the variable in
one line (however many batches it parks), and the exit code says a configuration error parked work
(2)."""

from __future__ import annotations

import contextvars
import datetime as dt
import json

import pytest
from sqlalchemy import text

from batch_pipelines.db.seed import seed_demo
from batch_pipelines.run_day import EXIT_CONFIGURATION, run_day
from batch_pipelines.terminal import print_result

DAY = dt.date(2026, 11, 25)


def test_run_day_finishes_everyone_else_and_exits_2_on_a_tenants_missing_key(
    engine, emulator, dagster_instance, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-shared")  # real-key mode, against the emulator
    monkeypatch.setenv("OPENAI_BASE_URL", emulator.openai_base_url)
    seed_demo(
        engine, tenants=3, date=DAY, calls_per_tenant=2, leads_per_tenant=1, docs_per_tenant=1
    )
    with engine.begin() as conn:
        broken = conn.execute(
            text("SELECT tenant_id FROM tenants ORDER BY tenant_id LIMIT 1")
        ).scalar_one()
        conn.execute(
            text("UPDATE tenants SET policy = policy || CAST(:p AS jsonb) WHERE tenant_id = :t"),
            {
                "t": broken,
                "p": json.dumps(
                    {"isolated": True, "credentials": {"openai_api_key_env": "BROKEN_KEY_UNSET"}}
                ),
            },
        )
    result = contextvars.copy_context().run(
        run_day,
        DAY,
        instance=dagster_instance,
        interval=0.1,
        on_progress=lambda state: None,
        timeout=dt.timedelta(minutes=5),
    )
    code = print_result(result)
    out, err = capsys.readouterr()
    assert code == EXIT_CONFIGURATION
    assert result.progress.done and not result.failed_runs  # everything else is finished
    assert result.progress.blocked and all(
        job.tenants == (broken,) for job in result.progress.blocked
    )
    assert f"tenant {broken}" in err and "BROKEN_KEY_UNSET" in err and "blocked:" in err
    # One line for the one cause, however many batches it parks (one per workflow of the tenant).
    blocked_lines = [line for line in err.splitlines() if line.startswith("blocked:")]
    assert len(result.progress.blocked) >= 2 and len(blocked_lines) == 1, blocked_lines
    assert "2 parked batches" in blocked_lines[0]
    with engine.connect() as conn:
        others = (
            conn.execute(
                text("SELECT DISTINCT status FROM batch_requests WHERE tenant_id <> :t"),
                {"t": broken},
            )
            .scalars()
            .all()
        )
        priced = conn.execute(
            text("SELECT count(DISTINCT tenant_id) FROM cost_ledger WHERE tenant_id <> :t"),
            {"t": broken},
        ).scalar_one()
    assert set(others) <= {"succeeded", "skipped", "dead_letter"} and "succeeded" in others
    assert priced == 2
