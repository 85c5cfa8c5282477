"""The ROI calculator: a prospective tenant's monthly model cost from what the ledger has observed.

For the prospect's vertical, the ledger gives a cost per unit of work: per call (post-call
analytics), per lead (lead scoring and drafts) and per document version (KB indexing). A unit's
cost is the sum of every ledger row of its manifest requests (retries and synchronous fallbacks
included); the unit cost of a workflow is the total over all observed units divided by their
number, so it rests on that many observations, which the estimate reports. With no observation
for a workflow the prospect needs, `NotEnoughData` is raised: the calculator does not guess. With
`min_tenants` (the ROI web app uses 2), a needed workflow must rest on that many tenants, so that an
answer never is, or lets one infer, a single tenant's figures.

Volumes are whole numbers from 0 to each workflow's declared maximum (far beyond any tenant: a
typo, not a prospect), one per declared workflow (`volume_fields`).

A month is 30 days. Amounts are Decimal micro-dollars; per-unit costs are rounded half-even to the
ledger's quantum (0.000001 micro-dollars), monthly figures are computed from the totals.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from sqlalchemy import Connection, text

from batch_pipelines.core.workflows import declaration, declarations
from batch_pipelines.db.tables import VERTICALS
from batch_pipelines.ledger.pricing import QUANTUM
from batch_pipelines.ledger.reports import format_usd, percent

__all__ = [
    "DAYS_PER_MONTH",
    "max_volume",
    "monthly_units",
    "volume_fields",
    "Estimate",
    "EstimateLine",
    "NotEnoughData",
    "add_estimate_arguments",
    "estimate_tenant_month",
    "render_estimate",
    "run_estimate",
]

DAYS_PER_MONTH = 30


def volume_fields() -> dict[str, str]:
    """What a prospect states, one volume per declared workflow: argument name -> label."""
    return {w.volume.argument: w.volume.label for w in declarations()}


def max_volume(argument: str) -> int:
    """The largest volume the calculator answers for."""
    return next(w.volume.maximum for w in declarations() if w.volume.argument == argument)


class NotEnoughData(ValueError):
    """The ledger has too few observations to estimate these needed workflows from."""

    def __init__(self, message: str, *, vertical: str, workflows: tuple[str, ...]) -> None:
        super().__init__(message)
        self.vertical = vertical
        self.workflows = workflows


@dataclass(frozen=True)
class EstimateLine:
    workflow: str
    unit: str
    units_per_month: int
    observations: int
    """Units (calls, leads, document versions) the unit cost is the average of."""
    tenants: int
    """Tenants those units came from."""
    first_date: dt.date | None
    last_date: dt.date | None
    unit_cost_micro_usd: Decimal
    unit_sync_cost_micro_usd: Decimal
    monthly_cost_micro_usd: Decimal
    monthly_sync_cost_micro_usd: Decimal


@dataclass(frozen=True)
class Estimate:
    vertical: str
    lines: tuple[EstimateLine, ...]
    tier_prices_usd: dict[str, Decimal]
    """Monthly price of each tier (as the tenants table has it)."""

    @property
    def monthly_cost_micro_usd(self) -> Decimal:
        return sum((ln.monthly_cost_micro_usd for ln in self.lines), Decimal(0))

    @property
    def monthly_sync_cost_micro_usd(self) -> Decimal:
        return sum((ln.monthly_sync_cost_micro_usd for ln in self.lines), Decimal(0))

    @property
    def monthly_saved_micro_usd(self) -> Decimal:
        return self.monthly_sync_cost_micro_usd - self.monthly_cost_micro_usd

    @property
    def monthly_saved_pct(self) -> Decimal | None:
        return percent(self.monthly_saved_micro_usd, self.monthly_sync_cost_micro_usd)

    def margin_micro_usd(self, tier: str) -> Decimal:
        return self.tier_prices_usd[tier].scaleb(6) - self.monthly_cost_micro_usd

    def margin_pct(self, tier: str) -> Decimal | None:
        return percent(self.margin_micro_usd(tier), self.tier_prices_usd[tier].scaleb(6))


_OBSERVED = """
WITH per_unit AS (
    SELECT c.workflow, r.item_id,
           min(c.tenant_id) AS tenant_id,
           sum(c.cost_micro_usd) AS cost,
           sum(c.sync_cost_micro_usd) AS sync_cost,
           min(c.ledger_date) AS first_date,
           max(c.ledger_date) AS last_date
      FROM cost_ledger c
      JOIN llm_usage u USING (usage_id)
      JOIN batch_requests r ON r.custom_id = u.custom_id
     WHERE c.vertical = :vertical AND c.ledger_date >= :since
     GROUP BY c.workflow, r.item_id
)
SELECT workflow, count(*) AS units, count(DISTINCT tenant_id) AS tenants,
       sum(cost) AS cost, sum(sync_cost) AS sync_cost,
       min(first_date) AS first_date, max(last_date) AS last_date
  FROM per_unit GROUP BY workflow
"""


def monthly_units(volumes: Mapping[str, int]) -> dict[str, int]:
    """Units per month of each declared workflow from the stated volumes (keyed by each
    workflow's volume argument, e.g. `calls_per_day`; one not given is 0). ValueError for an
    unknown argument or a volume that is not a whole number up to its declared maximum."""
    fields = volume_fields()
    unknown = sorted(set(volumes) - set(fields))
    if unknown:
        raise ValueError(f"unknown volume {unknown[0]!r}; one of: {', '.join(fields)}")
    units = {}
    for workflow in declarations():
        name = workflow.volume.argument
        value = volumes.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative whole number, got {value!r}")
        if value > workflow.volume.maximum:
            raise ValueError(f"{name} must be at most {workflow.volume.maximum:,}, got {value:,}")
        units[workflow.name] = value * (DAYS_PER_MONTH if workflow.volume.per == "day" else 1)
    return units


def estimate_tenant_month(
    conn: Connection,
    vertical: str,
    volumes: Mapping[str, int],
    *,
    since: dt.date | None = None,
    min_tenants: int = 1,
) -> Estimate:
    """Estimate a month for a tenant of `vertical` with these volumes (`monthly_units`), from
    ledger rows since `since` (default: all). Raises `NotEnoughData` when a workflow with a
    non-zero volume has no observation, or one of fewer than `min_tenants` tenants; ValueError for
    an unknown vertical or a bad volume."""
    if vertical not in VERTICALS:
        raise ValueError(f"unknown vertical {vertical!r}; one of: {', '.join(VERTICALS)}")
    volumes = monthly_units(volumes)

    observed = {
        r["workflow"]: r
        for r in conn.execute(
            text(_OBSERVED), {"vertical": vertical, "since": since or dt.date.min}
        ).mappings()
    }
    missing = [w for w, n in volumes.items() if n > 0 and w not in observed]
    if missing:
        what = ", ".join(f"{declaration(w).label} (per {declaration(w).unit})" for w in missing)
        raise NotEnoughData(
            f"the ledger has no priced {what} for the {vertical} vertical"
            + (f" since {since}" if since else "")
            + ", so there is nothing to estimate from. Run those workflows for at least one "
            f"{vertical} tenant and materialise cost_ledger, or set their volume to 0.",
            vertical=vertical,
            workflows=tuple(missing),
        )
    thin = [w for w, n in volumes.items() if n > 0 and int(observed[w]["tenants"]) < min_tenants]
    if thin:
        # Says neither how many tenants there are nor anything of theirs.
        what = ", ".join(declaration(w).label for w in thin)
        raise NotEnoughData(
            f"not enough data for this vertical: {what} for the {vertical} vertical rests on "
            f"fewer than {min_tenants} tenants",
            vertical=vertical,
            workflows=tuple(thin),
        )

    lines = []
    for workflow, units in volumes.items():
        row = observed.get(workflow)
        if units == 0 or row is None:  # not needed
            continue
        n = int(row["units"])
        cost, sync = Decimal(row["cost"]), Decimal(row["sync_cost"])
        lines.append(
            EstimateLine(
                workflow=workflow,
                unit=declaration(workflow).unit,
                units_per_month=units,
                observations=n,
                tenants=int(row["tenants"]),
                first_date=row["first_date"],
                last_date=row["last_date"],
                unit_cost_micro_usd=_div(cost, n),
                unit_sync_cost_micro_usd=_div(sync, n),
                monthly_cost_micro_usd=_div(cost * units, n),
                monthly_sync_cost_micro_usd=_div(sync * units, n),
            )
        )
    tiers = {
        r.tier: Decimal(r.price)
        for r in conn.execute(
            text(
                "SELECT tier, mode() WITHIN GROUP (ORDER BY tier_price_usd) AS price"
                " FROM tenants GROUP BY tier ORDER BY min(tier_price_usd)"
            )
        )
    }
    return Estimate(vertical=vertical, lines=tuple(lines), tier_prices_usd=tiers)


def _div(amount: Decimal, n: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 60
        return (amount / n).quantize(QUANTUM, rounding=ROUND_HALF_EVEN)


def render_estimate(estimate: Estimate) -> str:
    """The estimate as plain text for a terminal."""
    out = [f"Monthly estimate for a {estimate.vertical} tenant ({DAYS_PER_MONTH}-day month)", ""]
    headers = ["Workflow", "Units/month", "Per unit", "Monthly", "Sync equivalent", "Based on"]
    body = []
    for ln in estimate.lines:
        span = f" ({ln.first_date} to {ln.last_date})" if ln.first_date else ""
        body.append(
            [
                declaration(ln.workflow).label,
                f"{ln.units_per_month:,} {ln.unit}s",
                format_usd(ln.unit_cost_micro_usd, 6),
                format_usd(ln.monthly_cost_micro_usd, 2),
                format_usd(ln.monthly_sync_cost_micro_usd, 2),
                f"{ln.observations:,} {ln.unit}s of {ln.tenants} tenant(s){span}",
            ]
        )
    body.append(
        [
            "Total",
            "",
            "",
            format_usd(estimate.monthly_cost_micro_usd, 2),
            format_usd(estimate.monthly_sync_cost_micro_usd, 2),
            "",
        ]
    )
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(headers)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in (0, 5) else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out += [fmt(headers), rule, *(fmt(b) for b in body[:-1]), rule, fmt(body[-1]), ""]
    if estimate.monthly_saved_pct is not None:
        out.append(
            f"Batching and caching save {format_usd(estimate.monthly_saved_micro_usd, 2)} a month "
            f"({estimate.monthly_saved_pct}%) against synchronous calls."
        )
    for tier, price in estimate.tier_prices_usd.items():
        pct = estimate.margin_pct(tier)
        out.append(
            f"On the {tier} tier ({format_usd(price.scaleb(6), 2)}/month): gross margin "
            f"{format_usd(estimate.margin_micro_usd(tier), 2)}"
            + (f" ({pct}%)" if pct is not None else "")
        )
    return "\n".join(out) + "\n"


def add_estimate_arguments(parser: argparse.ArgumentParser) -> None:
    """`batch-pipelines estimate --vertical V --calls-per-day N --leads-per-day N
    --docs-per-month N [--since D]`."""
    parser.add_argument("--vertical", required=True, choices=VERTICALS)
    for workflow in declarations():
        parser.add_argument(
            f"--{workflow.volume.argument.replace('_', '-')}",
            type=int,
            default=0,
            help=f"{workflow.volume.label.lower()} ({workflow.label})",
        )
    parser.add_argument(
        "--since",
        type=dt.date.fromisoformat,
        default=None,
        help="only use ledger rows from this date on (default: all)",
    )


def run_estimate(args: argparse.Namespace) -> int:
    """Print the estimate. NotEnoughData is a ValueError: the CLI prints its message, exit 2."""
    from batch_pipelines.db import get_engine

    with get_engine().connect() as conn:
        estimate = estimate_tenant_month(
            conn,
            args.vertical,
            {name: getattr(args, name) for name in volume_fields()},
            since=args.since,
        )
    print(render_estimate(estimate), end="")
    return 0
