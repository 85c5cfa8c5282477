"""The code location loads, as the webserver and daemon would load it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

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
