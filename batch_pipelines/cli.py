"""`batch-pipelines …`: the project's command line."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable, Sequence


def _cmd_db_url(args: argparse.Namespace) -> int:
    from batch_pipelines.db import database_url

    print(database_url())
    return 0


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from batch_pipelines.db import get_engine
    from batch_pipelines.db.migrate import current_revision

    engine = get_engine()
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

    return parser


_COMMANDS: dict[tuple[str, str | None], Callable[[argparse.Namespace], int]] = {
    ("db", "url"): _cmd_db_url,
    ("db", "upgrade"): _cmd_db_upgrade,
    ("db", "stop"): _cmd_db_stop,
    ("seed", None): _cmd_seed,
    ("tenant", "add"): _cmd_tenant_add,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sub_command = getattr(args, f"{args.command}_command", None)
    try:
        return _COMMANDS[(args.command, sub_command)](args)
    except ValueError as exc:
        # Invalid input (tenant ids, verticals, dates) is the user's to fix: say what, not a traceback.
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
