"""Shared fixtures: every test that writes gets its own fresh, migrated Postgres database.

The server is `BATCH_PIPELINES_DATABASE_URL` when set, otherwise an embedded pgserver kept under
`.batch_pipelines/test-pg` (apart from the demo's own data). A template database is migrated once
per schema version; each test clones it with CREATE DATABASE … TEMPLATE, which takes milliseconds.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import hypothesis
import pytest
from sqlalchemy import Engine, create_engine, text

from batch_pipelines.batching.groups import BATCH_WINDOW_ENV
from batch_pipelines.daemon_loop import DaemonLoop
from batch_pipelines.db import dagster_storage_url
from batch_pipelines.db import engine as db_engine
from batch_pipelines.db.migrate import MIGRATIONS_DIR, upgrade
from batch_pipelines.db.settings import DATABASE_URL_ENV, HOME_ENV
from batch_pipelines.definitions import defs
from batch_pipelines.emulator.config import EmulatorConfig
from batch_pipelines.emulator.server import EmulatorServer

REPO_ROOT = Path(__file__).resolve().parent.parent

# Machines are small and shared: no per-example deadline (a slow example is not a failure).
hypothesis.settings.register_profile("project", deadline=None)
hypothesis.settings.load_profile("project")
_SERVER_URL = os.environ.get(DATABASE_URL_ENV)
_TEMPLATE_LOCK_KEY = 0x74706C  # "tpl"


def _schema_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in sorted(MIGRATIONS_DIR.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _admin_url() -> str:
    if _SERVER_URL:
        return _SERVER_URL
    from batch_pipelines.db.embedded import embedded_url

    return embedded_url()


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """URL of the server the tests use (its maintenance database)."""
    if not _SERVER_URL:
        os.environ.setdefault(HOME_ENV, str(REPO_ROOT / ".batch_pipelines" / "test-home"))
    return _admin_url()


def _admin_engine(url: str) -> Engine:
    return create_engine(db_engine.with_driver(url, "psycopg"), isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def template_database(pg_server_url: str) -> str:
    """Name of a database migrated to head, created once per schema version and reused."""
    name = f"bp_template_{_schema_fingerprint()}"
    admin = _admin_engine(pg_server_url)
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _TEMPLATE_LOCK_KEY})
        try:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
                migrated = create_engine(
                    db_engine.with_driver(db_engine.with_database(pg_server_url, name), "psycopg")
                )
                upgrade(migrated)
                migrated.dispose()
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _TEMPLATE_LOCK_KEY})
    admin.dispose()
    return name


@pytest.fixture
def fresh_database_url(
    pg_server_url: str, template_database: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A new database cloned from the migrated template; `BATCH_PIPELINES_DATABASE_URL` points at it."""
    name = f"bp_test_{uuid.uuid4().hex[:16]}"
    admin = _admin_engine(pg_server_url)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"'))
    url = db_engine.with_database(pg_server_url, name)
    monkeypatch.setenv(DATABASE_URL_ENV, url)
    try:
        yield url
    finally:
        db_engine.dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def engine(fresh_database_url: str) -> Engine:
    """A SQLAlchemy engine on a fresh, migrated database."""
    return db_engine.get_engine(fresh_database_url)


@pytest.fixture
def empty_database_url(pg_server_url: str) -> Iterator[str]:
    """A new database with no schema at all (for migration tests)."""
    name = f"bp_empty_{uuid.uuid4().hex[:16]}"
    admin = _admin_engine(pg_server_url)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield db_engine.with_database(pg_server_url, name)
    finally:
        db_engine.dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorServer]:
    """The bundled emulator on a free port, and the environment that makes the providers use it
    (no API keys, a home of the test's own, a fixed custom-id secret)."""
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.setenv("BATCH_PIPELINES_CUSTOM_ID_SECRET", "test-secret-" + "x" * 32)
    with EmulatorServer(home=tmp_path / "emulator", config=EmulatorConfig(seed=3)) as server:
        monkeypatch.setenv("BATCH_PIPELINES_EMULATOR_URL", server.url)
        yield server


@pytest.fixture
def dagster_instance(fresh_database_url: str) -> Iterator[dg.DagsterInstance]:
    """A Dagster instance whose storage is the test's own fresh Postgres database."""
    overrides = {"storage": {"postgres": {"postgres_url": dagster_storage_url(fresh_database_url)}}}
    with dg.instance_for_test(overrides=overrides) as instance:
        yield instance


@pytest.fixture
def daemon(
    dagster_instance: dg.DagsterInstance, engine, emulator, monkeypatch: pytest.MonkeyPatch
) -> DaemonLoop:
    """The code location, driven as the daemon drives it, on Postgres and the emulator; a batch
    window of 0 (queued work is submitted at the submit sensor's next tick), as in `run-day`."""
    monkeypatch.setenv(BATCH_WINDOW_ENV, "0")
    return DaemonLoop(defs(), dagster_instance)
