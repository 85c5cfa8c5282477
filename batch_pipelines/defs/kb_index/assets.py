import datetime as dt

import dagster as dg

from batch_pipelines.defs.batching.steps import (
    ingest,
    ingest_metadata,
    partition_keys,
    plan_and_submit,
    workflow_tags,
)
from batch_pipelines.defs.resources import BatchProviderResource, DatabaseResource
from batch_pipelines.defs.tenants.partitions import tenant_partitions
from batch_pipelines.workflows.kb_index import KnowledgeBaseIndex

kb_index_workflow = KnowledgeBaseIndex()


@dg.asset(
    partitions_def=tenant_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="kb_index",
    kinds={"openai", "postgres"},
    pool=f"{kb_index_workflow.provider}_batch_submit",
)
def kb_embedding_requests(
    context: dg.AssetExecutionContext,
    database: DatabaseResource,
    batch_providers: BatchProviderResource,
) -> dg.MaterializeResult:
    """New or changed chunks of each tenant's knowledge-base documents, queued as embedding
    requests (many chunks per request) in one batch pooled across the run's tenants. Chunks of
    deleted or replaced text are removed first; unchanged documents cost nothing."""
    today = dt.datetime.now(dt.UTC).date()
    return plan_and_submit(
        context, kb_index_workflow, database, batch_providers, [today], partition_keys(context)
    )


@dg.asset(
    partitions_def=tenant_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[kb_embedding_requests],
    group_name="kb_index",
    kinds={"pgvector", "postgres"},
)
def kb_index(
    context: dg.AssetExecutionContext,
    database: DatabaseResource,
    batch_providers: BatchProviderResource,
) -> dg.MaterializeResult:
    """Each tenant's chunk vectors in `kb_chunks` (pgvector, HNSW), searchable per tenant only."""
    result = ingest(context, kb_index_workflow, database, batch_providers)
    ledger_partitions = sorted(f"{d.isoformat()}|{t}" for d, t in result.partitions)
    return dg.MaterializeResult(
        metadata={
            **ingest_metadata(result),
            # The (date, tenant) partitions this run billed (kb_ledger_sensor prices every unpriced
            # KB usage row, these and any an interrupted earlier run left).
            "ledger_partitions": dg.MetadataValue.json(ledger_partitions),
        }
    )


kb_index_job = dg.define_asset_job(
    "kb_index_job", selection=[kb_embedding_requests], tags=workflow_tags(kb_index_workflow)
)
kb_index_ingest_job = dg.define_asset_job(
    "kb_index_ingest_job", selection=[kb_index], tags=workflow_tags(kb_index_workflow)
)
