"""`plan`: plan, shard and write the JSONL of 200,000 post-call requests across 500 tenants.

Measured: `planning.plan` for one date over every tenant (due items, manifest rows, rendering with
cleaning and PII redaction, pooling, sharding, budget check, `batch_jobs` rows, spooled JSONL), on a
fresh copy of the seeded database each run, with a fresh provider registry (as a Dagster run has).
Floor: `orjson.dumps` of the very request dicts plan wrote (read back from its spool before the
clock starts), one file per batch job, the same lines in the same files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson

from batch_pipelines.batching.planning import plan, spool_dir
from batch_pipelines.providers.registry import ProviderRegistry
from batch_pipelines.workflows.post_call import PostCallAnalytics
from benchmarks import data
from benchmarks.harness import BenchServer, Figure, clear_spool, log, ratio_figure, timed

REQUESTS = 200_000
TENANTS = 500
TARGET_RATIO = 2.0


def sizes(scale: float) -> tuple[int, int]:
    tenants = max(10, round(TENANTS * scale))
    return tenants, max(1, round(REQUESTS * scale / tenants))


def _floor(job_lines: dict[str, list[dict]], out_dir: Path) -> float:
    out_dir.mkdir(parents=True, exist_ok=True)

    def write() -> None:
        for job_id, lines in job_lines.items():
            with open(out_dir / f"{job_id}.jsonl", "wb") as out:
                for line in lines:
                    out.write(orjson.dumps(line) + b"\n")

    seconds, _ = timed(write)
    shutil.rmtree(out_dir, ignore_errors=True)
    return seconds


def run(server: BenchServer, scale: float, repeats: int) -> list[Figure]:
    tenants, per_tenant = sizes(scale)
    source = server.create("plan_src")
    with server.use(source) as engine:
        data.seed(engine, tenants=tenants, calls_per_tenant=per_tenant)
    server.vacuum_analyze(source)
    log(f"plan: seeded {tenants} tenants x {per_tenant} calls")
    runs: list[float] = []
    floors: list[float] = []
    planned = 0
    for attempt in range(repeats):
        clear_spool()
        db = server.create("plan", template=source)
        with server.use(db) as engine:
            seconds, result = timed(
                lambda engine=engine: plan(
                    engine, PostCallAnalytics(), ProviderRegistry(), [data.DAY]
                )
            )
        planned = result.planned
        runs.append(seconds)
        job_lines = {
            job_id: [
                orjson.loads(line)
                for line in (spool_dir() / f"{job_id}.jsonl").read_bytes().splitlines()
            ]
            for job_id in result.batch_job_ids
        }
        floors.append(_floor(job_lines, server.home / "bench-floor"))
        del job_lines
        server.drop(db)
        clear_spool()
        log(
            f"plan run {attempt + 1}: {planned} requests in {len(result.batch_job_ids)} jobs, "
            f"{seconds:.2f} s (floor {floors[-1]:.2f} s)"
        )
    server.drop(source)
    return [
        ratio_figure(
            "plan",
            runs,
            floors,
            TARGET_RATIO,
            note=f"{planned:,} requests, {tenants} tenants; floor: orjson of the same dicts",
        )
    ]
