"""Database layer: SQLAlchemy Core tables, Alembic migrations, the engine factory, embedded Postgres."""

from batch_pipelines.db.engine import dagster_storage_url, database_url, get_engine

__all__ = ["database_url", "dagster_storage_url", "get_engine"]
