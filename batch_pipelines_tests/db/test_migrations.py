"""The Alembic history and the SQLAlchemy tables describe the same schema, up and down."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from batch_pipelines.db.engine import with_driver
from batch_pipelines.db.migrate import (
    VERSION_TABLE,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from batch_pipelines.db.tables import metadata


def test_upgrade_from_empty_to_head_then_downgrade_to_base(empty_database_url: str) -> None:
    engine = create_engine(with_driver(empty_database_url, "psycopg"))
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    tables = set(inspect(engine).get_table_names())
    assert set(metadata.tables) <= tables
    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert set(inspect(engine).get_table_names()) <= {VERSION_TABLE}
    engine.dispose()


def test_migrations_match_table_definitions(engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(
                conn, opts={"compare_type": True, "version_table": VERSION_TABLE}
            ),
            metadata,
        )
    assert diff == []


def test_vector_extension_is_enabled(engine) -> None:
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1 FROM pg_extension WHERE extname='vector'")).scalar()


@pytest.mark.parametrize("tenant_id", ["Acme", "a|b", "c,d", "../x", "x'; drop", "", "-lead"])
def test_tenant_slug_check_rejects_invalid_ids(engine, tenant_id: str) -> None:
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenants (tenant_id, name, vertical, tier, tier_price_usd)"
                " VALUES (:t, 'x', 'sales', 'starter', 149)"
            ),
            {"t": tenant_id},
        )


def test_an_item_can_be_in_only_one_live_request(engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenants (tenant_id, name, vertical, tier, tier_price_usd)"
                " VALUES ('acme', 'Acme', 'sales', 'starter', 149)"
            )
        )
    insert = text(
        "INSERT INTO batch_requests (custom_id, tenant_id, vertical, workflow, item_id,"
        " partition_date, status, attempt, error)"
        " VALUES (:c, 'acme', 'sales', 'post_call', 'call-1', '2026-11-25', :s, :a, :e)"
    )
    with engine.begin() as conn:
        conn.execute(insert, {"c": "r1", "s": "failed", "a": 1, "e": "boom"})
        conn.execute(insert, {"c": "r2", "s": "pending", "a": 2, "e": None})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert, {"c": "r3", "s": "pending", "a": 3, "e": None})
