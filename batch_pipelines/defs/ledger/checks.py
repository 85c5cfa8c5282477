import datetime as dt
from collections.abc import Callable

import dagster as dg
from sqlalchemy import Connection

from batch_pipelines.defs.ledger.assets import cost_ledger
from batch_pipelines.defs.resources import DatabaseResource
from batch_pipelines.defs.tenants.partitions import date_tenant_partitions
from batch_pipelines.ledger.ledger import (
    InvariantResult,
    check_batch_tokens_match_provider,
    check_priced_exactly_once,
    check_rows_attributed,
)


def _run_partitions(context: dg.AssetCheckExecutionContext) -> list[tuple[dt.date, str]]:
    """(date, tenant) of every cost_ledger partition the run materialised."""
    out = []
    for key in context.op_execution_context.partition_keys:
        dims = date_tenant_partitions.get_partition_key_from_str(key).keys_by_dimension
        out.append((dt.date.fromisoformat(dims["date"]), dims["tenant"]))
    return out


def _evaluate(
    context: dg.AssetCheckExecutionContext,
    database: DatabaseResource,
    invariant: Callable[[Connection, dt.date, str], InvariantResult],
) -> dg.AssetCheckResult:
    failed: dict[str, dict] = {}
    checked = 0
    with database.engine().connect() as conn:
        for day, tenant in _run_partitions(context):
            passed, details = invariant(conn, day, tenant)
            checked += 1
            if not passed:
                failed[f"{day.isoformat()}|{tenant}"] = details
    metadata: dict = {"partitions_checked": checked, "partitions_failed": len(failed)}
    if failed:
        metadata["failures"] = dg.MetadataValue.json(failed)
    return dg.AssetCheckResult(passed=not failed, metadata=metadata)


@dg.asset_check(asset=cost_ledger, blocking=True)
def every_usage_row_priced_once(
    context: dg.AssetCheckExecutionContext, database: DatabaseResource
) -> dg.AssetCheckResult:
    """Every `llm_usage` row of the partition has exactly one `cost_ledger` row."""
    return _evaluate(context, database, check_priced_exactly_once)


@dg.asset_check(asset=cost_ledger, blocking=True)
def batch_tokens_match_provider(
    context: dg.AssetCheckExecutionContext, database: DatabaseResource
) -> dg.AssetCheckResult:
    """Per batch, ledger tokens equal the usage rows and the provider's own aggregate (OpenAI)."""
    return _evaluate(context, database, check_batch_tokens_match_provider)


@dg.asset_check(asset=cost_ledger, blocking=True)
def ledger_rows_attributed(
    context: dg.AssetCheckExecutionContext, database: DatabaseResource
) -> dg.AssetCheckResult:
    """No ledger row without tenant and vertical, none attributed differently from its request."""
    return _evaluate(context, database, check_rows_attributed)
