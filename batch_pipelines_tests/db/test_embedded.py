"""The embedded server starts once however many processes ask for it at the same moment."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

from batch_pipelines.db.settings import HOME_ENV

STARTERS = 6


def _start_at_once(home: str, barrier, results) -> None:
    os.environ[HOME_ENV] = home
    import pgserver  # noqa: F401  (imported before the barrier: the race is in get_server's first lines)

    from batch_pipelines.db.embedded import embedded_url

    barrier.wait()
    try:
        results.put(("ok", embedded_url()))
    except Exception as error:  # the failure is the finding: report it to the parent
        results.put(("error", f"{type(error).__name__}: {error}"))


def test_processes_starting_the_embedded_server_together_on_a_fresh_home_all_get_it(
    tmp_path: Path, monkeypatch
) -> None:
    # As pytest-xdist's workers do on a clean checkout: every one asks for the server of a home
    # whose data directory does not exist yet.
    home = tmp_path / "home"
    home.mkdir()
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(STARTERS)
    results = context.Queue()
    starters = [
        context.Process(target=_start_at_once, args=(str(home), barrier, results))
        for _ in range(STARTERS)
    ]
    for starter in starters:
        starter.start()
    try:
        outcomes = [results.get(timeout=240) for _ in starters]
    finally:
        for starter in starters:
            starter.join(timeout=60)
        monkeypatch.setenv(HOME_ENV, str(home))
        from batch_pipelines.db.embedded import stop

        stop()
    assert [kind for kind, _ in outcomes] == ["ok"] * STARTERS, outcomes
    assert len({url for _, url in outcomes}) == 1
