"""`batch-pipelines …`: the project's command line."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path


def _cmd_db_url(args: argparse.Namespace) -> int:
    from batch_pipelines.db import database_url

    print(database_url())
    return 0


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from batch_pipelines.db import get_engine
    from batch_pipelines.db.migrate import current_revision, upgrade

    engine = get_engine(migrate=False)
    upgrade(engine)  # also in a deployment, where nothing else migrates (the migrations Job)
    print(f"database at revision {current_revision(engine)}")
    return 0


def _cmd_db_stop(args: argparse.Namespace) -> int:
    from batch_pipelines.db.embedded import stop

    print("embedded Postgres stopped" if stop() else "embedded Postgres was not running")
    return 0


def _cmd_seed(args: argparse.Namespace) -> int:
    from batch_pipelines.db import get_engine
    from batch_pipelines.db.seed import seed_demo

    summary = seed_demo(
        get_engine(),
        tenants=args.tenants,
        date=args.date,
        seed=args.seed,
        calls_per_tenant=args.calls_per_tenant,
    )
    print(summary)
    return 0


def _cmd_tenant_add(args: argparse.Namespace) -> int:
    from batch_pipelines.db import get_engine
    from batch_pipelines.db.seed import add_tenant

    with get_engine().begin() as conn:
        add_tenant(conn, args.tenant_id, name=args.name, vertical=args.vertical, tier=args.tier)
    print(f"tenant {args.tenant_id} added")
    return 0


def _cmd_emulator(args: argparse.Namespace) -> int:
    from batch_pipelines.emulator.cli import run_from_args

    return run_from_args(args)


def _cmd_report(args: argparse.Namespace) -> int:
    from batch_pipelines.ledger.reports import run_report

    return run_report(args)


def _cmd_estimate(args: argparse.Namespace) -> int:
    from batch_pipelines.ledger.estimate import run_estimate

    return run_estimate(args)


def _cmd_roi(args: argparse.Namespace) -> int:
    import uvicorn

    from batch_pipelines.db import get_engine
    from batch_pipelines.roi.app import create_app

    app = create_app(get_engine(), min_tenants=args.min_tenants, since=args.since)
    print(f"ROI calculator on http://{args.host}:{args.port}/", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _cmd_search(args: argparse.Namespace) -> int:
    import textwrap

    from batch_pipelines.db import get_engine
    from batch_pipelines.db.tenants import tenant_ids
    from batch_pipelines.workflows.kb_index import search

    engine = get_engine()
    with engine.connect() as conn:
        if args.tenant not in tenant_ids(conn):
            raise ValueError(f"no tenant {args.tenant!r} (batch-pipelines tenant add …)")
    with _bundled_emulator_unless_configured():
        hits = search(args.tenant, args.query, args.k, engine=engine)
    if not hits:
        print(f"no indexed knowledge-base chunks of {args.tenant} (has kb_index run?)")
        return 0
    for rank, hit in enumerate(hits, start=1):
        # Cosine similarity: 1 is the same direction as the query.
        print(f"{rank}. {hit.title}  (score {1 - hit.distance:.3f}, {hit.chunk_id})")
        print(textwrap.indent(textwrap.fill(" ".join(hit.content.split()), width=96), "   "))
    return 0


def _cmd_run_day(args: argparse.Namespace) -> int:
    from batch_pipelines.preflight import check_providers, check_tenants, open_database
    from batch_pipelines.terminal import run_day_in_terminal

    check_tenants(open_database())
    with _bundled_emulator_unless_configured():
        check_providers()
        return run_day_in_terminal(args.date, verbose=args.verbose)


def _cmd_demo(args: argparse.Namespace) -> int:
    from batch_pipelines.db.seed import seed_demo
    from batch_pipelines.ledger.reports import build_tenant_cost_report, render_terminal
    from batch_pipelines.preflight import check_providers, open_database
    from batch_pipelines.terminal import run_day_in_terminal

    engine = open_database()
    seeded = seed_demo(engine, tenants=args.tenants, date=args.date, seed=args.seed)
    if seeded.total:
        print(
            f"seeded {seeded.date}: {seeded.tenants} tenants, {seeded.agents} agents, "
            f"{seeded.calls} calls, {seeded.leads} leads, {seeded.kb_documents} KB documents"
        )
    else:
        print(f"demo data of {seeded.date} already seeded ({len(seeded.tenant_ids)} tenants)")
    with _bundled_emulator_unless_configured() as where:
        print(f"providers: {where}")
        check_providers()
        status = run_day_in_terminal(args.date, verbose=args.verbose)
    with engine.begin() as conn:
        print(render_terminal(build_tenant_cost_report(conn, args.date)), end="")
    return status


def _cmd_dev(args: argparse.Namespace) -> int:
    """Embedded Postgres, the emulator (unless real providers are configured) and `dagster dev`
    (webserver and daemon, schedule and sensors running) on the repo's workspace."""
    from batch_pipelines.db import database_url
    from batch_pipelines.db.settings import HOME_ENV, home_dir
    from batch_pipelines.providers.registry import EMULATOR_URL_ENV, uses_emulator
    from batch_pipelines.run_day import dagster_environment, dagster_home

    print(f"database: {database_url()}")
    env = {
        **os.environ,
        **dagster_environment(),
        HOME_ENV: str(home_dir()),
        "DAGSTER_HOME": str(dagster_home()),
    }
    children = []
    if uses_emulator():
        port = _free_port()
        env[EMULATOR_URL_ENV] = f"http://127.0.0.1:{port}"
        children.append(
            subprocess.Popen(
                [sys.executable, "-m", "batch_pipelines.cli", "emulator", "--port", str(port)],
                env=env,
            )
        )
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster), "dev", "-w", "workspace.yaml", "-h", args.host, "-p", str(args.port)]
    # The children start with default signal handling (main() replaced an inherited "ignore
    # SIGINT"), so `dagster dev`, which maps SIGTERM onto SIGINT's handler, stops on either and
    # stops its webserver, daemon and code server.
    server = subprocess.Popen(command, env=env, cwd=Path(__file__).resolve().parent.parent)
    try:
        return server.wait()
    except KeyboardInterrupt:  # SIGINT or SIGTERM (main() makes both raise it)
        return 0
    finally:
        _stop(server, *children)


def _stop(*children: subprocess.Popen) -> None:
    """Stop each child in turn: SIGTERM unless it is already exiting (a signal sent to the whole
    group reached it too), then SIGKILL after a minute. `dagster dev` goes first and gets the time
    to stop its webserver, daemon and code server; the emulator last, so runs still finishing can
    reach it. A second signal does not cut this short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=2)
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _bundled_emulator_unless_configured() -> Iterator[str]:
    """Start the bundled emulator in this process when a provider has neither a key nor a base URL
    configured; yield a line saying where requests go."""
    from batch_pipelines.db.settings import home_dir
    from batch_pipelines.emulator.server import EmulatorServer
    from batch_pipelines.providers.registry import EMULATOR_URL_ENV, uses_emulator

    if not uses_emulator():
        yield "the configured OpenAI and Anthropic services"
        return
    with EmulatorServer(home=home_dir() / "emulator") as server:
        previous = os.environ.get(EMULATOR_URL_ENV)
        os.environ[EMULATOR_URL_ENV] = server.url
        try:
            yield f"the bundled emulator at {server.url}"
        finally:
            if previous is None:
                os.environ.pop(EMULATOR_URL_ENV, None)
            else:
                os.environ[EMULATOR_URL_ENV] = previous


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-11-25, got {value!r}") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="batch-pipelines", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="the project's Postgres").add_subparsers(
        dest="db_command", required=True
    )
    db.add_parser("url", help="print the database URL (starts the embedded server if needed)")
    db.add_parser("upgrade", help="apply migrations up to head")
    db.add_parser("stop", help="stop the embedded Postgres")

    seed = sub.add_parser(
        "seed", help="write a deterministic demo day of tenants, calls, leads, docs"
    )
    seed.add_argument("--tenants", type=int, default=12)
    seed.add_argument("--date", type=_date, required=True)
    seed.add_argument("--seed", type=int, default=7)
    seed.add_argument("--calls-per-tenant", type=int, default=10)

    tenant = sub.add_parser("tenant", help="manage tenants").add_subparsers(
        dest="tenant_command", required=True
    )
    add = tenant.add_parser("add", help="add (or update) a tenant")
    add.add_argument("tenant_id")
    add.add_argument("--name", required=True)
    add.add_argument("--vertical", required=True)
    add.add_argument("--tier", default="starter")

    emulator = sub.add_parser("emulator", help="serve the offline OpenAI/Anthropic batch emulator")
    from batch_pipelines.emulator.cli import add_arguments as add_emulator_arguments

    add_emulator_arguments(emulator)

    from batch_pipelines.ledger.estimate import add_estimate_arguments
    from batch_pipelines.ledger.reports import add_report_arguments

    add_report_arguments(sub.add_parser("report", help="per-tenant cost, savings and margin"))
    add_estimate_arguments(
        sub.add_parser("estimate", help="a prospective tenant's monthly cost, from the ledger")
    )

    from batch_pipelines.roi.app import DEFAULT_MIN_TENANTS

    roi = sub.add_parser("roi", help="serve the ROI calculator web app (form and JSON API)")
    roi.add_argument("--host", default="127.0.0.1")
    roi.add_argument("--port", type=int, default=8000)
    roi.add_argument(
        "--min-tenants",
        type=int,
        default=DEFAULT_MIN_TENANTS,
        help="answer a vertical only from at least this many observed tenants (default: 2)",
    )
    roi.add_argument("--since", type=_date, default=None, help="only ledger rows from this date")

    search = sub.add_parser("search", help="a tenant's knowledge-base chunks nearest to a query")
    search.add_argument("--tenant", required=True)
    search.add_argument("query")
    search.add_argument("-k", type=int, default=5, help="how many chunks (default 5)")

    run_day = sub.add_parser(
        "run-day", help="run the three workflows for a date through Dagster until all is priced"
    )
    run_day.add_argument("--date", type=_date, required=True)

    demo = sub.add_parser("demo", help="seed + run-day + report, on the emulator unless configured")
    demo.add_argument("--tenants", type=int, default=12)
    demo.add_argument("--date", type=_date, default=dt.date(2026, 11, 25))
    demo.add_argument("--seed", type=int, default=7)

    dev = sub.add_parser("dev", help="embedded Postgres + emulator + dagster dev (UI and daemon)")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    _add_verbose(parser)
    return parser


def _add_verbose(parser: argparse.ArgumentParser) -> None:
    """`-v/--verbose` on every command: Dagster's output on the terminal, tracebacks in full."""
    nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not nested:
        parser.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            help="Dagster's event stream on the terminal (not only in the log), full tracebacks",
        )
    for action in nested:
        for command in action.choices.values():
            _add_verbose(command)


_COMMANDS: dict[tuple[str, str | None], Callable[[argparse.Namespace], int]] = {
    ("db", "url"): _cmd_db_url,
    ("db", "upgrade"): _cmd_db_upgrade,
    ("db", "stop"): _cmd_db_stop,
    ("seed", None): _cmd_seed,
    ("tenant", "add"): _cmd_tenant_add,
    ("emulator", None): _cmd_emulator,
    ("report", None): _cmd_report,
    ("estimate", None): _cmd_estimate,
    ("roi", None): _cmd_roi,
    ("search", None): _cmd_search,
    ("run-day", None): _cmd_run_day,
    ("demo", None): _cmd_demo,
    ("dev", None): _cmd_dev,
}


@contextlib.contextmanager
def _interrupt_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise KeyboardInterrupt, whoever sends them, so a command unwinds: its
    children and the emulator stopped, the terminal given back. A process started in the background
    of a non-interactive shell inherits SIGINT as ignored, and Dagster maps SIGTERM onto SIGINT's
    handler around every run (`dagster/_utils/interrupts.py`): without this, `run-day` ignores
    SIGTERM after its first run, and `dagster dev` (which inherits the disposition) from the start.
    Children start with the default handling of both (a handler does not survive exec). The
    previous handlers come back afterwards (main() called from a test or another program)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, signal.default_int_handler)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _error_line(exc: BaseException) -> str | None:
    """The one line for an error a user can act on; None for anything else (a bug: traceback)."""
    from sqlalchemy.exc import OperationalError

    from batch_pipelines.db.engine import SchemaBehind
    from batch_pipelines.db.settings import DATABASE_URL_ENV, DeploymentConfigError
    from batch_pipelines.preflight import PreflightError, database_error

    if isinstance(exc, PreflightError | DeploymentConfigError | SchemaBehind | ValueError):
        # ValueError: invalid input (tenant ids, verticals, dates) is the user's to fix.
        return str(exc)
    if isinstance(exc, OperationalError):
        return str(database_error(exc, os.environ.get(DATABASE_URL_ENV) or "(embedded)"))
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sub_command = getattr(args, f"{args.command.replace('-', '_')}_command", None)
    try:
        with _interrupt_on_signals():
            return _COMMANDS[(args.command, sub_command)](args)
    except KeyboardInterrupt:
        # Nothing is lost: a run interrupted is failed on the instance, and running the command
        # again carries on (nothing is submitted or billed twice).
        print(f"interrupted: batch-pipelines {args.command} stopped", file=sys.stderr)
        return 130
    except Exception as exc:
        line = None if args.verbose else _error_line(exc)
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
