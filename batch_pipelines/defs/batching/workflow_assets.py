"""Each declared workflow's Dagster wiring, built from its declaration (`core/workflows.py`): the
request asset and its job (what the workflow's trigger launches: it queues the due work), the
submit job (what `batch_submit_sensor` launches per group of queued work), the result assets and
the ingest job. `defs/<workflow>/` keeps only its trigger (a sensor or a schedule targeting
`WORKFLOW_DEFS[name].request_job`)."""

from dataclasses import dataclass
from typing import Any

import dagster as dg

from batch_pipelines.batching.workflow import Workflow
from batch_pipelines.core.workflows import WorkflowDeclaration, declarations
from batch_pipelines.defs.batching.steps import (
    ingest,
    queue_requests,
    report_results,
    submit_group,
    workflow_tags,
)
from batch_pipelines.defs.resources import BatchProviderResource, DatabaseResource
from batch_pipelines.defs.tenants.partitions import date_tenant_partitions, tenant_partitions
from batch_pipelines.workflows.registry import build_workflow

__all__ = ["WORKFLOW_DEFS", "WorkflowDefs", "build_workflow_defs", "cost_ledger_dep"]

COST_LEDGER = dg.AssetKey("cost_ledger")


@dataclass(frozen=True)
class WorkflowDefs:
    """What Dagster runs of one workflow."""

    declared: WorkflowDeclaration
    workflow: Workflow
    request_asset: dg.AssetsDefinition
    results: dg.AssetsDefinition
    # What `define_asset_job` returns (a type Dagster does not export).
    request_job: Any
    submit_job: dg.JobDefinition
    ingest_job: Any

    @property
    def result_keys(self) -> list[dg.AssetKey]:
        return [dg.AssetKey(name) for name in self.declared.result_asset_names]

    def definitions(self) -> dg.Definitions:
        return dg.Definitions(
            assets=[self.request_asset, self.results],
            jobs=[self.request_job, self.submit_job, self.ingest_job],
        )


def build_workflow_defs(
    declared: WorkflowDeclaration, workflow: Workflow | None = None
) -> WorkflowDefs:
    """The assets and jobs of `declared` (its implementation built from the declaration unless
    given)."""
    workflow = workflow or build_workflow(declared)
    partitions = date_tenant_partitions if declared.by_date else tenant_partitions

    @dg.asset(
        name=declared.request_asset,
        description=f"{declared.request_description} Queued {declared.cadence.description}.",
        partitions_def=partitions,
        # Pooling no longer depends on how a backfill is cut into runs (the work is queued and
        # pooled at submit time): one run per range of partitions is the fastest, each run being
        # a process (a pod in the deployment) that loads the code location.
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name=declared.name,
        kinds={declared.provider, "postgres", *declared.extra_kinds},
    )
    def request_asset(
        context: dg.AssetExecutionContext,
        database: DatabaseResource,
        batch_providers: BatchProviderResource,
    ) -> dg.MaterializeResult:
        return queue_requests(context, declared, workflow, database, batch_providers)

    @dg.multi_asset(
        name=f"{declared.name}_results",
        specs=[
            dg.AssetSpec(
                asset.name,
                deps=[request_asset],
                description=asset.description,
                partitions_def=partitions,
                group_name=declared.name,
                kinds=set(asset.kinds),
            )
            for asset in declared.result_assets
        ],
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def results(
        context: dg.AssetExecutionContext,
        database: DatabaseResource,
        batch_providers: BatchProviderResource,
    ):
        """The batch results: validated, stored, and each partition's own figures reported."""
        ingest(context, workflow, database, batch_providers)
        report_results(context, declared, workflow, database)
        for name in declared.result_asset_names:
            yield dg.MaterializeResult(asset_key=name)

    tags = workflow_tags(declared)
    # Queueing talks to no provider: its runs are not held by the provider's run limits.
    request_job = dg.define_asset_job(
        declared.request_job, selection=[request_asset], tags={"workflow": declared.name}
    )

    @dg.op(
        name=f"submit_{declared.name}_batches",
        # One submit step per provider at a time (dagster.yaml: a pool's default limit is 1); the
        # create lock per credentials serialises the creates themselves whatever runs them.
        pool=f"{declared.provider}_batch_submit",
        description=f"Plan and submit the queued work of {declared.name}: one group's (the run's "
        "tags), or every group's.",
    )
    def submit_batches(
        context: dg.OpExecutionContext,
        database: DatabaseResource,
        batch_providers: BatchProviderResource,
    ) -> None:
        submit_group(context, workflow, database, batch_providers)

    @dg.job(
        name=declared.submit_job,
        tags=tags,
        description=f"Launched by batch_submit_sensor for a group of {declared.name}'s queued "
        "work: its lines pooled and sharded into provider batches, sent under admission control.",
    )
    def submit_job() -> None:
        submit_batches()

    # A date-partitioned workflow's usage is priced in its ingest run; a tenant-partitioned one's
    # by `kb_ledger_sensor` (the ledger is partitioned by date and tenant).
    ingest_selection = dg.AssetSelection.assets(
        *declared.result_asset_names, *([COST_LEDGER] if declared.by_date else [])
    )
    ingest_job = dg.define_asset_job(declared.ingest_job, selection=ingest_selection, tags=tags)
    return WorkflowDefs(
        declared, workflow, request_asset, results, request_job, submit_job, ingest_job
    )


def cost_ledger_dep(workflow_defs: WorkflowDefs) -> list[dg.AssetDep]:
    """How `cost_ledger` (date × tenant) depends on the workflow's results: partition for
    partition, or a tenant's every date for a tenant-partitioned workflow."""
    mapping = (
        None
        if workflow_defs.declared.by_date
        else dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="tenant")
    )
    return [dg.AssetDep(key, partition_mapping=mapping) for key in workflow_defs.result_keys]


WORKFLOW_DEFS: dict[str, WorkflowDefs] = {
    declared.name: build_workflow_defs(declared) for declared in declarations()
}


@dg.definitions
def workflow_definitions() -> dg.Definitions:
    return dg.Definitions.merge(*(w.definitions() for w in WORKFLOW_DEFS.values()))
