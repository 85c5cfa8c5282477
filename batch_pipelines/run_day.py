"""`batch-pipelines run-day`: every declared workflow for one date, through Dagster.

A Dagster instance on the project's Postgres; the sensors evaluated, and their ticks recorded, as
the daemon does (`DaemonLoop`); every run executed by Dagster once the instance's run queue has
room, and recorded on the instance (visible in the UI afterwards). First the day's request runs
queue its work (one run over the date's tenants per date-partitioned workflow; the KB's upload
sensor for the KB); then, with a batch window of 0 (nothing else will be queued to wait for),
`batch_submit_sensor` launches the submit runs, and `batch_poll_sensor` the ingest runs, until
every batch is ingested and priced; then the day's report. Running it again for the same date
submits nothing, bills nothing and changes no total: queueing finds nothing due, and run keys
already launched are skipped.

Progress goes to `on_progress` (a `Progress` each time it changes; by default its line is
printed), so a terminal display can show it; Dagster's event stream is not printed.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import dagster as dg
from sqlalchemy import Engine, func, select

from batch_pipelines.batching.groups import BATCH_WINDOW_ENV
from batch_pipelines.batching.jobs import BlockedJob, blocked_jobs, open_requests
from batch_pipelines.core.workflows import declarations
from batch_pipelines.daemon_loop import DaemonLoop
from batch_pipelines.db import dagster_storage_url, database_url, get_engine
from batch_pipelines.db.settings import DAGSTER_STORAGE_URL_ENV, DATABASE_URL_ENV, home_dir
from batch_pipelines.db.statuses import LIVE_JOB_STATUSES, Attention, RequestStatus
from batch_pipelines.db.tables import batch_jobs, batch_requests, cost_ledger
from batch_pipelines.defs.tenants.partitions import date_range_tags

# The instance configuration of `run-day` and `dev` (Postgres storage, the run queue, pools). Not at
# the repo root: any `dagster`/`dg` command run there would read it, and need its variables.
INSTANCE_YAML = Path(__file__).resolve().parent / "dagster.yaml"
# Exit codes: everything done; something unfinished or failed; work parked by a configuration
# error (a missing key variable, a refused key) with everything else done.
EXIT_OK, EXIT_UNFINISHED, EXIT_CONFIGURATION = 0, 1, 2


def dagster_home() -> Path:
    """`$BATCH_PIPELINES_HOME/dagster`, holding the instance config (`batch_pipelines/dagster.yaml`)."""
    path = home_dir() / "dagster"
    path.mkdir(parents=True, exist_ok=True)
    target = path / "dagster.yaml"
    if INSTANCE_YAML.exists() and (
        not target.exists() or target.read_bytes() != INSTANCE_YAML.read_bytes()
    ):
        shutil.copyfile(INSTANCE_YAML, target)
    return path


def dagster_environment() -> dict[str, str]:
    """The variables Dagster's processes read (the code location's resources, dagster.yaml): the
    project's database (the embedded server's URL when unset) and Dagster's storage URL derived from
    it. Ones already set are kept."""
    url = os.environ.get(DATABASE_URL_ENV) or database_url()
    return {
        DATABASE_URL_ENV: url,
        DAGSTER_STORAGE_URL_ENV: os.environ.get(DAGSTER_STORAGE_URL_ENV)
        or dagster_storage_url(url),
    }


def open_instance() -> dg.DagsterInstance:
    os.environ.update(dagster_environment())
    return dg.DagsterInstance.from_config(str(dagster_home()))


@dataclass
class Progress:
    """Where the day is: its batches, its lines, its cost so far, the Dagster runs it launched."""

    jobs_total: int = 0
    jobs_live: int = 0
    jobs_submitted: int = 0  # given to the provider (it named them), whatever their status now
    lines_total: int = 0
    lines_open: int = 0
    lines_succeeded: int = 0
    lines_dead_letter: int = 0
    lines_held: int = 0
    cost_micro_usd: Decimal = Decimal(0)
    failed_runs: list[str] = field(default_factory=list)
    blocked: list[BlockedJob] = field(default_factory=list)  # parked jobs, with why
    runs: int = 0  # Dagster runs launched so far
    ticks: int = 0  # sensor and schedule ticks evaluated so far

    @property
    def done(self) -> bool:
        return self.jobs_live == 0 and self.lines_open == 0

    def line(self) -> str:
        finished = self.jobs_total - self.jobs_live
        parked = sum(job.requests for job in self.blocked)
        blocked = (
            f", {parked} blocked in {len(self.blocked)} parked batches" if self.blocked else ""
        )
        return (
            f"batches {finished}/{self.jobs_total} finished · lines {self.lines_succeeded} ok, "
            f"{self.lines_open} open, {self.lines_dead_letter} dead-lettered, {self.lines_held} held"
            f"{blocked} · cost so far ${self.cost_micro_usd / 1_000_000:.6f}"
        )


def progress(engine: Engine, day: dt.date) -> Progress:
    with engine.connect() as conn:
        jobs = {
            status: (count, submitted)
            for status, count, submitted in conn.execute(
                select(
                    batch_jobs.c.status, func.count(), func.count(batch_jobs.c.provider_batch_id)
                ).group_by(batch_jobs.c.status)
            )
        }
        requests = dict(
            conn.execute(
                select(batch_requests.c.status, func.count())
                .where(batch_requests.c.partition_date == day)
                .group_by(batch_requests.c.status)
            ).all()
        )
        lines_open = conn.execute(
            open_requests().where(batch_requests.c.partition_date == day)
        ).scalar_one()
        blocked = blocked_jobs(conn)
        cost = conn.execute(
            select(func.coalesce(func.sum(cost_ledger.c.cost_micro_usd), 0)).where(
                cost_ledger.c.ledger_date == day
            )
        ).scalar_one()
    return Progress(
        jobs_total=sum(count for count, _ in jobs.values()),
        jobs_live=sum(jobs.get(s, (0, 0))[0] for s in LIVE_JOB_STATUSES),
        jobs_submitted=sum(submitted for _, submitted in jobs.values()),
        lines_total=sum(requests.values()),
        lines_open=lines_open,
        lines_succeeded=requests.get(RequestStatus.SUCCEEDED, 0),
        lines_dead_letter=requests.get(RequestStatus.DEAD_LETTER, 0),
        lines_held=requests.get(RequestStatus.HELD, 0),
        cost_micro_usd=Decimal(cost),
        blocked=blocked,
    )


@dataclass
class RunDayResult:
    progress: Progress
    report_path: Path | None
    runs: int
    failed_runs: list[str]

    @property
    def ok(self) -> bool:
        return self.progress.done and not self.failed_runs and not self.progress.blocked

    @property
    def exit_code(self) -> int:
        """0: all done; 2: all done but work a configuration error parked; 1: anything else."""
        if self.ok:
            return EXIT_OK
        everything_else_done = self.progress.done and not self.failed_runs
        if everything_else_done and all(
            job.attention is Attention.CONFIGURATION for job in self.progress.blocked
        ):
            return EXIT_CONFIGURATION
        return EXIT_UNFINISHED


def _print_progress(state: Progress) -> None:
    print(state.line())


def run_day(
    day: dt.date,
    *,
    timeout: dt.timedelta = dt.timedelta(minutes=20),
    interval: float = 0.5,
    on_progress: Callable[[Progress], None] = _print_progress,
    instance: dg.DagsterInstance | None = None,
) -> RunDayResult:
    from batch_pipelines.definitions import defs

    engine = get_engine()
    instance = instance or open_instance()
    loop = DaemonLoop(defs(), instance)
    loop.tick_sensor("tenant_registry_sensor")
    if not instance.get_dynamic_partitions("tenants"):
        raise RuntimeError("no tenants in the database: run `batch-pipelines seed` first")

    location = loop.defs
    for declared in declarations():
        if declared.by_date:
            # The whole day: one run over its every tenant (a UI backfill may cut it otherwise;
            # either way the work only queues, and pools at submit time).
            loop.launch(declared.request_job, dg.RunRequest(tags=date_range_tags(instance, day)))
        else:
            # A tenant-partitioned workflow's trigger sees its work (the KB's upload sensor).
            for sensor in location.sensors or ():
                if declared.request_job in {t.job_name for t in sensor.targets}:
                    loop.tick_sensor(sensor.name)

    deadline = time.monotonic() + timeout.total_seconds()
    last = ""
    state = progress(engine, day)
    # Every request run has finished: nothing more will be queued to pool with.
    previous_window = os.environ.get(BATCH_WINDOW_ENV)
    os.environ[BATCH_WINDOW_ENV] = "0"
    try:
        while time.monotonic() < deadline:
            for sensor in ("batch_submit_sensor", "batch_poll_sensor", "kb_ledger_sensor"):
                loop.tick_sensor(sensor)
            state = _with_loop(progress(engine, day), loop)
            if state.line() != last:
                on_progress(state)
                last = state.line()
            if state.done:
                break
            time.sleep(interval)
        loop.launch("tenant_cost_report_job", dg.RunRequest(partition_key=day.isoformat()))
    finally:
        if previous_window is None:
            os.environ.pop(BATCH_WINDOW_ENV, None)
        else:
            os.environ[BATCH_WINDOW_ENV] = previous_window
    from batch_pipelines.ledger.reports import reports_dir

    path = reports_dir() / f"{day.isoformat()}.html"
    failed = [f"{r.dagster_run.job_name} ({r.run_id})" for r in loop.runs if not r.success]
    return RunDayResult(
        progress=_with_loop(progress(engine, day), loop),
        report_path=path if path.exists() else None,
        runs=len(loop.runs),
        failed_runs=failed,
    )


def _with_loop(state: Progress, loop: DaemonLoop) -> Progress:
    state.runs, state.ticks = len(loop.runs), loop.ticks
    state.failed_runs = [r.dagster_run.job_name for r in loop.runs if not r.success]
    return state
