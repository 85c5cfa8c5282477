"""Checks on the ledger. Those on `cost_ledger` are partitioned like it (1.13 partitioned asset
checks): each (date, tenant) gets its own evaluation, so a failure shows on its partition. A run
over a range evaluates each partition of it (an ingest run, each partition its batch serves), and
each check's own result (what blocks the run when
a blocking check fails) says how many failed. The four run in one step (`cost_ledger_checks`): one
connection and one pass over the run's partitions, not a step each."""

import datetime as dt
from collections.abc import Callable, Iterator, Mapping

import dagster as dg
from sqlalchemy import Connection

from batch_pipelines.batching.jobs import load_job
from batch_pipelines.core.workflows import workflow_label
from batch_pipelines.defs.batching.steps import BATCH_JOB_TAG
from batch_pipelines.defs.ledger.assets import cost_ledger, ledger_partitions, llm_usage
from batch_pipelines.defs.resources import DatabaseResource
from batch_pipelines.defs.tenants.partitions import date_tenant_partitions
from batch_pipelines.ledger.ledger import (
    InvariantResult,
    check_batch_tokens_match_provider,
    check_priced_exactly_once,
    check_rows_attributed,
    check_usage_priced_within,
)
from batch_pipelines.ledger.partition_figures import StuckItems, stuck_items

UNPRICED_FOR_AT_MOST = dt.timedelta(hours=1)
Partition = tuple[dt.date, str]
# (connection, partition, the partition's stuck items) -> that partition's result
Evaluate = Callable[[Connection, Partition, StuckItems], dg.AssetCheckResult]


def _invariant(invariant: Callable[[Connection, dt.date, str], InvariantResult]) -> Evaluate:
    def evaluate(conn: Connection, partition: Partition, _: StuckItems) -> dg.AssetCheckResult:
        passed, details = invariant(conn, *partition)
        return dg.AssetCheckResult(passed=passed, metadata=_json_values(details))

    return evaluate


def _json_values(details: dict) -> dict:
    return {
        k: dg.MetadataValue.json(v) if isinstance(v, (dict, list)) else v
        for k, v in details.items()
    }


def _tokens_match(conn: Connection, partition: Partition, _: StuckItems) -> dg.AssetCheckResult:
    passed, details = check_batch_tokens_match_provider(conn, *partition)
    # A batch serves many partitions: each failing partition names its differing batches.
    differing = {m["batch_job_id"]: m for m in details.get("mismatches", [])}
    metadata = _json_values(details)
    description = None
    if differing:
        metadata["batches_differing"] = dg.MetadataValue.json(differing)
        description = "; ".join(
            f"batch {job_id} (provider batch {m['provider_batch_id']}): {m['differs']}"
            for job_id, m in sorted(differing.items())
        )
    elif not passed:
        description = "ledger rows whose tokens differ from their usage rows: see the metadata"
    return dg.AssetCheckResult(passed=passed, metadata=metadata, description=description)


def _nothing_stuck(_: Connection, partition: Partition, stuck: StuckItems) -> dg.AssetCheckResult:
    metadata: dict = {
        "dead_lettered_items": sum(c.get("dead_letter", 0) for c in stuck.counts.values()),
        "held_items": sum(c.get("held", 0) for c in stuck.counts.values()),
    }
    description = None
    if stuck.total:
        metadata["by_workflow"] = dg.MetadataValue.json(stuck.counts)
        metadata["reasons"] = dg.MetadataValue.json(stuck.reasons)
        description = "; ".join(
            f"{workflow_label(workflow)}: "
            + ", ".join(f"{n} {status.replace('_', '-')}" for status, n in sorted(counts.items()))
            + (f" ({stuck.reasons[workflow][0]})" if stuck.reasons.get(workflow) else "")
            for workflow, counts in sorted(stuck.counts.items())
        )
    return dg.AssetCheckResult(
        passed=not stuck.total,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata,
        description=description,
    )


def _spec(name: str, description: str, *, blocking: bool) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name,
        asset=cost_ledger.key,
        description=description,
        blocking=blocking,
        partitions_def=date_tenant_partitions,
    )


# Each check's spec and how it evaluates one partition.
LEDGER_CHECKS: Mapping[str, tuple[dg.AssetCheckSpec, Evaluate]] = {
    spec.name: (spec, evaluate)
    for spec, evaluate in (
        (
            _spec(
                "every_usage_row_priced_once",
                "Every `llm_usage` row of the partition has exactly one `cost_ledger` row.",
                blocking=True,
            ),
            _invariant(check_priced_exactly_once),
        ),
        (
            _spec(
                "batch_tokens_match_provider",
                "Per batch, ledger tokens equal the usage rows and the provider's own aggregate "
                "(OpenAI's batch `usage`); a failure names each batch that differs, and how.",
                blocking=True,
            ),
            _tokens_match,
        ),
        (
            _spec(
                "ledger_rows_attributed",
                "No ledger row without tenant and vertical, none attributed differently from its "
                "request.",
                blocking=True,
            ),
            _invariant(check_rows_attributed),
        ),
        (
            _spec(
                "no_dead_lettered_or_held_items",
                "A warning on each (date, tenant) with dead-lettered items (a person must look: "
                "the reason is in `batch_requests.error`) or items held by budget or a missing "
                "key, naming how many per workflow and the commonest reasons. It blocks nothing: "
                "the rest of the partition is priced.",
                blocking=False,
            ),
            _nothing_stuck,
        ),
    )
}


@dg.multi_asset_check(
    specs=[spec for spec, _ in LEDGER_CHECKS.values()],
    can_subset=True,
    name="cost_ledger_checks",
)
def cost_ledger_checks(
    context: dg.AssetCheckExecutionContext, database: DatabaseResource
) -> Iterator[dg.AssetCheckResult]:
    """The ledger's checks on every partition of the run. A one-partition run yields that
    partition's result per check; a range run records each partition's evaluation on its
    partition and yields one result per check for the run (failed if any partition failed)."""
    step = context.op_execution_context
    selected = sorted(key.name for key in context.selected_asset_check_keys)
    with database.engine().connect() as conn:
        partitions = _changed_partitions(step, conn, ledger_partitions(step))
        stuck = stuck_items(conn, partitions)
        results = {
            name: {
                f"{day.isoformat()}|{tenant}": LEDGER_CHECKS[name][1](
                    conn, (day, tenant), stuck[day, tenant]
                )
                for day, tenant in partitions
            }
            for name in selected
        }
    for name in selected:
        yield _run_result(step, LEDGER_CHECKS[name][0], results[name])


def _changed_partitions(
    step: dg.OpExecutionContext, conn: Connection, partitions: list[Partition]
) -> list[Partition]:
    """The run's partitions whose ledger rows it may have changed: for the ingest run of one
    batch (`batch_poll_sensor` names it in a tag), only those the batch serves. Its range is the
    rectangle around them (dates x tenants), which holds partitions the batch does not serve (an
    isolated tenant between two pooled ones, a date a tenant had nothing on); each evaluation costs
    Dagster ~15 ms to record, so those are not evaluated again."""
    job_id = step.run.tags.get(BATCH_JOB_TAG)
    if job_id is None or step.has_partition_key:
        return partitions
    job = load_job(conn, job_id)
    if job is None:
        return partitions
    served = {(dt.date.fromisoformat(p["date"]), p["tenant"]) for p in job.partitions}
    return [p for p in partitions if p in served] or partitions


def _run_result(
    step: dg.OpExecutionContext,
    spec: dg.AssetCheckSpec,
    results: Mapping[str, dg.AssetCheckResult],
) -> dg.AssetCheckResult:
    if step.has_partition_key:  # Dagster sets the partition of a one-partition run's result
        ((_, result),) = results.items()
        return dg.AssetCheckResult(
            check_name=spec.name,
            passed=result.passed,
            metadata=result.metadata,
            severity=result.severity,
            description=result.description,
        )
    for key, result in results.items():
        step.log_event(
            dg.AssetCheckEvaluation(
                asset_key=cost_ledger.key,
                check_name=spec.name,
                passed=result.passed,
                partition=key,
                blocking=spec.blocking,
                severity=result.severity,
                description=result.description,
                metadata=result.metadata,
            )
        )
    failed = {key: r for key, r in results.items() if not r.passed}
    metadata: dict = {"partitions_checked": len(results), "partitions_failed": len(failed)}
    if failed:
        metadata["failures"] = dg.MetadataValue.json(
            {key: {k: v.value for k, v in r.metadata.items()} for key, r in failed.items()}
        )
    descriptions = sorted({r.description for r in failed.values() if r.description})
    return dg.AssetCheckResult(
        check_name=spec.name,
        passed=not failed,
        metadata=metadata,
        severity=next(iter(failed.values())).severity if failed else dg.AssetCheckSeverity.ERROR,
        description="; ".join(descriptions) or None,
    )


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
