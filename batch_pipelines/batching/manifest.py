"""Reads of the manifest (`batch_requests`) shared by the engine steps, and the locks they take.
Every write goes through `transitions.py`."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Row, Text, any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY

from batch_pipelines.batching.workflow import ManifestRow, WorkItem
from batch_pipelines.core.tenants import TenantContext
from batch_pipelines.db.statuses import DONE_REQUEST_STATUSES, LIVE_REQUEST_STATUSES
from batch_pipelines.db.tables import batch_requests, tenants


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


def create_lock_key(provider: str, credentials_ref: str) -> str:
    """The lock every create and every reconciliation of one (provider, credentials) holds from
    the create to its record: no reconciliation can adopt a batch another job is creating."""
    return f"create:{provider}:{credentials_ref}"


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
            batch_requests.c.status.in_(LIVE_REQUEST_STATUSES + DONE_REQUEST_STATUSES),
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
        requeues=row.requeues,
        batch_failures=row.batch_failures,
        first_planned_at=row.first_planned_at,
        cache_breakpoints=row.cache_breakpoints,
    )


def work_item(row: ManifestRow | Row) -> WorkItem:
    return WorkItem(
        item_id=row.item_id,
        tenant_id=row.tenant_id,
        partition_date=row.partition_date,
        agent_id=row.agent_id,
    )


def job_requests(
    conn: Connection, batch_job_id: str, statuses: Sequence[str] | None = None
) -> list[ManifestRow]:
    query = select(batch_requests).where(batch_requests.c.batch_job_id == batch_job_id)
    if statuses is not None:
        query = query.where(batch_requests.c.status.in_(list(statuses)))
    return [manifest_row(r) for r in conn.execute(query.order_by(batch_requests.c.custom_id))]


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
