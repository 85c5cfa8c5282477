import dagster as dg
from sqlalchemy import Engine

from batch_pipelines.db import get_engine


class DatabaseResource(dg.ConfigurableResource):
    """The project's Postgres: `BATCH_PIPELINES_DATABASE_URL`, or the embedded server when unset."""

    url: str | None = None

    def engine(self) -> Engine:
        return get_engine(self.url or None)


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"database": DatabaseResource()})
