from functools import cached_property

import dagster as dg
from pydantic import Field
from sqlalchemy import Engine

from batch_pipelines.db import get_engine
from batch_pipelines.db.settings import DATABASE_URL_ENV
from batch_pipelines.providers.registry import ProviderRegistry


class DatabaseResource(dg.ConfigurableResource):
    """The project's Postgres. The code location configures it from `BATCH_PIPELINES_DATABASE_URL`
    (`batch-pipelines dev` and `run-day` set it to the embedded server's URL when it is unset): the
    Resources page shows the variable, and a run or sensor without it fails at once, naming it."""

    url: str = Field(description="postgresql:// URL of the project's database")

    def engine(self) -> Engine:
        return get_engine(self.url)


class BatchProviderResource(dg.ConfigurableResource):
    """The batch providers. Keys come from the environment (`OPENAI_API_KEY`,
    `ANTHROPIC_API_KEY`, an isolated tenant's own key variable) when a client is built, never from
    run config, so they cannot show up in the UI; with no key set, the bundled emulator is used."""

    max_retries: int = 2
    timeout_seconds: float = 120.0
    self_hosted_concurrency: int = 16
    max_polls_per_tick: int = 100

    @cached_property
    def _registry(self) -> ProviderRegistry:
        return ProviderRegistry(
            max_retries=self.max_retries,
            timeout=self.timeout_seconds,
            self_hosted_concurrency=self.self_hosted_concurrency,
        )

    def registry(self) -> ProviderRegistry:
        return self._registry


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "database": DatabaseResource(url=dg.EnvVar(DATABASE_URL_ENV)),
            "batch_providers": BatchProviderResource(),
        }
    )
