"""Reads and writes of the manifest (`batch_requests`) and `batch_jobs` shared by the engine steps."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
import psycopg
from sqlalchemy import Connection, Engine, Row, Text, any_, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY

from batch_pipelines.batching import custom_ids
from batch_pipelines.batching.workflow import ManifestRow, Workflow, WorkItem
from batch_pipelines.core.tenants import TenantContext
from batch_pipelines.db.tables import LIVE_REQUEST_STATUSES, batch_jobs, batch_requests, tenants

# Statuses after which an item needs no new request.
DONE_STATUSES = ("succeeded", "skipped", "dead_letter")


def new_batch_job_id() -> str:
    return "bj_" + secrets.token_hex(10)


def lock_workflow(conn: Connection, workflow: str) -> None:
    """Serialise planners of one workflow (transaction-scoped): two at once plan each item once."""
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"plan:{workflow}"})


@contextmanager
def job_lock(engine: Engine, key: str, *, wait: bool = False) -> Iterator[bool]:
    """A session-level advisory lock on its own connection, held for the block.

    Postgres releases it if the process dies, so a lock that cannot be taken means a live process
    is working on the job right now. With `wait`, block until it is free (and yield True).
    """
    with engine.connect() as conn:
        if wait:
            conn.execute(text("SELECT pg_advisory_lock(hashtext(:k))"), {"k": key})
            locked = True
        else:
            locked = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(hashtext(:k))"), {"k": key}).scalar()
            )
        conn.commit()
        try:
            yield locked
        finally:
            if locked:
                conn.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": key})
                conn.commit()


def load_tenants(
    conn: Connection, tenant_ids: Iterable[str] | None = None
) -> dict[str, TenantContext]:
    query = select(tenants)
    if tenant_ids is not None:
        query = query.where(tenants.c.tenant_id.in_(list(tenant_ids)))
    return {
        row.tenant_id: TenantContext(
            tenant_id=row.tenant_id,
            name=row.name,
            vertical=row.vertical,
            tier=row.tier,
            policy=row.policy or {},
            brand=row.brand or {},
        )
        for row in conn.execute(query)
    }


def any_of(values: Iterable[str]) -> Any:
    """`column == any_of(values)`: one array parameter (`= ANY(:values)`), so a statement over
    thousands of ids stays short and is parsed and planned as quickly as one over a few."""
    return any_(bindparam(None, list(values), type_=ARRAY(Text)))


def items_with_requests(conn: Connection, workflow: str, item_ids: Sequence[str]) -> set[str]:
    """Items that already have a live or finished request (so must not get a new one)."""
    if not item_ids:
        return set()
    rows = conn.execute(
        select(batch_requests.c.item_id).where(
            batch_requests.c.workflow == workflow,
            batch_requests.c.item_id == any_of(item_ids),
            batch_requests.c.status.in_(LIVE_REQUEST_STATUSES + DONE_STATUSES),
        )
    )
    return set(rows.scalars())


def manifest_row(row: Row) -> ManifestRow:
    return ManifestRow(
        custom_id=row.custom_id,
        batch_job_id=row.batch_job_id,
        tenant_id=row.tenant_id,
        vertical=row.vertical,
        agent_id=row.agent_id,
        workflow=row.workflow,
        item_id=row.item_id,
        partition_date=row.partition_date,
        attempt=row.attempt,
        notes=row.notes or {},
    )


def work_item(row: ManifestRow | Row) -> WorkItem:
    return WorkItem(
        item_id=row.item_id,
        tenant_id=row.tenant_id,
        partition_date=row.partition_date,
        agent_id=row.agent_id,
    )


def job_requests(conn: Connection, batch_job_id: str) -> list[ManifestRow]:
    rows = conn.execute(
        select(batch_requests)
        .where(batch_requests.c.batch_job_id == batch_job_id)
        .order_by(batch_requests.c.custom_id)
    )
    return [manifest_row(r) for r in rows]


@dataclass(frozen=True)
class NewRequest:
    item: WorkItem
    vertical: str
    attempt: int = 1


def new_requests(workflow: str, new: Sequence[NewRequest]) -> list[ManifestRow]:
    """Manifest rows of workflow `workflow` for new items (or retries), each with a fresh signed
    id; nothing is written (`insert_requests` writes them, in the state each is given)."""
    ids = custom_ids.new_custom_ids(
        workflow, [(r.item.tenant_id, r.item.item_id, r.attempt) for r in new]
    )
    return [
        ManifestRow(
            custom_id=custom_id,
            batch_job_id=None,
            tenant_id=r.item.tenant_id,
            vertical=r.vertical,
            agent_id=r.item.agent_id,
            workflow=workflow,
            item_id=r.item.item_id,
            partition_date=r.item.partition_date,
            attempt=r.attempt,
            notes={},
        )
        for custom_id, r in zip(ids, new, strict=True)
    ]


def insert_pending(
    conn: Connection, workflow: Workflow, new: Sequence[NewRequest]
) -> list[ManifestRow]:
    """Manifest rows for new items (or retries), status `pending`, each with a fresh signed id."""
    rows = new_requests(workflow.name, new)
    insert_requests(conn, (RequestState(r) for r in rows))
    return rows


@dataclass
class RequestState:
    """A manifest row not written yet and the state it will be written in (`insert_requests`)."""

    row: ManifestRow
    status: str = "pending"
    error: str | None = None
    batch_job_id: str | None = None
    notes: Mapping[str, Any] | None = None
    estimated_cost_micro_usd: Decimal = Decimal(0)


_REQUEST_COLUMNS = (
    "custom_id",
    "batch_job_id",
    "tenant_id",
    "vertical",
    "agent_id",
    "workflow",
    "item_id",
    "partition_date",
    "attempt",
    "status",
    "error",
    "estimated_cost_micro_usd",
    "notes",
)
_COPY_REQUESTS = f"COPY batch_requests ({', '.join(_REQUEST_COLUMNS)}) FROM STDIN"


def insert_requests(conn: Connection, states: Iterable[RequestState]) -> int:
    """Write new manifest rows, each in its given state, in one COPY (one JSON document where the
    driver is not psycopg 3). `created_at` and `updated_at` are the transaction's time, as with
    an insert followed by updates in the same transaction. Returns the number of rows."""

    def values(s: RequestState) -> tuple:
        r = s.row
        return (
            r.custom_id,
            s.batch_job_id,
            r.tenant_id,
            r.vertical,
            r.agent_id,
            r.workflow,
            r.item_id,
            r.partition_date,
            r.attempt,
            s.status,
            s.error,
            s.estimated_cost_micro_usd,
            orjson.dumps(s.notes).decode() if s.notes else "{}",
        )

    raw = conn.connection.driver_connection
    count = 0
    if isinstance(raw, psycopg.Connection):
        with raw.cursor() as cursor, cursor.copy(_COPY_REQUESTS) as copy:
            for state in states:
                copy.write_row(values(state))
                count += 1
        return count
    rows = [dict(zip(_REQUEST_COLUMNS, values(s), strict=True)) for s in states]
    if rows:
        for row in rows:
            row["estimated_cost_micro_usd"] = str(row["estimated_cost_micro_usd"])
        conn.execute(_INSERT_REQUESTS, {"rows": orjson.dumps(rows).decode()})
    return len(rows)


_INSERT_REQUESTS = text(
    f"""
    INSERT INTO batch_requests ({", ".join(_REQUEST_COLUMNS)})
    SELECT {", ".join(_REQUEST_COLUMNS)}
    FROM json_to_recordset(CAST(:rows AS json)) AS r (
        custom_id text, batch_job_id text, tenant_id text, vertical text, agent_id text,
        workflow text, item_id text, partition_date date, attempt integer, status text,
        error text, estimated_cost_micro_usd numeric, notes jsonb)
    """
)


def set_request_status(
    conn: Connection,
    custom_ids_: Sequence[str],
    status: str,
    *,
    error: str | None = None,
    **values: Any,
) -> None:
    if not custom_ids_:
        return
    conn.execute(
        update(batch_requests)
        .where(batch_requests.c.custom_id == any_of(custom_ids_))
        .values(status=status, error=error, updated_at=func.now(), **values)
    )


def fail_request(
    conn: Connection, request: ManifestRow, reason: str, max_attempts: int, vertical: str
) -> str:
    """A line failed: the row keeps its failure; a new attempt is queued alone, or the item is
    dead-lettered once it has had `max_attempts`. Returns 'retry' or 'dead_letter'."""
    if request.attempt >= max_attempts:
        set_request_status(
            conn,
            [request.custom_id],
            "dead_letter",
            error=f"gave up after {request.attempt} attempts: {reason}",
        )
        return "dead_letter"
    set_request_status(conn, [request.custom_id], "failed", error=reason)
    conn.execute(
        batch_requests.insert().values(
            custom_id=custom_ids.new_custom_id(
                request.tenant_id, request.workflow, request.item_id, request.attempt + 1
            ),
            tenant_id=request.tenant_id,
            vertical=vertical,
            agent_id=request.agent_id,
            workflow=request.workflow,
            item_id=request.item_id,
            partition_date=request.partition_date,
            attempt=request.attempt + 1,
            status="pending",
            error=f"retry of attempt {request.attempt}: {reason}",
        )
    )
    return "retry"


def set_request_statuses(
    conn: Connection, status: str, errors: Sequence[tuple[str, str | None]]
) -> None:
    """`set_request_status` for many requests, each with its own error text, in one statement."""
    if not errors:
        return
    conn.execute(
        _SET_STATUSES,
        {
            "status": status,
            "rows": orjson.dumps([{"custom_id": c, "error": e} for c, e in errors]).decode(),
        },
    )


def fail_requests(
    conn: Connection, failures: Sequence[tuple[ManifestRow, str]], max_attempts: int
) -> list[str]:
    """`fail_request` for many failed lines at once (each request's own vertical, as ingest passes
    it), in three statements whatever their number; returns each one's outcome, in order."""
    outcomes = ["dead_letter" if r.attempt >= max_attempts else "retry" for r, _ in failures]
    dead = [
        (r.custom_id, f"gave up after {r.attempt} attempts: {reason}")
        for (r, reason), outcome in zip(failures, outcomes, strict=True)
        if outcome == "dead_letter"
    ]
    retry = [
        (r, reason)
        for (r, reason), outcome in zip(failures, outcomes, strict=True)
        if outcome == "retry"
    ]
    set_request_statuses(conn, "dead_letter", dead)
    set_request_statuses(conn, "failed", [(r.custom_id, reason) for r, reason in retry])
    retries: list[RequestState] = []
    for workflow in sorted({r.workflow for r, _ in retry}):
        failed = [(r, reason) for r, reason in retry if r.workflow == workflow]
        rows = new_requests(
            workflow, [NewRequest(work_item(r), r.vertical, r.attempt + 1) for r, _ in failed]
        )
        retries += [
            RequestState(row, error=f"retry of attempt {r.attempt}: {reason}")
            for row, (r, reason) in zip(rows, failed, strict=True)
        ]
    insert_requests(conn, retries)
    return outcomes


_SET_STATUSES = text(
    """
    UPDATE batch_requests AS b SET status = :status, error = r.error, updated_at = now()
    FROM json_to_recordset(CAST(:rows AS json)) AS r (custom_id text, error text)
    WHERE b.custom_id = r.custom_id
    """
)


def job_row(conn: Connection, batch_job_id: str, *, for_update: bool = False) -> Row | None:
    query = select(batch_jobs).where(batch_jobs.c.batch_job_id == batch_job_id)
    if for_update:
        query = query.with_for_update()
    return conn.execute(query).one_or_none()


def update_job(conn: Connection, batch_job_id: str, **values: Any) -> None:
    conn.execute(
        update(batch_jobs).where(batch_jobs.c.batch_job_id == batch_job_id).values(**values)
    )


def partitions_of(requests: Iterable[ManifestRow]) -> list[dict[str, str]]:
    keys = sorted({(r.partition_date.isoformat(), r.tenant_id) for r in requests})
    return [{"date": d, "tenant": t} for d, t in keys]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def tenant_policies(conn: Connection, tenant_ids: Iterable[str]) -> Mapping[str, Mapping]:
    ids = list(set(tenant_ids))
    if not ids:
        return {}
    rows = conn.execute(
        select(tenants.c.tenant_id, tenants.c.policy).where(tenants.c.tenant_id.in_(ids))
    )
    return {r.tenant_id: r.policy or {} for r in rows}
