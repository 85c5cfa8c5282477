"""Ingest: stream a finished batch's results into results, usage rows and the manifest.

Lines are read one at a time from the provider's files and applied in chunks, one transaction per
chunk; each line's result and its `llm_usage` row commit together. A line is attributed only if its
custom id is in this job's manifest with a matching signature; anything else (unknown, forged, from
another batch) is counted, logged and attributed to no one. Ingesting the same file twice changes
nothing: a request that is no longer `submitted` is skipped, and `llm_usage` is unique on
(provider, provider_batch_id, custom_id). Failed, expired and cancelled lines, invalid answers and
lines missing from the files are retried alone or dead-lettered; if the job missed its deadline,
they are sent through the synchronous API instead, and their usage rows say `mode = 'sync'`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields

import orjson
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import DataError, IntegrityError

from batch_pipelines.batching import custom_ids, manifest
from batch_pipelines.batching.planning import Checkpoint, spool_dir
from batch_pipelines.batching.submission import provider_for_job
from batch_pipelines.batching.workflow import InvalidAnswer, ManifestRow, Rendered, Workflow
from batch_pipelines.db.tables import batch_jobs, batch_requests
from batch_pipelines.ledger.usage import TokenUsage
from batch_pipelines.providers.base import BatchProvider, ResultLine
from batch_pipelines.providers.registry import ProviderRegistry

log = logging.getLogger(__name__)
CHUNK_LINES = 500


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
    dead_lettered: int = 0
    sent_sync: int = 0
    rejected: Counter = field(default_factory=Counter)  # unknown / forged / other_batch / duplicate
    usage: TokenUsage = field(default_factory=TokenUsage)
    partitions: set[tuple[dt.date, str]] = field(default_factory=set)

    def add(self, other: IngestResult) -> None:
        for name in ("lines", "succeeded", "invalid_answers", "failed_lines", "missing"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.retried += other.retried
        self.dead_lettered += other.dead_lettered
        self.usage = self.usage + other.usage
        self.partitions |= other.partitions
        self.rejected.update(other.rejected)


@dataclass
class _Job:
    """What applying lines needs to know about the job they belong to."""

    batch_job_id: str
    provider: str
    provider_batch_id: str
    mode: str
    model: str
    occurred_at: dt.datetime
    requests: dict[str, ManifestRow]
    statuses: dict[str, str]


def ingest_job(
    engine: Engine,
    workflow: Workflow,
    providers: ProviderRegistry,
    batch_job_id: str,
    *,
    checkpoint: Checkpoint | None = None,
    now: dt.datetime | None = None,
) -> IngestResult:
    """Ingest one ended job. Safe to run twice or concurrently: the second waits, then finds it done."""
    now = now or manifest.utcnow()
    result = IngestResult(batch_job_id)
    with manifest.job_lock(engine, f"ingest:{batch_job_id}", wait=True):
        with engine.begin() as conn:
            job = manifest.job_row(conn, batch_job_id, for_update=True)
            if job is None:
                raise LookupError(f"no batch job {batch_job_id}")
            if job.status == "ingested":
                result.already_ingested = True
                return result
            if job.status != "ended":
                raise RuntimeError(f"batch job {batch_job_id} is {job.status}, not ended")
            manifest.update_job(
                conn, batch_job_id, ingest_attempt=job.ingest_attempt + 1, ingest_started_at=now
            )
            provider = provider_for_job(conn, providers, job)
            state = _load_job_state(conn, job, job.provider_batch_id, now)
        try:
            status = provider.retrieve(job.provider_batch_id)
            deadline_missed = job.deadline_at is not None and now >= job.deadline_at
            late: list[ManifestRow] = []
            for chunk in _chunks(provider.iter_results(status), CHUNK_LINES):
                with engine.begin() as conn:
                    late += _apply_lines(conn, workflow, state, chunk, result, deadline_missed)
                if checkpoint:
                    checkpoint("mid_ingest")
            with engine.begin() as conn:
                late += _fail_missing(conn, workflow, state, result, deadline_missed)
            if late:
                _send_sync(engine, workflow, provider, job, late, result, now)
            with engine.begin() as conn:
                manifest.update_job(
                    conn,
                    batch_job_id,
                    status="ingested",
                    ingested_at=manifest.utcnow(),
                    ingest_started_at=None,
                    provider_usage=dict(status.usage) if status.usage else job.provider_usage,
                )
            # The spooled request lines (rendered prompts, tenant data) are no longer needed.
            (spool_dir() / f"{batch_job_id}.jsonl").unlink(missing_ok=True)
        except BaseException as exc:
            with engine.begin() as conn:
                manifest.update_job(
                    conn, batch_job_id, ingest_started_at=None, error=f"ingest failed: {exc}"
                )
            raise
    return result


def _load_job_state(conn: Connection, job, provider_batch_id: str, now: dt.datetime) -> _Job:
    c = batch_requests.c
    rows = list(
        conn.execute(
            # What a manifest row and the line's status need, not the whole row.
            select(
                c.custom_id,
                c.batch_job_id,
                c.tenant_id,
                c.vertical,
                c.agent_id,
                c.workflow,
                c.item_id,
                c.partition_date,
                c.attempt,
                c.notes,
                c.status,
            ).where(c.batch_job_id == job.batch_job_id)
        )
    )
    return _Job(
        batch_job_id=job.batch_job_id,
        provider=job.provider,
        provider_batch_id=provider_batch_id,
        mode=job.mode,
        model=job.model,
        occurred_at=job.finished_at or now,
        requests={r.custom_id: manifest.manifest_row(r) for r in rows},
        statuses={r.custom_id: r.status for r in rows},
    )


def _chunks(lines: Iterable[ResultLine], size: int) -> Iterable[list[ResultLine]]:
    chunk: list[ResultLine] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _attribute(
    conn: Connection, state: _Job, line: ResultLine, result: IngestResult
) -> ManifestRow | None:
    request = state.requests.get(line.custom_id)
    if request is None:
        known = (
            line.custom_id
            and conn.execute(
                select(batch_requests.c.batch_job_id).where(
                    batch_requests.c.custom_id == line.custom_id
                )
            ).first()
        )
        reason = "other_batch" if known else "unknown"
        result.rejected[reason] += 1
        log.warning(
            "batch %s: rejected a result line (%s id %r)",
            state.batch_job_id,
            reason,
            line.custom_id[:64],
        )
        return None
    if not custom_ids.signature_matches(
        request.custom_id, request.tenant_id, request.workflow, request.item_id, request.attempt
    ):
        result.rejected["forged"] += 1
        log.warning("batch %s: rejected a result line with a bad signature", state.batch_job_id)
        return None
    if state.statuses.get(request.custom_id) != "submitted":
        result.rejected["duplicate"] += 1
        return None
    return request


def _apply_lines(
    conn: Connection,
    workflow: Workflow,
    state: _Job,
    lines: Sequence[ResultLine],
    result: IngestResult,
    deadline_missed: bool,
) -> list[ManifestRow]:
    """Apply a chunk of lines in the caller's transaction, set-based: the chunk's usage rows in
    one statement, its answers stored together where the workflow has `store_many` (one line at
    a time otherwise, or when the batch write fails), its statuses in one update."""
    late: list[ManifestRow] = []
    late_failed: list[tuple[str, str]] = []
    failures: list[tuple[ManifestRow, str]] = []
    answered: list[tuple[ManifestRow, ResultLine]] = []
    for line in lines:
        result.lines += 1
        request = _attribute(conn, state, line, result)
        if request is None:
            continue
        state.statuses[request.custom_id] = "done"
        if line.outcome == "succeeded" and line.usage is not None and line.answer is not None:
            answered.append((request, line))
            continue
        result.failed_lines += 1
        reason = f"{line.outcome}: {line.error or 'no detail'}"
        if deadline_missed:
            late_failed.append((request.custom_id, reason))
            late.append(request)
        else:
            failures.append((request, reason))
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
            failures.append((request, f"invalid answer: {error}"))
        manifest.set_request_status(conn, succeeded, "succeeded")
        result.succeeded += len(succeeded)
    manifest.set_request_statuses(conn, "failed", late_failed)
    _fail_many(conn, workflow, failures, result)
    return late


# What a workflow's `store` may raise for an answer that cannot be stored: the line is retried.
_STORE_ERRORS = (InvalidAnswer, DataError, IntegrityError, ValueError, KeyError, TypeError)


def _store_answers(
    conn: Connection,
    workflow: Workflow,
    state: _Job,
    answered: Sequence[tuple[ManifestRow, ResultLine]],
) -> list[BaseException | None]:
    """Store every answer; per line, None or the error that made it unusable. Nothing of a line
    whose answer failed is kept (each `store` runs in a savepoint, as does a whole `store_many`)."""
    items = [(request, line.answer, line.model or state.model) for request, line in answered]
    store_many = getattr(workflow, "store_many", None)
    if store_many is not None and len(items) > 1:
        savepoint = conn.begin_nested()
        try:
            outcomes = list(store_many(conn, items))
        except _STORE_ERRORS:
            # The batch write failed: store line by line, so only the culprit fails.
            savepoint.rollback()
        else:
            savepoint.commit()
            if len(outcomes) != len(items):
                raise RuntimeError(
                    f"{workflow.name}.store_many returned {len(outcomes)} outcomes for "
                    f"{len(items)} answers"
                )
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


def _fail_many(
    conn: Connection,
    workflow: Workflow,
    failures: Sequence[tuple[ManifestRow, str]],
    result: IngestResult,
) -> None:
    """`_fail` for many lines in a few statements."""
    for outcome in manifest.fail_requests(conn, failures, workflow.max_attempts):
        if outcome == "retry":
            result.retried += 1
        else:
            result.dead_lettered += 1


def _insert_usage_rows(
    conn: Connection,
    state: _Job,
    answered: Sequence[tuple[ManifestRow, ResultLine]],
    result: IngestResult,
) -> None:
    """The lines' `llm_usage` rows in one statement; a row already there (the same provider line
    ingested before) is left as it is and not counted again."""
    rows = [
        {
            "custom_id": request.custom_id,
            "tenant_id": request.tenant_id,
            "vertical": request.vertical,
            "agent_id": request.agent_id,
            "workflow": request.workflow,
            "model": line.model or state.model,
            "input_tokens": line.usage.input_tokens,
            "cached_input_tokens": line.usage.cached_input_tokens,
            "cache_write_tokens": line.usage.cache_write_tokens,
            "cache_write_1h_tokens": line.usage.cache_write_1h_tokens,
            "output_tokens": line.usage.output_tokens,
            "ledger_date": request.partition_date,
        }
        for request, line in answered
    ]
    params = {
        "provider": state.provider,
        "provider_batch_id": state.provider_batch_id,
        "batch_job_id": state.batch_job_id,
        "mode": state.mode,
        "occurred_at": state.occurred_at,
        "rows": orjson.dumps(rows).decode(),
    }
    inserted = set(conn.execute(_INSERT_USAGE, params).scalars())
    if not inserted:
        return
    totals = dict.fromkeys(_USAGE_FIELDS, 0)
    for request, line in answered:
        if request.custom_id in inserted:
            for name in _USAGE_FIELDS:
                totals[name] += getattr(line.usage, name)
            result.partitions.add((request.partition_date, request.tenant_id))
    result.usage = result.usage + TokenUsage(**totals)


_USAGE_FIELDS = tuple(f.name for f in dataclass_fields(TokenUsage))
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


def _fail_missing(
    conn: Connection, workflow: Workflow, state: _Job, result: IngestResult, deadline_missed: bool
) -> list[ManifestRow]:
    """Requests the provider returned nothing for: retried like failed lines."""
    reason = "missing: the provider returned no result for this request"
    missing = [custom_id for custom_id, status in state.statuses.items() if status == "submitted"]
    for custom_id in missing:
        state.statuses[custom_id] = "done"
    result.missing += len(missing)
    if deadline_missed:
        manifest.set_request_status(conn, missing, "failed", error=reason)
        return [state.requests[custom_id] for custom_id in missing]
    _fail_many(conn, workflow, [(state.requests[c], reason) for c in missing], result)
    return []


def _send_sync(
    engine: Engine,
    workflow: Workflow,
    provider: BatchProvider,
    job,
    late: Sequence[ManifestRow],
    result: IngestResult,
    now: dt.datetime,
) -> None:
    """The deadline passed: what the batch did not finish goes through the synchronous API, at full
    price, as a job of its own (`mode = 'sync'`)."""
    sync_job_id = manifest.new_batch_job_id()
    with engine.begin() as conn:
        conn.execute(
            batch_jobs.insert().values(
                batch_job_id=sync_job_id,
                workflow=job.workflow,
                provider=job.provider,
                mode="sync",
                model=job.model,
                endpoint=job.endpoint,
                credentials_ref=job.credentials_ref,
                status="submitted",
                provider_batch_id=f"sync-{sync_job_id}",
                request_count=len(late),
                partitions=manifest.partitions_of(late),
                submitted_at=now,
            )
        )
        retries = manifest.insert_pending(
            conn,
            workflow,
            [manifest.NewRequest(manifest.work_item(r), r.vertical, r.attempt + 1) for r in late],
        )
        manifest.set_request_status(
            conn, [r.custom_id for r in retries], "submitted", batch_job_id=sync_job_id
        )
        tenants = manifest.load_tenants(conn, {r.tenant_id for r in retries})
        rendered = {
            o.item.item_id: o
            for o in workflow.render(conn, [manifest.work_item(r) for r in retries], tenants)
        }
    lines = []
    for request in retries:
        outcome = rendered.get(request.item_id)
        if isinstance(outcome, Rendered):
            lines.append(
                provider.complete_sync(request.custom_id, job.model, job.endpoint, outcome.prompt)
            )
    with engine.begin() as conn:
        state = _Job(
            batch_job_id=sync_job_id,
            provider=job.provider,
            provider_batch_id=f"sync-{sync_job_id}",
            mode="sync",
            model=job.model,
            occurred_at=manifest.utcnow(),
            requests={r.custom_id: r for r in retries},
            statuses={r.custom_id: "submitted" for r in retries},
        )
        sync_result = IngestResult(sync_job_id)
        _apply_lines(conn, workflow, state, lines, sync_result, deadline_missed=False)
        _fail_missing(conn, workflow, state, sync_result, deadline_missed=False)
        manifest.update_job(
            conn,
            sync_job_id,
            status="ingested",
            finished_at=manifest.utcnow(),
            ingested_at=manifest.utcnow(),
        )
    result.sent_sync += len(lines)
    result.add(sync_result)
