"""Reliability fixtures: the day every fault scenario runs, snapshots of what a day left behind
(statuses, results, usage, priced ledger, provider batches), and a second, clean world (its own
fresh database and emulator) that produces the baseline a recovered run must equal."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import anthropic
import openai
import pytest
from sqlalchemy import Engine, create_engine, text

from batch_pipelines.batching.lifecycle import run_to_completion
from batch_pipelines.db import engine as db_engine
from batch_pipelines.db.settings import DATABASE_URL_ENV, HOME_ENV
from batch_pipelines.emulator.config import EmulatorConfig
from batch_pipelines.emulator.server import EmulatorServer
from batch_pipelines.ledger.ledger import price_partition
from batch_pipelines.providers.registry import ProviderRegistry
from batch_pipelines.workflows.post_call import PostCallAnalytics
from batch_pipelines_tests.batching.conftest import DAY, add_calls, add_tenant

# Dagster's instance on the test's database, and the daemon loop over the code location.

PROVIDERS = ("openai", "anthropic")
CUSTOM_ID_SECRET = "test-secret-" + "x" * 32
_KEY_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL")


def post_call(provider: str, **kwargs) -> PostCallAnalytics:
    """The real post-call workflow on `provider` (its cheap model)."""
    if provider == "anthropic":
        return PostCallAnalytics(
            provider="anthropic", model="claude-haiku-4-5", endpoint="/v1/messages", **kwargs
        )
    return PostCallAnalytics(provider="openai", model="gpt-4o-mini", **kwargs)


def seed_fault_day(engine: Engine) -> None:
    """Two shared tenants pooled into one batch (10 calls) and an isolated one in a batch of its
    own (3 calls): two provider batches with different request counts, so Anthropic's
    count-and-time reconciliation is never ambiguous between them."""
    add_tenant(engine, "acme")
    add_tenant(engine, "zeta")
    add_tenant(engine, "vault", isolated=True)
    add_calls(engine, "acme", 5)
    add_calls(engine, "zeta", 5)
    add_calls(engine, "vault", 3)


# --- what a day left behind -------------------------------------------------------------------


@dataclass(frozen=True)
class DaySnapshot:
    """Everything a recovered run must share with a clean run of the same day."""

    item_status: dict[str, str]  # item -> status of its latest request
    results: dict[str, str]  # call_id -> tenant of its call_analytics row
    usage_rows_per_item: dict[str, int]  # item -> llm_usage rows over all its attempts
    ledger: dict[str, tuple]  # tenant -> priced totals (requests, tokens…, cost, sync cost)
    provider_batches: int  # batches the provider holds
    jobs_with_provider_ids: int  # our batch_jobs that point at a provider batch
    max_sends_per_custom_id: int  # how often the most-sent request line reached the provider


def ledger_totals(engine: Engine) -> dict[str, tuple]:
    """Price every (date, tenant) partition that has usage; totals per tenant."""
    with engine.connect() as conn:
        partitions = conn.execute(
            text("SELECT DISTINCT ledger_date, tenant_id FROM llm_usage ORDER BY 1, 2")
        ).all()
    totals: dict[str, tuple] = {}
    for ledger_date, tenant_id in partitions:
        with engine.begin() as conn:
            t = price_partition(conn, ledger_date, tenant_id)
        row = (
            t.requests,
            t.input_tokens,
            t.cached_input_tokens,
            t.cache_write_tokens,
            t.output_tokens,
            t.cost_micro_usd,
            t.sync_cost_micro_usd,
        )
        previous = totals.get(tenant_id)
        totals[tenant_id] = (
            row if previous is None else tuple(a + b for a, b in zip(previous, row, strict=True))
        )
    return totals


def provider_batch_ids(emulator: EmulatorServer, provider: str) -> list[str]:
    if provider == "openai":
        client = openai.OpenAI(base_url=emulator.openai_base_url, api_key="x", max_retries=0)
        return [b.id for b in client.batches.list(limit=100)]
    claude = anthropic.Anthropic(base_url=emulator.anthropic_base_url, api_key="x", max_retries=0)
    return [b.id for b in claude.messages.batches.list(limit=100)]


def snapshot(engine: Engine, emulator: EmulatorServer, provider: str) -> DaySnapshot:
    with engine.connect() as conn:
        item_status = dict(
            conn.execute(
                text(
                    "SELECT DISTINCT ON (item_id) item_id, status FROM batch_requests"
                    " ORDER BY item_id, created_at DESC, attempt DESC"
                )
            ).all()
        )
        results = dict(conn.execute(text("SELECT call_id, tenant_id FROM call_analytics")).all())
        usage = dict(
            conn.execute(
                text(
                    "SELECT r.item_id, count(u.usage_id) FROM batch_requests r"
                    " LEFT JOIN llm_usage u USING (custom_id) GROUP BY r.item_id"
                )
            ).all()
        )
        ours = set(conn.execute(text("SELECT custom_id FROM batch_requests")).scalars())
        provider_ids = list(
            conn.execute(
                text(
                    "SELECT provider_batch_id FROM batch_jobs"
                    " WHERE mode = 'batch' AND provider_batch_id IS NOT NULL"
                )
            ).scalars()
        )
    assert len(provider_ids) == len(set(provider_ids)), "two jobs share a provider batch"
    sends = Counter(r.custom_id for r in emulator.received_requests(provider) if r.custom_id)
    return DaySnapshot(
        item_status=item_status,
        results=results,
        usage_rows_per_item=usage,
        ledger=ledger_totals(engine),
        provider_batches=len(provider_batch_ids(emulator, provider)),
        jobs_with_provider_ids=len(provider_ids),
        max_sends_per_custom_id=max((sends[c] for c in ours), default=0),
    )


# --- environments -----------------------------------------------------------------------------


@contextlib.contextmanager
def scratch_database(pg_server_url: str, template_database: str) -> Iterator[tuple[Engine, str]]:
    """A fresh migrated database for fixtures wider than one test (`engine` is per test)."""
    name = f"bp_rel_{uuid.uuid4().hex[:16]}"
    admin = create_engine(
        db_engine.with_driver(pg_server_url, "psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"'))
    url = db_engine.with_database(pg_server_url, name)
    engine = create_engine(db_engine.with_driver(url, "psycopg"))
    try:
        yield engine, url
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def world(
    pg_server_url: str, template_database: str, root: Path
) -> Iterator[tuple[Engine, EmulatorServer]]:
    """A fresh database and a fresh emulator, with the environment pointing at both (as the
    `engine` and `emulator` fixtures do for one test), for fixtures wider than one test."""
    with (
        scratch_database(pg_server_url, template_database) as (engine, url),
        pytest.MonkeyPatch.context() as mp,
        EmulatorServer(home=root / "emulator", config=EmulatorConfig(seed=3)) as server,
    ):
        for var in _KEY_VARS:
            mp.delenv(var, raising=False)
        mp.setenv(DATABASE_URL_ENV, url)
        mp.setenv(HOME_ENV, str(root / "home"))
        mp.setenv("BATCH_PIPELINES_CUSTOM_ID_SECRET", CUSTOM_ID_SECRET)
        mp.setenv("BATCH_PIPELINES_EMULATOR_URL", server.url)
        yield engine, server


@pytest.fixture(scope="session")
def clean_day(
    pg_server_url: str, template_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], DaySnapshot]:
    """`clean_day(provider)`: the fault day run once without faults, on a fresh database and a
    fresh emulator (computed once per provider per session)."""
    cache: dict[str, DaySnapshot] = {}

    def get(provider: str) -> DaySnapshot:
        if provider not in cache:
            root = tmp_path_factory.mktemp(f"clean-{provider}")
            with world(pg_server_url, template_database, root) as (engine, server):
                seed_fault_day(engine)
                outcome = run_to_completion(
                    engine, post_call(provider), ProviderRegistry(max_retries=0), [DAY]
                )
                assert outcome.open_requests == 0
                cache[provider] = snapshot(engine, server, provider)
        return cache[provider]

    return get


@pytest.fixture
def providers(emulator: EmulatorServer) -> ProviderRegistry:
    return ProviderRegistry(max_retries=0, timeout=30)


@pytest.fixture
def fault_day(engine: Engine, emulator: EmulatorServer) -> Engine:
    seed_fault_day(engine)
    return engine


def later(minutes: int = 5) -> Callable[[], dt.datetime]:
    """A clock some minutes ahead: what the next scheduled run after a crash would see."""
    at = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
    return lambda: at
