import dagster as dg

from batch_pipelines.defs.batching.steps import (
    dates_and_tenants,
    ingest,
    ingest_metadata,
    plan_and_submit,
    workflow_tags,
)
from batch_pipelines.defs.resources import BatchProviderResource, DatabaseResource
from batch_pipelines.defs.tenants.partitions import date_tenant_partitions
from batch_pipelines.workflows.lead_scoring import LeadScoring

lead_scoring_workflow = LeadScoring()


@dg.asset(
    partitions_def=date_tenant_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="lead_scoring",
    kinds={"anthropic", "postgres"},
    pool=f"{lead_scoring_workflow.provider}_batch_submit",
)
def lead_score_requests(
    context: dg.AssetExecutionContext,
    database: DatabaseResource,
    batch_providers: BatchProviderResource,
) -> dg.MaterializeResult:
    """The leads created on each date, with their call's analytics, queued into one Message Batch
    pooled across every tenant of the run (sharded only at the provider's limits)."""
    dates, tenants = dates_and_tenants(context)
    return plan_and_submit(
        context, lead_scoring_workflow, database, batch_providers, dates, tenants
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "lead_scores",
            deps=[lead_score_requests],
            description="Score 0-100, reasons, best channel and time to reach out, per lead.",
            partitions_def=date_tenant_partitions,
            group_name="lead_scoring",
            kinds={"postgres"},
        ),
        dg.AssetSpec(
            "outreach_drafts",
            deps=[lead_score_requests],
            description=(
                "Follow-up e-mail drafts rendered into each tenant's HTML template (autoescaped, "
                "links only from the tenant's allow-list), with a plain-text part."
            ),
            partitions_def=date_tenant_partitions,
            group_name="lead_scoring",
            kinds={"postgres", "html"},
        ),
    ],
    partitions_def=date_tenant_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def lead_scores_and_drafts(
    context: dg.AssetExecutionContext,
    database: DatabaseResource,
    batch_providers: BatchProviderResource,
):
    """The Message Batch results: each lead's score and, where it can be contacted, its draft."""
    result = ingest(context, lead_scoring_workflow, database, batch_providers)
    metadata = ingest_metadata(result)
    yield dg.MaterializeResult(asset_key="lead_scores", metadata=metadata)
    yield dg.MaterializeResult(asset_key="outreach_drafts", metadata=metadata)


lead_scoring_job = dg.define_asset_job(
    "lead_scoring_job", selection=[lead_score_requests], tags=workflow_tags(lead_scoring_workflow)
)
lead_scoring_ingest_job = dg.define_asset_job(
    "lead_scoring_ingest_job",
    selection=dg.AssetSelection.assets("lead_scores", "outreach_drafts", "cost_ledger"),
    tags=workflow_tags(lead_scoring_workflow),
)
