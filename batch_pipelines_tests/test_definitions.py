"""The code location loads, as the webserver and daemon would load it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from batch_pipelines.db.settings import DAGSTER_STORAGE_URL_ENV, DATABASE_URL_ENV, HOME_ENV
from batch_pipelines.definitions import defs

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_definitions_are_loadable(dagster_instance: dg.DagsterInstance) -> None:
    dg.Definitions.validate_loadable(defs())


def test_dagster_cli_validates_the_workspace(fresh_database_url: str) -> None:
    env = {**os.environ, "BATCH_PIPELINES_DATABASE_URL": fresh_database_url}
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All code locations passed validation" in result.stdout + result.stderr


def _dg(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    dg_cli = Path(sys.executable).with_name("dg")
    return subprocess.run(
        [str(dg_cli), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_the_dg_cli_checks_and_lists_the_definitions(tmp_path: Path) -> None:
    # As a user types them in the repo, with nothing configured: no database is needed to load.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in (DATABASE_URL_ENV, DAGSTER_STORAGE_URL_ENV, "DAGSTER_HOME")
    }
    env |= {HOME_ENV: str(tmp_path), "VIRTUAL_ENV": str(Path(sys.executable).parent.parent)}
    checked = _dg("check", "defs", env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr
    listed = _dg("list", "defs", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)
    assets = {a["asset_key"] for a in found["assets"]}
    assert {"post_call_requests", "call_analytics", "kb_index", "cost_ledger"} <= assets
    assert "tenant_cost_report_schedule" in {s["name"] for s in found["schedules"]}
    assert "cost_ledger:no_dead_lettered_or_held_items" in {c["key"] for c in found["asset_checks"]}


def test_the_database_resource_reads_its_variable_and_fails_fast_without_it(
    dagster_instance: dg.DagsterInstance, monkeypatch
) -> None:
    location = defs()
    database = location.resources["database"]
    assert database.url == dg.EnvVar(DATABASE_URL_ENV)  # what the Resources page shows
    monkeypatch.delenv(DATABASE_URL_ENV)
    job = location.resolve_job_def("tenant_cost_report_job")
    with pytest.raises(Exception, match=DATABASE_URL_ENV):
        job.execute_in_process(instance=dagster_instance, partition_key="2026-11-25")
