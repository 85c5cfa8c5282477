"""Tenant cost reports: spend, savings against synchronous calls, margin against the tier price.

One `ReportRow` per (tenant, workflow): the day's and the month-to-date spend, what the same
tokens would have cost as synchronous, uncached calls, and the month's savings split into batch
discount, cache-read savings and cache-write premium (``saved = discount + cache savings -
premium``). Margin is per tenant: its monthly tier price against its month-to-date cost over all
workflows (`tenant_summaries`). Every amount is an exact Decimal of micro-dollars, summed by
Postgres from `cost_ledger`; only the renderers round, for display.

`build_tenant_cost_report` stores its rows in `tenant_cost_reports` (replacing that date's rows);
`render_markdown` / `render_terminal` print them and `write_report_html` draws them as a
self-contained HTML page with inline SVG bars under ``$BATCH_PIPELINES_HOME/reports/``.
Held items are the requests held by budget *now* (holds have no history).
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Literal

from sqlalchemy import Connection, text

from batch_pipelines.ledger.budgets import held_counts, month_bounds
from batch_pipelines.ledger.ledger import transaction

__all__ = [
    "ReportRow",
    "ReportTotals",
    "TenantSummary",
    "add_report_arguments",
    "build_month_report",
    "format_usd",
    "build_tenant_cost_report",
    "render_markdown",
    "render_terminal",
    "report_totals",
    "reports_dir",
    "run_report",
    "tenant_summaries",
    "write_report_html",
]

ZERO = Decimal(0)
_PCT = Decimal("0.1")
WORKFLOW_LABELS = {
    "post_call": "post-call analytics",
    "lead_scoring": "lead scoring",
    "kb_index": "KB indexing",
}


@dataclass(frozen=True)
class ReportRow:
    """One tenant's one workflow. Money in micro-dollars (exact)."""

    kind: Literal["day", "month"]
    report_date: dt.date
    """The day reported (a month report: the month's last day); month to date ends here."""
    tenant_id: str
    tenant_name: str
    vertical: str
    tier: str
    tier_price_usd: Decimal
    workflow: str
    day_requests: int
    day_cost_micro_usd: Decimal
    day_sync_cost_micro_usd: Decimal
    mtd_requests: int
    mtd_cost_micro_usd: Decimal
    mtd_sync_cost_micro_usd: Decimal
    mtd_batch_discount_micro_usd: Decimal
    mtd_cache_read_savings_micro_usd: Decimal
    mtd_cache_write_premium_micro_usd: Decimal
    items_held: int

    @property
    def day_saved_micro_usd(self) -> Decimal:
        return self.day_sync_cost_micro_usd - self.day_cost_micro_usd

    @property
    def mtd_saved_micro_usd(self) -> Decimal:
        return self.mtd_sync_cost_micro_usd - self.mtd_cost_micro_usd

    @property
    def mtd_saved_pct(self) -> Decimal | None:
        return _pct(self.mtd_saved_micro_usd, self.mtd_sync_cost_micro_usd)

    @property
    def day_saved_pct(self) -> Decimal | None:
        return _pct(self.day_saved_micro_usd, self.day_sync_cost_micro_usd)


@dataclass(frozen=True)
class TenantSummary:
    """A tenant over all its workflows: month-to-date cost against its tier price."""

    tenant_id: str
    tenant_name: str
    vertical: str
    tier: str
    tier_price_usd: Decimal
    day_cost_micro_usd: Decimal
    mtd_cost_micro_usd: Decimal
    mtd_sync_cost_micro_usd: Decimal
    items_held: int

    @property
    def mtd_saved_micro_usd(self) -> Decimal:
        return self.mtd_sync_cost_micro_usd - self.mtd_cost_micro_usd

    @property
    def mtd_saved_pct(self) -> Decimal | None:
        return _pct(self.mtd_saved_micro_usd, self.mtd_sync_cost_micro_usd)

    @property
    def margin_micro_usd(self) -> Decimal:
        """Gross margin so far this month: tier price minus month-to-date model cost."""
        return self.tier_price_usd.scaleb(6) - self.mtd_cost_micro_usd

    @property
    def margin_pct(self) -> Decimal | None:
        return _pct(self.margin_micro_usd, self.tier_price_usd.scaleb(6))


@dataclass(frozen=True)
class ReportTotals:
    """Sums over report rows (exact)."""

    day_cost_micro_usd: Decimal
    day_sync_cost_micro_usd: Decimal
    mtd_cost_micro_usd: Decimal
    mtd_sync_cost_micro_usd: Decimal
    mtd_batch_discount_micro_usd: Decimal
    mtd_cache_read_savings_micro_usd: Decimal
    mtd_cache_write_premium_micro_usd: Decimal
    mtd_requests: int
    items_held: int

    @property
    def mtd_saved_micro_usd(self) -> Decimal:
        return self.mtd_sync_cost_micro_usd - self.mtd_cost_micro_usd


def _pct(part: Decimal, whole: Decimal) -> Decimal | None:
    if whole == 0:
        return None
    return (part * 100 / whole).quantize(_PCT, rounding=ROUND_HALF_EVEN)


# ---- building ------------------------------------------------------------------------------------

_QUERY = """
SELECT t.tenant_id, t.name AS tenant_name, t.vertical, t.tier, t.tier_price_usd, c.workflow,
       count(*) FILTER (WHERE c.ledger_date = :day) AS day_requests,
       coalesce(sum(c.cost_micro_usd) FILTER (WHERE c.ledger_date = :day), 0) AS day_cost,
       coalesce(sum(c.sync_cost_micro_usd) FILTER (WHERE c.ledger_date = :day), 0) AS day_sync,
       count(*) AS mtd_requests,
       sum(c.cost_micro_usd) AS mtd_cost,
       sum(c.sync_cost_micro_usd) AS mtd_sync,
       sum(c.batch_discount_micro_usd) AS mtd_discount,
       sum(c.cache_read_savings_micro_usd) AS mtd_cache_read,
       sum(c.cache_write_premium_micro_usd) AS mtd_cache_write
  FROM cost_ledger c JOIN tenants t USING (tenant_id)
 WHERE c.ledger_date >= :start AND c.ledger_date <= :day
 GROUP BY t.tenant_id, c.workflow
"""


def _build(conn: Connection, kind: Literal["day", "month"], day: dt.date) -> list[ReportRow]:
    start, _ = month_bounds(day)
    held = held_counts(conn)
    rows: dict[tuple[str, str], ReportRow] = {}
    for r in conn.execute(text(_QUERY), {"day": day, "start": start}).mappings():
        key = (r["tenant_id"], r["workflow"])
        rows[key] = ReportRow(
            kind=kind,
            report_date=day,
            tenant_id=r["tenant_id"],
            tenant_name=r["tenant_name"],
            vertical=r["vertical"],
            tier=r["tier"],
            tier_price_usd=Decimal(r["tier_price_usd"]),
            workflow=r["workflow"],
            day_requests=r["day_requests"],
            day_cost_micro_usd=Decimal(r["day_cost"]),
            day_sync_cost_micro_usd=Decimal(r["day_sync"]),
            mtd_requests=r["mtd_requests"],
            mtd_cost_micro_usd=Decimal(r["mtd_cost"]),
            mtd_sync_cost_micro_usd=Decimal(r["mtd_sync"]),
            mtd_batch_discount_micro_usd=Decimal(r["mtd_discount"]),
            mtd_cache_read_savings_micro_usd=Decimal(r["mtd_cache_read"]),
            mtd_cache_write_premium_micro_usd=Decimal(r["mtd_cache_write"]),
            items_held=held.pop(key, 0),
        )
    if held:  # tenants and workflows with holds but no spend this month
        tenants = {
            t.tenant_id: t
            for t in conn.execute(
                text(
                    "SELECT tenant_id, name, vertical, tier, tier_price_usd FROM tenants"
                    " WHERE tenant_id = ANY(:ids)"
                ),
                {"ids": sorted({t for t, _ in held})},
            )
        }
        for (tenant_id, workflow), n in held.items():
            t = tenants[tenant_id]
            rows[(tenant_id, workflow)] = ReportRow(
                kind=kind,
                report_date=day,
                tenant_id=tenant_id,
                tenant_name=t.name,
                vertical=t.vertical,
                tier=t.tier,
                tier_price_usd=Decimal(t.tier_price_usd),
                workflow=workflow,
                day_requests=0,
                day_cost_micro_usd=ZERO,
                day_sync_cost_micro_usd=ZERO,
                mtd_requests=0,
                mtd_cost_micro_usd=ZERO,
                mtd_sync_cost_micro_usd=ZERO,
                mtd_batch_discount_micro_usd=ZERO,
                mtd_cache_read_savings_micro_usd=ZERO,
                mtd_cache_write_premium_micro_usd=ZERO,
                items_held=n,
            )
    return [rows[k] for k in sorted(rows)]


def build_tenant_cost_report(conn: Connection, report_date: dt.date) -> list[ReportRow]:
    """The report of `report_date`, stored in `tenant_cost_reports` (that date's rows replaced, in
    the caller's transaction if one is open)."""
    with transaction(conn):
        rows = _build(conn, "day", report_date)
        store_report(conn, report_date, rows)
    return rows


def build_month_report(conn: Connection, month: str | dt.date) -> list[ReportRow]:
    """The whole month ('YYYY-MM' or any date in it), as of its last day. Not stored."""
    if isinstance(month, str):
        try:
            first = dt.date.fromisoformat(f"{month}-01")
        except ValueError:
            raise ValueError(f"expected a month like 2026-11, got {month!r}") from None
    else:
        first = month.replace(day=1)
    _, next_month = month_bounds(first)
    return _build(conn, "month", next_month - dt.timedelta(days=1))


def store_report(conn: Connection, report_date: dt.date, rows: Sequence[ReportRow]) -> None:
    """Replace `report_date`'s rows of `tenant_cost_reports` with `rows` (idempotent)."""
    conn.execute(text("DELETE FROM tenant_cost_reports WHERE report_date = :d"), {"d": report_date})
    if not rows:
        return
    conn.execute(
        text(
            "INSERT INTO tenant_cost_reports (report_date, tenant_id, workflow, vertical,"
            " day_cost_micro_usd, day_sync_cost_micro_usd, mtd_cost_micro_usd,"
            " mtd_sync_cost_micro_usd, mtd_batch_discount_micro_usd,"
            " mtd_cache_read_savings_micro_usd, mtd_cache_write_premium_micro_usd, items_held)"
            " VALUES (:report_date, :tenant_id, :workflow, :vertical, :day_cost, :day_sync,"
            " :mtd_cost, :mtd_sync, :discount, :cache_read, :cache_write, :held)"
        ),
        [
            {
                "report_date": report_date,
                "tenant_id": r.tenant_id,
                "workflow": r.workflow,
                "vertical": r.vertical,
                "day_cost": r.day_cost_micro_usd,
                "day_sync": r.day_sync_cost_micro_usd,
                "mtd_cost": r.mtd_cost_micro_usd,
                "mtd_sync": r.mtd_sync_cost_micro_usd,
                "discount": r.mtd_batch_discount_micro_usd,
                "cache_read": r.mtd_cache_read_savings_micro_usd,
                "cache_write": r.mtd_cache_write_premium_micro_usd,
                "held": r.items_held,
            }
            for r in rows
        ],
    )


def tenant_summaries(rows: Iterable[ReportRow]) -> list[TenantSummary]:
    """Per tenant, over its workflows (exact sums), sorted by tenant."""
    by_tenant: dict[str, list[ReportRow]] = {}
    for r in rows:
        by_tenant.setdefault(r.tenant_id, []).append(r)
    out = []
    for tenant_id in sorted(by_tenant):
        rs = by_tenant[tenant_id]
        first = rs[0]
        out.append(
            TenantSummary(
                tenant_id=tenant_id,
                tenant_name=first.tenant_name,
                vertical=first.vertical,
                tier=first.tier,
                tier_price_usd=first.tier_price_usd,
                day_cost_micro_usd=sum((r.day_cost_micro_usd for r in rs), ZERO),
                mtd_cost_micro_usd=sum((r.mtd_cost_micro_usd for r in rs), ZERO),
                mtd_sync_cost_micro_usd=sum((r.mtd_sync_cost_micro_usd for r in rs), ZERO),
                items_held=sum(r.items_held for r in rs),
            )
        )
    return out


def report_totals(rows: Iterable[ReportRow]) -> ReportTotals:
    rows = list(rows)
    return ReportTotals(
        day_cost_micro_usd=sum((r.day_cost_micro_usd for r in rows), ZERO),
        day_sync_cost_micro_usd=sum((r.day_sync_cost_micro_usd for r in rows), ZERO),
        mtd_cost_micro_usd=sum((r.mtd_cost_micro_usd for r in rows), ZERO),
        mtd_sync_cost_micro_usd=sum((r.mtd_sync_cost_micro_usd for r in rows), ZERO),
        mtd_batch_discount_micro_usd=sum((r.mtd_batch_discount_micro_usd for r in rows), ZERO),
        mtd_cache_read_savings_micro_usd=sum(
            (r.mtd_cache_read_savings_micro_usd for r in rows), ZERO
        ),
        mtd_cache_write_premium_micro_usd=sum(
            (r.mtd_cache_write_premium_micro_usd for r in rows), ZERO
        ),
        mtd_requests=sum(r.mtd_requests for r in rows),
        items_held=sum(r.items_held for r in rows),
    )


# ---- rendering -----------------------------------------------------------------------------------


def format_usd(micro_usd: Decimal, places: int = 4) -> str:
    """Display only: micro-dollars as dollars, rounded half-even to `places`."""
    value = micro_usd.scaleb(-6).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.{places}f}"


def _pct_text(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value}%"


def _title(rows: Sequence[ReportRow]) -> str:
    if not rows:
        return "Tenant cost report: no ledger rows"
    first = rows[0]
    if first.kind == "month":
        return f"Tenant cost report {first.report_date:%Y-%m} (whole month)"
    start, _ = month_bounds(first.report_date)
    return (
        f"Tenant cost report {first.report_date.isoformat()} "
        f"(month to date from {start.isoformat()})"
    )


def _workflow_table(rows: Sequence[ReportRow]) -> tuple[list[str], list[list[str]]]:
    daily = bool(rows) and rows[0].kind == "day"
    headers = ["Tenant", "Workflow"]
    if daily:
        headers += ["Day spend", "Day saved"]
    headers += [
        "MTD spend",
        "MTD sync cost",
        "Saved",
        "Saved %",
        "Batch discount",
        "Cache-read savings",
        "Cache-write premium",
        "Requests",
        "Held",
    ]
    body = []
    for r in rows:
        line = [r.tenant_id, WORKFLOW_LABELS.get(r.workflow, r.workflow)]
        if daily:
            line += [format_usd(r.day_cost_micro_usd), format_usd(r.day_saved_micro_usd)]
        line += [
            format_usd(r.mtd_cost_micro_usd),
            format_usd(r.mtd_sync_cost_micro_usd),
            format_usd(r.mtd_saved_micro_usd),
            _pct_text(r.mtd_saved_pct),
            format_usd(r.mtd_batch_discount_micro_usd),
            format_usd(r.mtd_cache_read_savings_micro_usd),
            format_usd(-r.mtd_cache_write_premium_micro_usd),
            str(r.mtd_requests),
            str(r.items_held),
        ]
        body.append(line)
    t = report_totals(rows)
    total = ["Total", ""]
    if daily:
        total += [
            format_usd(t.day_cost_micro_usd),
            format_usd(t.day_sync_cost_micro_usd - t.day_cost_micro_usd),
        ]
    total += [
        format_usd(t.mtd_cost_micro_usd),
        format_usd(t.mtd_sync_cost_micro_usd),
        format_usd(t.mtd_saved_micro_usd),
        _pct_text(_pct(t.mtd_saved_micro_usd, t.mtd_sync_cost_micro_usd)),
        format_usd(t.mtd_batch_discount_micro_usd),
        format_usd(t.mtd_cache_read_savings_micro_usd),
        format_usd(-t.mtd_cache_write_premium_micro_usd),
        str(t.mtd_requests),
        str(t.items_held),
    ]
    body.append(total)
    return headers, body


def _tenant_table(rows: Sequence[ReportRow]) -> tuple[list[str], list[list[str]]]:
    headers = [
        "Tenant",
        "Vertical",
        "Tier",
        "Tier price",
        "MTD cost",
        "Gross margin",
        "Margin %",
        "Saved %",
        "Held",
    ]
    body = [
        [
            s.tenant_id,
            s.vertical,
            s.tier,
            format_usd(s.tier_price_usd.scaleb(6), 2),
            format_usd(s.mtd_cost_micro_usd),
            format_usd(s.margin_micro_usd),
            _pct_text(s.margin_pct),
            _pct_text(s.mtd_saved_pct),
            str(s.items_held),
        ]
        for s in tenant_summaries(rows)
    ]
    return headers, body


_NOTE = (
    "Saved = synchronous, uncached list price of the same tokens - spend "
    "= batch discount + cache-read savings - cache-write premium (shown negative). "
    "Gross margin = tier price - month-to-date model cost. Held = requests waiting for budget now."
)


def render_markdown(rows: Sequence[ReportRow]) -> str:
    """The report as Markdown (Dagster's UI renders it): per workflow, then per tenant."""
    if not rows:
        return f"### {_title(rows)}\n"

    def table(headers: list[str], body: list[list[str]]) -> str:
        right = [i >= 2 for i in range(len(headers))]
        lines = [
            "| " + " | ".join(headers) + " |",
            "|" + "|".join("---:" if r else "---" for r in right) + "|",
        ]
        for i, line in enumerate(body):
            cells = [c.replace("|", "\\|") for c in line]
            if i == len(body) - 1 and cells[0] == "Total":
                cells = [f"**{c}**" if c else c for c in cells]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    return "\n\n".join(
        [
            f"### {_title(rows)}",
            table(*_workflow_table(rows)),
            "#### Margin per tenant",
            table(*_tenant_table(rows)),
            f"_{_NOTE}_",
        ]
    )


def render_terminal(rows: Sequence[ReportRow]) -> str:
    """The report as aligned plain-text tables for a terminal."""
    if not rows:
        return _title(rows) + "\n"

    def table(headers: list[str], body: list[list[str]]) -> str:
        widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(headers)]

        def fmt(cells: list[str]) -> str:
            return "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()

        rule = "  ".join("-" * w for w in widths)
        out = [fmt(headers), rule]
        out += [fmt(b) for b in body[:-1]]
        if body and body[-1][0] == "Total":
            out += [rule, fmt(body[-1])]
        elif body:
            out.append(fmt(body[-1]))
        return "\n".join(out)

    title = _title(rows)
    return "\n".join(
        [
            title,
            "=" * len(title),
            "",
            table(*_workflow_table(rows)),
            "",
            "Margin per tenant",
            "-----------------",
            table(*_tenant_table(rows)),
            "",
            _NOTE,
            "",
        ]
    )


# ---- the chart -----------------------------------------------------------------------------------


def reports_dir() -> Path:
    from batch_pipelines.db.settings import home_dir

    path = home_dir() / "reports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_report_html(rows: Sequence[ReportRow], path: Path | None = None) -> Path:
    """Write the report as one self-contained HTML page (inline SVG bars, no scripts, no network):
    spend against synchronous cost per tenant, and month-to-date cost against the tier price.
    Default path: ``$BATCH_PIPELINES_HOME/reports/<YYYY-MM-DD>.html`` (``<YYYY-MM>.html`` for a
    month). Returns the path."""
    if path is None:
        name = "empty"
        if rows:
            d = rows[0].report_date
            name = f"{d:%Y-%m}" if rows[0].kind == "month" else d.isoformat()
        path = reports_dir() / f"{name}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_html(rows), encoding="utf-8")
    return path


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1f2933;margin:24px;
max-width:1100px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 6px}
p.note{color:#52606d;font-size:12px;margin:4px 0 12px}
.legend span{display:inline-block;margin-right:16px;font-size:12px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}
table{border-collapse:collapse;font-size:12px;margin-top:8px}
th,td{padding:3px 8px;border-bottom:1px solid #e4e7eb;text-align:right;white-space:nowrap}
th:nth-child(-n+2),td:nth-child(-n+2){text-align:left}
tr.total td{font-weight:600;border-top:2px solid #9aa5b1}
svg text{font:12px system-ui,-apple-system,Segoe UI,Roboto,sans-serif;fill:#1f2933}
"""
_SYNC, _SPEND, _TIER, _COST, _LOSS = "#cbd2d9", "#147d64", "#c6f7e2", "#334e68", "#cf1124"


def _bars_svg(
    title: str,
    items: Sequence[tuple[str, Decimal, Decimal, str, str, str]],
) -> str:
    """Two bars per item on one scale: (label, back value, front value, back colour, front colour,
    text shown right of the bars)."""
    label_w, bar_w, text_w, row_h, bar_h = 170, 480, 330, 38, 13
    width = label_w + bar_w + text_w
    height = row_h * len(items) + 10
    top = max([*(max(a, b) for _, a, b, *_ in items), Decimal(0)])
    scale = Decimal(bar_w) / top if top > 0 else Decimal(0)

    def length(value: Decimal) -> str:
        return f"{max(value, Decimal(0)) * scale:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{html.escape(title)}">'
    ]
    for i, (label, back, front, back_colour, front_colour, note) in enumerate(items):
        y = 6 + i * row_h
        parts.append(
            f'<text x="{label_w - 8}" y="{y + bar_h + 4}" text-anchor="end">'
            f"{html.escape(label)}</text>"
            f'<rect x="{label_w}" y="{y}" width="{length(back)}" height="{bar_h}" '
            f'fill="{back_colour}"><title>{html.escape(note)}</title></rect>'
            f'<rect x="{label_w}" y="{y + bar_h + 2}" width="{length(front)}" height="{bar_h}" '
            f'fill="{front_colour}"><title>{html.escape(note)}</title></rect>'
            f'<text x="{label_w + bar_w + 10}" y="{y + bar_h + 4}">{html.escape(note)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _html_table(headers: list[str], body: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    rows = []
    for line in body:
        cls = ' class="total"' if line and line[0] == "Total" else ""
        rows.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(c)}</td>" for c in line) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _html(rows: Sequence[ReportRow]) -> str:
    title = _title(rows)
    body = [f"<h1>{html.escape(title)}</h1>"]
    if not rows:
        body.append('<p class="note">The ledger has no rows for this period.</p>')
    else:
        summaries = tenant_summaries(rows)
        spend_items = [
            (
                s.tenant_id,
                s.mtd_sync_cost_micro_usd,
                s.mtd_cost_micro_usd,
                _SYNC,
                _SPEND,
                f"{format_usd(s.mtd_cost_micro_usd)} instead of {format_usd(s.mtd_sync_cost_micro_usd)}"
                f" · saved {_pct_text(s.mtd_saved_pct)}",
            )
            for s in summaries
        ]
        margin_items = [
            (
                s.tenant_id,
                s.tier_price_usd.scaleb(6),
                s.mtd_cost_micro_usd,
                _TIER,
                _LOSS if s.margin_micro_usd < 0 else _COST,
                f"cost {format_usd(s.mtd_cost_micro_usd)} of {format_usd(s.tier_price_usd.scaleb(6), 2)}"
                f" {s.tier} · margin {format_usd(s.margin_micro_usd, 2)} ({_pct_text(s.margin_pct)})",
            )
            for s in summaries
        ]
        body += [
            "<h2>Spend against synchronous calls (month to date)</h2>",
            '<p class="legend">'
            f'<span><i style="background:{_SYNC}"></i>same tokens as synchronous, uncached calls'
            f'</span><span><i style="background:{_SPEND}"></i>what the tenant cost</span></p>',
            _bars_svg("Spend against synchronous cost per tenant", spend_items),
            "<h2>Gross margin: model cost against the tier price (month to date)</h2>",
            '<p class="legend">'
            f'<span><i style="background:{_TIER}"></i>monthly tier price</span>'
            f'<span><i style="background:{_COST}"></i>model cost so far</span>'
            f'<span><i style="background:{_LOSS}"></i>cost above the tier price</span></p>',
            _bars_svg("Model cost against tier price per tenant", margin_items),
            "<h2>Per workflow</h2>",
            _html_table(*_workflow_table(rows)),
            "<h2>Per tenant</h2>",
            _html_table(*_tenant_table(rows)),
            f'<p class="note">{html.escape(_NOTE)}</p>',
        ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


# ---- command line --------------------------------------------------------------------------------


def _month_arg(value: str) -> str:
    try:
        dt.date.fromisoformat(f"{value}-01")
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a month like 2026-11, got {value!r}") from None
    return value


def _date_arg(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date like 2026-11-25, got {value!r}"
        ) from None


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """`batch-pipelines report --date D | --month YYYY-MM [--no-html]`."""
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--date", type=_date_arg, help="a day: its spend and month to date")
    which.add_argument("--month", type=_month_arg, help="a whole month, e.g. 2026-11")
    parser.add_argument(
        "--no-html", action="store_true", help="do not write the HTML chart under the home"
    )


def run_report(args: argparse.Namespace) -> int:
    """Print the report; a --date report is also stored in tenant_cost_reports."""
    from batch_pipelines.db import get_engine

    with get_engine().begin() as conn:
        if args.date is not None:
            rows = build_tenant_cost_report(conn, args.date)
        else:
            rows = build_month_report(conn, args.month)
    print(render_terminal(rows), end="")
    if not args.no_html:
        print(f"chart: {write_report_html(rows)}")
    return 0
