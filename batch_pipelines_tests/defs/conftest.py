from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest

from batch_pipelines.db import dagster_storage_url
from batch_pipelines.definitions import defs

from .harness import Daemon


@pytest.fixture
def dagster_instance(fresh_database_url: str) -> Iterator[dg.DagsterInstance]:
    """A Dagster instance whose storage is the test's own fresh Postgres database."""
    overrides = {"storage": {"postgres": {"postgres_url": dagster_storage_url(fresh_database_url)}}}
    with dg.instance_for_test(overrides=overrides) as instance:
        yield instance


@pytest.fixture
def daemon(dagster_instance: dg.DagsterInstance, engine, emulator) -> Daemon:
    """The code location, driven as the daemon drives it, on Postgres and the emulator."""
    return Daemon(defs(), dagster_instance)
