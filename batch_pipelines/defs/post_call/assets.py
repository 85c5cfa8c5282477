import dagster as dg

from batch_pipelines.batching.polling import ended_jobs_awaiting_ingest
from batch_pipelines.defs.batching.steps import (
    BATCH_JOB_TAG,
    dates_and_tenants,
    ingest,
    ingest_metadata,
    plan_and_submit,
    workflow_tags,
)
from batch_pipelines.defs.resources import BatchProviderResource, DatabaseResource
from batch_pipelines.defs.tenants.partitions import date_tenant_partitions
from batch_pipelines.ledger.ledger import micro_to_usd
from batch_pipelines.workflows.post_call import PostCallAnalytics, ingested_totals

post_call_workflow = PostCallAnalytics()


@dg.asset(
    partitions_def=date_tenant_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="post_call",
    kinds={"openai", "postgres"},
    pool=f"{post_call_workflow.provider}_batch_submit",
)
def post_call_requests(
    context: dg.AssetExecutionContext,
    database: DatabaseResource,
    batch_providers: BatchProviderResource,
) -> dg.MaterializeResult:
    """The finished calls of each (date, tenant), redacted per tenant policy and queued into provider
    batches pooled across every tenant of the run; one manifest row per call."""
    dates, tenants = dates_and_tenants(context)
    return plan_and_submit(context, post_call_workflow, database, batch_providers, dates, tenants)


@dg.asset(
    partitions_def=date_tenant_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[post_call_requests],
    group_name="post_call",
    kinds={"postgres"},
)
def call_analytics(
    context: dg.AssetExecutionContext,
    database: DatabaseResource,
    batch_providers: BatchProviderResource,
) -> dg.MaterializeResult:
    """Summary, sentiment, lead score, topics and next action for every finished call: the batch
    results, validated and stored in `call_analytics`. Failed lines go to a later batch alone.
    Reports, besides the engine's counts, the PII replaced in what was sent and the estimated cost
    (the exact cost is `cost_ledger`'s, materialised in the same run)."""
    engine = database.engine()
    # The jobs `ingest` takes: the one the poll sensor tagged, or every ended job of the workflow.
    tagged = context.run.tags.get(BATCH_JOB_TAG)
    job_ids = (
        [tagged]
        if tagged
        else [
            j.batch_job_id
            for j in ended_jobs_awaiting_ingest(engine)
            if j.workflow == post_call_workflow.name
        ]
    )
    result = ingest(context, post_call_workflow, database, batch_providers)
    with engine.connect() as conn:
        redactions, estimated_micro_usd = ingested_totals(conn, job_ids)
    return dg.MaterializeResult(
        metadata={
            **ingest_metadata(result),
            "estimated_cost_usd": float(micro_to_usd(estimated_micro_usd)),
            "redactions": sum(redactions.values()),
            **{f"redactions_{kind}": n for kind, n in redactions.items()},
        }
    )


post_call_job = dg.define_asset_job(
    "post_call_job", selection=[post_call_requests], tags=workflow_tags(post_call_workflow)
)
post_call_ingest_job = dg.define_asset_job(
    "post_call_ingest_job",
    selection=dg.AssetSelection.assets(call_analytics, "cost_ledger"),
    tags=workflow_tags(post_call_workflow),
)
