"""`day`: a whole day of Profile A through Dagster and the emulator at zero latency.

Profile A, scaled: 100 tenants, 10,000 calls whose prompts are about 8,000 input tokens each
(realistic demo transcripts repeated to size), 10 leads and 3 knowledge-base documents per tenant.
Measured: `batch_pipelines.run_day.run_day` (the tenant sensor, the request runs that queue the
day's work — post-call and lead scoring over the date's tenants, the KB upload sensor's — then, with
a batch window of 0, submit- and poll-sensor ticks launching submit, ingest and ledger runs until
every batch is ingested and priced, then the cost report), every run executed by Dagster
on an instance stored in the same Postgres, the emulator in this process with `complete_after=0`.
Figures: wall time, and the peak resident memory of the process running the day and its children,
sampled every 50 ms (the Postgres server is a separate, shared process and is not counted). Each
run is a fresh process: in the benchmarks' own process the figure would also carry whatever the
benchmarks run before it (plan, ingest, price in `make bench`) left allocated, which is not the day's.
"""

from __future__ import annotations

import contextvars
import multiprocessing
import os
import statistics
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import dagster as dg

from batch_pipelines.db import dagster_storage_url
from batch_pipelines.db.settings import DATABASE_URL_ENV
from batch_pipelines.run_day import run_day
from batch_pipelines.workflows.post_call import PostCallAnalytics
from benchmarks import data
from benchmarks.harness import BenchServer, Figure, PeakRss, clear_spool, emulator, log, timed

TENANTS = 100
CALLS = 10_000
PROMPT_TOKENS = 8_000
LEADS_PER_TENANT = 10
DOCS_PER_TENANT = 3
TARGET_SECONDS = 600.0
TARGET_BYTES = 2 * 1024**3


@dataclass
class DayOutcome:
    seconds: float
    peak: int
    ok: bool
    runs: int
    progress: str
    failed_runs: list[str]


def _one_day(url: str) -> DayOutcome:
    """One measured day, in the fresh process it is called in (on the database at `url`)."""
    os.environ[DATABASE_URL_ENV] = url
    overrides = {"storage": {"postgres": {"postgres_url": dagster_storage_url(url)}}}
    with (
        emulator(complete_after=0),
        dg.instance_for_test(overrides=overrides) as instance,
        PeakRss() as rss,
    ):
        # Each run in a context of its own: after a first run_day, a second one in the same
        # context failed to load the definitions ("Attempted to resolve undefined
        # DagsterInstance weakref": Dagster's defs-state context variable was left pointing at
        # a disposed instance).
        seconds, result = timed(
            lambda: contextvars.copy_context().run(
                run_day,
                data.DAY,
                instance=instance,
                on_progress=lambda state: log(f"  {state.line()}"),
            )
        )
    return DayOutcome(
        seconds=seconds,
        peak=rss.peak,
        ok=result.ok,
        runs=result.runs,
        progress=result.progress.line(),
        failed_runs=result.failed_runs[:5],
    )


def run(server: BenchServer, scale: float, repeats: int) -> list[Figure]:
    per_tenant = max(1, round(CALLS * scale / TENANTS))
    leads = max(1, round(LEADS_PER_TENANT * min(scale * 10, 1)))
    size = data.transcript_bytes_for(PostCallAnalytics(), PROMPT_TOKENS)
    source = server.create("day_src")
    with server.use(source) as engine:
        data.seed(
            engine,
            tenants=TENANTS,
            calls_per_tenant=per_tenant,
            leads_per_tenant=leads,
            docs_per_tenant=DOCS_PER_TENANT,
            transcript_bytes=size,
        )
    server.vacuum_analyze(source)
    log(
        f"day: {TENANTS} tenants x {per_tenant} calls (transcripts {size:,} bytes), "
        f"{leads} leads and {DOCS_PER_TENANT} documents each"
    )
    walls: list[float] = []
    peaks: list[int] = []
    spawn = multiprocessing.get_context("spawn")
    for attempt in range(repeats):
        clear_spool()
        db = server.create("day", template=source)
        with server.use(db), ProcessPoolExecutor(1, mp_context=spawn) as pool:
            outcome = pool.submit(_one_day, server.url_of(db)).result()
        server.drop(db)
        clear_spool()
        if not outcome.ok:
            raise RuntimeError(
                f"the day did not finish: {outcome.progress}; failed runs: {outcome.failed_runs}"
            )
        walls.append(outcome.seconds)
        peaks.append(outcome.peak)
        log(
            f"day run {attempt + 1}: {outcome.seconds:.1f} s, peak RSS {outcome.peak / 2**20:,.0f} "
            f"MiB, {outcome.runs} Dagster runs; {outcome.progress}"
        )
    server.drop(source)
    wall = statistics.median(walls)
    peak = statistics.median(peaks)
    calls = TENANTS * per_tenant
    return [
        Figure(
            name="day",
            value=round(wall, 1),
            unit="s",
            target=f"< {TARGET_SECONDS:g} s",
            ok=wall < TARGET_SECONDS,
            note=f"{calls:,} calls of ~{PROMPT_TOKENS:,} tokens, {TENANTS} tenants, "
            f"{TENANTS * leads:,} leads, {TENANTS * DOCS_PER_TENANT} documents",
        ),
        Figure(
            name="day_peak_rss",
            value=round(peak / 2**20, 1),
            unit="MiB",
            target="< 2,048 MiB",
            ok=peak < TARGET_BYTES,
            note="the day's own process (fresh, the emulator runs in it) and its children",
        ),
    ]
