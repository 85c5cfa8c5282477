"""A ledger with two observed sales tenants and one healthcare tenant, and the ROI app on it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from batch_pipelines.core.usage import TokenUsage
from batch_pipelines.ledger.ledger import price_partition
from batch_pipelines.roi.app import create_app
from batch_pipelines_tests.ledger.factories import DAY, add_job, add_tenant, add_usage
from batch_pipelines_tests.ui_dev_server import free_port

# Names that must never appear in an answer.
TENANT_NAMES = ("acme-sales", "bolt-sales", "care-clinic")


@pytest.fixture
def observed(engine):
    """Sales: 2 calls of 2 tenants (one billed twice: a retry), 1 lead and 2 documents of 2
    tenants; healthcare: 1 call of 1 tenant (a thin vertical). Same figures as test_estimate."""
    acme, bolt, care = TENANT_NAMES
    with engine.begin() as conn:
        add_tenant(conn, acme, vertical="sales", tier="growth", tier_price_usd=499)
        add_tenant(conn, bolt, vertical="sales", tier="starter", tier_price_usd=149)
        add_tenant(conn, care, vertical="healthcare", tier="scale", tier_price_usd=999)
        calls, leads, docs = (add_job(conn, w) for w in ("post_call", "lead_scoring", "kb_index"))
        call = TokenUsage(1000, 0, 0, 0, 100)  # 105 micro-USD
        add_usage(conn, acme, calls, call, item_id="call-1")
        add_usage(conn, acme, calls, call, item_id="call-1", mode="sync")  # 210 at sync price
        add_usage(conn, bolt, calls, call, item_id="call-2")
        add_usage(conn, care, calls, TokenUsage(10**6), item_id="call-3")
        add_usage(conn, acme, leads, TokenUsage(1000, 0, 0, 0, 100), item_id="lead-1")  # 750
        add_usage(conn, bolt, leads, TokenUsage(1000, 0, 0, 0, 100), item_id="lead-2")  # 750
        add_usage(conn, acme, docs, TokenUsage(1000), item_id="doc-1@v1")  # 65
        add_usage(conn, bolt, docs, TokenUsage(2000), item_id="doc-2@v1")  # 130
    with engine.begin() as conn:
        for tenant in TENANT_NAMES:
            price_partition(conn, DAY, tenant)
    return engine


@pytest.fixture
def roi_url(observed) -> Iterator[str]:
    """The app served by uvicorn in a thread, on a free port (real HTTP)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(observed), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the ROI app did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
