"""Ingest: stream a finished batch's results into results, usage rows and the manifest.

Lines are read one at a time from the provider's files (never a whole file in memory) and applied
in chunks, one transaction per chunk: each line's result, its `llm_usage` row and its manifest
status commit together. This thread reads, parses and attributes the lines while up to `WRITERS`
earlier chunks are written, each on a connection of its own (COPY for the result and usage rows,
one statement for the statuses). A line is attributed only if its custom id is in this job's
manifest with a matching signature; anything else (unknown, forged, from another batch) is
counted, logged and attributed to no one. Ingesting the same file twice changes nothing: a request
that is no longer `submitted` is skipped, and `llm_usage` is unique on (provider,
provider_batch_id, custom_id). Failed, expired and cancelled lines, invalid answers and lines
missing from the files are retried alone or dead-lettered; if the job missed its deadline, they
are sent through the synchronous API instead, and their usage rows say `mode = 'sync'`.

Crash safety: a chunk commits whole or not at all, in any order relative to the chunks written
beside it, so an ingest stopped anywhere is re-run from the file and applies exactly the lines
whose chunk did not commit. The chunks (and the job's bookkeeping before them) commit without
waiting for the disk (`synchronous_commit = off`); the commit that marks the job `ingested` waits,
and so makes all of them durable at once. A server crash before it loses only work that the re-run
redoes: the job is still `ended`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
import threading
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import orjson
import psycopg
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DataError, IntegrityError

from batch_pipelines.batching import custom_ids, manifest
from batch_pipelines.batching.planning import Checkpoint, spool_dir
from batch_pipelines.batching.submission import provider_for_job
from batch_pipelines.batching.workflow import (
    InvalidAnswer,
    ManifestRow,
    Rendered,
    StoresMany,
    Workflow,
)
from batch_pipelines.core.usage import TokenUsage
from batch_pipelines.db.bulk import copy_rows, set_async_commit
from batch_pipelines.db.tables import batch_jobs
from batch_pipelines.providers.base import BatchProvider, ResultLine
from batch_pipelines.providers.registry import ProviderRegistry

log = logging.getLogger(__name__)
CHUNK_LINES = 500  # lines per transaction
WRITERS = 3  # chunks written at once, each on its own connection, while the next one is read


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


@dataclass
class _Chunk:
    """Lines read and attributed by the reader, to be applied in one transaction."""

    lines: int = 0
    answered: list[tuple[ManifestRow, ResultLine]] = field(default_factory=list)
    failed: list[tuple[ManifestRow, str]] = field(default_factory=list)  # with the reason
    unattributed: list[str] = field(default_factory=list)  # ids not in this job's manifest
    forged: int = 0
    duplicate: int = 0


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
    with _old_objects_frozen(), manifest.job_lock(engine, f"ingest:{batch_job_id}", wait=True):
        with engine.begin() as conn:
            set_async_commit(conn)  # made durable by the final commit, like the chunks
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
            late = _write_results(
                engine,
                workflow,
                state,
                provider.iter_results(status),
                result,
                deadline_missed,
                checkpoint,
            )
            with engine.begin() as conn:
                set_async_commit(conn)
                late += _fail_missing(conn, workflow, state, result, deadline_missed)
            if late:
                _send_sync(engine, workflow, provider, job, late, result, now)
            # A synchronous commit: every commit of this ingest is on disk once it returns.
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


@contextlib.contextmanager
def _old_objects_frozen() -> Iterator[None]:
    """Keep the objects that existed before the ingest out of the cyclic garbage collector's
    full collections while it runs (`gc.freeze`), and hand them back after (`gc.unfreeze`).
    Ingest allocates several objects per line, which triggers full collections; each one would
    otherwise scan every object of the process (hundreds of milliseconds in a Dagster worker).
    Nothing is leaked: the frozen objects are collectable again afterwards."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


# What the reader needs of a job's manifest rows, in `ManifestRow` order, then the status (the
# notes as JSON text: orjson parses them faster than the driver's JSON loader).
_JOB_REQUESTS = text(
    """
    SELECT custom_id, batch_job_id, tenant_id, vertical, agent_id, workflow, item_id,
           partition_date, attempt, CAST(notes AS text), status
    FROM batch_requests WHERE batch_job_id = :batch_job_id
    """
)


def _load_job_state(conn: Connection, job, provider_batch_id: str, now: dt.datetime) -> _Job:
    requests: dict[str, ManifestRow] = {}
    statuses: dict[str, str] = {}
    loads = orjson.loads
    rows = conn.execute(_JOB_REQUESTS, {"batch_job_id": job.batch_job_id}).all()
    for custom_id, *fields, notes, status in rows:
        requests[custom_id] = ManifestRow(custom_id, *fields, loads(notes) if notes else {})
        statuses[custom_id] = status
    return _Job(
        batch_job_id=job.batch_job_id,
        provider=job.provider,
        provider_batch_id=provider_batch_id,
        mode=job.mode,
        model=job.model,
        occurred_at=job.finished_at or now,
        requests=requests,
        statuses=statuses,
    )


def _read_chunks(lines: Iterable[ResultLine], state: _Job, size: int) -> Iterator[_Chunk]:
    """Attribute each line to this job's manifest row (in this thread: it alone tracks which
    requests have had their line) and cut them into chunks of `size` lines."""
    requests, statuses = state.requests, state.statuses
    signed = custom_ids.signature_matches
    chunk = _Chunk()
    for line in lines:
        chunk.lines += 1
        request = requests.get(line.custom_id)
        if request is None:
            chunk.unattributed.append(line.custom_id)
        elif not signed(
            request.custom_id, request.tenant_id, request.workflow, request.item_id, request.attempt
        ):
            chunk.forged += 1
            log.warning("batch %s: rejected a result line with a bad signature", state.batch_job_id)
        elif statuses.get(request.custom_id) != "submitted":
            chunk.duplicate += 1
        else:
            statuses[request.custom_id] = "done"
            if line.outcome == "succeeded" and line.usage is not None and line.answer is not None:
                chunk.answered.append((request, line))
            else:
                chunk.failed.append((request, f"{line.outcome}: {line.error or 'no detail'}"))
        if chunk.lines >= size:
            yield chunk
            chunk = _Chunk()
    if chunk.lines:
        yield chunk


def _write_results(
    engine: Engine,
    workflow: Workflow,
    state: _Job,
    lines: Iterable[ResultLine],
    result: IngestResult,
    deadline_missed: bool,
    checkpoint: Checkpoint | None,
) -> list[ManifestRow]:
    """Read the lines here and write them chunk by chunk on up to `WRITERS` connections at once
    (at most `WRITERS` chunks in flight, plus the one being read). The chunks' statements run in
    parallel but they commit in file order, each after the one before it: however the ingest
    stops, what it committed is a prefix of the file's chunks. On any failure no new chunk
    starts, the chunks in flight roll back and the failure is raised. Returns the requests to
    send synchronously (deadline missed)."""
    late: list[ManifestRow] = []
    # Closed on the way out whatever happens: closes the provider's download stream.
    with contextlib.closing(_read_chunks(lines, state, CHUNK_LINES)) as chunks:
        if WRITERS <= 1:
            for chunk in chunks:
                outcome = _write_chunk(engine, workflow, state, chunk, deadline_missed)
                if checkpoint:
                    checkpoint("mid_ingest")
                result.add(outcome[0])
                late += outcome[1]
        else:
            for chunk_result, chunk_late in _write_in_parallel(
                engine, workflow, state, chunks, deadline_missed, checkpoint
            ):
                result.add(chunk_result)
                late += chunk_late
    return late


class _Stopped(Exception):
    """The ingest stopped before this chunk's turn to commit: it rolls back."""


def _write_in_parallel(
    engine: Engine,
    workflow: Workflow,
    state: _Job,
    chunks: Iterator[_Chunk],
    deadline_missed: bool,
    checkpoint: Checkpoint | None,
) -> Iterator[tuple[IngestResult, list[ManifestRow]]]:
    stop = threading.Event()
    previous = threading.Event()
    previous.set()  # the first chunk commits when it is ready
    pending: deque[Future[tuple[IngestResult, list[ManifestRow]]]] = deque()
    with ThreadPoolExecutor(WRITERS, thread_name_prefix="ingest-writer") as pool:
        try:
            for chunk in chunks:
                while pending and (len(pending) >= WRITERS or pending[0].done()):
                    yield pending.popleft().result()
                committed = threading.Event()
                pending.append(
                    pool.submit(
                        _write_chunk,
                        engine,
                        workflow,
                        state,
                        chunk,
                        deadline_missed,
                        turn=(previous, committed, stop, checkpoint),
                    )
                )
                previous = committed
            while pending:
                yield pending.popleft().result()
        except BaseException:
            stop.set()  # the chunks waiting for their turn roll back
            for future in pending:
                future.cancel()
            raise


def _write_chunk(
    engine: Engine,
    workflow: Workflow,
    state: _Job,
    chunk: _Chunk,
    deadline_missed: bool,
    turn: tuple[threading.Event, threading.Event, threading.Event, Checkpoint | None] | None = None,
) -> tuple[IngestResult, list[ManifestRow]]:
    """One chunk in one transaction of its own. With `turn` (a writer thread's chunk): commit
    only once the chunk before it committed, unless the ingest stopped meanwhile; then pass the
    checkpoint and let the next chunk commit."""
    result = IngestResult(state.batch_job_id)
    with engine.begin() as conn:
        set_async_commit(conn)
        late = _apply_chunk(conn, workflow, state, chunk, result, deadline_missed)
        if turn is not None:
            previous, _committed, stop, _checkpoint = turn
            while not previous.wait(0.05):
                if stop.is_set():
                    raise _Stopped
            if stop.is_set():
                raise _Stopped
    if turn is not None:
        _previous, committed, _stop, checkpoint = turn
        if checkpoint:
            checkpoint("mid_ingest")
        committed.set()
    return result, late


def _apply_lines(
    conn: Connection,
    workflow: Workflow,
    state: _Job,
    lines: Sequence[ResultLine],
    result: IngestResult,
    deadline_missed: bool,
) -> list[ManifestRow]:
    """Attribute and apply `lines` in the caller's transaction, as one chunk."""
    late: list[ManifestRow] = []
    for chunk in _read_chunks(lines, state, max(1, len(lines))):
        late += _apply_chunk(conn, workflow, state, chunk, result, deadline_missed)
    return late


def _apply_chunk(
    conn: Connection,
    workflow: Workflow,
    state: _Job,
    chunk: _Chunk,
    result: IngestResult,
    deadline_missed: bool,
) -> list[ManifestRow]:
    """Apply a chunk in the caller's transaction, set-based: its usage rows with one COPY, its
    answers stored together where the workflow `StoresMany` (one line at a time otherwise, or
    when the batch write fails), its statuses in one update."""
    result.lines += chunk.lines
    if chunk.forged:
        result.rejected["forged"] += chunk.forged
    if chunk.duplicate:
        result.rejected["duplicate"] += chunk.duplicate
    if chunk.unattributed:
        _reject_unattributed(conn, state, chunk.unattributed, result)
    late: list[ManifestRow] = []
    late_failed: list[tuple[str, str]] = []
    failures: list[tuple[ManifestRow, str]] = []
    for request, reason in chunk.failed:
        result.failed_lines += 1
        if deadline_missed:
            late_failed.append((request.custom_id, reason))
            late.append(request)
        else:
            failures.append((request, reason))
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
            failures.append((request, f"invalid answer: {error}"))
        manifest.set_request_status(conn, succeeded, "succeeded")
        result.succeeded += len(succeeded)
    manifest.set_request_statuses(conn, "failed", late_failed)
    _fail_many(conn, workflow, failures, result)
    return late


_KNOWN_IDS = text(
    "SELECT custom_id FROM batch_requests WHERE custom_id = ANY(CAST(:ids AS text[]))"
)


def _reject_unattributed(
    conn: Connection, state: _Job, ids: Sequence[str], result: IngestResult
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
    state: _Job,
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
    state: _Job,
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


def _usage_params(state: _Job, rows: Sequence[tuple]) -> dict:
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
        retries = manifest.new_requests(
            workflow.name,
            [manifest.NewRequest(manifest.work_item(r), r.vertical, r.attempt + 1) for r in late],
        )
        manifest.insert_requests(
            conn,
            (
                manifest.RequestState(r, status="submitted", batch_job_id=sync_job_id)
                for r in retries
            ),
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
