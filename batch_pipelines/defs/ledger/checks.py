import datetime as dt
from collections.abc import Callable

import dagster as dg
from sqlalchemy import Connection

from batch_pipelines.defs.ledger.assets import cost_ledger, llm_usage
from batch_pipelines.defs.resources import DatabaseResource
from batch_pipelines.defs.tenants.partitions import date_tenant_partitions
from batch_pipelines.ledger.ledger import (
    InvariantResult,
    check_batch_tokens_match_provider,
    check_priced_exactly_once,
    check_rows_attributed,
    check_usage_priced_within,
)

UNPRICED_FOR_AT_MOST = dt.timedelta(hours=1)


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
) -> tuple[dict[str, dict], dict]:
    """Run `invariant` on every partition of the run: (failed partition -> details, metadata)."""
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
    return failed, metadata


@dg.asset_check(asset=cost_ledger, blocking=True)
def every_usage_row_priced_once(
    context: dg.AssetCheckExecutionContext, database: DatabaseResource
) -> dg.AssetCheckResult:
    """Every `llm_usage` row of the partition has exactly one `cost_ledger` row."""
    failed, metadata = _evaluate(context, database, check_priced_exactly_once)
    return dg.AssetCheckResult(passed=not failed, metadata=metadata)


@dg.asset_check(asset=cost_ledger, blocking=True)
def batch_tokens_match_provider(
    context: dg.AssetCheckExecutionContext, database: DatabaseResource
) -> dg.AssetCheckResult:
    """Per batch, ledger tokens equal the usage rows and the provider's own aggregate (OpenAI's
    batch `usage`); a failure names each batch that differs, and how."""
    failed, metadata = _evaluate(context, database, check_batch_tokens_match_provider)
    # A batch serves many partitions: name each one once.
    differing: dict[str, dict] = {}
    for details in failed.values():
        for mismatch in details.get("mismatches", []):
            differing.setdefault(mismatch["batch_job_id"], mismatch)
    description = None
    if differing:
        metadata["batches_differing"] = dg.MetadataValue.json(differing)
        description = "; ".join(
            f"batch {job_id} (provider batch {m['provider_batch_id']}): {m['differs']}"
            for job_id, m in sorted(differing.items())
        )
    elif failed:
        description = "ledger rows whose tokens differ from their usage rows: see failures"
    return dg.AssetCheckResult(passed=not failed, metadata=metadata, description=description)


@dg.asset_check(asset=cost_ledger, blocking=True)
def ledger_rows_attributed(
    context: dg.AssetCheckExecutionContext, database: DatabaseResource
) -> dg.AssetCheckResult:
    """No ledger row without tenant and vertical, none attributed differently from its request."""
    failed, metadata = _evaluate(context, database, check_rows_attributed)
    return dg.AssetCheckResult(passed=not failed, metadata=metadata)


@dg.asset_check(asset=llm_usage.key)
def no_usage_row_unpriced_for_an_hour(database: DatabaseResource) -> dg.AssetCheckResult:
    """No `llm_usage` row written more than an hour ago lacks its `cost_ledger` row, whatever
    partition it is in. Evaluated hourly by `ledger_coverage_schedule` (a scan of the usage rows,
    so not in every ingest run), it fails naming the partitions to re-price."""
    with database.engine().connect() as conn:
        passed, details = check_usage_priced_within(conn, UNPRICED_FOR_AT_MOST)
    metadata: dict = {"unpriced_usage_rows": details["unpriced_usage_rows"]}
    description = None
    if not passed:
        metadata["partitions"] = dg.MetadataValue.json(details["partitions"])
        description = (
            f"{details['unpriced_usage_rows']} usage rows in {details['partitions_unpriced']} "
            "(date, tenant) partitions have had no ledger row for over an hour: materialize "
            "cost_ledger for them (metadata 'partitions')"
        )
    return dg.AssetCheckResult(
        passed=passed,
        metadata=metadata,
        description=description,
        severity=dg.AssetCheckSeverity.ERROR,
    )
