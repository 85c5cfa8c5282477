"""What one workflow's partition holds, as Dagster shows it: each partition's own counts.

A run over many partitions (a range, a pooled batch's ingest) reports every partition it covers with
that partition's figures, read here from Postgres by partition — not the run's totals stamped on each
of them. The figures are the partition's state after the run (what a plot over partitions needs),
for one workflow: its manifest rows by outcome and its billed provider lines (`llm_usage`). A
partition is (date, tenant), or a tenant for a workflow partitioned by tenant only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, select, true

from batch_pipelines.db.tables import batch_requests, llm_usage

__all__ = ["PartitionFigures", "PartitionKey", "workflow_partition_figures"]

# (date, tenant); the date is None for a workflow partitioned by tenant only.
PartitionKey = tuple[dt.date | None, str]
_SENT_AND_FAILED = ("failed", "dead_letter")
_QUEUED = ("pending", "queued", "planned")
_IN_FLIGHT = (*_QUEUED, "submitted")


@dataclass(frozen=True)
class PartitionFigures:
    requests: int = 0
    """Billed provider lines (usage rows), retries included."""
    input_tokens: int = 0
    """Every prompt token: uncached, cached reads and cache writes."""
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    failed_lines: int = 0
    """Lines the provider answered with an error or an answer that failed the schema."""
    results: int = 0
    """Items whose result is stored."""
    lines_written: int = 0
    """Request lines rendered for the provider (queued or sent), retries included."""
    in_flight: int = 0
    """Requests queued or at the provider."""
    dead_lettered: int = 0
    held: int = 0
    skipped: int = 0


def workflow_partition_figures(
    conn: Connection,
    workflow: str,
    partitions: Sequence[PartitionKey],
) -> dict[PartitionKey, PartitionFigures]:
    """The figures of each of these partitions of `workflow` (zeros for one with nothing)."""
    if not partitions:
        return {}
    by_date = partitions[0][0] is not None
    tenants = sorted({tenant for _, tenant in partitions})
    dates = sorted({day for day, _ in partitions if day is not None})
    figures: dict[PartitionKey, dict[str, int]] = {key: {} for key in partitions}

    status = batch_requests.c.status
    request_keys = [batch_requests.c.partition_date] if by_date else []
    rows = conn.execute(
        select(
            *request_keys,
            batch_requests.c.tenant_id,
            func.count().filter(
                status.in_(_SENT_AND_FAILED), batch_requests.c.batch_job_id.is_not(None)
            ),
            func.count(batch_requests.c.item_id.distinct()).filter(status == "succeeded"),
            func.count().filter(status.in_(_IN_FLIGHT)),
            func.count().filter(status == "dead_letter"),
            func.count().filter(status == "held"),
            func.count().filter(status == "skipped"),
            func.count().filter(batch_requests.c.batch_job_id.is_not(None) | status.in_(_QUEUED)),
        )
        .where(
            batch_requests.c.workflow == workflow,
            batch_requests.c.tenant_id.in_(tenants),
            batch_requests.c.partition_date.in_(dates) if by_date else true(),
        )
        .group_by(*request_keys, batch_requests.c.tenant_id)
    )
    names = ("failed_lines", "results", "in_flight", "dead_lettered", "held", "skipped")
    names += ("lines_written",)
    for row in rows:
        key = (row[0], row[1]) if by_date else (None, row[0])
        if key in figures:
            figures[key].update(zip(names, row[len(request_keys) + 1 :], strict=True))

    usage_keys = [llm_usage.c.ledger_date] if by_date else []
    rows = conn.execute(
        select(
            *usage_keys,
            llm_usage.c.tenant_id,
            func.count(),
            func.sum(
                llm_usage.c.input_tokens
                + llm_usage.c.cached_input_tokens
                + llm_usage.c.cache_write_tokens
            ),
            func.sum(llm_usage.c.cached_input_tokens),
            func.sum(llm_usage.c.cache_write_tokens),
            func.sum(llm_usage.c.output_tokens),
        )
        .where(
            llm_usage.c.workflow == workflow,
            llm_usage.c.tenant_id.in_(tenants),
            llm_usage.c.ledger_date.in_(dates) if by_date else true(),
        )
        .group_by(*usage_keys, llm_usage.c.tenant_id)
    )
    names = ("requests", "input_tokens", "cached_input_tokens", "cache_write_tokens")
    names += ("output_tokens",)
    for row in rows:
        key = (row[0], row[1]) if by_date else (None, row[0])
        if key in figures:
            values = row[len(usage_keys) + 1 :]
            figures[key].update(zip(names, (int(v or 0) for v in values), strict=True))
    return {key: PartitionFigures(**counts) for key, counts in figures.items()}


@dataclass(frozen=True)
class StuckItems:
    """A (date, tenant)'s items that will not be billed as they are: dead-lettered (a person must
    look) or held (by budget or a missing key; released when that changes)."""

    counts: dict[str, dict[str, int]]  # workflow -> {"dead_letter": n, "held": n}
    reasons: dict[str, list[str]]  # workflow -> a few distinct reasons, most frequent first

    @property
    def total(self) -> int:
        return sum(n for by_status in self.counts.values() for n in by_status.values())


def stuck_items(
    conn: Connection, partitions: Sequence[tuple[dt.date, str]], reasons_per_workflow: int = 3
) -> dict[tuple[dt.date, str], StuckItems]:
    """Dead-lettered and held items of each (date, tenant), every workflow (one query)."""
    out = {key: StuckItems({}, {}) for key in partitions}
    if not partitions:
        return out
    status = batch_requests.c.status
    items = func.count(batch_requests.c.item_id.distinct())
    rows = conn.execute(
        select(
            batch_requests.c.partition_date,
            batch_requests.c.tenant_id,
            batch_requests.c.workflow,
            status,
            batch_requests.c.error,
            items,
        )
        .where(
            batch_requests.c.partition_date.in_(sorted({day for day, _ in partitions})),
            batch_requests.c.tenant_id.in_(sorted({tenant for _, tenant in partitions})),
            status.in_(("dead_letter", "held")),
        )
        .group_by(
            batch_requests.c.partition_date,
            batch_requests.c.tenant_id,
            batch_requests.c.workflow,
            status,
            batch_requests.c.error,
        )
        .order_by(items.desc(), batch_requests.c.error)
    )
    for day, tenant, workflow, row_status, error, n in rows:
        stuck = out.get((day, tenant))
        if stuck is None:
            continue
        by_status = stuck.counts.setdefault(workflow, {})
        by_status[row_status] = by_status.get(row_status, 0) + n
        listed = stuck.reasons.setdefault(workflow, [])
        if error and len(listed) < reasons_per_workflow:
            listed.append(f"{row_status}: {error}")
    return out
