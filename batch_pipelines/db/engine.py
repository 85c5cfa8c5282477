"""Engine factory: one SQLAlchemy engine per database URL per process, schema migrated on first use."""

from __future__ import annotations

import os
import threading
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import Engine, create_engine

from batch_pipelines.db.settings import DATABASE_URL_ENV, DeploymentConfigError, in_deployment

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def database_url() -> str:
    """The configured server, or the embedded one (started on demand). Plain `postgresql://` form."""
    url = os.environ.get(DATABASE_URL_ENV)
    if url:
        return url
    if in_deployment():
        raise DeploymentConfigError(DATABASE_URL_ENV, "an embedded Postgres")
    from batch_pipelines.db.embedded import embedded_url

    return embedded_url()


def with_driver(url: str, driver: str) -> str:
    """`postgresql://…` → `postgresql+<driver>://…` (psycopg for us, psycopg2 for dagster-postgres)."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme == "postgres":
        scheme = "postgresql"
    return urlunsplit(parts._replace(scheme=f"{scheme}+{driver}"))


def with_database(url: str, database: str) -> str:
    """The same server and credentials, another database."""
    return urlunsplit(urlsplit(url)._replace(path="/" + database))


def dagster_storage_url(url: str | None = None) -> str:
    return with_driver(url or database_url(), "psycopg2")


class SchemaBehind(RuntimeError):
    """In a deployment, the database is not at the code's migration head."""


def get_engine(url: str | None = None, *, migrate: bool = True) -> Engine:
    """A pooled psycopg 3 engine for `url` (default: `database_url()`), migrated to head once.

    In a deployment the migrations Job (`batch-pipelines db upgrade`) migrates, before the code
    location starts; anything else only checks, and raises `SchemaBehind` instead of racing a
    schema change under running pods."""
    url = url or database_url()
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = create_engine(
                with_driver(url, "psycopg"),
                pool_pre_ping=True,
                pool_size=5,
                max_overflow=10,
            )
            if migrate:
                from batch_pipelines.db.migrate import current_revision, head_revision, upgrade

                if not in_deployment():
                    upgrade(engine)
                elif (current := current_revision(engine)) != (head := head_revision()):
                    engine.dispose()
                    raise SchemaBehind(
                        f"the database is at migration {current}, this code needs {head}: run "
                        "the migrations Job (batch-pipelines db upgrade, deploy/migrate-job.yaml)"
                    )
            _engines[url] = engine
    return engine


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
