"""API keys never leave the process environment: a day is run with sentinel keys on the real-key
code path (`OPENAI_API_KEY` / `ANTHROPIC_API_KEY` set, base URLs pointing at the emulator), with
provider faults so that error paths write their messages, and then every place a key could end up
is scanned: logs and captured output, Dagster run tags, config, metadata and event logs (errors as
shown in the UI included), every column of every table of the database (Dagster's own tables live
in the same database), and every file under BATCH_PIPELINES_HOME and the Dagster instance."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from pathlib import Path

import dagster as dg
import pytest
from dagster._serdes import serialize_value
from sqlalchemy import text

from batch_pipelines.batching.lifecycle import run_to_completion
from batch_pipelines.db.seed import add_tenant
from batch_pipelines.db.settings import home_dir
from batch_pipelines.providers.registry import ProviderRegistry, resolve_endpoint
from batch_pipelines.workflows.post_call import PostCallAnalytics

from .conftest import DAY, post_call

pytestmark = pytest.mark.reliability

RUN = uuid.uuid4().hex[:12]
SENTINELS = {
    "OPENAI_API_KEY": f"sk-sentinel-openai-{RUN}",
    "ANTHROPIC_API_KEY": f"sk-ant-sentinel-anthropic-{RUN}",
    "VAULT_OPENAI_KEY": f"sk-sentinel-vault-openai-{RUN}",
    "VAULT_ANTHROPIC_KEY": f"sk-ant-sentinel-vault-anthropic-{RUN}",
}
# Every sentinel carries RUN; a masked key (APIs echo "sk-proj-****…" in 401 errors) still shows
# its first characters.
NEEDLES = (RUN, "sk-sent", "sk-ant-sent")


@pytest.fixture
def sentinel_keys(emulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Real-key mode against the emulator: the code path production uses with real keys."""
    for name, value in SENTINELS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("OPENAI_BASE_URL", emulator.openai_base_url)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", emulator.anthropic_base_url)
    return SENTINELS


VAULT_CREDENTIALS = {
    "openai_api_key_env": "VAULT_OPENAI_KEY",
    "anthropic_api_key_env": "VAULT_ANTHROPIC_KEY",
}


def _tenants(engine, ended_at: dt.datetime, *, with_vault: bool = True) -> None:
    credentials = VAULT_CREDENTIALS
    tenants = [("acme", {"redact_pii": False}), ("brightsmile", {"redact_pii": True})]
    if with_vault:
        tenants.append(
            ("vault", {"isolated": True, "redact_pii": True, "credentials": credentials})
        )
    for tenant_id, policy in tenants:
        add_tenant(engine, tenant_id, tenant_id.title(), "healthcare", "scale", policy)
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO agents (agent_id, tenant_id, name) VALUES (:a, :t, 'Ava')"),
                {"a": f"agent-{tenant_id}", "t": tenant_id},
            )
            for n in range(4):
                conn.execute(
                    text(
                        "INSERT INTO calls (call_id, tenant_id, agent_id, started_at, ended_at,"
                        " transcript) VALUES (:c, :t, :a, :s, :e, :x)"
                    ),
                    {
                        "c": f"call-{tenant_id}-{ended_at:%Y%m%d}-{n}",
                        "t": tenant_id,
                        "a": f"agent-{tenant_id}",
                        "s": ended_at - dt.timedelta(minutes=5),
                        "e": ended_at,
                        "x": f"Caller: hello {tenant_id}, my email is pat{n}@example.com",
                    },
                )


def _found_in(haystack: str | bytes) -> list[str]:
    if isinstance(haystack, bytes):
        return [n for n in NEEDLES if n.encode() in haystack]
    return [n for n in NEEDLES if n in haystack]


def _messages(error) -> str:
    """An error as the UI shows it: its message and those of its causes."""
    parts = []
    while error is not None:
        parts.append(error.message)
        error = error.cause
    return "\n".join(parts)


def scan_database(engine, *, dagster: bool) -> list[str]:
    """Every column of every table outside the system schemas, as text: one query per table."""
    hits = []
    with engine.connect() as conn:
        columns = conn.execute(
            text(
                "SELECT c.table_schema, c.table_name, c.column_name, c.data_type"
                " FROM information_schema.columns c JOIN information_schema.tables t"
                " USING (table_schema, table_name)"
                " WHERE t.table_type = 'BASE TABLE'"
                " AND c.table_schema NOT IN ('pg_catalog', 'information_schema')"
                " ORDER BY c.table_schema, c.table_name, c.ordinal_position"
            )
        ).all()
        tables: dict[tuple[str, str], list[str]] = {}
        for schema, table, column, data_type in columns:
            as_text = (
                f"encode(\"{column}\", 'escape')" if data_type == "bytea" else f'"{column}"::text'
            )
            tables.setdefault((schema, table), []).append(as_text)
        ours = {t for (_, t) in tables if t in ("tenants", "batch_jobs", "cost_ledger")}
        assert len(ours) == 3
        assert ("event_logs" in {t for (_, t) in tables}) is dagster
        patterns = [f"%{n}%" for n in NEEDLES]
        for (schema, table), values in tables.items():
            row = conn.execute(
                text(
                    f'SELECT concat_ws(\' \', {", ".join(values)}) AS v FROM "{schema}"."{table}"'
                    " WHERE concat_ws(' ', " + ", ".join(values) + ") LIKE ANY (:patterns) LIMIT 1"
                ),
                {"patterns": patterns},
            ).first()
            if row is not None:
                hits.append(f"{schema}.{table}: {_found_in(row.v)}")
    return hits


def scan_files(*roots: Path) -> list[str]:
    hits = []
    scanned = 0
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                scanned += 1
                hits += [f"{path}: {n}" for n in _found_in(path.read_bytes())]
    assert scanned > 0
    return hits


def test_an_engine_day_on_both_providers_writes_no_key_anywhere(
    engine, emulator, sentinel_keys, caplog, capfd
) -> None:
    caplog.set_level(logging.DEBUG)  # the most an operator could turn on, SDK debug logs included
    _tenants(engine, dt.datetime.combine(DAY, dt.time(12), tzinfo=dt.UTC))
    emulator.set_config(
        line_error_rate=0.3, malformed_rate=0.2, rate_limit_create=1, server_errors_rate=0.2
    )
    registry = ProviderRegistry(max_retries=1, timeout=30)
    errors: list[str] = []
    for provider in ("openai", "anthropic"):
        outcome = run_to_completion(engine, post_call(provider), registry, [DAY], max_rounds=30)
        errors += outcome.ingest_errors
        assert outcome.open_requests == 0
    # A tenant whose key variable is missing: the error names the variable, never a value.
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE tenants SET policy = jsonb_set(policy, '{credentials}',"
                ' \'{"openai_api_key_env": "NOT_SET_ANYWHERE"}\')'
                " WHERE tenant_id = 'vault'"
            )
        )
        conn.execute(text("DELETE FROM call_analytics WHERE tenant_id = 'vault'"))
        conn.execute(text("DELETE FROM llm_usage WHERE tenant_id = 'vault'"))
        conn.execute(text("DELETE FROM batch_requests WHERE tenant_id = 'vault'"))
    outcome = run_to_completion(engine, PostCallAnalytics(), registry, [DAY])
    # Its job is parked with the reason (the others carry on).
    parked = [job.reason for job in outcome.blocked]
    assert parked and all(
        "tenant vault" in e and "NOT_SET_ANYWHERE" in e and "is not set" in e for e in parked
    )
    errors += parked

    with engine.connect() as conn:
        keyed = conn.execute(
            text("SELECT count(*) FROM batch_jobs WHERE credentials_ref = 'tenant:vault'")
        ).scalar_one()
        recorded_errors = conn.execute(
            text("SELECT count(*) FROM batch_requests WHERE error IS NOT NULL")
        ).scalar_one()
    # Preconditions: the tenant-key and error paths were exercised (how many isolated batches a
    # faulty day needs varies with the fault rolls).
    assert keyed >= 1 and recorded_errors > 0
    endpoint = resolve_endpoint("anthropic", "tenant:vault", {"credentials": VAULT_CREDENTIALS})
    assert not endpoint.emulated and endpoint.api_key == SENTINELS["VAULT_ANTHROPIC_KEY"]
    out, err = capfd.readouterr()
    assert _found_in(caplog.text) == []
    assert _found_in(out + err) == []
    assert _found_in("\n".join(errors)) == []
    assert scan_database(engine, dagster=False) == []
    # The home (spools are deleted once ingested) and what reached the provider.
    assert scan_files(home_dir(), emulator.home) == []
    # The scans do find a key where there is one.
    with engine.begin() as conn:
        conn.execute(text("UPDATE batch_jobs SET error = :k"), {"k": SENTINELS["OPENAI_API_KEY"]})
    (home_dir() / "leak.txt").write_text(f"key={SENTINELS['ANTHROPIC_API_KEY']}")
    assert [h.split(":")[0] for h in scan_database(engine, dagster=False)] == ["public.batch_jobs"]
    assert len(scan_files(home_dir())) == 2  # RUN and "sk-ant-sent"


def test_a_dagster_day_writes_no_key_to_runs_events_metadata_or_files(
    engine, emulator, sentinel_keys, daemon, dagster_instance, caplog, capfd
) -> None:
    caplog.set_level(logging.INFO)
    # (the isolated tenant's own key is covered by the engine-level test)
    _tenants(engine, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2), with_vault=False)
    daemon.tick_sensor("tenant_registry_sensor")
    runs = daemon.tick_sensor("post_call_window_sensor")
    assert len(runs) == 1 and runs[0].success
    daemon.settle()
    # An error as the UI shows it: a run failing on a tenant whose key variable is not set.
    add_tenant(
        engine,
        "misconfigured",
        "Misconfigured",
        "sales",
        "scale",
        {"isolated": True, "credentials": {"openai_api_key_env": "NOT_SET_ANYWHERE"}},
    )
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO agents (agent_id, tenant_id, name) VALUES ('agent-m', 'misconfigured', 'Ava')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO calls (call_id, tenant_id, agent_id, started_at, ended_at, transcript)"
                " VALUES ('call-m', 'misconfigured', 'agent-m', now() - interval '3 minutes',"
                " now() - interval '1 minute', 'Caller: hi')"
            )
        )
    daemon.tick_sensor("tenant_registry_sensor")
    today = dt.datetime.now(dt.UTC).date()
    planned = daemon.launch(
        "post_call_job", dg.RunRequest(partition_key=f"{today.isoformat()}|misconfigured")
    )
    # The tenant's job is parked with the reason (the others carry on), never failed with a key.
    assert planned is not None and planned.success
    assert all(r.success for r in daemon.tick_sensor("batch_submit_sensor"))
    with engine.connect() as conn:
        parked = conn.execute(
            text(
                "SELECT j.error FROM batch_jobs j JOIN batch_requests r USING (batch_job_id)"
                " WHERE r.tenant_id = 'misconfigured' AND j.status = 'needs_attention'"
            )
        ).scalar_one()
    assert "tenant misconfigured" in parked and "NOT_SET_ANYWHERE" in parked
    # An error as the UI shows it: an ingest run for a batch job that does not exist.
    failed = daemon.launch(
        "post_call_ingest_job",
        dg.RunRequest(
            tags={"batch_pipelines/batch_job_id": "bj_missing"},
            partition_key=f"{today.isoformat()}|misconfigured",
        ),
    )
    assert failed is not None and not failed.success

    records = dagster_instance.get_run_records()
    assert len(records) >= 3
    failures = 0
    for record in records:
        run = record.dagster_run
        assert _found_in(serialize_value(run)) == []  # tags, config, op selection
        for entry in dagster_instance.all_logs(run.run_id):
            assert _found_in(serialize_value(entry)) == []  # messages, metadata, errors
            event = entry.dagster_event
            if event is not None and event.is_step_failure:
                failures += 1
                assert "no batch job bj_missing" in _messages(event.step_failure_data.error)
    assert failures == 1
    out, err = capfd.readouterr()
    assert _found_in(caplog.text) == []
    assert _found_in(out + err) == []
    assert scan_database(engine, dagster=True) == []
    assert scan_files(home_dir(), Path(dagster_instance.root_directory)) == []
