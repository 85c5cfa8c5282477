"""`poll`: one `batch_poll_sensor` tick with 2,000 in-flight batches on the emulator.

Set up once (not timed): 2,000 one-line post-call batches, half on OpenAI (`gpt-4o-mini`), half on
Anthropic (`claude-haiku-4-5`), planned and submitted through the engine to the in-process
emulator. The first 10 % finish at once (their ingest runs are requested by the tick); the rest
stay in progress for an hour. A Dagster instance on the same database knows every tenant.

Measured: the real `batch_poll_sensor` evaluated through Dagster's tick path
(`build_sensor_context` + `evaluate_tick`) with the code location's resources, on a fresh copy of
the database each run: read the live jobs, poll up to `max_polls_per_tick` (default 100) of them,
record their progress, build the observations and ingest run requests. Target: <= 10 s.
`poll_all` is the same tick told to poll every live batch at once (`max_polls_per_tick` = 2,000),
which shows the cost per polled batch; its bound is Dagster's 60 s sensor timeout.
"""

from __future__ import annotations

import statistics

import dagster as dg

from batch_pipelines.batching import manifest, transitions
from batch_pipelines.batching.planning import plan
from batch_pipelines.batching.submission import submit_planned
from batch_pipelines.batching.transitions import NewRequest, RequestState
from batch_pipelines.db import dagster_storage_url
from batch_pipelines.defs.resources import BatchProviderResource, DatabaseResource
from batch_pipelines.providers.registry import ProviderRegistry
from batch_pipelines.providers.settings import QueueLimit
from batch_pipelines.workflows.post_call import PostCallAnalytics
from benchmarks import data
from benchmarks.harness import BenchServer, Figure, clear_spool, emulator, log, timed

BATCHES = 2_000
TENANTS = 20
FINISHED_SHARE = 0.10
TARGET_SECONDS = 10.0
SENSOR_TIMEOUT = 60.0

WORKFLOWS = (
    PostCallAnalytics(),
    PostCallAnalytics(provider="anthropic", model="claude-haiku-4-5", endpoint="/v1/messages"),
)


class _Unlimited(ProviderRegistry):
    """No queue limit: the bench wants 2,000 batches live at once."""

    def queue_limit(self, provider: str, model: str) -> QueueLimit | None:
        return None


class _OneLinePerBatch(_Unlimited):
    """Plans every request as a batch of its own (a queue limit of one request)."""

    def queue_limit(self, provider: str, model: str) -> QueueLimit | None:
        return QueueLimit("requests", 1, "all models", "bench: one-line batches")


def _one_line_jobs(engine, workflow, tenant_ids: list[str]) -> int:
    """Plan the tenants' calls as one-line batches and submit them."""
    with engine.begin() as conn:
        tenants = manifest.load_tenants(conn, tenant_ids)
        items = workflow.due_items(conn, [data.DAY], tenant_ids)
        taken = manifest.items_with_requests(conn, workflow.name, [i.item_id for i in items])
        items = [i for i in items if i.item_id not in taken]
        rows = transitions.new_requests(
            workflow.name, [NewRequest(i, tenants[i.tenant_id].vertical) for i in items]
        )
        transitions.insert_requests(conn, (RequestState(row) for row in rows))
    planned = plan(engine, workflow, _OneLinePerBatch(), None)
    submit_planned(engine, workflow, _Unlimited())
    return len(planned.batch_job_ids)


def _prepare(server: BenchServer, emu, batches: int) -> tuple[str, int]:
    per_provider = batches // 2
    tenants = min(TENANTS, per_provider)
    per_tenant = -(-per_provider // (tenants // 2 or 1))
    source = server.create("poll_src")
    with server.use(source) as engine:
        data.seed(engine, tenants=tenants, calls_per_tenant=per_tenant)
        # Exactly `per_provider` calls per half of the tenants.
        tenant_ids = data.tenant_ids(engine)
        halves = (tenant_ids[: len(tenant_ids) // 2], tenant_ids[len(tenant_ids) // 2 :])
        data.keep_calls(engine, halves[0], per_provider)
        data.keep_calls(engine, halves[1], per_provider)
        finished = round(per_provider * FINISHED_SHARE)
        made = 0
        for workflow, half in zip(WORKFLOWS, halves, strict=True):
            emu.set_config(complete_after=0)
            data.keep_due(engine, half, finished)
            made += _one_line_jobs(engine, workflow, half)
            emu.set_config(complete_after=3600)
            data.keep_due(engine, half, None)
            made += _one_line_jobs(engine, workflow, half)
        data.restore_calls(engine)
        overrides = {
            "storage": {"postgres": {"postgres_url": dagster_storage_url(server.url_of(source))}}
        }
        with dg.instance_for_test(overrides=overrides) as instance:
            instance.add_dynamic_partitions("tenants", tenant_ids)
    clear_spool()
    server.vacuum_analyze(source)
    log(f"poll: {made} batches submitted")
    return source, made


def _tick(server: BenchServer, db: str, max_polls: int) -> tuple[float, int, int]:
    from batch_pipelines.definitions import defs

    definitions = defs()
    sensor = definitions.resolve_sensor_def("batch_poll_sensor")
    resources = {
        "database": DatabaseResource(url=server.url_of(db)),
        "batch_providers": BatchProviderResource(max_polls_per_tick=max_polls),
    }
    overrides = {"storage": {"postgres": {"postgres_url": dagster_storage_url(server.url_of(db))}}}
    with (
        dg.instance_for_test(overrides=overrides) as instance,
        dg.build_sensor_context(
            instance=instance, definitions=definitions, resources=resources
        ) as context,
    ):
        seconds, data_ = timed(lambda: sensor.evaluate_tick(context))
    events = len(data_.asset_events or [])
    return seconds, events, len(data_.run_requests or [])


def run(server: BenchServer, scale: float, repeats: int) -> list[Figure]:
    batches = max(20, round(BATCHES * scale))
    figures = []
    with emulator() as emu:
        source, made = _prepare(server, emu, batches)
        for name, max_polls, target in (
            ("poll", 100, TARGET_SECONDS),
            ("poll_all", made, SENSOR_TIMEOUT),
        ):
            runs = []
            for attempt in range(repeats):
                db = server.create("poll", template=source)
                with server.use(db):
                    seconds, polled, requests = _tick(server, db, max_polls)
                server.drop(db)
                runs.append(seconds)
                log(
                    f"{name} run {attempt + 1}: polled {polled}, {requests} ingest runs "
                    f"requested, {seconds:.2f} s"
                )
            value = statistics.median(runs)
            figures.append(
                Figure(
                    name=name,
                    value=round(value, 3),
                    unit="s",
                    target=f"<= {target:g} s",
                    ok=value <= target,
                    note=f"{made:,} in-flight batches, polled {polled} "
                    f"({value / max(polled, 1) * 1000:.1f} ms each), {requests} ingest runs requested",
                )
            )
        server.drop(source)
    return figures
