"""Monthly budgets: what a tenant may still spend in a month, the reservations planning makes
against it, and the items held for lack of it.

A tenant's `policy.monthly_budget_usd` (absent or null: unlimited) is spent, in a month, by

- the month's priced cost (`cost_ledger`, by ledger_date),
- usage already ingested but not priced yet (`llm_usage` rows of the month without a ledger row),
  counted at their request's reservation until `cost_ledger` prices them, and
- reservations: the `estimated_cost_micro_usd` of its requests still `pending`, `planned` or
  `submitted` whose partition_date is in the month.

A request that succeeds stops being a reservation, and its actual cost counts instead, so
reservations are replaced by actual cost on ingest. `held` requests reserve nothing: they are the
work that did not fit.

The month of an item is the month it is booked to: its partition date, which becomes the
`ledger_date` of its usage (never the clock). Lead scoring runs at 02:00 UTC on the 1st for the
previous day: that work is checked against, and booked to, the previous month. So an item held in
a month that has ended is released only when that month's budget allows it (a raised budget,
reservations freed, actual cost below what was reserved); the new month does not release it.

Reservations of one tenant are serialised across planners of every workflow: `hold_over_budget`
takes a transaction-level advisory lock per budgeted tenant, in the order of the lock keys (two
planners never wait for each other in a cycle), before it reads what is spent; the caller writes
the reservations (its planned requests with their estimates) in the same transaction, and the next
planner of the tenant reads what it committed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from batch_pipelines.db.statuses import OPEN_REQUEST_STATUSES

__all__ = [
    "RESERVING_STATUSES",
    "BudgetClaim",
    "HeldItem",
    "available_micro_usd",
    "held_counts",
    "held_items",
    "hold_over_budget",
    "month_bounds",
]

# Requests that reserve their estimate of the budget: every one still to be sent or at the provider.
RESERVING_STATUSES = tuple(status.value for status in OPEN_REQUEST_STATUSES)
_MICRO_USD = Decimal("0.000001")


@cache
def _sql(name: str) -> str:
    return (Path(__file__).parent / name).read_text(encoding="utf-8")


def month_bounds(month: dt.date) -> tuple[dt.date, dt.date]:
    """First day of `month`'s month and the first day of the next (half-open)."""
    start = month.replace(day=1)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return start, end


@dataclass(frozen=True)
class _MonthBudget:
    """A tenant's budget of one month and what uses it, in micro-dollars (budget None: none)."""

    budget_micro_usd: Decimal | None
    used_micro_usd: Decimal

    @property
    def available_micro_usd(self) -> Decimal | None:
        if self.budget_micro_usd is None:
            return None
        return self.budget_micro_usd - self.used_micro_usd


def _month_budgets(
    conn: Connection, pairs: Iterable[tuple[str, dt.date]]
) -> dict[tuple[str, dt.date], _MonthBudget]:
    """(tenant, first day of a month) -> its budget and use. Raises LookupError for an unknown
    tenant and ValueError for a budget that is not a non-negative number."""
    wanted = sorted({(tenant_id, month.replace(day=1)) for tenant_id, month in pairs})
    if not wanted:
        return {}
    rows = conn.execute(
        text(_sql("budgets_available.sql")),
        {
            "pairs": json.dumps(
                [
                    {
                        "tenant_id": tenant_id,
                        "month_start": start.isoformat(),
                        "month_end": month_bounds(start)[1].isoformat(),
                    }
                    for tenant_id, start in wanted
                ]
            ),
            "reserving": list(RESERVING_STATUSES),
        },
    ).mappings()
    found = {(r["tenant_id"], r["month_start"]): r for r in rows}
    missing = sorted({t for t, m in wanted if not found[(t, m)]["known"]})
    if missing:
        raise LookupError(f"unknown tenant(s): {', '.join(missing)}")
    return {
        (tenant_id, start): _MonthBudget(
            _budget_micro_usd(tenant_id, row["budget_type"], row["budget"]),
            Decimal(row["spent"]) + Decimal(row["unpriced"]) + Decimal(row["reserved"]),
        )
        for (tenant_id, start), row in found.items()
    }


def available_micro_usd(
    conn: Connection, tenant_ids: Iterable[str], month: dt.date
) -> dict[str, Decimal | None]:
    """Budget left in `month` (any date of it) per tenant, in micro-dollars; None = unlimited.

    Negative when the tenant is already over budget. Raises LookupError for an unknown tenant and
    ValueError for a budget that is not a non-negative number.
    """
    start = month.replace(day=1)
    budgets = _month_budgets(conn, ((tenant_id, start) for tenant_id in tenant_ids))
    return {tenant_id: b.available_micro_usd for (tenant_id, _), b in budgets.items()}


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


# ---- reservations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetClaim:
    """An item a planner wants to reserve budget for."""

    claim_id: str
    """The caller's id of the item (a custom_id)."""
    tenant_id: str
    ledger_date: dt.date
    """The date it will be booked to (its partition date): its month's budget is checked."""
    estimated_cost_micro_usd: Decimal


def hold_over_budget(conn: Connection, claims: Sequence[BudgetClaim]) -> dict[str, str]:
    """The claims that do not fit their tenant's budget of their month, each with the reason
    (claim_id -> reason); the others fit, in `claims`' order (first come, first served).

    Call it in the transaction that then writes the fitting claims as reservations: it locks the
    budgets of the claims' budgeted tenants until that transaction ends, so a concurrent planner
    (of any workflow) sees those reservations before it decides.
    """
    if not claims:
        return {}
    _lock_budgets(conn, {c.tenant_id for c in claims})
    budgets = _month_budgets(conn, ((c.tenant_id, c.ledger_date) for c in claims))
    left = {key: b.available_micro_usd for key, b in budgets.items()}
    held: dict[str, str] = {}
    for claim in claims:
        key = (claim.tenant_id, claim.ledger_date.replace(day=1))
        available = left[key]
        if available is None:
            continue
        if claim.estimated_cost_micro_usd <= available:
            left[key] = available - claim.estimated_cost_micro_usd
            continue
        held[claim.claim_id] = _held_reason(claim, budgets[key], available)
    return held


def _lock_budgets(conn: Connection, tenant_ids: Iterable[str]) -> None:
    """Transaction-level advisory locks on the budgets of these tenants that have one, taken in
    the order of the keys (the aggregate calls the lock function row by row in the sorted
    subquery's order), so two planners locking overlapping tenants cannot deadlock."""
    conn.execute(
        text(
            "SELECT count(pg_advisory_xact_lock(hashtext('budget'), k)) FROM ("
            " SELECT DISTINCT hashtext(tenant_id) AS k FROM tenants"
            " WHERE tenant_id = ANY(CAST(:ids AS text[]))"
            " AND jsonb_typeof(policy -> 'monthly_budget_usd') IS DISTINCT FROM 'null'"
            " AND policy ? 'monthly_budget_usd' ORDER BY k) AS keys"
        ),
        {"ids": sorted(set(tenant_ids))},
    )


def _held_reason(claim: BudgetClaim, month: _MonthBudget, available: Decimal) -> str:
    assert month.budget_micro_usd is not None
    budget = _usd(month.budget_micro_usd)
    state = (
        f"{_usd(available)} of {budget} USD left"
        if available >= 0
        else f"already {_usd(-available)} USD over its {budget} USD"
    )
    return (
        f"held: tenant {claim.tenant_id}'s budget for {claim.ledger_date:%Y-%m} would be "
        f"exceeded ({state}; this item needs about {_usd(claim.estimated_cost_micro_usd)} USD). "
        f"It is booked to {claim.ledger_date:%Y-%m} and released when that month's budget "
        f"allows: raise policy.monthly_budget_usd to release it now."
    )


def _usd(micro_usd: Decimal) -> str:
    return str(micro_usd.scaleb(-6).quantize(_MICRO_USD))


# ---- held items ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldItem:
    """A request held because its tenant's budget would be exceeded (or its key is missing)."""

    custom_id: str
    tenant_id: str
    vertical: str
    workflow: str
    item_id: str
    partition_date: dt.date
    estimated_cost_micro_usd: Decimal
    held_since: dt.datetime
    """When it was first held (re-planning keeps it held, and keeps this)."""
    reason: str | None


def held_items(conn: Connection, tenant_id: str | None = None) -> list[HeldItem]:
    """Requests currently `held`, longest held first (of one tenant, or of all)."""
    query = (
        "SELECT custom_id, tenant_id, vertical, workflow, item_id, partition_date,"
        " estimated_cost_micro_usd, held_since, error FROM batch_requests WHERE status = 'held'"
    )
    params: dict[str, Any] = {}
    if tenant_id is not None:
        query += " AND tenant_id = :t"
        params["t"] = tenant_id
    rows = conn.execute(text(query + " ORDER BY held_since, custom_id"), params)
    return [
        HeldItem(
            custom_id=r.custom_id,
            tenant_id=r.tenant_id,
            vertical=r.vertical,
            workflow=r.workflow,
            item_id=r.item_id,
            partition_date=r.partition_date,
            estimated_cost_micro_usd=Decimal(r.estimated_cost_micro_usd),
            held_since=r.held_since,
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
