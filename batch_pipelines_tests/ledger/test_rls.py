"""Tenant-scoped reading: `ledger_reader` with `batch_pipelines.tenant_id` sees one tenant only."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from batch_pipelines.core.usage import TokenUsage
from batch_pipelines.ledger.ledger import price_partition
from batch_pipelines.ledger.reports import build_tenant_cost_report
from batch_pipelines_tests.ledger.factories import DAY, add_job, add_tenant, add_usage

TABLES = ("cost_ledger", "llm_usage", "tenant_cost_reports")


@pytest.fixture
def two_tenants(engine):
    with engine.begin() as conn:
        add_tenant(conn, "acme")
        add_tenant(conn, "beta")
        job = add_job(conn, "post_call")
        for tenant, n in (("acme", 2), ("beta", 3)):
            for _ in range(n):
                add_usage(conn, tenant, job, TokenUsage(100, 0, 0, 0, 10))
    with engine.begin() as conn:
        price_partition(conn, DAY, "acme")
        price_partition(conn, DAY, "beta")
        build_tenant_cost_report(conn, DAY)
    return engine


def _visible(conn) -> dict[str, list[str]]:
    return {
        table: list(
            conn.execute(text(f"SELECT tenant_id FROM {table} ORDER BY tenant_id")).scalars()
        )
        for table in TABLES
    }


def test_a_reader_sees_only_its_tenant_and_nothing_without_one(two_tenants) -> None:
    with two_tenants.connect() as conn:
        conn.execute(text("SET LOCAL ROLE ledger_reader"))
        assert _visible(conn) == {t: [] for t in TABLES}  # no tenant set: nothing

        conn.execute(text("SELECT set_config('batch_pipelines.tenant_id', 'acme', true)"))
        assert _visible(conn) == {
            "cost_ledger": ["acme"] * 2,
            "llm_usage": ["acme"] * 2,
            "tenant_cost_reports": ["acme"],
        }
        # another tenant's rows are invisible even when asked for by name
        beta = conn.execute(text("SELECT count(*) FROM cost_ledger WHERE tenant_id = 'beta'"))
        assert beta.scalar() == 0

        conn.execute(text("SELECT set_config('batch_pipelines.tenant_id', 'beta', true)"))
        assert _visible(conn)["cost_ledger"] == ["beta"] * 3
        conn.execute(text("SELECT set_config('batch_pipelines.tenant_id', '', true)"))
        assert _visible(conn)["llm_usage"] == []
        conn.rollback()


def test_a_reader_cannot_write_or_read_other_tables(two_tenants) -> None:
    with two_tenants.connect() as conn:
        conn.execute(text("SET LOCAL ROLE ledger_reader"))
        conn.execute(text("SELECT set_config('batch_pipelines.tenant_id', 'acme', true)"))
        with pytest.raises(ProgrammingError, match="permission denied"):
            conn.execute(text("DELETE FROM cost_ledger"))
    with two_tenants.connect() as conn:
        conn.execute(text("SET LOCAL ROLE ledger_reader"))
        with pytest.raises(ProgrammingError, match="permission denied"):
            conn.execute(text("SELECT count(*) FROM tenants"))


def test_the_owner_and_other_roles_are_not_restricted(two_tenants) -> None:
    with two_tenants.connect() as conn:
        assert len(_visible(conn)["cost_ledger"]) == 5  # the owner
        # Another, non-owner role (e.g. an engine that does not own the tables) still sees all;
        # a member of ledger_reader (a tenant portal's login role) is scoped like it. The roles
        # are created inside the transaction and vanish with its rollback.
        conn.execute(text("CREATE ROLE bp_test_app NOLOGIN"))
        conn.execute(text("CREATE ROLE bp_test_portal NOLOGIN IN ROLE ledger_reader"))
        for table in TABLES:
            conn.execute(text(f"GRANT SELECT ON {table} TO bp_test_app"))
        conn.execute(text("SET LOCAL ROLE bp_test_app"))
        assert len(_visible(conn)["cost_ledger"]) == 5
        conn.execute(text("RESET ROLE"))
        conn.execute(text("SET LOCAL ROLE bp_test_portal"))
        assert _visible(conn)["cost_ledger"] == []
        conn.execute(text("SELECT set_config('batch_pipelines.tenant_id', 'beta', true)"))
        assert _visible(conn)["cost_ledger"] == ["beta"] * 3
        conn.rollback()
        role = conn.execute(
            text("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'ledger_reader'")
        ).scalar_one()
        assert role is False
