"""`make dev` and `run-day` stop on SIGTERM, whoever sends it, even when started the way a script
starts them: in the background of a non-interactive shell, which starts them with SIGINT ignored.
Dagster maps SIGTERM onto SIGINT's handler (in `dagster dev`, its webserver, daemon and code
server, and around every run `run-day` executes), so without default signal handling they would
ignore SIGTERM; nothing of theirs may be left running afterwards. And a signal during a run stops
the daemon loop instead of letting it start the next run, also when Dagster drops it."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import dagster as dg
import pytest
from dagster._utils.interrupts import capture_interrupts

from batch_pipelines.daemon_loop import DaemonLoop
from batch_pipelines.db.seed import seed_demo
from batch_pipelines.db.settings import HOME_ENV
from batch_pipelines.emulator.config import EmulatorConfig
from batch_pipelines.emulator.server import EmulatorServer
from batch_pipelines_tests.ui_dev_server import REPO, VENV_BIN, free_port, wait_for

DAY = dt.date(2026, 11, 25)
MARKER = "BATCH_PIPELINES_TEST_MARKER"


def _processes_with(marker: str) -> list[str]:
    """Command lines of the live processes whose environment carries `MARKER=marker`: everything
    the command started, whatever its process group (zombies do not count)."""
    needle = f"{MARKER}={marker}".encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            if needle in (proc / "environ").read_bytes().split(b"\0"):
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:120])
        except (OSError, IndexError):
            continue
    return found


def _ignores_sigint(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    return False


@contextlib.contextmanager
def started_like_a_script(
    command: str, env: Mapping[str, str], log: Path
) -> Iterator[tuple[int, str]]:
    """`sh -c 'COMMAND >log 2>&1 &'`: the command in the background of a non-interactive shell
    (so with SIGINT ignored), the shell gone at once. Yields its pid and the marker its processes
    carry; on exit SIGKILLs whatever of them is left (the assertions come first)."""
    marker = uuid.uuid4().hex
    shell = subprocess.run(
        ["sh", "-c", f"{command} >{log} 2>&1 & echo $!"],
        env={**env, MARKER: marker},
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        start_new_session=True,
    )
    pid = int(shell.stdout.strip())
    try:
        yield pid, marker
    finally:
        for proc in Path("/proc").glob("[0-9]*"):
            with contextlib.suppress(OSError, ValueError):
                if f"{MARKER}={marker}".encode() in (proc / "environ").read_bytes().split(b"\0"):
                    os.kill(int(proc.name), signal.SIGKILL)


def _assert_all_stop(marker: str, log: Path, within: float) -> None:
    deadline = time.monotonic() + within
    while (left := _processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, (
        f"still running {within:.0f} s after SIGTERM: {left}\n{log.read_text()[-3000:]}"
    )


def _environment(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_"))}
    return {**env, HOME_ENV: str(home), **extra}


def test_run_day_started_in_the_background_stops_on_sigterm_after_its_runs(
    engine, fresh_database_url: str, tmp_path: Path
) -> None:
    seed_demo(
        engine, tenants=1, date=DAY, calls_per_tenant=2, leads_per_tenant=1, docs_per_tenant=1
    )
    # Batches that take ten minutes: run-day is polling, its request runs done, when the signal
    # comes.
    with EmulatorServer(
        home=tmp_path / "emulator", config=EmulatorConfig(seed=3, complete_after=600)
    ) as emulator:
        env = _environment(
            tmp_path / "home",
            BATCH_PIPELINES_DATABASE_URL=fresh_database_url,
            BATCH_PIPELINES_CUSTOM_ID_SECRET="test-secret-" + "x" * 32,
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=emulator.openai_base_url,
            ANTHROPIC_API_KEY="sk-ant-test",
            ANTHROPIC_BASE_URL=emulator.url,
        )
        log = tmp_path / "run-day.out"
        command = f"{VENV_BIN / 'batch-pipelines'} run-day --date {DAY.isoformat()}"
        with started_like_a_script(command, env, log) as (pid, marker):
            assert _ignores_sigint(pid), "the shell should have started it with SIGINT ignored"
            wait_for("run-day's first progress line", lambda: "batches" in log.read_text(), 180)
            os.kill(pid, signal.SIGTERM)
            _assert_all_stop(marker, log, within=30)
    assert "interrupted" in log.read_text()


def test_make_dev_started_in_the_background_stops_with_everything_it_started_on_sigterm(
    fresh_database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = _environment(tmp_path / "home", BATCH_PIPELINES_DATABASE_URL=fresh_database_url)
    log = tmp_path / "make-dev.out"
    with started_like_a_script(f"make dev DEV_ARGS='--port {port}'", env, log) as (pid, marker):
        assert _ignores_sigint(pid)

        def everything_up() -> bool:
            running = " | ".join(_processes_with(marker))
            if "dagster_webserver" not in running or "dagster._daemon" not in running:
                return False
            if "grpc" not in running or "emulator" not in running:
                return False
            with contextlib.suppress(OSError):
                import urllib.request

                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5):
                    return True
            return False

        wait_for("make dev's webserver, daemon, code server and emulator", everything_up, 240)
        os.kill(pid, signal.SIGTERM)  # to make, which passes it on to its command
        _assert_all_stop(marker, log, within=60)


@dg.op
def _interrupted_op() -> None:
    os.kill(os.getpid(), signal.SIGINT)  # as a Ctrl-C, or a SIGTERM Dagster maps onto it
    time.sleep(5)


@dg.op
def _swallowed_op() -> None:
    # A signal Dagster captures and then drops, as it does one arriving while a run is under way
    # but outside a step's compute (its events written, its resources torn down): the run
    # succeeds and nothing raises.
    with capture_interrupts():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.5)


@dg.op
def _next_op() -> None:
    pass


@dg.job
def interrupted_job() -> None:
    _interrupted_op()


@dg.job
def swallowed_job() -> None:
    _swallowed_op()


@dg.job
def next_job() -> None:
    _next_op()


def _sensor_for(first: dg.JobDefinition) -> dg.SensorDefinition:
    @dg.sensor(name=f"{first.name}_then_next_sensor", jobs=[first, next_job])
    def both_jobs_sensor():
        return [dg.RunRequest(job_name=first.name), dg.RunRequest(job_name="next_job")]

    return both_jobs_sensor


@pytest.mark.skipif(
    signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
    reason="needs the default SIGINT handler in this process",
)
@pytest.mark.parametrize("first", [interrupted_job, swallowed_job], ids=["in_a_step", "swallowed"])
def test_a_signal_during_a_run_stops_the_daemon_loop_before_the_next_run(
    dagster_instance: dg.DagsterInstance, first: dg.JobDefinition
) -> None:
    sensor = _sensor_for(first)
    defs = dg.Definitions(jobs=[first, next_job], sensors=[sensor])
    loop = DaemonLoop(defs, dagster_instance)
    with pytest.raises(KeyboardInterrupt):
        loop.tick_sensor(sensor.name)
    assert [result.dagster_run.job_name for result in loop.runs] == [first.name]
