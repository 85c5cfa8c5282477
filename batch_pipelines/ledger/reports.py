"""Tenant cost reports: spend, savings against synchronous calls, margin against the tier price.

A `TenantCostReport` holds pandas DataFrames built from one query (``report_rows.sql``):

- `workflows`: one row per (tenant, workflow): the day's and the month-to-date spend, what the
  same tokens would have cost as synchronous, uncached calls, the month's savings split into batch
  discount, cache-read savings and cache-write premium (``saved = discount + cache savings -
  premium``), the cost bound (`cache_bound`: the lowest cost the price lists allow for the same
  tokens and prompt structure) and what it would save, the share of prompt tokens read from
  cache, and the requests held by budget *now* (holds have no history);
- `tenants`: per tenant over its workflows, with the gross margin: its monthly tier price against
  its month-to-date cost;
- `by_workflow`: per workflow over all tenants; `totals`: the whole report.

Every amount is an exact Decimal of micro-dollars (an object column), summed by Postgres and then by
Python's Decimal arithmetic; percentages are Decimals rounded to 0.1 (None without a base). Only the
renderers format: `render_markdown` (tabulate), `render_terminal` (rich) and `write_report_html`
(pandas tables and matplotlib charts in one self-contained page under
``$BATCH_PIPELINES_HOME/reports/``).

Adding a column: a summed one is one more line of ``report_rows.sql`` (every column but the keys and
the tenant's facts is summed at each level); a ratio is one more line of `_with_savings` or
`_with_margin` (computed at every level from the sums, never averaged); to show it, add it to a
table's column list below.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from rich import box
from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection, delete, insert, select, text

from batch_pipelines.core.workflows import workflow_label
from batch_pipelines.db.tables import tenant_cost_reports, tenants
from batch_pipelines.ledger.budgets import held_counts, month_bounds
from batch_pipelines.ledger.cache_bound import CacheEngagement, cache_bound
from batch_pipelines.ledger.charts import Series, bar_chart_svg
from batch_pipelines.ledger.ledger import transaction

__all__ = [
    "TenantCostReport",
    "add_report_arguments",
    "build_month_report",
    "build_tenant_cost_report",
    "cache_lines",
    "format_usd",
    "percent",
    "render_markdown",
    "render_terminal",
    "reports_dir",
    "run_report",
    "store_report",
    "tenant_table_records",
    "write_report_html",
]

ZERO = Decimal(0)
_PCT = Decimal("0.1")
KEYS = ("tenant_id", "workflow")
TENANT_FACTS = ("tenant_name", "vertical", "tier", "tier_price_micro_usd")
_SQL = Path(__file__).with_name("report_rows.sql")


def percent(part: Decimal, whole: Decimal) -> Decimal | None:
    """`part` as a percentage of `whole`, rounded half-even to 0.1 (None when `whole` is 0)."""
    if whole == 0:
        return None
    return (part * 100 / whole).quantize(_PCT, rounding=ROUND_HALF_EVEN)


def _is_money(column: str) -> bool:
    return column.endswith("_micro_usd")


# ---- the frames ----------------------------------------------------------------------------------


def _with_savings(frame: pd.DataFrame) -> pd.DataFrame:
    """The savings columns, from the sums of the same row (any level)."""
    out = frame.copy()
    out["day_saved_micro_usd"] = out["day_sync_cost_micro_usd"] - out["day_cost_micro_usd"]
    out["mtd_saved_micro_usd"] = out["mtd_sync_cost_micro_usd"] - out["mtd_cost_micro_usd"]
    out["day_saved_pct"] = _ratio(out, "day_saved_micro_usd", "day_sync_cost_micro_usd")
    out["mtd_saved_pct"] = _ratio(out, "mtd_saved_micro_usd", "mtd_sync_cost_micro_usd")
    out["mtd_bound_saved_micro_usd"] = (
        out["mtd_sync_cost_micro_usd"] - out["mtd_bound_cost_micro_usd"]
    )
    out["mtd_bound_saved_pct"] = _ratio(out, "mtd_bound_saved_micro_usd", "mtd_sync_cost_micro_usd")
    out["mtd_cache_read_pct"] = _ratio(out, "mtd_cached_input_tokens", "mtd_prompt_tokens")
    return out


def _with_margin(frame: pd.DataFrame) -> pd.DataFrame:
    """Gross margin so far this month: tier price minus month-to-date model cost (per tenant)."""
    out = frame.copy()
    out["margin_micro_usd"] = out["tier_price_micro_usd"] - out["mtd_cost_micro_usd"]
    out["margin_pct"] = _ratio(out, "margin_micro_usd", "tier_price_micro_usd")
    return out


def _ratio(frame: pd.DataFrame, part: str, whole: str) -> pd.Series:
    values = [
        percent(Decimal(p), Decimal(w)) for p, w in zip(frame[part], frame[whole], strict=True)
    ]
    return pd.Series(values, index=frame.index, dtype=object)


def _summed_columns(source: pd.DataFrame) -> list[str]:
    return [c for c in source.columns if c not in (*KEYS, *TENANT_FACTS)]


def _exact_sum(values: pd.Series) -> Any:
    """pandas sums an object column with Python's `+` (exact for Decimal); an empty one gives 0."""
    return sum(values, ZERO if _is_money(str(values.name)) else 0)


@dataclass(frozen=True, eq=False)
class TenantCostReport:
    """One report: a day's (month to date up to it) or a whole month's (`kind == "month"`)."""

    kind: Literal["day", "month"]
    report_date: dt.date
    """The day reported (a month report: the month's last day); month to date ends here."""
    source: pd.DataFrame
    """The query's rows (KEYS, TENANT_FACTS, summed columns), sorted by KEYS."""
    cache_notes: tuple[CacheEngagement, ...] = ()
    """Per workflow and model: whether its prompt cache engages, and why."""

    def __len__(self) -> int:
        return len(self.source)

    @property
    def month_start(self) -> dt.date:
        return month_bounds(self.report_date)[0]

    @property
    def title(self) -> str:
        if self.source.empty:
            return "Tenant cost report: no ledger rows"
        if self.kind == "month":
            return f"Tenant cost report {self.report_date:%Y-%m} (whole month)"
        return (
            f"Tenant cost report {self.report_date.isoformat()} "
            f"(month to date from {self.month_start.isoformat()})"
        )

    @cached_property
    def workflows(self) -> pd.DataFrame:
        return _with_savings(self.source)

    @cached_property
    def tenants(self) -> pd.DataFrame:
        return _with_margin(_with_savings(self._aggregate("tenant_id", TENANT_FACTS)))

    @cached_property
    def by_workflow(self) -> pd.DataFrame:
        return _with_savings(self._aggregate("workflow", ()))

    @cached_property
    def totals(self) -> pd.Series:
        sums = {c: _exact_sum(self.source[c]) for c in _summed_columns(self.source)}
        return _with_savings(pd.DataFrame([sums])).iloc[0]

    def _aggregate(self, by: str, facts: Sequence[str]) -> pd.DataFrame:
        named = {c: (c, _exact_sum) for c in _summed_columns(self.source)}
        named |= {f: (f, "first") for f in facts}
        return self.source.groupby(by, sort=True).agg(**named).reset_index()


def _source(conn: Connection, day: dt.date) -> tuple[pd.DataFrame, tuple[CacheEngagement, ...]]:
    """The report's rows as of `day`, with the cost bound of the month to date and the requests
    held now (also for tenants and workflows with no spend this month), and the cache notes."""
    start, _ = month_bounds(day)
    result = conn.execute(text(_SQL.read_text(encoding="utf-8")), {"day": day, "start": start})
    frame = pd.DataFrame(result.mappings().all(), columns=list(result.keys()))
    bound = cache_bound(conn, start, day)
    bounds = defaultdict(lambda: [ZERO, ZERO])  # (tenant, workflow) → [day, month to date]
    for (tenant_id, workflow, ledger_date), cost in bound.by_partition.items():
        totals = bounds[tenant_id, workflow]
        totals[1] += cost
        if ledger_date == day:
            totals[0] += cost
    bound_frame = pd.DataFrame(
        [(*key, day_cost, mtd_cost) for key, (day_cost, mtd_cost) in bounds.items()],
        columns=[*KEYS, "day_bound_cost_micro_usd", "mtd_bound_cost_micro_usd"],
    )
    frame = frame.merge(bound_frame, on=list(KEYS), how="left")
    held = pd.DataFrame(
        [(*key, count) for key, count in held_counts(conn).items()],
        columns=[*KEYS, "items_held"],
    )
    frame = frame.merge(held, on=list(KEYS), how="outer")
    missing = frame["tenant_name"].isna()
    if missing.any():
        facts = conn.execute(
            select(
                tenants.c.tenant_id,
                tenants.c.name.label("tenant_name"),
                tenants.c.vertical,
                tenants.c.tier,
                (tenants.c.tier_price_usd * 1_000_000).label("tier_price_micro_usd"),
            ).where(tenants.c.tenant_id.in_(sorted(set(frame.loc[missing, "tenant_id"]))))
        ).mappings()
        by_tenant = pd.DataFrame(facts.all()).set_index("tenant_id")
        for fact in TENANT_FACTS:
            frame.loc[missing, fact] = frame.loc[missing, "tenant_id"].map(by_tenant[fact])
    for column in _summed_columns(frame):
        if _is_money(column):
            frame[column] = frame[column].astype(object).where(frame[column].notna(), ZERO)
        else:
            frame[column] = frame[column].fillna(0).astype("int64")
    return frame.sort_values(list(KEYS), ignore_index=True), tuple(bound.engagement)


def build_tenant_cost_report(conn: Connection, report_date: dt.date) -> TenantCostReport:
    """The report of `report_date`, stored in `tenant_cost_reports` (that date's rows replaced, in
    the caller's transaction if one is open)."""
    with transaction(conn):
        report = TenantCostReport("day", report_date, *_source(conn, report_date))
        store_report(conn, report)
    return report


def build_month_report(conn: Connection, month: str | dt.date) -> TenantCostReport:
    """The whole month ('YYYY-MM' or any date in it), as of its last day. Not stored."""
    if isinstance(month, str):
        try:
            first = dt.date.fromisoformat(f"{month}-01")
        except ValueError:
            raise ValueError(f"expected a month like 2026-11, got {month!r}") from None
    else:
        first = month.replace(day=1)
    _, next_month = month_bounds(first)
    last = next_month - dt.timedelta(days=1)
    return TenantCostReport("month", last, *_source(conn, last))


def store_report(conn: Connection, report: TenantCostReport) -> None:
    """Replace the report date's rows of `tenant_cost_reports` with the report's (idempotent).
    Every frame column the table has is stored."""
    conn.execute(
        delete(tenant_cost_reports).where(tenant_cost_reports.c.report_date == report.report_date)
    )
    if report.source.empty:
        return
    stored = [c.name for c in tenant_cost_reports.columns if c.name in report.source.columns]
    records = report.source[stored].to_dict("records")
    conn.execute(
        insert(tenant_cost_reports),
        [{"report_date": report.report_date, **record} for record in records],
    )


# ---- formatting (the edge) -----------------------------------------------------------------------


def format_usd(micro_usd: Decimal, places: int = 4) -> str:
    """Display only: micro-dollars as dollars, rounded half-even to `places`."""
    value = micro_usd.scaleb(-6).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.{places}f}"


def _cell(column: str, value: Any) -> str:
    if column == "workflow":
        return workflow_label(value)
    if column.endswith("_pct"):
        return "n/a" if value is None or pd.isna(value) else f"{value}%"
    if _is_money(column):
        return format_usd(value, 2 if column == "tier_price_micro_usd" else 4)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


# (frame column, heading) of each table, in order; a report of a whole month leaves out the day's.
_WORKFLOW_TABLE = [
    ("tenant_id", "Tenant"),
    ("workflow", "Workflow"),
    ("day_cost_micro_usd", "Day spend"),
    ("day_saved_micro_usd", "Day saved"),
    ("mtd_cost_micro_usd", "MTD spend"),
    ("mtd_sync_cost_micro_usd", "MTD sync cost"),
    ("mtd_saved_micro_usd", "Saved"),
    ("mtd_saved_pct", "Saved %"),
    ("mtd_bound_cost_micro_usd", "Bound"),
    ("mtd_bound_saved_pct", "Bound %"),
    ("mtd_cache_read_pct", "Cache-read share"),
    ("mtd_batch_discount_micro_usd", "Batch discount"),
    ("mtd_cache_read_savings_micro_usd", "Cache-read savings"),
    ("mtd_cache_write_premium_micro_usd", "Cache-write premium"),
    ("mtd_requests", "Requests"),
    ("items_held", "Held"),
]
_TENANT_TABLE = [
    ("tenant_id", "Tenant"),
    ("vertical", "Vertical"),
    ("tier", "Tier"),
    ("tier_price_micro_usd", "Tier price"),
    ("day_cost_micro_usd", "Day spend"),
    ("mtd_cost_micro_usd", "MTD cost"),
    ("mtd_sync_cost_micro_usd", "MTD sync cost"),
    ("mtd_saved_pct", "Saved %"),
    ("margin_micro_usd", "Gross margin"),
    ("margin_pct", "Margin %"),
    ("items_held", "Held"),
]
_BY_WORKFLOW_TABLE = [c for c in _WORKFLOW_TABLE if c[0] != "tenant_id"]
_LABEL_COLUMNS = {"tenant_id", "workflow", "vertical", "tier"}

_NOTE = (
    "Saved = synchronous, uncached list price of the same tokens - spend "
    "= batch discount + cache-read savings - cache-write premium. "
    "Bound = the lowest cost the price lists allow for the same tokens and prompt structure (the "
    "batch rate, every shared prefix token past the model's minimum read from cache, one write "
    "per prefix per TTL); Bound % = what it would save. Cache-read share = prompt tokens read "
    "from cache. "
    "Gross margin = tier price - month-to-date model cost. Held = requests waiting for budget now."
)


def cache_lines(report: TenantCostReport) -> list[str]:
    """One line per workflow and model: its label, then whether its cache engages and why."""
    return [f"{_cell('workflow', e.workflow)}: {e.note}" for e in report.cache_notes]


def _columns(report: TenantCostReport, table: list[tuple[str, str]]) -> list[tuple[str, str]]:
    if report.kind == "month":
        return [c for c in table if not c[0].startswith("day_")]
    return table


def _display(
    report: TenantCostReport, frame: pd.DataFrame, table: list[tuple[str, str]]
) -> pd.DataFrame:
    """`frame` as text cells under headings, with the report's total as a last row."""
    columns = _columns(report, table)
    rows = [[_cell(c, row[c]) for c, _ in columns] for row in frame.to_dict("records")]
    totals = report.totals
    rows.append(
        [
            "Total"
            if i == 0
            else (_cell(c, totals[c]) if c in totals.index and c not in _LABEL_COLUMNS else "")
            for i, (c, _) in enumerate(columns)
        ]
    )
    return pd.DataFrame(rows, columns=[heading for _, heading in columns])


def _alignments(report: TenantCostReport, table: list[tuple[str, str]]) -> list[str]:
    return ["left" if c in _LABEL_COLUMNS else "right" for c, _ in _columns(report, table)]


def tenant_table_records(
    report: TenantCostReport,
) -> tuple[list[tuple[str, str]], list[dict[str, str | int | float | None]]]:
    """The per-tenant table for a UI table (Dagster's `MetadataValue.table`): (column name, type)
    pairs and records, dollars as floats rounded to the micro-dollar, percentages as floats."""
    columns: list[tuple[str, str]] = []
    for column, _ in _columns(report, _TENANT_TABLE):
        if _is_money(column):
            columns.append((column.removesuffix("_micro_usd") + "_usd", "float"))
        elif column.endswith("_pct"):
            columns.append((column, "float"))
        elif column == "items_held":
            columns.append((column, "int"))
        else:
            columns.append((column, "string"))
    records = []
    for row in report.tenants.to_dict("records"):
        record: dict[str, str | int | float | None] = {}
        for (column, _), (name, kind) in zip(_columns(report, _TENANT_TABLE), columns, strict=True):
            value = row[column]
            if _is_money(column):
                record[name] = float(value.scaleb(-6).quantize(Decimal("0.000001")))
            elif kind == "float":
                record[name] = None if value is None else float(value)
            else:
                record[name] = int(value) if kind == "int" else str(value)
        records.append(record)
    return columns, records


# ---- markdown and the terminal -------------------------------------------------------------------


def render_markdown(report: TenantCostReport) -> str:
    """The report as Markdown (Dagster's UI renders it): per tenant and workflow, then per tenant."""
    if report.source.empty:
        return f"### {report.title}\n"

    def table(frame: pd.DataFrame, spec: list[tuple[str, str]]) -> str:
        shown = _display(report, frame, spec)
        shown.iloc[-1] = [f"**{c}**" if c else c for c in shown.iloc[-1]]
        return shown.to_markdown(index=False, colalign=_alignments(report, spec))

    return "\n\n".join(
        [
            f"### {report.title}",
            table(report.workflows, _WORKFLOW_TABLE),
            "#### Margin per tenant",
            table(report.tenants, _TENANT_TABLE),
            "#### Prompt cache per workflow",
            "\n".join(f"- {line}" for line in cache_lines(report)),
            f"_{_NOTE}_",
        ]
    )


def render_terminal(report: TenantCostReport) -> str:
    """The report for a terminal (rich tables): per tenant, then per workflow over all tenants.
    (The per tenant × workflow detail is in the HTML page and the markdown.)"""
    if report.source.empty:
        return report.title + "\n"

    def table(title: str, frame: pd.DataFrame, spec: list[tuple[str, str]]) -> Table:
        shown = _display(report, frame, spec)
        out = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_footer=True)
        for heading, align in zip(shown.columns, _alignments(report, spec), strict=True):
            out.add_column(heading, footer=shown[heading].iloc[-1], justify=align, no_wrap=True)
        for row in shown.iloc[:-1].itertuples(index=False):
            out.add_row(*row)
        return out

    buffer = io.StringIO()
    # Wide enough never to wrap a figure; lines are stripped of the padding below.
    console = Console(file=buffer, width=400, color_system=None, force_terminal=False)
    console.print(report.title)
    console.print(table("Per tenant", report.tenants, _TENANT_TABLE))
    console.print(table("Per workflow", report.by_workflow, _BY_WORKFLOW_TABLE))
    console.print("Prompt cache per workflow:")
    for line in cache_lines(report):
        console.print(f"  {line}", width=400, soft_wrap=True)
    console.print(_NOTE, width=100)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


# ---- the HTML page -------------------------------------------------------------------------------


def reports_dir() -> Path:
    from batch_pipelines.db.settings import home_dir

    path = home_dir() / "reports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_report_html(report: TenantCostReport, path: Path | None = None) -> Path:
    """Write the report as one self-contained HTML page (inline SVG charts and tables, no script,
    nothing fetched): spend against synchronous cost per tenant, model cost against the tier price,
    the savings split, and the tables. Default path: ``$BATCH_PIPELINES_HOME/reports/<YYYY-MM-DD>.html``
    (``<YYYY-MM>.html`` for a month). Returns the path."""
    if path is None:
        name = "empty"
        if not report.source.empty:
            day = report.report_date
            name = f"{day:%Y-%m}" if report.kind == "month" else day.isoformat()
        path = reports_dir() / f"{name}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_html(report), encoding="utf-8")
    return path


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1f2933;margin:24px;
max-width:1200px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 6px}
p.note{color:#52606d;font-size:12px;margin:4px 0 12px}
table{border-collapse:collapse;font-size:12px;margin-top:8px}
th,td{padding:3px 8px;border-bottom:1px solid #e4e7eb;text-align:right;white-space:nowrap}
.labels-1 :is(td,th):nth-child(-n+1),.labels-2 :is(td,th):nth-child(-n+2),
.labels-3 :is(td,th):nth-child(-n+3){text-align:left}
tbody tr:last-child td{font-weight:600;border-top:2px solid #9aa5b1}
figure{margin:8px 0 16px}
"""
_SYNC, _SPEND, _TIER, _COST, _LOSS = "#cbd2d9", "#147d64", "#c6f7e2", "#334e68", "#cf1124"
_DISCOUNT, _CACHE_READ, _PREMIUM = "#147d64", "#8bd3b7", "#e12d39"


def _usd(values: pd.Series) -> list[float]:
    """Dollars as floats, for drawing only."""
    return [float(v.scaleb(-6)) for v in values]


def _charts(report: TenantCostReport) -> list[str]:
    frame = report.tenants
    names = list(frame["tenant_id"])
    spend = bar_chart_svg(
        names,
        [
            Series(
                "same tokens as synchronous, uncached calls",
                _usd(frame["mtd_sync_cost_micro_usd"]),
                _SYNC,
            ),
            Series("what the tenant cost", _usd(frame["mtd_cost_micro_usd"]), _SPEND),
        ],
        title="Spend against synchronous calls, month to date",
        value_label="USD",
        notes=[f"saved {_cell('mtd_saved_pct', p)}" for p in frame["mtd_saved_pct"]],
    )
    margin = bar_chart_svg(
        [
            f"{tenant} ({tier})"
            for tenant, tier in zip(frame["tenant_id"], frame["tier"], strict=True)
        ],
        [
            Series("monthly tier price", _usd(frame["tier_price_micro_usd"]), _TIER),
            Series(
                "model cost so far",
                _usd(frame["mtd_cost_micro_usd"]),
                _COST,
                colours=[_LOSS if m < 0 else _COST for m in frame["margin_micro_usd"]],
            ),
        ],
        title="Gross margin: model cost against the tier price, month to date",
        value_label="USD",
        notes=[f"margin {_cell('margin_pct', p)}" for p in frame["margin_pct"]],
    )
    split = bar_chart_svg(
        names,
        [
            Series("batch discount", _usd(frame["mtd_batch_discount_micro_usd"]), _DISCOUNT),
            Series(
                "cache-read savings", _usd(frame["mtd_cache_read_savings_micro_usd"]), _CACHE_READ
            ),
            Series(
                "cache-write premium (a cost)",
                [-v for v in _usd(frame["mtd_cache_write_premium_micro_usd"])],
                _PREMIUM,
            ),
        ],
        title="Savings split, month to date",
        value_label="USD saved against synchronous calls",
        stacked=True,
        notes=[f"saved {format_usd(v)}" for v in frame["mtd_saved_micro_usd"]],
    )
    return [spend, margin, split]


def _html_table(report: TenantCostReport, frame: pd.DataFrame, spec: list[tuple[str, str]]) -> str:
    labels = sum(c in _LABEL_COLUMNS for c, _ in _columns(report, spec))
    shown = _display(report, frame, spec)
    return shown.to_html(index=False, border=0, classes=f"labels-{labels}", escape=True)


def _html(report: TenantCostReport) -> str:
    title = report.title
    body = [f"<h1>{html.escape(title)}</h1>"]
    if report.source.empty:
        body.append('<p class="note">The ledger has no rows for this period.</p>')
    else:
        body += [f"<figure>{svg}</figure>" for svg in _charts(report)]
        body += [
            "<h2>Per tenant</h2>",
            _html_table(report, report.tenants, _TENANT_TABLE),
            "<h2>Per workflow</h2>",
            _html_table(report, report.by_workflow, _BY_WORKFLOW_TABLE),
            "<h2>Per tenant and workflow</h2>",
            _html_table(report, report.workflows, _WORKFLOW_TABLE),
            "<h2>Prompt cache per workflow</h2>",
            "<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in cache_lines(report)) + "</ul>",
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
            report = build_tenant_cost_report(conn, args.date)
        else:
            report = build_month_report(conn, args.month)
    print(render_terminal(report), end="")
    if not args.no_html:
        print(f"chart: {write_report_html(report)}")
    return 0
