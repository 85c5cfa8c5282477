"""Applying a chunk of attributed lines in the caller's transaction: the usage rows (billed whether
or not the answer is usable), the workflow's results, and each request's outcome by kind.

Set-based: a chunk's usage rows go in one COPY, its answers through the workflow's `store_many`
where it has one (one `store` per line otherwise, or when the batch write fails), its statuses in a
few statements. `llm_usage` is unique on (provider, provider_batch_id, custom_id): a line applied
twice is billed once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson
import psycopg
from sqlalchemy import Connection, text
from sqlalchemy.exc import DataError, IntegrityError

from batch_pipelines.batching import transitions
from batch_pipelines.batching.attribution import Chunk, JobState
from batch_pipelines.batching.transitions import LineFailure
from batch_pipelines.batching.workflow import InvalidAnswer, ManifestRow, StoresMany, Workflow
from batch_pipelines.core.usage import TokenUsage
from batch_pipelines.db.bulk import copy_rows
from batch_pipelines.providers.base import FailureKind, ResultLine

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    batch_job_id: str
    already_ingested: bool = False
    lines: int = 0
    succeeded: int = 0
    invalid_answers: int = 0
    failed_lines: int = 0
    missing: int = 0
    retried: int = 0
    requeued: int = 0  # lines that never ran, sent again without using an attempt
    dead_lettered: int = 0
    sent_sync: int = 0
    parked: str | None = None  # why the job was parked instead (its configuration)
    rejected: Counter = field(default_factory=Counter)  # unknown / forged / other_batch / duplicate
    usage: TokenUsage = field(default_factory=TokenUsage)
    partitions: set[tuple[dt.date, str]] = field(default_factory=set)

    _COUNTS = (
        "lines",
        "succeeded",
        "invalid_answers",
        "failed_lines",
        "missing",
        "retried",
        "requeued",
        "dead_lettered",
        "sent_sync",
    )

    def add(self, other: IngestResult) -> None:
        for name in self._COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.usage = self.usage + other.usage
        self.partitions |= other.partitions
        self.rejected.update(other.rejected)

    def routed(self, routed: transitions.Routed) -> None:
        self.retried += routed.retried
        self.requeued += routed.requeued
        self.dead_lettered += routed.dead_lettered


def apply_chunk(
    conn: Connection,
    workflow: Workflow,
    state: JobState,
    chunk: Chunk,
    result: IngestResult,
    now: dt.datetime,
    sync_job_id: str | None,
) -> None:
    """Apply a chunk in the caller's transaction. Lines that failed go on by their kind; with
    `sync_job_id` (the job missed its deadline) the ones worth sending again are planned into that
    synchronous job instead of a later batch."""
    result.lines += chunk.lines
    if chunk.forged:
        result.rejected["forged"] += chunk.forged
    if chunk.duplicate:
        result.rejected["duplicate"] += chunk.duplicate
    if chunk.unattributed:
        _reject_unattributed(conn, state, chunk.unattributed, result)
    failures = list(chunk.failed)
    result.failed_lines += len(failures)
    answered = chunk.answered
    if answered:
        # Billed whether or not the answer is usable: usage first, then the answers.
        _insert_usage_rows(conn, state, answered, result)
        succeeded: list[str] = []
        outcomes = _store_answers(conn, workflow, state, answered)
        for (request, _line), error in zip(answered, outcomes, strict=True):
            if error is None:
                succeeded.append(request.custom_id)
                continue
            result.invalid_answers += 1
            # An answer that fails the workflow's schema is worth another attempt.
            failures.append(LineFailure(request, FailureKind.TRANSIENT, f"invalid answer: {error}"))
        transitions.succeed_requests(conn, succeeded)
        result.succeeded += len(succeeded)
    result.routed(
        transitions.route_failures(
            conn, failures, workflow.max_attempts, now, sync_job_id=sync_job_id
        )
    )


def fail_missing(
    conn: Connection,
    workflow: Workflow,
    state: JobState,
    result: IngestResult,
    now: dt.datetime,
    sync_job_id: str | None,
) -> None:
    """Requests the provider returned nothing for: retried like a transient failure."""
    reason = "missing: the provider returned no result for this request"
    missing = state.unanswered()
    result.missing += len(missing)
    failures = [LineFailure(r, FailureKind.TRANSIENT, reason) for r in missing]
    result.routed(
        transitions.route_failures(
            conn, failures, workflow.max_attempts, now, sync_job_id=sync_job_id
        )
    )


_KNOWN_IDS = text(
    "SELECT custom_id FROM batch_requests WHERE custom_id = ANY(CAST(:ids AS text[]))"
)


def _reject_unattributed(
    conn: Connection, state: JobState, ids: Sequence[str], result: IngestResult
) -> None:
    """Lines whose id is not in this job's manifest: another batch's, or no one's."""
    named = list({custom_id for custom_id in ids if custom_id})
    known = set(conn.execute(_KNOWN_IDS, {"ids": named}).scalars()) if named else set()
    for custom_id in ids:
        reason = "other_batch" if custom_id in known else "unknown"
        result.rejected[reason] += 1
        log.warning(
            "batch %s: rejected a result line (%s id %r)",
            state.batch_job_id,
            reason,
            custom_id[:64],
        )


# What a workflow's `store` may raise for an answer that cannot be stored: the line is retried.
# (psycopg's own errors come from COPY, which SQLAlchemy does not wrap.)
_STORE_ERRORS = (
    InvalidAnswer,
    DataError,
    IntegrityError,
    psycopg.DataError,
    psycopg.IntegrityError,
    ValueError,
    KeyError,
    TypeError,
)


def _store_answers(
    conn: Connection,
    workflow: Workflow,
    state: JobState,
    answered: Sequence[tuple[ManifestRow, ResultLine]],
) -> list[BaseException | None]:
    """Store every answer; per line, None or the error that made it unusable. Nothing of a line
    whose answer failed is kept (each `store` runs in a savepoint, as does a whole `store_many`)."""
    items = [(request, line.answer, line.model or state.model) for request, line in answered]
    if isinstance(workflow, StoresMany) and len(items) > 1:
        try:
            with conn.begin_nested():
                outcomes = list(workflow.store_many(conn, items))
                if len(outcomes) != len(items):
                    raise RuntimeError(
                        f"{workflow.name}.store_many returned {len(outcomes)} outcomes for "
                        f"{len(items)} answers"
                    )
        except _STORE_ERRORS:
            pass  # the batch write failed: store line by line, so only the culprit fails
        else:
            for error in outcomes:
                if error is not None and not isinstance(error, _STORE_ERRORS):
                    raise error
            return outcomes
    outcomes = []
    for request, answer, model in items:
        savepoint = conn.begin_nested()
        try:
            workflow.store(conn, request, answer, model)
        except _STORE_ERRORS as exc:
            savepoint.rollback()
            outcomes.append(exc)
        else:
            savepoint.commit()
            outcomes.append(None)
    return outcomes


_USAGE_COLUMNS = (
    "provider",
    "provider_batch_id",
    "custom_id",
    "batch_job_id",
    "tenant_id",
    "vertical",
    "agent_id",
    "workflow",
    "model",
    "mode",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "ledger_date",
    "occurred_at",
)


def _insert_usage_rows(
    conn: Connection,
    state: JobState,
    answered: Sequence[tuple[ManifestRow, ResultLine]],
    result: IngestResult,
) -> None:
    """The lines' `llm_usage` rows with one COPY; if one is already there (the same provider
    line ingested before), with one INSERT that leaves those as they are and does not count them
    again."""
    provider, batch_id, job_id = state.provider, state.provider_batch_id, state.batch_job_id
    mode, model, occurred_at = state.mode, state.model, state.occurred_at
    rows = [
        (
            provider,
            batch_id,
            request.custom_id,
            job_id,
            request.tenant_id,
            request.vertical,
            request.agent_id,
            request.workflow,
            line.model or model,
            mode,
            usage.input_tokens,
            usage.cached_input_tokens,
            usage.cache_write_tokens,
            usage.cache_write_1h_tokens,
            usage.output_tokens,
            request.partition_date,
            occurred_at,
        )
        for request, line in answered
        if (usage := line.usage) is not None
    ]
    try:
        with conn.begin_nested():
            copy_rows(conn, "llm_usage", _USAGE_COLUMNS, rows)
        counted = answered
    except psycopg.errors.UniqueViolation:
        inserted = set(conn.execute(_INSERT_USAGE, _usage_params(state, rows)).scalars())
        counted = [(r, line) for r, line in answered if r.custom_id in inserted]
    result.usage = result.usage + TokenUsage.sum(line.usage for _r, line in counted)
    result.partitions.update((r.partition_date, r.tenant_id) for r, _line in counted)


def _usage_params(state: JobState, rows: Sequence[tuple]) -> dict:
    """`_INSERT_USAGE`'s parameters for rows made for `_USAGE_COLUMNS`."""
    per_row = ("custom_id", "tenant_id", "vertical", "agent_id", "workflow", "model")
    tokens = _USAGE_COLUMNS[10:16]  # the token counts and the ledger date
    return {
        "provider": state.provider,
        "provider_batch_id": state.provider_batch_id,
        "batch_job_id": state.batch_job_id,
        "mode": state.mode,
        "occurred_at": state.occurred_at,
        "rows": orjson.dumps(
            [
                dict(zip(per_row + tokens, (row[2], *row[4:9], *row[10:16]), strict=True))
                for row in rows
            ]
        ).decode(),
    }


# Many rows in one statement of constant text: the rows travel as one JSON document.
_INSERT_USAGE = text(
    """
    INSERT INTO llm_usage (
        provider, provider_batch_id, custom_id, batch_job_id, tenant_id, vertical, agent_id,
        workflow, model, mode, input_tokens, cached_input_tokens, cache_write_tokens,
        cache_write_1h_tokens, output_tokens, ledger_date, occurred_at)
    SELECT
        :provider, :provider_batch_id, u.custom_id, :batch_job_id, u.tenant_id, u.vertical,
        u.agent_id, u.workflow, u.model, :mode, u.input_tokens, u.cached_input_tokens,
        u.cache_write_tokens, u.cache_write_1h_tokens, u.output_tokens, u.ledger_date,
        CAST(:occurred_at AS timestamptz)
    FROM json_to_recordset(CAST(:rows AS json)) AS u (
        custom_id text, tenant_id text, vertical text, agent_id text, workflow text, model text,
        input_tokens bigint, cached_input_tokens bigint, cache_write_tokens bigint,
        cache_write_1h_tokens bigint, output_tokens bigint, ledger_date date)
    ON CONFLICT (provider, provider_batch_id, custom_id) DO NOTHING
    RETURNING custom_id
    """
)
