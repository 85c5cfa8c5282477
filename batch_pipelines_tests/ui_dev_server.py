"""Helpers for the browser test: Debian's Chromium, `batch-pipelines dev` as `make dev` starts it, and
the webserver's GraphQL API (the same endpoint the UI talks to)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
T = TypeVar("T")


def ensure_chromium() -> str | None:
    """Install Debian's `chromium` when it is missing. Returns None when it is there, otherwise the
    reason it could not be installed (the test skips saying so)."""
    if CHROMIUM.exists():
        return None
    if os.geteuid() != 0:
        return (
            f"{CHROMIUM} is missing and this test is not root, so cannot apt-get install chromium"
        )
    if shutil.which("apt-get") is None:
        return f"{CHROMIUM} is missing and there is no apt-get to install Debian's chromium"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps = (
        (["apt-get", "update"], 180),
        (["apt-get", "install", "-y", "--no-install-recommends", "chromium"], 420),
    )
    for command, timeout in steps:
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return f"`{' '.join(command)}` did not finish within {timeout} s"
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            return f"`{' '.join(command)}` failed ({done.returncode}): " + " | ".join(tail)
    if not CHROMIUM.exists():
        return f"apt-get installed chromium but {CHROMIUM} is still missing"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli(env: Mapping[str, str], *args: str, timeout: float = 120) -> str:
    """`.venv/bin/batch-pipelines ARGS` with `env`; its stdout (raises with stderr on failure)."""
    done = subprocess.run(
        [str(VENV_BIN / "batch-pipelines"), *args],
        env=dict(env),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"batch-pipelines {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}"
        )
    return done.stdout


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, every: float = 1.0) -> T:
    """Call `probe` until it returns something truthy; fail naming `what` after `timeout` s. An
    AssertionError from `probe` fails at once; other errors (server not up yet) are retried."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except AssertionError:
            raise  # the probe saw something definitely wrong
        except Exception as exc:  # the server may not be up yet, or still loading
            last_error = exc
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f} s waiting for {what}"
                + (f" (last error: {last_error!r})" if last_error else "")
            )
        time.sleep(every)


class GraphQLError(Exception):
    pass


@dataclass
class DevServer:
    """A running `batch-pipelines dev` (its own process group) and where it serves."""

    process: subprocess.Popen
    url: str
    log_path: Path

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict:
        body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = json.loads(response.read())
        if payload.get("errors"):
            raise GraphQLError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(
                f"batch-pipelines dev exited ({self.process.returncode}):\n{self.log_tail()}"
            )


@contextlib.contextmanager
def dev_server(env: Mapping[str, str], log_path: Path) -> Iterator[DevServer]:
    """`batch-pipelines dev --port <free>` in its own process group; on exit, SIGTERM to the group
    (the CLI stops the emulator, `dagster dev` stops its webserver, daemon and code server), then
    SIGKILL to whatever is left after a grace period."""
    port = free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(VENV_BIN / "batch-pipelines"), "dev", "--port", str(port)],
            env=dict(env),
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = DevServer(process, f"http://127.0.0.1:{port}", log_path)
    try:
        yield server
    finally:
        for survivor in stop_process_group(process):
            print(f"killed after the SIGTERM grace period: {survivor}")


def stop_process_group(process: subprocess.Popen, grace: float = 15) -> list[str]:
    """SIGTERM to the whole group (the CLI, the emulator, `dagster dev` with its webserver and
    daemon stop on it); SIGKILL to whatever is still there after `grace` seconds, which it returns
    (the code server waits for its heartbeat timeout, and run workers finish their step first)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        process.poll()  # reap the CLI itself, or it stays in the group as a zombie
        if not _group_members(process.pid):
            return []
        time.sleep(0.5)
    survivors = _group_members(process.pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    return survivors


def _group_members(pgid: int) -> list[str]:
    """Command lines of the group's running processes (zombies waiting to be reaped don't count)."""
    members = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:100])
        except (OSError, IndexError, ValueError):
            continue
    return members
