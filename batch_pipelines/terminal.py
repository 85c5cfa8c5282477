"""What `run-day` and `demo` show in a terminal.

While the day runs: a live display of its batches (submitted, finished), its lines (ok, open,
dead-lettered, held) and its cost so far, redrawn in place on a terminal; where stdout is not one
(CI, a pipe) a plain line now and then instead. Dagster's event stream does not reach the terminal:
every run's events are on the instance (the UI shows them: `batch-pipelines dev`), and everything
the process writes while the day runs, Dagster's console loggers included, goes to a log file under
the home (`logs/run-day-<date>.log`). `--verbose` leaves it all on the terminal. Then a short
summary: the runs, the report's path, the parked work with what to fix (one line per cause).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from rich.console import Console, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from batch_pipelines.batching.jobs import BlockedJob
from batch_pipelines.core.workflows import workflow_label
from batch_pipelines.db.settings import home_dir
from batch_pipelines.run_day import Progress, RunDayResult

# Without a terminal, a progress line at most this often (and the last one): a few lines a day.
PLAIN_EVERY_SECONDS = 15.0


def log_path(day: dt.date) -> Path:
    """Where a day's Dagster output goes: `$BATCH_PIPELINES_HOME/logs/run-day-<date>.log`."""
    path = home_dir() / "logs" / f"run-day-{day.isoformat()}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def output_to(path: Path) -> Iterator[IO[str]]:
    """Point this process's stdout and stderr at `path` (appending), as file descriptors, so that
    Dagster's console loggers, the sensors' loggers, warnings and the children Dagster starts all
    write there; yield a stream on the original stdout for the display. Restored on exit, so an
    error is printed where the user sees it."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    # A descriptor of its own: Dagster points fd 1 at a step's compute log while the step runs,
    # and the display's refresh must not land there.
    terminal = os.fdopen(os.dup(saved[1]), "w", buffering=1, encoding="utf-8", errors="replace")
    with path.open("a", buffering=1, encoding="utf-8") as log:
        log.write(f"==== {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC, pid {os.getpid()}\n")
        log.flush()
        for fd in saved:
            os.dup2(log.fileno(), fd)
        try:
            yield terminal
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            terminal.close()


@dataclass
class DayDisplay:
    """The day's progress, fed by `run_day(on_progress=...)` and, when given `poll`, read every
    `poll_every` seconds in between (run_day reports between ticks, and one tick's runs can take a
    while): on a terminal a live panel redrawn in place; otherwise a plain line when something
    changed, at most every `every` seconds, and the last state when it closes."""

    day: dt.date
    stream: IO[str]
    every: float = PLAIN_EVERY_SECONDS
    live: bool | None = None  # None: live when `stream` is a terminal
    poll: Callable[[], Progress] | None = None
    poll_every: float = 2.0
    clock: Callable[[], float] = time.monotonic
    state: Progress | None = None
    _started: float = field(default=0.0, init=False)
    _printed_at: float | None = field(default=None, init=False)
    _printed: str = field(default="", init=False)
    _live: Live | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _poller: threading.Thread | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.console = Console(file=self.stream, highlight=False)
        if self.live is None:
            self.live = self.console.is_terminal

    def __enter__(self) -> DayDisplay:
        self._started = self.clock()
        if self.live:
            # Not rich's redirection of sys.stdout/sys.stderr into the panel: what the process
            # writes there belongs in the log (`output_to`), not above the display.
            self._live = Live(
                get_renderable=self.render,
                console=self.console,
                refresh_per_second=4,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()
        if self.poll is not None:
            self._poller = threading.Thread(target=self._polling, name="day-display", daemon=True)
            self._poller.start()
        return self

    def __call__(self, state: Progress) -> None:
        with self._lock:
            self.state = state
            if self._live is not None:
                self._live.refresh()
                return
            now = self.clock()
            due = self._printed_at is None or now - self._printed_at >= self.every
            started = state.jobs_total or state.lines_total  # not yet: a line of zeros says little
            if due and started and state.line() != self._printed:
                self._print_plain(now)

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join()
        if self._live is not None:
            self._live.stop()  # leaves the last frame on the terminal
        elif self.state is not None and self.state.line() != self._printed:
            self._print_plain(self.clock())

    def _polling(self) -> None:
        assert self.poll is not None
        while not self._stop.wait(self.poll_every):
            try:
                state = self.poll()
            except Exception:  # a missed refresh: run_day reports anyway
                continue
            if self.state is not None:  # what only run_day knows: its runs and ticks
                state.runs, state.ticks = self.state.runs, self.state.ticks
                state.failed_runs = self.state.failed_runs
            self(state)

    def _elapsed(self, now: float | None = None) -> str:
        seconds = int((self.clock() if now is None else now) - self._started)
        return f"{seconds // 60}:{seconds % 60:02d}"

    def _print_plain(self, now: float) -> None:
        assert self.state is not None
        line = self.state.line()
        self.stream.write(f"[{self._elapsed(now)}] {line}\n")
        self.stream.flush()
        self._printed, self._printed_at = line, now

    def render(self) -> RenderableType:
        """The live panel: a title with a spinner and the time taken, then batches, lines, cost,
        Dagster's runs and ticks."""
        state = self.state or Progress()
        title = Text(f"run-day {self.day.isoformat()} · {self._elapsed()}")
        grid = Table.grid(padding=(0, 1))
        grid.add_column(justify="right", style="bold")
        grid.add_column()
        grid.add_column()
        if self.state is None:
            grid.add_row(Spinner("dots"), title, "")
            grid.add_row("", "queueing the day's work", "")
            return grid
        finished = state.jobs_total - state.jobs_live
        grid.add_row(Text("✓", style="green") if state.done else Spinner("dots"), title, "")
        grid.add_row(
            "batches",
            ProgressBar(total=max(state.jobs_total, 1), completed=finished, width=30),
            f"{finished}/{state.jobs_total} finished · {state.jobs_submitted} submitted",
        )
        grid.add_row(
            "lines",
            f"{state.lines_succeeded} ok · {state.lines_open} open · "
            f"{state.lines_dead_letter} dead-lettered · {state.lines_held} held",
            "",
        )
        grid.add_row("cost", f"${state.cost_micro_usd / 1_000_000:.6f} so far", "")
        failed = f" · {len(state.failed_runs)} failed" if state.failed_runs else ""
        grid.add_row("dagster", f"{state.runs} runs{failed} · {state.ticks} sensor ticks", "")
        if state.blocked:
            parked = sum(job.requests for job in state.blocked)
            grid.add_row("parked", f"{len(state.blocked)} batches, {parked} lines", "see below")
        return grid


def blocked_lines(blocked: list[BlockedJob]) -> list[str]:
    """One line per cause of parked work (a missing key parks one batch per workflow of its
    tenant: said once, with what it holds up)."""
    by_cause: dict[tuple[str, str], list[BlockedJob]] = {}
    for job in blocked:
        by_cause.setdefault((job.attention, job.reason), []).append(job)
    lines = []
    for (attention, reason), jobs in by_cause.items():
        workflows = ", ".join(dict.fromkeys(workflow_label(job.workflow) for job in jobs))
        ids = ", ".join(job.batch_job_id for job in jobs)
        requests = sum(job.requests for job in jobs)
        lines.append(
            f"blocked: {reason} [{attention}: {len(jobs)} parked batches of {workflows}, "
            f"{requests} requests: {ids}]"
        )
    return lines


def print_result(result: RunDayResult, *, log: Path | None = None) -> int:
    """The summary after the display: runs, the report, where Dagster's events are; on stderr
    what is parked and why, failed runs, what is left. Returns the exit code."""
    state = result.progress
    report = f"; report: {result.report_path}" if result.report_path else ""
    print(f"{result.runs} Dagster runs{report}")
    if log is not None:
        print(f"Dagster's events: {log} (and every run in the UI: batch-pipelines dev)")
    for line in blocked_lines(state.blocked):
        print(line, file=sys.stderr)
    if result.failed_runs:
        print("failed runs: " + ", ".join(result.failed_runs), file=sys.stderr)
    if not state.done:
        print(
            f"unfinished: {state.jobs_live} batches still live, {state.lines_open} lines open",
            file=sys.stderr,
        )
    return result.exit_code


def run_day_in_terminal(day: dt.date, *, verbose: bool = False) -> int:
    """`run_day` with the display, Dagster's output in the day's log file (or, `verbose`, left on
    the terminal), then the summary; the exit code."""
    from batch_pipelines.db import get_engine
    from batch_pipelines.run_day import progress

    def poll() -> Progress:
        return progress(get_engine(), day)

    if verbose:
        # Plain lines among Dagster's: a live panel would fight its output for the terminal.
        with DayDisplay(day, sys.stdout, every=0.0, live=False, poll=poll) as display:
            result = _interruptible_run_day(day, display)
        return print_result(result)
    log = log_path(day)
    with output_to(log) as terminal, DayDisplay(day, terminal, poll=poll) as display:
        result = _interruptible_run_day(day, display)
    return print_result(result, log=log)


def _interruptible_run_day(day: dt.date, display: DayDisplay) -> RunDayResult:
    import dagster as dg

    from batch_pipelines.run_day import run_day

    try:
        return run_day(day, on_progress=display)
    except dg.DagsterExecutionInterruptedError as exc:
        # A signal during a sensor tick's resource set-up, where Dagster raises its own
        # interruption (a BaseException) rather than KeyboardInterrupt: the same stop.
        raise KeyboardInterrupt("interrupted during a sensor tick") from exc
