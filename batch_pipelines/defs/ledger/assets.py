import datetime as dt
import os
from collections.abc import Iterable

import dagster as dg

from batch_pipelines.defs.batching.workflow_assets import (
    WORKFLOW_DEFS,
    WorkflowDefs,
    cost_ledger_dep,
)
from batch_pipelines.defs.resources import DatabaseResource
from batch_pipelines.defs.tenants.partitions import daily_partitions, date_tenant_partitions
from batch_pipelines.ledger.ledger import PartitionTotals, micro_to_usd, price_partition
from batch_pipelines.ledger.reports import (
    build_tenant_cost_report,
    render_markdown,
    tenant_table_records,
    write_report_html,
)

# The hour (UTC) of the daily report of the previous day (`tenant_cost_report_schedule`).
REPORT_HOUR = int(os.environ.get("BATCH_PIPELINES_REPORT_HOUR_UTC", "6"))


def ledger_partitions(context: dg.AssetExecutionContext) -> list[tuple[dt.date, str]]:
    """(date, tenant) of every partition in the run (one, or a single-run range)."""
    out = []
    for key in context.partition_keys:
        dims = date_tenant_partitions.get_partition_key_from_str(key).keys_by_dimension
        out.append((dt.date.fromisoformat(dims["date"]), dims["tenant"]))
    return out


def _metadata(totals: PartitionTotals) -> dict[str, float | int]:
    # The keys and meanings of the workflows' result assets (`steps.result_metadata`); floats for
    # the UI's plots only, the ledger itself is exact.
    return {
        "requests": totals.requests,
        "dagster/row_count": totals.requests,
        "input_tokens": totals.prompt_tokens,
        "cached_input_tokens": totals.cached_input_tokens,
        "cache_write_tokens": totals.cache_write_tokens,
        "output_tokens": totals.output_tokens,
        "cost_usd": float(micro_to_usd(totals.cost_micro_usd)),
        "saved_usd": float(micro_to_usd(totals.saved_micro_usd)),
    }


# Written by every ingest (one row per billed provider line, with its result), never by Dagster:
# declared so that its coverage check has an asset to belong to.
llm_usage = dg.AssetSpec(
    "llm_usage",
    group_name="ledger",
    kinds={"postgres"},
    description=(
        "One row per billed provider line, written by each ingest in the transaction of its "
        "result; cost_ledger prices every row. Not materialized by Dagster."
    ),
)


def build_cost_ledger(workflows: Iterable[WorkflowDefs]) -> dg.AssetsDefinition:
    """`cost_ledger`, depending on these workflows' results (the code location: every declared
    workflow's), so that in an ingest run it is priced after them."""

    @dg.asset(
        name="cost_ledger",
        partitions_def=date_tenant_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        # A tenant-partitioned workflow's results (kb_index) map a tenant to its every date; its
        # usage is priced by kb_ledger_sensor.
        deps=[dep for workflow in workflows for dep in cost_ledger_dep(workflow)],
        group_name="ledger",
        kinds={"postgres"},
        # Every ingest run prices its partitions: a day without one means the batches are stuck.
        freshness_policy=dg.FreshnessPolicy.time_window(
            fail_window=dt.timedelta(hours=26), warn_window=dt.timedelta(hours=6)
        ),
    )
    def cost_ledger(
        context: dg.AssetExecutionContext, database: DatabaseResource
    ) -> dg.MaterializeResult:
        """Each (date, tenant)'s `llm_usage` rows priced into `cost_ledger`, exactly, in
        micro-dollars.

        Re-materialising re-prices idempotently: a backfill applies a price correction. A range
        run prices each partition in its own transaction and records each partition's own figures.
        """
        return price_ledger(context, database)

    return cost_ledger


def price_ledger(
    context: dg.AssetExecutionContext, database: DatabaseResource
) -> dg.MaterializeResult:
    engine = database.engine()
    price_cache: dict = {}
    for day, tenant in ledger_partitions(context):
        with engine.begin() as conn:
            totals = price_partition(conn, day, tenant, price_cache=price_cache)
        context.log.info(
            f"{day}|{tenant}: {totals.requests} lines, {micro_to_usd(totals.cost_micro_usd)} USD"
        )
        # Each partition its own figures (MaterializeResult metadata would copy the same values
        # onto every partition of a range).
        context.add_asset_metadata(_metadata(totals), partition_key=f"{day.isoformat()}|{tenant}")
    return dg.MaterializeResult()


cost_ledger = build_cost_ledger(WORKFLOW_DEFS.values())


@dg.asset(
    partitions_def=daily_partitions,
    deps=[
        dg.AssetDep(
            cost_ledger,
            partition_mapping=dg.MultiToSingleDimensionPartitionMapping(
                partition_dimension_name="date"
            ),
        )
    ],
    group_name="ledger",
    kinds={"postgres", "html"},
    # Written daily by tenant_cost_report_schedule at REPORT_HOUR: late if not by the next hour.
    freshness_policy=dg.FreshnessPolicy.cron(
        deadline_cron=f"0 {(REPORT_HOUR + 1) % 24} * * *", lower_bound_delta=dt.timedelta(hours=2)
    ),
)
def tenant_cost_report(
    context: dg.AssetExecutionContext, database: DatabaseResource
) -> dg.MaterializeResult:
    """Per tenant and workflow: the day's and month-to-date spend, savings against synchronous calls
    and their split, margin against the tier price, items held by budget. Stored in
    `tenant_cost_reports`; drawn to `$BATCH_PIPELINES_HOME/reports/<date>.html`."""
    day = dt.date.fromisoformat(context.partition_key)
    with database.engine().begin() as conn:
        report = build_tenant_cost_report(conn, day)
    path = write_report_html(report)
    totals = report.totals
    columns, records = tenant_table_records(report)
    # Floats for the UI's plots only (stable keys, plotted across date partitions); exact in the DB.
    usd = {
        "cost_usd": "day_cost_micro_usd",
        "saved_usd": "day_saved_micro_usd",
        "mtd_cost_usd": "mtd_cost_micro_usd",
        "mtd_saved_usd": "mtd_saved_micro_usd",
        "mtd_batch_discount_usd": "mtd_batch_discount_micro_usd",
        "mtd_cache_read_savings_usd": "mtd_cache_read_savings_micro_usd",
        "mtd_cache_write_premium_usd": "mtd_cache_write_premium_micro_usd",
        "bound_usd": "day_bound_cost_micro_usd",
        "mtd_bound_usd": "mtd_bound_cost_micro_usd",
    }
    return dg.MaterializeResult(
        metadata={
            "tenants_table": dg.MetadataValue.table(
                records=[dg.TableRecord(r) for r in records],
                schema=dg.TableSchema(
                    columns=[dg.TableColumn(name, kind) for name, kind in columns]
                ),
            ),
            "report": dg.MetadataValue.md(render_markdown(report)),
            "chart": dg.MetadataValue.path(str(path)),
            "tenants": len(report.tenants),
            "requests": int(totals["day_requests"]),
            **{key: float(micro_to_usd(totals[column])) for key, column in usd.items()},
            "items_held": int(totals["items_held"]),
        }
    )
