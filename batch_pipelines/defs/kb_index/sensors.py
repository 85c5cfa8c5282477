import dagster as dg

from batch_pipelines.defs.batching.workflow_assets import WORKFLOW_DEFS
from batch_pipelines.defs.ledger.assets import cost_ledger
from batch_pipelines.defs.resources import DatabaseResource
from batch_pipelines.defs.tenants.partitions import covering_range_tags, tenant_partitions
from batch_pipelines.ledger.ledger import unpriced_partitions
from batch_pipelines.workflows.kb_uploads import Watermark, documents_changed_since

kb_index = WORKFLOW_DEFS["kb_index"]
kb_ledger_job = dg.define_asset_job("kb_ledger_job", selection=[cost_ledger])


@dg.sensor(
    job=kb_index.request_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def kb_upload_sensor(
    context: dg.SensorEvaluationContext, database: DatabaseResource
) -> dg.SensorResult:
    """Watches `kb_documents` (cursor: last upload or deletion seen, and a digest of the changes
    just before it, to catch uploads that commit late; see `kb_uploads`) and requests a run of
    each tenant's partition with new, changed or deleted documents; `batch_submit_sensor` pools
    what they queue into one batch."""
    watermark = Watermark.from_cursor(context.cursor)
    with database.engine().connect() as conn:
        changes = documents_changed_since(conn, watermark)
    mark = changes.watermark
    if not changes.tenant_ids or mark is None:
        return dg.SensorResult(
            skip_reason="no document changes", cursor=mark.to_cursor() if mark else None
        )
    known = set(context.instance.get_dynamic_partitions(tenant_partitions.name))
    unknown = [t for t in changes.tenant_ids if t not in known]
    # One run over the changed tenants (each run is a process, a pod in the deployment): what
    # it queues pools at submit time whatever the run covers, and tenants in between have
    # nothing due.
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"kb_upload:{mark.changed_at.isoformat()}|{mark.doc_id}|{mark.window[:16]}",
                tags=covering_range_tags(
                    context.instance, [{"tenant": t} for t in changes.tenant_ids], by_date=False
                ),
            )
        ],
        dynamic_partitions_requests=[tenant_partitions.build_add_request(unknown)]
        if unknown
        else [],
        cursor=mark.to_cursor(),
    )


@dg.sensor(
    job=kb_ledger_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING
)
def kb_ledger_sensor(
    context: dg.SensorEvaluationContext, database: DatabaseResource
) -> dg.SensorResult | dg.SkipReason:
    """After each new `kb_index` materialization, prices every (date, tenant) partition holding KB
    usage without a ledger row, whichever run wrote it: the KB assets are partitioned by tenant
    only, so the ledger cannot run in the same run, and an ingest stopped after some chunks
    committed leaves rows its re-run does not report."""
    # Oldest first: the cursor then marks the newest materialization seen, and the next tick reads
    # what came after it (descending order would page towards older records and miss new ones).
    records = context.instance.fetch_materializations(
        dg.AssetKey(kb_index.declared.result_asset_names[0]),
        limit=100,
        cursor=context.cursor,
        ascending=True,
    )
    if not records.records:
        return dg.SkipReason("no new kb_index materializations")
    with database.engine().connect() as conn:
        unpriced = unpriced_partitions(conn, kb_index.declared.name)
    if not unpriced:
        return dg.SensorResult(
            skip_reason="every kb_index usage row is priced", cursor=records.cursor
        )
    # One run over the range of the partitions to price (re-pricing is idempotent, so the
    # partitions in between are harmless; one process rather than one per partition).
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"kb_ledger:{records.cursor}",
                tags=covering_range_tags(
                    context.instance,
                    [{"date": day.isoformat(), "tenant": tenant} for day, tenant in unpriced],
                    by_date=True,
                ),
            )
        ],
        cursor=records.cursor,
    )
