"""What every benchmark shares: a dedicated Postgres, fresh databases, the emulator, timing, memory.

The benchmarks run on their own embedded Postgres under `$BATCH_PIPELINES_HOME` (default
`.batch_pipelines/bench`), apart from the demo's and the tests' servers, or on the server named by
`BATCH_PIPELINES_BENCH_DATABASE_URL`. Every measured run gets a database of its own, cloned with
`CREATE DATABASE … TEMPLATE` from a database the benchmark seeded once, so runs never see each
other's rows. Provider API keys are removed from the environment: the benchmarks only ever talk to
the bundled emulator.
"""

from __future__ import annotations

import contextlib
import gc
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from sqlalchemy import Engine, create_engine, text

from batch_pipelines.db import engine as db_engine
from batch_pipelines.db.migrate import upgrade
from batch_pipelines.db.settings import DATABASE_URL_ENV, HOME_ENV

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
BENCH_URL_ENV = "BATCH_PIPELINES_BENCH_DATABASE_URL"
_PROVIDER_ENV = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL")
# gpt-4o-mini's Tier 5 batch queue limit (15,000,000,000 tokens, OpenAI's rate limits page as
# quoted in community.openai.com thread 1269349), the same for embeddings, and Anthropic's Tier 4
# queue (500,000 requests).
_HIGH_TIER_QUEUE_LIMITS = {
    "BATCH_PIPELINES_ENQUEUED_TOKEN_LIMITS": (
        "gpt-4o-mini=15000000000,text-embedding-3-large=15000000000"
    ),
    "BATCH_PIPELINES_ANTHROPIC_QUEUE_LIMIT": "500000",
}


@dataclass
class Figure:
    """One line of `latest.json`. Times in seconds; `ratio` = value / floor_value."""

    name: str
    value: float | None
    unit: str
    floor_value: float | None = None
    ratio: float | None = None
    target: str | None = None
    ok: bool | None = None
    note: str = ""  # shown in the tables, not written to the JSON
    extra: dict = field(default_factory=dict)  # more fields of the JSON row (e.g. sync_usd)

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "floor_value": self.floor_value,
            "ratio": self.ratio,
            "target": self.target,
            "ok": self.ok,
            **self.extra,
        }


def ratio_figure(
    name: str, runs: list[float], floors: list[float], max_ratio: float, note: str = ""
) -> Figure:
    value = statistics.median(runs)
    floor = statistics.median(floors)
    ratio = value / floor if floor > 0 else None
    return Figure(
        name=name,
        value=round(value, 4),
        unit="s",
        floor_value=round(floor, 4),
        ratio=round(ratio, 3) if ratio is not None else None,
        target=f"ratio <= {max_ratio:g}",
        ok=ratio is not None and ratio <= max_ratio,
        note=note,
    )


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    gc.collect()
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


class BenchServer:
    """The benchmarks' Postgres server and the databases made on it."""

    def __init__(self) -> None:
        self.home = Path(os.environ.get(HOME_ENV) or REPO_ROOT / ".batch_pipelines" / "bench")
        self.home.mkdir(parents=True, exist_ok=True)
        os.environ[HOME_ENV] = str(self.home)
        for name in _PROVIDER_ENV:
            os.environ.pop(name, None)
        os.environ.setdefault("BATCH_PIPELINES_CUSTOM_ID_SECRET", "bench-secret-" + "b" * 32)
        # The engine as a high usage tier runs it: a queue limit that does not cut the day's work
        # into extra shards nor hold batches back (Tier 1's would: 2,000,000 tokens of
        # gpt-4o-mini is ~1,000 post-call lines). Admission control itself is tested, not timed.
        for name, limit in _HIGH_TIER_QUEUE_LIMITS.items():
            os.environ.setdefault(name, limit)
        url = os.environ.get(BENCH_URL_ENV)
        if not url:
            from batch_pipelines.db.embedded import embedded_url

            url = embedded_url()
        self.url = url
        self.admin = create_engine(
            db_engine.with_driver(url, "psycopg"), isolation_level="AUTOCOMMIT"
        )
        self._migrated: str | None = None
        self._made: list[str] = []
        self._drop_leftovers()

    def _drop_leftovers(self) -> None:
        """Drop the databases an interrupted benchmark left behind (only when no other benchmark
        process holds the server: a session lock kept for this process's life says so)."""
        self._lock_conn = self.admin.connect()
        got = self._lock_conn.execute(text("SELECT pg_try_advisory_lock(0x62656e6368)")).scalar()
        if not got:
            return
        names = self._lock_conn.execute(
            text("SELECT datname FROM pg_database WHERE datname LIKE 'bench\\_%'")
        ).scalars()
        for name in list(names):
            self._exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _exec(self, sql: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(sql))

    def migrated_template(self) -> str:
        """An empty database migrated to head (made once per process)."""
        if self._migrated is None:
            name = f"bench_migrated_{uuid.uuid4().hex[:10]}"
            self._exec(f'CREATE DATABASE "{name}"')
            self._made.append(name)
            engine = create_engine(db_engine.with_driver(self.url_of(name), "psycopg"))
            upgrade(engine)
            engine.dispose()
            self._migrated = name
        return self._migrated

    def url_of(self, name: str) -> str:
        return db_engine.with_database(self.url, name)

    def create(self, prefix: str, template: str | None = None) -> str:
        """A new database cloned from `template` (default: the migrated empty one)."""
        template = template or self.migrated_template()
        name = f"bench_{prefix}_{uuid.uuid4().hex[:10]}"
        # Nothing may be connected to the template while it is copied.
        db_engine.dispose_engines()
        self._exec(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{template}' AND pid <> pg_backend_pid()"
        )
        self._exec(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        self._made.append(name)
        return name

    def drop(self, name: str) -> None:
        db_engine.dispose_engines()
        self._exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self._made:
            self._made.remove(name)
        if self._migrated == name:
            self._migrated = None

    @contextlib.contextmanager
    def use(self, name: str) -> Iterator[Engine]:
        """Point the project at database `name` (as `BATCH_PIPELINES_DATABASE_URL`) for the block."""
        url = self.url_of(name)
        previous = os.environ.get(DATABASE_URL_ENV)
        os.environ[DATABASE_URL_ENV] = url
        try:
            yield db_engine.get_engine(url)
        finally:
            db_engine.dispose_engines()
            if previous is None:
                os.environ.pop(DATABASE_URL_ENV, None)
            else:
                os.environ[DATABASE_URL_ENV] = previous

    def vacuum_analyze(self, name: str) -> None:
        engine = create_engine(
            db_engine.with_driver(self.url_of(name), "psycopg"), isolation_level="AUTOCOMMIT"
        )
        with engine.connect() as conn:
            conn.execute(text("VACUUM ANALYZE"))
        engine.dispose()

    def close(self) -> None:
        for name in list(self._made):
            self.drop(name)
        self._lock_conn.close()
        self.admin.dispose()


@contextlib.contextmanager
def emulator(home: Path | None = None, **flags) -> Iterator:
    """The emulator in this process (its own home), with the environment pointing the providers at it."""
    from batch_pipelines.emulator.config import EmulatorConfig
    from batch_pipelines.emulator.server import EmulatorServer

    with contextlib.ExitStack() as stack:
        if home is None:
            home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-emu-")))
        server = stack.enter_context(EmulatorServer(home=home, config=EmulatorConfig(**flags)))
        previous = os.environ.get("BATCH_PIPELINES_EMULATOR_URL")
        os.environ["BATCH_PIPELINES_EMULATOR_URL"] = server.url
        try:
            yield server
        finally:
            if previous is None:
                os.environ.pop("BATCH_PIPELINES_EMULATOR_URL", None)
            else:
                os.environ["BATCH_PIPELINES_EMULATOR_URL"] = previous


class PeakRss:
    """Samples the resident memory of this process and its children (recursively) every 50 ms.

    A child caught between fork and exec (Dagster starts a few per run to capture logs) still
    shares this process's pages and reports this process's whole RSS as its own: counting it
    would double the figure for that sample. Such a child still runs this process's command line,
    so children with our command line are left out (the benchmarks start no worker of their own).
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)
        self._proc = psutil.Process()
        self._cmdline = self._proc.cmdline()

    def sample(self) -> int:
        total = 0
        with contextlib.suppress(psutil.Error):
            total = self._proc.memory_info().rss
        with contextlib.suppress(psutil.Error):
            for child in self._proc.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if child.cmdline() == self._cmdline:
                        continue  # not exec'd yet: this process's own pages
                    total += child.memory_info().rss
        self.peak = max(self.peak, total)
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRss:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def clear_spool() -> None:
    from batch_pipelines.batching.planning import spool_dir

    for path in spool_dir().glob("*"):
        with contextlib.suppress(OSError):
            path.unlink()


def log(message: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", flush=True)
