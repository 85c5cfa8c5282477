"""Reads of the `tenants` registry shared by the engine and the Dagster face."""

from __future__ import annotations

import re

from sqlalchemy import Connection, select

from batch_pipelines.db.tables import TENANT_SLUG_PATTERN, tenants

_SLUG = re.compile(TENANT_SLUG_PATTERN)


def tenant_ids(conn: Connection) -> list[str]:
    """Every tenant id, sorted (the order Dagster range runs over the tenant dimension follow)."""
    return list(conn.execute(select(tenants.c.tenant_id).order_by(tenants.c.tenant_id)).scalars())


def is_valid_tenant_id(tenant_id: str) -> bool:
    return bool(_SLUG.fullmatch(tenant_id))
