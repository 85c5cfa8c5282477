"""The ROI calculator on the web: what a prospective tenant would pay, from the ledger.

`batch-pipelines roi --port N` serves it (Starlette + uvicorn):

- ``GET /``: a form (vertical, calls per day, leads per day, documents per month, optional tier)
  submitting with GET, so an answer has its own URL; the answer is rendered by the server (no
  script anywhere): the expected monthly model cost, the same work as synchronous, uncached calls,
  the margin against each tier's price, and a chart.
- ``GET /api/estimate?vertical=…&calls_per_day=…&leads_per_day=…&docs_per_month=…[&tier=…]``: the
  same as JSON, money as exact decimal strings of US dollars.

The figures are `ledger.estimate.estimate_tenant_month`'s, with `min_tenants` (default 2): a
vertical whose needed workflows rest on fewer observed tenants is answered "not enough data for this
vertical" (HTTP 422), and nothing returned names a tenant. Bad input (not a number, negative or
absurd volumes, an unknown vertical or tier, no volume at all) is a 422 saying what to change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from batch_pipelines.core.workflows import declaration
from batch_pipelines.db.tables import TIERS, VERTICALS
from batch_pipelines.ledger.charts import Series, bar_chart_svg
from batch_pipelines.ledger.estimate import (
    DAYS_PER_MONTH,
    Estimate,
    NotEnoughData,
    estimate_tenant_month,
    max_volume,
    volume_fields,
)
from batch_pipelines.ledger.reports import format_usd

__all__ = ["DEFAULT_MIN_TENANTS", "Question", "create_app", "estimate_json", "parse_question"]

DEFAULT_MIN_TENANTS = 2
# No script, nothing fetched: styles and the inline SVG chart only.
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    "X-Content-Type-Options": "nosniff",
}
_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent),
    autoescape=select_autoescape(["html", "j2"]),
    keep_trailing_newline=True,
)


class BadQuestion(ValueError):
    """Input the asker must change; the message says what."""


@dataclass(frozen=True)
class Question:
    vertical: str
    volumes: Mapping[str, int]  # by volume argument (`calls_per_day`), every declared one
    tier: str | None


def _whole_number(params: Mapping[str, str], name: str, label: str) -> int:
    raw = (params.get(name) or "").strip().replace(",", "").replace("_", "")
    if raw == "":
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise BadQuestion(f"{label} must be a whole number, got {params[name]!r}") from None
    if value < 0:
        raise BadQuestion(f"{label} cannot be negative, got {value:,}")
    if value > max_volume(name):
        raise BadQuestion(f"{label} must be at most {max_volume(name):,}, got {value:,}")
    return value


def parse_question(params: Mapping[str, str]) -> Question:
    """The question in a query string, or BadQuestion saying what to change."""
    vertical = (params.get("vertical") or "").strip()
    if not vertical:
        raise BadQuestion(f"choose a vertical: one of {', '.join(VERTICALS)}")
    if vertical not in VERTICALS:
        raise BadQuestion(f"unknown vertical {vertical!r}; one of {', '.join(VERTICALS)}")
    fields = volume_fields()
    volumes = {name: _whole_number(params, name, label) for name, label in fields.items()}
    if not any(volumes.values()):
        raise BadQuestion(f"enter at least one volume: {', '.join(fields.values())}")
    tier = (params.get("tier") or "").strip() or None
    if tier is not None and tier not in TIERS:
        raise BadQuestion(f"unknown tier {tier!r}; one of {', '.join(TIERS)}")
    return Question(vertical=vertical, tier=tier, volumes=volumes)


def _usd(micro_usd: Decimal) -> str:
    """Exact US dollars as a decimal string (no exponent)."""
    return format(micro_usd.scaleb(-6), "f")


def _pct(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def estimate_json(question: Question, estimate: Estimate) -> dict[str, Any]:
    """The answer as JSON: per workflow and in total, and against each tier. Names no tenant."""
    return {
        "vertical": question.vertical,
        "days_per_month": DAYS_PER_MONTH,
        "volumes": dict(question.volumes),
        "tier": question.tier,
        "monthly_cost_usd": _usd(estimate.monthly_cost_micro_usd),
        "monthly_sync_cost_usd": _usd(estimate.monthly_sync_cost_micro_usd),
        "monthly_saved_usd": _usd(estimate.monthly_saved_micro_usd),
        "saved_pct": _pct(estimate.monthly_saved_pct),
        "workflows": [
            {
                "workflow": line.workflow,
                "label": declaration(line.workflow).label,
                "unit": line.unit,
                "units_per_month": line.units_per_month,
                "unit_cost_usd": _usd(line.unit_cost_micro_usd),
                "monthly_cost_usd": _usd(line.monthly_cost_micro_usd),
                "monthly_sync_cost_usd": _usd(line.monthly_sync_cost_micro_usd),
                "observed_units": line.observations,
                "observed_tenants": line.tenants,
            }
            for line in estimate.lines
        ],
        "tiers": [
            {
                "tier": tier,
                "price_usd": _usd(price.scaleb(6)),
                "margin_usd": _usd(estimate.margin_micro_usd(tier)),
                "margin_pct": _pct(estimate.margin_pct(tier)),
            }
            for tier, price in estimate.tier_prices_usd.items()
        ],
    }


def _not_enough_data(error: NotEnoughData, min_tenants: int) -> str:
    what = ", ".join(declaration(w).label for w in error.workflows)
    return (
        f"Not enough data for this vertical: the ledger has too few {error.vertical} customers "
        f"(fewer than {min_tenants}) to estimate {what} from. Set that volume to 0, or ask again "
        "later."
    )


def _chart(estimate: Estimate) -> str:
    cost = float(estimate.monthly_cost_micro_usd.scaleb(-6))
    sync = float(estimate.monthly_sync_cost_micro_usd.scaleb(-6))
    return bar_chart_svg(
        ["with batching and caching", "as synchronous calls"],
        [Series("monthly model cost", [cost, sync], "#147d64", colours=["#147d64", "#cbd2d9"])],
        title="Monthly model cost against the tier prices",
        value_label="USD per month",
        notes=[
            format_usd(estimate.monthly_cost_micro_usd, 2),
            format_usd(estimate.monthly_sync_cost_micro_usd, 2),
        ],
        reference_lines=[
            (f"{tier} {format_usd(price.scaleb(6), 0)}", float(price))
            for tier, price in estimate.tier_prices_usd.items()
        ],
    )


class _Calculator:
    def __init__(self, engine: Engine, *, min_tenants: int, since: dt.date | None) -> None:
        self.engine = engine
        self.min_tenants = min_tenants
        self.since = since

    def answer(self, params: Mapping[str, str]) -> tuple[Question, Estimate]:
        """Raises BadQuestion or NotEnoughData (both ValueErrors: a 422)."""
        question = parse_question(params)
        with self.engine.connect() as conn:
            estimate = estimate_tenant_month(
                conn,
                question.vertical,
                question.volumes,
                since=self.since,
                min_tenants=self.min_tenants,
            )
        return question, estimate

    def error_text(self, error: ValueError) -> str:
        if isinstance(error, NotEnoughData):
            return _not_enough_data(error, self.min_tenants)
        return str(error)

    def page(self, request: Request) -> Response:
        params = request.query_params
        fields = volume_fields()
        context: dict[str, Any] = {
            "verticals": VERTICALS,
            "tiers": TIERS,
            "fields": fields,
            "values": {k: params.get(k, "") for k in ("vertical", "tier", *fields)},
            "days_per_month": DAYS_PER_MONTH,
        }
        status = 200
        if any(params.get(k) for k in ("vertical", "tier", *fields)):
            try:
                question, estimate = self.answer(params)
            except ValueError as error:
                context["error"] = self.error_text(error)
                status = 422
            else:
                context["answer"] = _page_answer(question, estimate)
                context["chart"] = _chart(estimate)
        html = _TEMPLATES.get_template("page.html.j2").render(context)
        return HTMLResponse(html, status_code=status, headers=_HEADERS)

    def api(self, request: Request) -> Response:
        try:
            question, estimate = self.answer(request.query_params)
        except ValueError as error:
            return JSONResponse({"error": self.error_text(error)}, status_code=422)
        return JSONResponse(estimate_json(question, estimate))


def _page_answer(question: Question, estimate: Estimate) -> dict[str, Any]:
    """The answer as display strings."""
    return {
        "question": question,
        "cost": format_usd(estimate.monthly_cost_micro_usd, 2),
        "sync_cost": format_usd(estimate.monthly_sync_cost_micro_usd, 2),
        "saved": format_usd(estimate.monthly_saved_micro_usd, 2),
        "saved_pct": estimate.monthly_saved_pct,
        "lines": [
            {
                "label": declaration(line.workflow).label,
                "units": f"{line.units_per_month:,} {line.unit}s",
                "unit_cost": format_usd(line.unit_cost_micro_usd, 6),
                "cost": format_usd(line.monthly_cost_micro_usd, 2),
                "sync_cost": format_usd(line.monthly_sync_cost_micro_usd, 2),
                "basis": f"{line.observations:,} {line.unit}s of {line.tenants} customers",
            }
            for line in estimate.lines
        ],
        "tiers": [
            {
                "tier": tier,
                "price": format_usd(price.scaleb(6), 2),
                "margin": format_usd(estimate.margin_micro_usd(tier), 2),
                "margin_pct": estimate.margin_pct(tier),
                "chosen": tier == question.tier,
                "loss": estimate.margin_micro_usd(tier) < 0,
            }
            for tier, price in estimate.tier_prices_usd.items()
        ],
    }


def create_app(
    engine: Engine,
    *,
    min_tenants: int = DEFAULT_MIN_TENANTS,
    since: dt.date | None = None,
) -> Starlette:
    """The ROI web app on `engine`'s ledger."""
    if min_tenants < 1:
        raise ValueError(f"min_tenants must be at least 1, got {min_tenants}")
    calculator = _Calculator(engine, min_tenants=min_tenants, since=since)
    return Starlette(
        routes=[
            Route("/", calculator.page, methods=["GET"]),
            Route("/api/estimate", calculator.api, methods=["GET"]),
        ]
    )
