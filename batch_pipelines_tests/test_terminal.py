"""What `demo` and `run-day` print: progress and the report in a few dozen lines, Dagster's event
stream in the day's log file under the home instead of on the terminal (back with `--verbose`); on
a terminal a live panel of batches, lines and cost; elsewhere a few plain lines."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
from decimal import Decimal
from pathlib import Path

from rich.console import Console

from batch_pipelines.db.settings import DATABASE_URL_ENV, HOME_ENV
from batch_pipelines.run_day import Progress
from batch_pipelines.terminal import DayDisplay
from batch_pipelines_tests.ui_dev_server import REPO, VENV_BIN

DAY = dt.date(2026, 11, 25)
# What only Dagster's event stream prints (its console logger's lines).
DAGSTER_EVENTS = ("RUN_START", "STEP_SUCCESS", " - dagster - ")


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "batch-pipelines"), *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_demo_prints_progress_and_the_report_and_leaves_dagsters_events_to_the_log(
    fresh_database_url: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_"))}
    env.update({HOME_ENV: str(home), DATABASE_URL_ENV: fresh_database_url})
    demo = _cli(env, "demo", "--tenants", "2", "--date", DAY.isoformat())
    output = demo.stdout + demo.stderr
    assert demo.returncode == 0, output[-3000:]
    lines = output.splitlines()
    # Before the report: the seed, the providers, a few progress lines, the summary.
    before_report = lines[: next(i for i, line in enumerate(lines) if "cost report" in line)]
    assert len(before_report) <= 10 and len(lines) <= 80, output
    assert not [line for line in lines if any(mark in line for mark in DAGSTER_EVENTS)]
    assert any(line.startswith("[") and "batches" in line for line in lines)  # plain progress
    assert "Tenant cost report 2026-11-25" in output and "Per tenant" in output
    log = home / "logs" / f"run-day-{DAY.isoformat()}.log"
    assert f"Dagster's events: {log}" in output
    assert all(mark in log.read_text() for mark in ("RUN_START", "STEP_SUCCESS"))

    again = _cli(env, "run-day", "--date", DAY.isoformat(), "--verbose")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "RUN_START" in again.stdout + again.stderr  # --verbose brings the stream back


def _state(**figures) -> Progress:
    return Progress(**{"jobs_total": 10, "jobs_live": 2, "jobs_submitted": 9, **figures})


def test_the_live_panel_shows_batches_lines_and_cost() -> None:
    display = DayDisplay(DAY, io.StringIO(), live=False)
    display(
        _state(
            lines_succeeded=140,
            lines_open=19,
            lines_dead_letter=1,
            lines_held=2,
            cost_micro_usd=Decimal("46812.5"),
            runs=12,
            ticks=30,
        )
    )
    console = Console(file=io.StringIO(), width=120, record=True)
    console.print(display.render())
    text = console.export_text()
    assert "run-day 2026-11-25" in text
    assert "8/10 finished · 9 submitted" in text
    assert "140 ok · 19 open · 1 dead-lettered · 2 held" in text
    assert "$0.046812 so far" in text or "$0.046813 so far" in text
    assert "12 runs · 30 sensor ticks" in text


def test_without_a_terminal_a_line_at_most_every_interval_and_the_last_state() -> None:
    now = [0.0]
    out = io.StringIO()
    with DayDisplay(DAY, out, every=15, clock=lambda: now[0]) as display:
        assert not display.live  # a StringIO is no terminal
        for at, succeeded in ((1, 0), (3, 10), (9, 20), (17, 30), (20, 40), (25, 50)):
            now[0] = at
            display(_state(lines_succeeded=succeeded))
    lines = out.getvalue().splitlines()
    assert [line.split("]")[0] for line in lines] == ["[0:01", "[0:17", "[0:25"]
    assert "50 ok" in lines[-1]
