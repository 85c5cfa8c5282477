"""The embedded PostgreSQL (pgserver) used when no `BATCH_PIPELINES_DATABASE_URL` is set.

pgserver serialises start-up with an inter-process lock and reuses a running postmaster, so the
webserver, the daemon, run workers and tests asking at once all end up on the same server. We pass
`cleanup_mode=None`: the server outlives the process that started it, because the URL we print or
hand to Dagster must keep working after a short-lived command exits. `stop()` stops it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from batch_pipelines.db.settings import home_dir

# pgserver keeps its lock file under the XDG runtime dir and warns, harmlessly, when none is set.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def embedded_data_dir() -> Path:
    return home_dir() / "pg"


def embedded_url() -> str:
    """Start (or reuse) the embedded server and return its `postgresql://` URL."""
    import pgserver

    data_dir = embedded_data_dir()
    # pgserver checks for the data directory and then creates it with exist_ok=False, outside its
    # lock: two processes starting at once on a fresh home (pytest-xdist's workers on a clean
    # checkout) race there and one fails with FileExistsError. Created here, idempotently; the
    # initdb that follows runs under pgserver's lock.
    data_dir.mkdir(exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode=None)
    return server.get_uri()


def stop() -> bool:
    """Stop the embedded server if it runs; returns whether it was running."""
    import pgserver
    from pgserver.utils import PostmasterInfo

    data_dir = embedded_data_dir()
    info = PostmasterInfo.read_from_pgdata(data_dir)
    if info is None or not info.is_running():
        return False
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    server.cleanup()
    return True
