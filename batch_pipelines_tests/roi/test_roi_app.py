"""The ROI calculator over plain HTTP: the JSON API and the server-rendered page answer from the
ledger's observed unit costs (the estimate's own figures), refuse thin verticals and bad input with
a 422 that says what to change, and never name a tenant."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from decimal import Decimal

import pytest

from batch_pipelines.ledger.estimate import estimate_tenant_month
from batch_pipelines.roi.app import Question, estimate_json
from batch_pipelines_tests.roi.conftest import TENANT_NAMES

SALES = {"vertical": "sales", "calls_per_day": 300, "leads_per_day": 50, "docs_per_month": 40}


def get(url: str, path: str, params: dict | None = None) -> tuple[int, str, dict]:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    try:
        with urllib.request.urlopen(f"{url}{path}{query}", timeout=30) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def assert_names_no_tenant(body: str) -> None:
    for name in TENANT_NAMES:
        assert name not in body


def test_the_api_answers_with_the_estimate_of_the_ledger(roi_url, observed) -> None:
    status, body, headers = get(roi_url, "/api/estimate", {**SALES, "tier": "growth"})
    assert status == 200 and headers["content-type"] == "application/json"
    answer = json.loads(body)
    with observed.connect() as conn:
        expected = estimate_tenant_month(
            conn,
            "sales",
            {"calls_per_day": 300, "leads_per_day": 50, "docs_per_month": 40},
            min_tenants=2,
        )
    assert answer == estimate_json(
        Question(
            vertical="sales",
            tier="growth",
            volumes={k: v for k, v in SALES.items() if k != "vertical"},
        ),
        expected,
    )
    # 210 micro-USD a call x 9,000 + 750 a lead x 1,500 + 97.5 a document x 40, exactly
    assert Decimal(answer["monthly_cost_usd"]) == Decimal("3.0189")
    assert [w["workflow"] for w in answer["workflows"]] == ["post_call", "lead_scoring", "kb_index"]
    assert answer["workflows"][0]["observed_tenants"] == 2
    growth = next(t for t in answer["tiers"] if t["tier"] == "growth")
    assert Decimal(growth["margin_usd"]) == Decimal(499) - Decimal("3.0189")
    assert_names_no_tenant(body)


def test_the_page_renders_the_answer_on_the_server(roi_url) -> None:
    status, page, headers = get(roi_url, "/", {**SALES, "tier": "growth"})
    assert status == 200
    assert 'id="monthly-cost">$3.02<' in page and "<svg" in page
    assert "<script" not in page and "script-src" not in headers["content-security-policy"]
    assert 'value="300"' in page  # the form keeps the question
    assert_names_no_tenant(page)
    status, form, _ = get(roi_url, "/")
    assert status == 200 and "<form" in form and 'id="answer"' not in form


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"vertical": "healthcare", "calls_per_day": 10}, "Not enough data for this vertical"),
        ({"vertical": "salon", "calls_per_day": 10}, "Not enough data for this vertical"),
        ({**SALES, "calls_per_day": "lots"}, "Calls per day must be a whole number, got 'lots'"),
        ({**SALES, "leads_per_day": -5}, "Leads per day cannot be negative"),
        ({**SALES, "docs_per_month": 10**12}, "Documents per month must be at most 10,000,000"),
        ({**SALES, "vertical": "bakery"}, "unknown vertical 'bakery'"),
        ({**SALES, "tier": "platinum"}, "unknown tier 'platinum'"),
        ({"vertical": "sales"}, "enter at least one volume"),
        ({"calls_per_day": 5}, "choose a vertical"),
    ],
)
def test_thin_verticals_and_bad_input_get_a_clear_422(roi_url, params, message) -> None:
    status, body, _ = get(roi_url, "/api/estimate", params)
    assert status == 422, body
    assert message in json.loads(body)["error"]
    assert_names_no_tenant(body)
    status, page, _ = get(roi_url, "/", params)
    assert status == 422 and message.replace("'", "&#39;") in page
    assert 'id="answer"' not in page
