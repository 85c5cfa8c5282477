"""Drives the code location as the Dagster daemon does, in one process, for `run-day` and the tests
(waiting for the real daemon's intervals and a process per run would make them slow).

What it shares with the daemon: sensor and schedule ticks are evaluated through Dagster's own tick
path (cursors kept, dynamic partitions applied, run keys deduplicated against the instance's runs)
and recorded on the instance as the daemon records them (status, runs, skip reason, cursor, under
the sensor's selector in the `batch_pipelines` code location, so the UI's sensor and schedule
pages list them); the asset events a sensor returns (the poll sensor's batch-progress
observations) are reported to the instance; each requested run waits until the instance's run
queue has room for it (`max_concurrent_runs` and the tag limits of a `QueuedRunCoordinator`,
counting the runs in progress of every process on the instance), then is executed by Dagster
against the instance, whose in-process executor claims the pools' slots for its steps. What it
does not: run two runs at once (they run one after the other, so its own runs never exceed a
limit), or monitor runs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import dagster as dg
from dagster._core.definitions.selector import InstigatorSelector
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.scheduler.instigation import InstigatorType, TickData, TickStatus
from dagster._utils.error import serializable_error_info_from_exc_info
from dagster._utils.tags import TagConcurrencyLimitsCounter

RUN_KEY_TAG = "dagster/run_key"
# The code location's name in workspace.yaml, and Dagster's name for a `Definitions` repository:
# the ticks recorded here are those of the webserver's and the daemon's sensors of that name.
LOCATION_NAME = "batch_pipelines"
REPOSITORY_NAME = "__repository__"
_IN_PROGRESS = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


class RunQueueFull(RuntimeError):
    """The instance's run queue had no room for a run within the wait."""

    def __init__(self, job_name: str, waited: float, blocking: Sequence[str]) -> None:
        super().__init__(
            f"run of {job_name} waited {waited:.0f} s for room in the instance's run queue; runs "
            f"in progress: {', '.join(blocking) or 'none'} (a run left STARTED by a dead process "
            "holds its place until run monitoring fails it)"
        )
        self.job_name = job_name
        self.blocking = tuple(blocking)


@dataclass(frozen=True)
class _Tagged:
    tags: Mapping[str, str]


@dataclass
class DaemonLoop:
    defs: dg.Definitions
    instance: dg.DagsterInstance
    cursors: dict[str, str | None] = field(default_factory=dict)
    runs: list[dg.ExecuteInProcessResult] = field(default_factory=list)
    ticks: int = 0
    # How long a run waits for room in the run queue before the loop gives up.
    queue_wait: dt.timedelta = dt.timedelta(minutes=10)

    def tick_sensor(self, name: str) -> list[dg.ExecuteInProcessResult]:
        sensor = self.defs.resolve_sensor_def(name)
        started = time.time()
        try:
            # The context opens an instance of its own: close it, or its finaliser later resets
            # Dagster's process-wide state to an instance that is gone.
            with dg.build_sensor_context(
                instance_ref=self.instance.get_ref(),
                definitions=self.defs,
                resources=self.defs.resources,
                cursor=self.cursors.get(name),
            ) as context:
                data = sensor.evaluate_tick(context)
        except Exception:
            self._record_failure(name, InstigatorType.SENSOR, started)
            raise
        self._apply_partitions(data.dynamic_partitions_requests or [])
        for event in data.asset_events or ():
            self.instance.report_runless_asset_event(event)
        if data.cursor is not None:
            self.cursors[name] = data.cursor
        default_job = sensor.job_name if len(sensor.targets) == 1 else None
        requests = list(data.run_requests or [])
        results = self._launch(requests, default_job)
        self._record(
            name, InstigatorType.SENSOR, started, results, requests, data.skip_message, data.cursor
        )
        return results

    def tick_schedule(self, name: str, at: dt.datetime) -> list[dg.ExecuteInProcessResult]:
        schedule = self.defs.resolve_schedule_def(name)
        started = time.time()
        context = dg.build_schedule_context(instance=self.instance, scheduled_execution_time=at)
        try:
            data = schedule.evaluate_tick(context)
        except Exception:
            self._record_failure(name, InstigatorType.SCHEDULE, started)
            raise
        requests = list(data.run_requests or [])
        results = self._launch(requests, schedule.job_name)
        self._record(name, InstigatorType.SCHEDULE, started, results, requests, data.skip_message)
        return results

    def settle(
        self,
        sensors: Sequence[str] = ("batch_submit_sensor", "batch_poll_sensor"),
        rounds: int = 12,
    ) -> list[dg.ExecuteInProcessResult]:
        """Tick `sensors` in turn until a round launches nothing (with a batch window of 0: every
        queued line submitted, every batch ingested, retries included); the runs launched."""
        launched: list[dg.ExecuteInProcessResult] = []
        for _ in range(rounds):
            runs = [run for name in sensors for run in self.tick_sensor(name)]
            if not runs:
                return launched
            launched += runs
        raise AssertionError(f"{', '.join(sensors)} still launching runs after {rounds} rounds")

    def launch(self, job_name: str, request: dg.RunRequest) -> dg.ExecuteInProcessResult | None:
        """A run requested by hand (as a UI launch or backfill would), deduplicated by run key."""
        results = self._launch([request], job_name)
        return results[0] if results else None

    # --- ticks, as the daemon records them ------------------------------------------------------

    @staticmethod
    def selector_id(name: str) -> str:
        """The id the instance files a sensor's or schedule's ticks under."""
        return InstigatorSelector(
            location_name=LOCATION_NAME, repository_name=REPOSITORY_NAME, name=name
        ).get_id()

    def _record(
        self,
        name: str,
        kind: InstigatorType,
        started: float,
        results: Sequence[dg.ExecuteInProcessResult],
        requests: Sequence[dg.RunRequest],
        skip_reason: str | None,
        cursor: str | None = None,
    ) -> None:
        launched = [r.run_id for r in results]
        self._store_tick(
            name,
            kind,
            started,
            status=TickStatus.SUCCESS if launched else TickStatus.SKIPPED,
            run_ids=launched,
            run_keys=[r.run_key for r in requests if r.run_key],
            skip_reason=None if launched else (skip_reason or "every requested run key ran before"),
            cursor=cursor,
        )

    def _record_failure(self, name: str, kind: InstigatorType, started: float) -> None:
        self._store_tick(
            name,
            kind,
            started,
            status=TickStatus.FAILURE,
            error=serializable_error_info_from_exc_info(sys.exc_info()),
            failure_count=1,
        )

    def _store_tick(self, name: str, kind: InstigatorType, started: float, **data) -> None:
        selector_id = self.selector_id(name)
        self.instance.create_tick(
            TickData(
                instigator_origin_id=selector_id,
                instigator_name=name,
                instigator_type=kind,
                timestamp=started,
                selector_id=selector_id,
                end_timestamp=time.time(),
                **data,
            )
        )
        self.ticks += 1

    # --- runs -----------------------------------------------------------------------------------

    def _apply_partitions(self, requests) -> None:
        for request in requests:
            if isinstance(request, dg.AddDynamicPartitionsRequest):
                self.instance.add_dynamic_partitions(
                    request.partitions_def_name, list(request.partition_keys)
                )
            else:
                for key in request.partition_keys:
                    self.instance.delete_dynamic_partition(request.partitions_def_name, key)

    def _seen(self, run_key: str) -> bool:
        runs = self.instance.get_run_records(
            filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key}), limit=1
        )
        return bool(runs)

    def _wait_for_room(self, job_name: str, tags: Mapping[str, str]) -> None:
        """As the run queue would: until the runs in progress on the instance leave room for one
        more, overall and under every tag limit this run's tags fall under."""
        coordinator = self.instance.run_coordinator
        if not isinstance(coordinator, QueuedRunCoordinator):
            return  # the instance launches runs at once
        config = coordinator.get_run_queue_config()
        began = time.monotonic()
        while True:
            in_progress = [
                r.dagster_run
                for r in self.instance.get_run_records(filters=dg.RunsFilter(statuses=_IN_PROGRESS))
            ]
            counter = TagConcurrencyLimitsCounter(
                list(config.tag_concurrency_limits or []), in_progress
            )
            room = config.max_concurrent_runs < 0 or len(in_progress) < config.max_concurrent_runs
            if room and not counter.is_blocked(_Tagged(tags)):
                return
            waited = time.monotonic() - began
            if waited > self.queue_wait.total_seconds():
                raise RunQueueFull(
                    job_name, waited, [f"{r.job_name} ({r.run_id})" for r in in_progress]
                )
            time.sleep(0.5)

    def _launch(self, requests, default_job: str | None) -> list[dg.ExecuteInProcessResult]:
        results = []
        for request in requests:
            if request.run_key and self._seen(request.run_key):
                continue  # the daemon skips a run key it has launched before
            tags = dict(request.tags)
            if request.run_key:
                tags[RUN_KEY_TAG] = request.run_key
            job = self.defs.resolve_job_def(request.job_name or default_job)
            self._wait_for_room(job.name, {**job.run_tags, **tags})
            with _interrupts_during() as interrupted:
                result = job.execute_in_process(
                    instance=self.instance,
                    tags=tags,
                    partition_key=request.partition_key,
                    raise_on_error=False,
                )
            results.append(result)
            self.runs.append(result)
            if interrupted():
                # Stop here, as the daemon would, rather than start the next run.
                raise KeyboardInterrupt(f"interrupted during run {result.run_id} of {job.name}")
        return results


@contextlib.contextmanager
def _interrupts_during() -> Iterator[Callable[[], bool]]:
    """Whether SIGINT or SIGTERM arrived in the block. Around a run Dagster handles both itself
    (`dagster/_utils/interrupts.py`): inside a step it fails the run, elsewhere it drops the
    signal when the run ends, and never raises it. Python writes every signal it handles to the
    wakeup file descriptor whichever handler is installed, so that is where it is seen."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False  # Dagster captures nothing off the main thread: signals raise there
        return
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    seen = bytearray()
    try:
        yield lambda: signal.SIGINT in seen or signal.SIGTERM in seen
    finally:
        signal.set_wakeup_fd(previous)
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(read_end, 1024):
                seen.extend(chunk)
        os.close(read_end)
        os.close(write_end)
