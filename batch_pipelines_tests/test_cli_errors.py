"""Errors a user of `run-day` / `demo` can act on get one line on stderr saying what to fix, and exit
code 2, with no traceback unless `--verbose`: a database URL that does not connect, no tenants, a
provider that cannot be reached (nothing queued). (A tenant's missing key parks only its batches:
`test_run_day.py`.)"""

from __future__ import annotations

import datetime as dt
import socket

import pytest
from sqlalchemy import func, select

from batch_pipelines.cli import main
from batch_pipelines.db.seed import seed_demo
from batch_pipelines.db.settings import DATABASE_URL_ENV
from batch_pipelines.db.tables import batch_requests
from batch_pipelines.preflight import DatabaseUnreachable

DAY = dt.date(2026, 11, 25)


def _closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_a_database_url_that_does_not_connect_is_one_line_naming_it_password_hidden(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = _closed_port()
    monkeypatch.setenv(DATABASE_URL_ENV, f"postgresql://app:s3cret@127.0.0.1:{port}/batch")
    assert main(["run-day", "--date", DAY.isoformat()]) == 2
    line = _one_error_line(capsys)
    assert f"cannot connect to the database at postgresql://app:***@127.0.0.1:{port}/batch" in line
    assert DATABASE_URL_ENV in line and "s3cret" not in line


def test_verbose_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, f"postgresql://app@127.0.0.1:{_closed_port()}/batch")
    with pytest.raises(DatabaseUnreachable):
        main(["run-day", "--date", DAY.isoformat(), "--verbose"])


def test_no_tenants_is_one_line_saying_how_to_add_them(
    engine, emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run-day", "--date", DAY.isoformat()]) == 2
    line = _one_error_line(capsys)
    assert "no tenants" in line and "batch-pipelines seed" in line


def test_a_provider_unreachable_is_one_line_naming_it_and_nothing_is_queued(
    engine, emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_demo(engine, tenants=1, date=DAY, calls_per_tenant=1, leads_per_tenant=1)
    port = _closed_port()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")  # Anthropic is up (the emulator)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", emulator.url)
    assert main(["run-day", "--date", DAY.isoformat()]) == 2
    line = _one_error_line(capsys)
    assert f"cannot reach OpenAI at http://127.0.0.1:{port}/v1" in line
    assert "OPENAI_BASE_URL" in line and "nothing was queued" in line
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(batch_requests)).scalar_one() == 0
