"""Monthly budgets: what a tenant may still spend this month, and the items held for lack of it.

A tenant's `policy.monthly_budget_usd` (absent or null: unlimited) is spent by

- its month's priced cost (`cost_ledger`, by ledger_date),
- usage already ingested but not priced yet (`llm_usage` rows of the month without a ledger row),
  counted at their request's reservation until `cost_ledger` prices them, and
- reservations: the `estimated_cost_micro_usd` of its requests still `pending`, `planned` or
  `submitted` whose partition_date is in the month.

A request that succeeds stops being a reservation, and its actual cost counts instead, so
reservations are replaced by actual cost on ingest. `held` requests reserve nothing: they are the
work that did not fit. The planner holds new items that would pass the budget and releases held
ones when `available_micro_usd` allows (a new month, a raised budget).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, bindparam, text

__all__ = [
    "RESERVING_STATUSES",
    "HeldItem",
    "available_micro_usd",
    "held_counts",
    "held_items",
    "month_bounds",
]

RESERVING_STATUSES = ("pending", "planned", "submitted")


def month_bounds(month: dt.date) -> tuple[dt.date, dt.date]:
    """First day of `month`'s month and the first day of the next (half-open)."""
    start = month.replace(day=1)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return start, end


def available_micro_usd(
    conn: Connection, tenant_ids: Iterable[str], month: dt.date
) -> dict[str, Decimal | None]:
    """Budget left in `month` (any date of it) per tenant, in micro-dollars; None = unlimited.

    Negative when the tenant is already over budget. Raises LookupError for an unknown tenant and
    ValueError for a budget that is not a non-negative number.
    """
    ids = sorted(set(tenant_ids))
    if not ids:
        return {}
    start, end = month_bounds(month)
    rows = (
        conn.execute(
            text(
                """
                SELECT t.tenant_id,
                       t.policy ->> 'monthly_budget_usd' AS budget,
                       jsonb_typeof(t.policy -> 'monthly_budget_usd') AS budget_type,
                       (SELECT coalesce(sum(c.cost_micro_usd), 0) FROM cost_ledger c
                         WHERE c.tenant_id = t.tenant_id
                           AND c.ledger_date >= :start AND c.ledger_date < :end) AS spent,
                       (SELECT coalesce(sum(r.estimated_cost_micro_usd), 0)
                          FROM llm_usage u JOIN batch_requests r USING (custom_id)
                         WHERE u.tenant_id = t.tenant_id
                           AND u.ledger_date >= :start AND u.ledger_date < :end
                           AND NOT EXISTS (SELECT 1 FROM cost_ledger c
                                            WHERE c.usage_id = u.usage_id)) AS unpriced,
                       (SELECT coalesce(sum(r.estimated_cost_micro_usd), 0) FROM batch_requests r
                         WHERE r.tenant_id = t.tenant_id AND r.status IN :reserving
                           AND r.partition_date >= :start AND r.partition_date < :end)
                           AS reserved
                  FROM tenants t
                 WHERE t.tenant_id IN :ids
                """
            ).bindparams(bindparam("ids", expanding=True), bindparam("reserving", expanding=True)),
            {"ids": ids, "reserving": list(RESERVING_STATUSES), "start": start, "end": end},
        )
        .mappings()
        .all()
    )
    found = {r["tenant_id"]: r for r in rows}
    missing = [t for t in ids if t not in found]
    if missing:
        raise LookupError(f"unknown tenant(s): {', '.join(missing)}")
    result: dict[str, Decimal | None] = {}
    for tenant_id in ids:
        row = found[tenant_id]
        budget = _budget_micro_usd(tenant_id, row["budget_type"], row["budget"])
        if budget is None:
            result[tenant_id] = None
            continue
        used = Decimal(row["spent"]) + Decimal(row["unpriced"]) + Decimal(row["reserved"])
        result[tenant_id] = budget - used
    return result


def _budget_micro_usd(tenant_id: str, json_type: str | None, raw: str | None) -> Decimal | None:
    """The budget from its JSON text (exact: jsonb keeps numbers as NUMERIC)."""
    if json_type in (None, "null"):
        return None
    budget = None
    if json_type in ("number", "string"):
        try:
            budget = Decimal(raw.strip())
        except InvalidOperation:
            budget = None
    if budget is None or not budget.is_finite() or budget < 0:
        raise ValueError(
            f"tenant {tenant_id}: policy.monthly_budget_usd must be a non-negative number or "
            f"null, got {raw!r}"
        )
    return budget.scaleb(6)


@dataclass(frozen=True)
class HeldItem:
    """A request held because its tenant's budget would be exceeded."""

    custom_id: str
    tenant_id: str
    vertical: str
    workflow: str
    item_id: str
    partition_date: dt.date
    estimated_cost_micro_usd: Decimal
    held_since: dt.datetime
    reason: str | None


def held_items(conn: Connection, tenant_id: str | None = None) -> list[HeldItem]:
    """Requests currently `held`, oldest first (of one tenant, or of all)."""
    query = (
        "SELECT custom_id, tenant_id, vertical, workflow, item_id, partition_date,"
        " estimated_cost_micro_usd, updated_at, error FROM batch_requests"
        " WHERE status = 'held'"
    )
    params: dict[str, Any] = {}
    if tenant_id is not None:
        query += " AND tenant_id = :t"
        params["t"] = tenant_id
    rows = conn.execute(text(query + " ORDER BY updated_at, custom_id"), params)
    return [
        HeldItem(
            custom_id=r.custom_id,
            tenant_id=r.tenant_id,
            vertical=r.vertical,
            workflow=r.workflow,
            item_id=r.item_id,
            partition_date=r.partition_date,
            estimated_cost_micro_usd=Decimal(r.estimated_cost_micro_usd),
            held_since=r.updated_at,
            reason=r.error,
        )
        for r in rows
    ]


def held_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """(tenant_id, workflow) -> number of requests currently held."""
    rows = conn.execute(
        text(
            "SELECT tenant_id, workflow, count(*) AS n FROM batch_requests"
            " WHERE status = 'held' GROUP BY tenant_id, workflow"
        )
    )
    return {(r.tenant_id, r.workflow): r.n for r in rows}
