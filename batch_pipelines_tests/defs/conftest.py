from __future__ import annotations

import dagster as dg
import pytest

from batch_pipelines.daemon_loop import DaemonLoop
from batch_pipelines.definitions import defs


@pytest.fixture
def daemon(dagster_instance: dg.DagsterInstance, engine, emulator) -> DaemonLoop:
    """The code location, driven as the daemon drives it, on Postgres and the emulator."""
    return DaemonLoop(defs(), dagster_instance)
