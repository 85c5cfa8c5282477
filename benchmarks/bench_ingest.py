"""`ingest`: ingest 200,000 result lines into Postgres.

Set up once (not timed): 500 tenants' calls planned, submitted to the in-process emulator and
polled until every batch ended, so the emulator holds the output files. Measured: `ingest_job` on
every ended job, on a fresh copy of that database each run: the output files streamed from the
emulator, each line parsed, its custom id checked against the manifest and its HMAC, the answer
validated by the real `PostCallAnalytics`, `call_analytics` and `llm_usage` rows written, the
manifest updated. Floor: COPY of the same `call_analytics` and `llm_usage` rows (read back after the
run, held in memory) into tables of the same columns without indexes or constraints.
"""

from __future__ import annotations

import statistics

from psycopg.types.json import Jsonb
from sqlalchemy import text

from batch_pipelines.batching.ingest import ingest_job
from batch_pipelines.batching.planning import plan
from batch_pipelines.batching.polling import ended_jobs_awaiting_ingest, poll
from batch_pipelines.batching.submission import submit_planned
from batch_pipelines.providers.registry import ProviderRegistry
from batch_pipelines.workflows.post_call import PostCallAnalytics
from benchmarks import data
from benchmarks.harness import (
    BenchServer,
    Figure,
    clear_spool,
    emulator,
    log,
    ratio_figure,
    timed,
)

LINES = 200_000
TENANTS = 500
TARGET_RATIO = 4.0
TARGET_RATE = 30_000.0
FLOOR_TABLES = {"bench_floor_results": "call_analytics", "bench_floor_usage": "llm_usage"}


def _prepare(server: BenchServer, scale: float) -> tuple[str, int]:
    tenants = max(10, round(TENANTS * scale))
    per_tenant = max(1, round(LINES * scale / tenants))
    source = server.create("ingest_src")
    with server.use(source) as engine:
        data.seed(engine, tenants=tenants, calls_per_tenant=per_tenant)
        workflow, providers = PostCallAnalytics(), ProviderRegistry()
        planned = plan(engine, workflow, providers, [data.DAY])
        submit_planned(engine, workflow, providers)
        while poll(engine, providers, max_calls=1000).polled:
            pass
        jobs = ended_jobs_awaiting_ingest(engine, limit=100_000)
        with engine.begin() as conn:
            for floor, like in FLOOR_TABLES.items():
                conn.execute(text(f"CREATE TABLE {floor} (LIKE {like})"))
    clear_spool()
    server.vacuum_analyze(source)
    log(f"ingest: {planned.planned} lines in {len(jobs)} ended batches ready")
    return source, planned.planned


def _floor(engine) -> float:
    """COPY the rows the run wrote (prebuilt tuples in memory) into unindexed tables."""
    rows = {}
    with engine.connect() as conn:
        for floor, like in FLOOR_TABLES.items():
            result = conn.execute(text(f"SELECT * FROM {like}"))
            rows[floor] = (
                list(result.keys()),
                [
                    tuple(Jsonb(v) if isinstance(v, dict | list) else v for v in row)
                    for row in result
                ],
            )
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection

        def copy() -> None:
            with driver.cursor() as cursor:
                for floor, (columns, values) in rows.items():
                    names = ", ".join(columns)
                    with cursor.copy(f"COPY {floor} ({names}) FROM STDIN") as out:
                        for row in values:
                            out.write_row(row)
            driver.commit()

        seconds, _ = timed(copy)
    finally:
        raw.close()
    return seconds


def run(server: BenchServer, scale: float, repeats: int) -> list[Figure]:
    runs: list[float] = []
    floors: list[float] = []
    with emulator(complete_after=0):
        source, lines = _prepare(server, scale)
        for attempt in range(repeats):
            db = server.create("ingest", template=source)
            with server.use(db) as engine:
                jobs = [j.batch_job_id for j in ended_jobs_awaiting_ingest(engine, limit=100_000)]

                def ingest_all(engine=engine, jobs=jobs) -> int:
                    providers = ProviderRegistry()
                    workflow = PostCallAnalytics()
                    return sum(
                        ingest_job(engine, workflow, providers, job).succeeded for job in jobs
                    )

                seconds, succeeded = timed(ingest_all)
                runs.append(seconds)
                floors.append(_floor(engine))
            server.drop(db)
            log(
                f"ingest run {attempt + 1}: {succeeded} of {lines} lines stored in {seconds:.2f} s "
                f"(floor {floors[-1]:.2f} s)"
            )
        server.drop(source)
    figure = ratio_figure(
        "ingest",
        runs,
        floors,
        TARGET_RATIO,
        note=f"{lines:,} lines; floor: COPY of the same result + usage rows, no indexes",
    )
    rate = lines / statistics.median(runs)
    return [
        figure,
        Figure(
            name="ingest_rate",
            value=round(rate),
            unit="lines/s",
            target=f">= {TARGET_RATE:,.0f} lines/s",
            ok=rate >= TARGET_RATE,
            note="lines / median ingest time",
        ),
    ]
