"""Dagster's instance storage on the project's Postgres, wherever that is.

dagster.yaml cannot compute a URL, and the embedded server's URL is only known once it runs, so this
thin subclass of dagster-postgres' storage resolves it: `postgres_url` when configured, otherwise the
project's own database (`BATCH_PIPELINES_DATABASE_URL` or the embedded server), with the psycopg2
driver dagster-postgres needs.
"""

from __future__ import annotations

import dagster as dg
from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage

from batch_pipelines.db import dagster_storage_url


class ProjectPostgresStorage(DagsterPostgresStorage):
    @classmethod
    def config_type(cls) -> dict:
        return {"postgres_url": dg.Field(dg.StringSource, is_required=False)}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: dict
    ) -> ProjectPostgresStorage:
        return cls(
            postgres_url=config_value.get("postgres_url") or dagster_storage_url(),
            inst_data=inst_data,
        )
