"""Drives the code location as the Dagster daemon does, in one process: sensor and schedule ticks
evaluated through Dagster's own tick path (cursors kept, dynamic partitions applied, run keys
deduplicated against the instance's runs), and each requested run executed by Dagster against the
instance, so it shows in the UI like any other run. `batch-pipelines run-day` and the tests use it
where waiting for the real daemon's intervals would be too slow."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import dagster as dg

RUN_KEY_TAG = "dagster/run_key"


@dataclass
class DaemonLoop:
    defs: dg.Definitions
    instance: dg.DagsterInstance
    cursors: dict[str, str | None] = field(default_factory=dict)
    runs: list[dg.ExecuteInProcessResult] = field(default_factory=list)

    def tick_sensor(self, name: str) -> list[dg.ExecuteInProcessResult]:
        sensor = self.defs.resolve_sensor_def(name)
        # The context opens an instance of its own: close it, or its finaliser later resets
        # Dagster's process-wide state to an instance that is gone.
        with dg.build_sensor_context(
            instance_ref=self.instance.get_ref(),
            definitions=self.defs,
            resources=self.defs.resources,
            cursor=self.cursors.get(name),
        ) as context:
            data = sensor.evaluate_tick(context)
        self._apply_partitions(data.dynamic_partitions_requests or [])
        if data.cursor is not None:
            self.cursors[name] = data.cursor
        default_job = sensor.job_name if len(sensor.targets) == 1 else None
        return self._launch(data.run_requests or [], default_job)

    def tick_schedule(self, name: str, at: dt.datetime) -> list[dg.ExecuteInProcessResult]:
        schedule = self.defs.resolve_schedule_def(name)
        context = dg.build_schedule_context(instance=self.instance, scheduled_execution_time=at)
        data = schedule.evaluate_tick(context)
        return self._launch(data.run_requests or [], schedule.job_name)

    def launch(self, job_name: str, request: dg.RunRequest) -> dg.ExecuteInProcessResult | None:
        """A run requested by hand (as a UI launch or backfill would), deduplicated by run key."""
        results = self._launch([request], job_name)
        return results[0] if results else None

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

    def _launch(self, requests, default_job: str | None) -> list[dg.ExecuteInProcessResult]:
        results = []
        for request in requests:
            if request.run_key and self._seen(request.run_key):
                continue  # the daemon skips a run key it has launched before
            tags = dict(request.tags)
            if request.run_key:
                tags[RUN_KEY_TAG] = request.run_key
            job = self.defs.resolve_job_def(request.job_name or default_job)
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
