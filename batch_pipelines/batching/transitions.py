"""Every change of a job's or a request's state, by name: the only module that writes `batch_jobs`,
the statuses of `batch_requests` and the queued lines of `request_lines`.

Each transition runs in the caller's transaction. Conditional ones (`mark_submitting`,
`mark_ended` …) say whether they moved the row: two workers racing on one job both call them, one
wins. Retry bounds (shared/reference/batch-apis.md, corrections 2026-12-01; DESIGN.md §5):

- a line that never ran (expired, cancelled) goes back to pending without using an attempt, and is
  dead-lettered only after `MAX_REQUEUES` requeues or `NEVER_RAN_FOR` since it was first planned;
- a transient failure takes an attempt, dead letter after the workflow's maximum;
- a permanent failure (invalid request, other 4xx) is dead-lettered at once;
- a request whose batches failed as a whole `MAX_BATCH_FAILURES` times is dead-lettered with the
  batch's errors; before that a failed batch's requests back off, from `BATCH_BACKOFF_FIRST`
  doubling up to `BATCH_BACKOFF_MAX` (a token-limit failure waits for admission instead).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
import psycopg
from sqlalchemy import (
    Connection,
    DateTime,
    Integer,
    bindparam,
    cast,
    delete,
    func,
    select,
    text,
    update,
)

from batch_pipelines.batching import custom_ids
from batch_pipelines.batching.jobs import SYNC, JobRecord
from batch_pipelines.batching.manifest import any_of
from batch_pipelines.batching.workflow import ManifestRow, WorkItem
from batch_pipelines.db.statuses import Attention, JobStatus, RequestStatus
from batch_pipelines.db.tables import batch_jobs, batch_requests, request_lines
from batch_pipelines.providers.base import BatchStatus, FailureKind

MAX_REQUEUES = 5
NEVER_RAN_FOR = dt.timedelta(hours=72)
MAX_BATCH_FAILURES = 5
BATCH_BACKOFF_FIRST = dt.timedelta(minutes=2)
BATCH_BACKOFF_MAX = dt.timedelta(hours=1)
# A job parked because the provider refused its key (401/403) is tried again this often: a
# rotated key resumes it without a person having to find the job.
REFUSED_KEY_RECHECK = dt.timedelta(minutes=30)


def batch_backoff(failures: int) -> dt.timedelta:
    """How long a request waits after its batches failed as a whole `failures` times."""
    return min(BATCH_BACKOFF_FIRST * 2 ** max(0, failures - 1), BATCH_BACKOFF_MAX)


# --- new requests -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewRequest:
    """An item to write a manifest row for, with the retry counts it carries on."""

    item: WorkItem
    vertical: str
    attempt: int = 1
    requeues: int = 0
    batch_failures: int = 0
    first_planned_at: dt.datetime | None = None


def new_requests(workflow: str, new: Sequence[NewRequest]) -> list[ManifestRow]:
    """Manifest rows of workflow `workflow` for new items (or retries), each with a fresh signed
    id; nothing is written (`insert_requests` writes them, in the state each is given)."""
    ids = custom_ids.new_custom_ids(
        workflow, [(r.item.tenant_id, r.item.item_id, r.attempt) for r in new]
    )
    return [
        ManifestRow(
            custom_id=custom_id,
            batch_job_id=None,
            tenant_id=r.item.tenant_id,
            vertical=r.vertical,
            agent_id=r.item.agent_id,
            workflow=workflow,
            item_id=r.item.item_id,
            partition_date=r.item.partition_date,
            attempt=r.attempt,
            notes={},
            requeues=r.requeues,
            batch_failures=r.batch_failures,
            first_planned_at=r.first_planned_at,
        )
        for custom_id, r in zip(ids, new, strict=True)
    ]


def successor(request: ManifestRow, *, attempt: int, requeues: int) -> NewRequest:
    """The item's next request after `request`, carrying its counts on."""
    return NewRequest(
        WorkItem(request.item_id, request.tenant_id, request.partition_date, request.agent_id),
        request.vertical,
        attempt=attempt,
        requeues=requeues,
        batch_failures=request.batch_failures,
        first_planned_at=request.first_planned_at,
    )


@dataclass
class RequestState:
    """A manifest row not written yet and the state it will be written in (`insert_requests`)."""

    row: ManifestRow
    status: RequestStatus = RequestStatus.PENDING
    error: str | None = None
    batch_job_id: str | None = None
    notes: Mapping[str, Any] | None = None
    estimated_cost_micro_usd: Decimal = Decimal(0)
    planned_at: dt.datetime | None = None
    cache_prefix: str | None = None
    cache_breakpoints: int | None = None


_REQUEST_COLUMNS = (
    "custom_id",
    "batch_job_id",
    "tenant_id",
    "vertical",
    "agent_id",
    "workflow",
    "item_id",
    "partition_date",
    "attempt",
    "requeues",
    "batch_failures",
    "first_planned_at",
    "status",
    "error",
    "estimated_cost_micro_usd",
    "notes",
    "cache_prefix",
    "cache_breakpoints",
)
_COPY_REQUESTS = f"COPY batch_requests ({', '.join(_REQUEST_COLUMNS)}) FROM STDIN"


def insert_requests(conn: Connection, states: Iterable[RequestState]) -> int:
    """Write new manifest rows, each in its given state, in one COPY (one JSON document where the
    driver is not psycopg 3). `created_at` and `updated_at` are the transaction's time, as with
    an insert followed by updates in the same transaction. Returns the number of rows."""

    def values(s: RequestState) -> tuple:
        r = s.row
        return (
            r.custom_id,
            s.batch_job_id,
            r.tenant_id,
            r.vertical,
            r.agent_id,
            r.workflow,
            r.item_id,
            r.partition_date,
            r.attempt,
            r.requeues,
            r.batch_failures,
            r.first_planned_at or s.planned_at,
            s.status.value,
            s.error,
            s.estimated_cost_micro_usd,
            orjson.dumps(s.notes).decode() if s.notes else "{}",
            s.cache_prefix,
            s.cache_breakpoints,
        )

    raw = conn.connection.driver_connection
    count = 0
    if isinstance(raw, psycopg.Connection):
        with raw.cursor() as cursor, cursor.copy(_COPY_REQUESTS) as copy:
            for state in states:
                copy.write_row(values(state))
                count += 1
        return count
    rows = [dict(zip(_REQUEST_COLUMNS, values(s), strict=True)) for s in states]
    if rows:
        for row in rows:
            row["estimated_cost_micro_usd"] = str(row["estimated_cost_micro_usd"])
            if row["first_planned_at"] is not None:
                row["first_planned_at"] = row["first_planned_at"].isoformat()
        conn.execute(_INSERT_REQUESTS, {"rows": orjson.dumps(rows).decode()})
    return len(rows)


_INSERT_REQUESTS = text(
    f"""
    INSERT INTO batch_requests ({", ".join(_REQUEST_COLUMNS)})
    SELECT {", ".join(_REQUEST_COLUMNS)}
    FROM json_to_recordset(CAST(:rows AS json)) AS r (
        custom_id text, batch_job_id text, tenant_id text, vertical text, agent_id text,
        workflow text, item_id text, partition_date date, attempt integer, requeues integer,
        batch_failures integer, first_planned_at timestamptz, status text, error text,
        estimated_cost_micro_usd numeric, notes jsonb, cache_prefix text,
        cache_breakpoints smallint)
    """
)

# --- request outcomes ---------------------------------------------------------------------------


def _set_status(
    conn: Connection, status: RequestStatus, errors: Sequence[tuple[str, str | None]]
) -> None:
    """`status` for many requests, each with its own error text, in one statement."""
    if not errors:
        return
    conn.execute(
        _SET_STATUSES,
        {
            "status": status.value,
            "rows": orjson.dumps([{"custom_id": c, "error": e} for c, e in errors]).decode(),
        },
    )


_SET_STATUSES = text(
    """
    UPDATE batch_requests AS b SET status = :status, error = r.error, updated_at = now()
    FROM json_to_recordset(CAST(:rows AS json)) AS r (custom_id text, error text)
    WHERE b.custom_id = r.custom_id
    """
)


def skip_requests(conn: Connection, reasons: Sequence[tuple[str, str]]) -> None:
    """Items that need no model call, each with why."""
    _set_status(conn, RequestStatus.SKIPPED, reasons)


def dead_letter_requests(conn: Connection, reasons: Sequence[tuple[str, str]]) -> None:
    """Requests given up on, each with a reason a person can act on."""
    _set_status(conn, RequestStatus.DEAD_LETTER, reasons)


def succeed_requests(conn: Connection, request_ids: Sequence[str]) -> None:
    if request_ids:
        conn.execute(
            update(batch_requests)
            .where(batch_requests.c.custom_id == any_of(request_ids))
            .values(status=RequestStatus.SUCCEEDED, error=None, updated_at=func.now())
        )


def hold_requests(conn: Connection, held: Sequence[tuple[str, Decimal, str]]) -> None:
    """Kept back (the tenant's budget): each with the estimate that did not fit and why."""
    if not held:
        return
    rows = [{"custom_id": c, "cost": str(cost), "error": reason} for c, cost, reason in held]
    conn.execute(_HOLD, {"status": RequestStatus.HELD.value, "rows": orjson.dumps(rows).decode()})


# held_since is kept by a trigger (migration 0006): set when a row becomes held, kept while held.
_HOLD = text(
    """
    UPDATE batch_requests AS b
    SET status = :status, error = r.error, updated_at = now(), estimated_cost_micro_usd = r.cost
    FROM json_to_recordset(CAST(:rows AS json)) AS r (custom_id text, cost numeric, error text)
    WHERE b.custom_id = r.custom_id
    """
)


def queue_written_requests(
    conn: Connection, queued: Sequence[tuple[str, Mapping[str, Any], Decimal, str | None]]
) -> None:
    """Written requests (retries, requeues, released holds) rendered again and queued: (custom
    id, rendering notes, cost estimate, cache prefix) each, in one statement. Their lines go to
    `request_lines` (`insert_request_lines`)."""
    if not queued:
        return
    conn.execute(
        _MARK_QUEUED,
        {
            "status": RequestStatus.QUEUED.value,
            # The notes serialised as a JSONB parameter would be.
            "rows": orjson.dumps(
                [
                    {"custom_id": custom_id, "notes": notes, "cost": str(cost), "prefix": prefix}
                    for custom_id, notes, cost, prefix in queued
                ]
            ).decode(),
        },
    )


# Set-based updates of many manifest rows, each with its own values: the rows travel as one JSON
# document, so a shard of 45,000 requests is one statement, not 45,000.
_MARK_QUEUED = text(
    """
    UPDATE batch_requests AS b
    SET status = :status, batch_job_id = NULL, notes = r.notes, estimated_cost_micro_usd = r.cost,
        error = NULL, not_before = NULL, cache_prefix = r.prefix, cache_breakpoints = NULL,
        updated_at = now()
    FROM json_to_recordset(CAST(:rows AS json)) AS r (
        custom_id text, notes jsonb, cost numeric, prefix text)
    WHERE b.custom_id = r.custom_id
    """
)


@dataclass(frozen=True)
class QueuedLine:
    """A queued request's rendered line and the group it pools in (`request_lines`)."""

    custom_id: str
    workflow: str
    provider: str
    credentials_ref: str
    model: str
    endpoint: str
    prefix_key: str
    embedding_inputs: int
    cache_keys: Sequence[str]
    breakpoints: int
    line: bytes


_LINE_COLUMNS = (
    "custom_id",
    "workflow",
    "provider",
    "credentials_ref",
    "model",
    "endpoint",
    "prefix_key",
    "embedding_inputs",
    "cache_keys",
    "breakpoints",
    "nbytes",
    "line",
    "queued_at",
)
_LINE_TYPES = ("text",) * 7 + ("int4", "text[]", "int2", "int4", "bytea", "timestamptz")
_COPY_LINES = f"COPY request_lines ({', '.join(_LINE_COLUMNS)}) FROM STDIN (FORMAT BINARY)"


def insert_request_lines(
    conn: Connection,
    lines: Iterable[QueuedLine],
    queued_at: dt.datetime,
    *,
    replacing: Sequence[str] = (),
) -> int:
    """Store queued lines (their requests' rows already written in this transaction), streamed
    in one binary COPY; the lines of `replacing` (requests queued again with the same id, after a
    batch that failed as a whole) are deleted first. Returns the number of lines."""
    if replacing:
        conn.execute(delete(request_lines).where(request_lines.c.custom_id == any_of(replacing)))

    def values(ln: QueuedLine) -> tuple:
        return (
            ln.custom_id,
            ln.workflow,
            ln.provider,
            ln.credentials_ref,
            ln.model,
            ln.endpoint,
            ln.prefix_key,
            ln.embedding_inputs,
            list(ln.cache_keys),
            ln.breakpoints,
            len(ln.line),
            ln.line,
            queued_at,
        )

    raw = conn.connection.driver_connection
    count = 0
    if isinstance(raw, psycopg.Connection):
        with raw.cursor() as cursor, cursor.copy(_COPY_LINES) as copy:
            copy.set_types(list(_LINE_TYPES))
            for line in lines:
                copy.write_row(values(line))
                count += 1
        return count
    for line in lines:
        conn.execute(
            request_lines.insert().values(dict(zip(_LINE_COLUMNS, values(line), strict=True)))
        )
        count += 1
    return count


def plan_into_job(
    conn: Connection,
    batch_job_id: str,
    custom_ids: Sequence[str],
    now: dt.datetime,
    *,
    breakpoints: Mapping[str, int] | None = None,
) -> None:
    """Queued requests planned into a job, in one statement (and one per number of cache
    breakpoints kept, for the requests of `breakpoints` that drop some: `priming.py`)."""
    if not custom_ids:
        return
    planned = (
        batch_requests.c.custom_id == any_of(custom_ids),
        batch_requests.c.status == RequestStatus.QUEUED,
    )
    conn.execute(
        update(batch_requests)
        .where(*planned)
        .values(
            status=RequestStatus.PLANNED,
            batch_job_id=batch_job_id,
            first_planned_at=func.coalesce(batch_requests.c.first_planned_at, now),
            cache_breakpoints=None,
            updated_at=func.now(),
        )
    )
    by_count: dict[int, list[str]] = {}
    for custom_id, kept in (breakpoints or {}).items():
        by_count.setdefault(kept, []).append(custom_id)
    for kept, ids in sorted(by_count.items()):
        conn.execute(
            update(batch_requests)
            .where(
                batch_requests.c.custom_id == any_of(ids),
                batch_requests.c.batch_job_id == batch_job_id,
            )
            .values(cache_breakpoints=kept)
        )


def replace_request_lines(conn: Connection, lines: Mapping[str, bytes]) -> None:
    """Queued lines re-encoded (fewer cache breakpoints), in place, by custom id: one statement."""
    if not lines:
        return
    conn.execute(
        text(
            """
            UPDATE request_lines AS l SET line = r.line, nbytes = octet_length(r.line)
            FROM unnest(CAST(:ids AS text[]), CAST(:lines AS bytea[])) AS r (custom_id, line)
            WHERE l.custom_id = r.custom_id
            """
        ),
        {"ids": list(lines), "lines": list(lines.values())},
    )


def drop_job_lines(conn: Connection, batch_job_id: str) -> None:
    """A job's lines are no longer needed (it is ingested): they hold tenant data."""
    conn.execute(
        delete(request_lines).where(
            request_lines.c.custom_id.in_(
                select(batch_requests.c.custom_id).where(
                    batch_requests.c.batch_job_id == batch_job_id
                )
            )
        )
    )


# A line is still needed while its request waits to be sent or is at the provider (a batch that
# failed on the token limit is sent again with the very same lines).
_LINE_NEEDED = (RequestStatus.QUEUED, RequestStatus.PLANNED, RequestStatus.SUBMITTED)


def drop_finished_lines(conn: Connection) -> int:
    """Lines whose request went on without them (dead-lettered or failed with its batch, held,
    pending a new rendering): a sweep over `request_lines`, which only holds work in progress."""
    return conn.execute(
        delete(request_lines).where(
            request_lines.c.custom_id == batch_requests.c.custom_id,
            batch_requests.c.status.not_in(_LINE_NEEDED),
        )
    ).rowcount


@dataclass(frozen=True)
class LineFailure:
    """A request whose line did not give a usable answer, of which kind, and why."""

    request: ManifestRow
    kind: FailureKind
    reason: str


@dataclass
class Routed:
    """What became of failed lines."""

    retried: int = 0  # transient: a new attempt
    requeued: int = 0  # never ran: sent again without using an attempt
    dead_lettered: int = 0


def route_failures(
    conn: Connection,
    failures: Sequence[LineFailure],
    max_attempts: int,
    now: dt.datetime,
    *,
    sync_job_id: str | None = None,
) -> Routed:
    """Each failed line by its kind (module docstring): dead-lettered with its reason, or marked
    `failed` with a successor row for the item — pending for a later batch, or (`sync_job_id`,
    a missed deadline) planned into that synchronous job. A few statements whatever the count."""
    routed = Routed()
    if not failures:
        return routed
    dead: list[tuple[str, str]] = []
    failed: list[tuple[str, str]] = []
    follow: list[tuple[ManifestRow, NewRequest, str]] = []
    for failure in failures:
        request, reason = failure.request, failure.reason
        if failure.kind is FailureKind.PERMANENT:
            dead.append((request.custom_id, f"permanent error, not retried: {reason}"))
            continue
        if failure.kind is FailureKind.NOT_RUN:
            first = request.first_planned_at or now
            if request.requeues >= MAX_REQUEUES or now - first >= NEVER_RAN_FOR:
                hours = (now - first).total_seconds() / 3600
                dead.append(
                    (
                        request.custom_id,
                        f"never ran: requeued {request.requeues} times over {hours:.0f} h "
                        f"(bounds: {MAX_REQUEUES} requeues, {NEVER_RAN_FOR.total_seconds() / 3600:.0f} h); "
                        f"last: {reason}",
                    )
                )
                continue
            failed.append((request.custom_id, reason))
            follow.append(
                (
                    request,
                    successor(request, attempt=request.attempt, requeues=request.requeues + 1),
                    f"requeue {request.requeues + 1} of a line that never ran: {reason}",
                )
            )
            routed.requeued += 1
            continue
        if request.attempt >= max_attempts:
            dead.append((request.custom_id, f"gave up after {request.attempt} attempts: {reason}"))
            continue
        failed.append((request.custom_id, reason))
        follow.append(
            (
                request,
                successor(request, attempt=request.attempt + 1, requeues=request.requeues),
                f"retry of attempt {request.attempt}: {reason}",
            )
        )
        routed.retried += 1
    dead_letter_requests(conn, dead)
    _set_status(conn, RequestStatus.FAILED, failed)
    routed.dead_lettered = len(dead)
    states: list[RequestState] = []
    for workflow in sorted({request.workflow for request, _new, _why in follow}):
        mine = [(new, why) for request, new, why in follow if request.workflow == workflow]
        rows = new_requests(workflow, [new for new, _why in mine])
        for row, (_new, why) in zip(rows, mine, strict=True):
            if sync_job_id is None:
                states.append(RequestState(row, error=why))
            else:
                states.append(
                    RequestState(
                        row,
                        status=RequestStatus.PLANNED,
                        error=why,
                        batch_job_id=sync_job_id,
                        planned_at=now,
                    )
                )
    if states:
        insert_requests(conn, states)
    return routed


# --- jobs: plan and submit ----------------------------------------------------------------------


@dataclass(frozen=True)
class NewJob:
    batch_job_id: str
    workflow: str
    provider: str
    mode: str
    model: str
    endpoint: str
    credentials_ref: str
    request_count: int
    estimated_input_tokens: int
    partitions: Sequence[Mapping[str, str]]
    deadline_at: dt.datetime | None = None
    priming: bool = False
    primed_by: str | None = None
    cache_prefixes: Sequence[str] = ()


def insert_planned_job(conn: Connection, job: NewJob) -> None:
    """A job whose rows are committed before anything is sent. A priming job carries one line
    per new cache prefix; a job `primed_by` one waits for it to end (`admission.admit`)."""
    conn.execute(
        batch_jobs.insert().values(
            batch_job_id=job.batch_job_id,
            workflow=job.workflow,
            provider=job.provider,
            mode=job.mode,
            model=job.model,
            endpoint=job.endpoint,
            credentials_ref=job.credentials_ref,
            status=JobStatus.PLANNED,
            request_count=job.request_count,
            estimated_input_tokens=job.estimated_input_tokens,
            partitions=list(job.partitions),
            deadline_at=job.deadline_at,
            priming=job.priming,
            primed_by=job.primed_by,
            cache_prefixes=list(job.cache_prefixes),
        )
    )


def record_prompt_prefixes(
    conn: Connection, prefixes: Iterable[tuple[str, str, str, Sequence[str], Sequence[int]]]
) -> None:
    """Cache prefixes planned with, once each: (key, provider, model, the chain of keys from the
    shortest prefix to this one, their estimated tokens)."""
    rows = [
        {"prefix_key": key, "provider": provider, "model": model, "keys": keys, "tokens": tokens}
        for key, provider, model, keys, tokens in prefixes
    ]
    if rows:
        conn.execute(_RECORD_PREFIXES, {"rows": orjson.dumps(rows).decode()})


_RECORD_PREFIXES = text(
    """
    INSERT INTO prompt_prefixes (prefix_key, provider, model, keys, tokens)
    SELECT r.prefix_key, r.provider, r.model,
           ARRAY(SELECT jsonb_array_elements_text(r.keys)),
           ARRAY(SELECT CAST(jsonb_array_elements_text(r.tokens) AS integer))
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r (
        prefix_key text, provider text, model text, keys jsonb, tokens jsonb)
    ON CONFLICT (prefix_key) DO NOTHING
    """
)


def _move(conn: Connection, batch_job_id: str, source: Sequence[JobStatus], **values: Any) -> bool:
    """Update the job if it is in one of `source`; whether it was."""
    return bool(
        conn.execute(
            update(batch_jobs)
            .where(batch_jobs.c.batch_job_id == batch_job_id, batch_jobs.c.status.in_(source))
            .values(**values)
        ).rowcount
    )


def record_input_file(conn: Connection, batch_job_id: str, input_file_id: str) -> None:
    """The job's lines are uploaded (OpenAI Files): a resubmit creates from the same file."""
    conn.execute(
        update(batch_jobs)
        .where(batch_jobs.c.batch_job_id == batch_job_id)
        .values(input_file_id=input_file_id)
    )


def mark_submitting(conn: Connection, batch_job_id: str, now: dt.datetime) -> bool:
    """planned → submitting, committed before the create is sent."""
    return _move(
        conn,
        batch_job_id,
        (JobStatus.PLANNED,),
        status=JobStatus.SUBMITTING,
        submitted_at=now,
        not_before=None,
    )


def mark_submitted(conn: Connection, batch_job_id: str, status: BatchStatus) -> bool:
    """submitting → submitted: the provider has the batch (created, or found by reconciliation);
    its requests with it."""
    moved = _move(
        conn,
        batch_job_id,
        (JobStatus.SUBMITTING,),
        status=JobStatus.SUBMITTED,
        provider_batch_id=status.provider_batch_id,
        provider_status=status.provider_status,
        request_counts=dict(status.request_counts),
        error=None,
    )
    if moved:
        conn.execute(
            update(batch_requests)
            .where(
                batch_requests.c.batch_job_id == batch_job_id,
                batch_requests.c.status == RequestStatus.PLANNED,
            )
            .values(status=RequestStatus.SUBMITTED, updated_at=func.now())
        )
    return moved


def replan_unsent(
    conn: Connection, batch_job_id: str, reason: str, *, not_before: dt.datetime | None = None
) -> bool:
    """submitting → planned: the create certainly did not create a batch (refused, or nothing
    found by reconciliation); the job goes again, no earlier than `not_before`."""
    return _move(
        conn,
        batch_job_id,
        (JobStatus.SUBMITTING,),
        status=JobStatus.PLANNED,
        error=reason,
        not_before=not_before,
    )


def defer_job(conn: Connection, batch_job_id: str, until: dt.datetime, reason: str) -> None:
    """The job waits, in its status, until `until` (a provider's Retry-After): the tick goes on."""
    conn.execute(
        update(batch_jobs)
        .where(batch_jobs.c.batch_job_id == batch_job_id)
        .values(not_before=until, error=reason)
    )


def park_needs_attention(
    conn: Connection,
    job: JobRecord,
    attention: Attention,
    reason: str,
    *,
    check_again_at: dt.datetime | None = None,
) -> bool:
    """A job a person must look at, with what to do; its requests stay with it (the items are not
    planned again meanwhile). A configuration error remembers the status it goes back to once its
    credentials resolve (`resume_configured`, checked every tick, or from `check_again_at`)."""
    resume = job.status if attention is Attention.CONFIGURATION else None
    if resume is JobStatus.SUBMITTING:
        resume = JobStatus.PLANNED  # parked before the create was sent
    return _move(
        conn,
        job.batch_job_id,
        (job.status,),
        status=JobStatus.NEEDS_ATTENTION,
        attention=attention,
        resume_status=resume,
        not_before=check_again_at,
        error=reason,
    )


def resume_parked(conn: Connection, job: JobRecord) -> bool:
    """A job parked for its configuration goes back to where it was."""
    if job.resume_status is None:
        return False
    return _move(
        conn,
        job.batch_job_id,
        (JobStatus.NEEDS_ATTENTION,),
        status=job.resume_status,
        attention=None,
        resume_status=None,
        not_before=None,
        error=None,
    )


def release_parked(conn: Connection, job: JobRecord, reason: str) -> int:
    """A person's decision on a parked job: it is closed (`failed`, its provider batch kept on
    record) and its requests that had not finished go back to pending to be planned again.
    Returns how many did."""
    if not _move(
        conn,
        job.batch_job_id,
        (JobStatus.NEEDS_ATTENTION,),
        status=JobStatus.FAILED,
        resume_status=None,
        error=reason,
    ):
        return 0
    return conn.execute(
        update(batch_requests)
        .where(
            batch_requests.c.batch_job_id == job.batch_job_id,
            batch_requests.c.status.in_((RequestStatus.PLANNED, RequestStatus.SUBMITTED)),
        )
        .values(
            status=RequestStatus.PENDING,
            batch_job_id=None,
            error=f"released from parked batch {job.batch_job_id}: {reason}",
            updated_at=func.now(),
        )
    ).rowcount


# --- jobs: poll ---------------------------------------------------------------------------------


def record_progress(
    conn: Connection, progress: Sequence[Mapping[str, Any]], now: dt.datetime
) -> None:
    """Progress of running jobs (counts, files, usage), one statement for all."""
    if progress:
        conn.execute(_PROGRESS, {"now": now, "rows": orjson.dumps(progress).decode()})


def record_poll_errors(
    conn: Connection, errors: Sequence[tuple[str, str]], now: dt.datetime
) -> None:
    """Polls that failed (they are tried again next tick)."""
    if errors:
        rows = [{"batch_job_id": job_id, "error": error} for job_id, error in errors]
        conn.execute(_ERRORS, {"now": now, "rows": orjson.dumps(rows).decode()})


_PROGRESS = text(
    """
    UPDATE batch_jobs AS j SET
        provider_status = r.provider_status,
        request_counts = r.request_counts,
        last_polled_at = :now,
        error = NULL,
        output_file_id = CASE WHEN r.set_files THEN r.output_file_id ELSE j.output_file_id END,
        error_file_id = CASE WHEN r.set_files THEN r.error_file_id ELSE j.error_file_id END,
        provider_usage = CASE WHEN r.set_usage THEN r.provider_usage ELSE j.provider_usage END
    FROM json_to_recordset(CAST(:rows AS json)) AS r (
        batch_job_id text, provider_status text, request_counts jsonb, set_files boolean,
        output_file_id text, error_file_id text, set_usage boolean, provider_usage jsonb)
    WHERE j.batch_job_id = r.batch_job_id
    """
)
_ERRORS = text(
    """
    UPDATE batch_jobs AS j SET last_polled_at = :now, error = r.error
    FROM json_to_recordset(CAST(:rows AS json)) AS r (batch_job_id text, error text)
    WHERE j.batch_job_id = r.batch_job_id
    """
)


def progress_row(job: JobRecord, status: BatchStatus) -> dict[str, Any]:
    """What `record_progress` writes for a job still running."""
    return {
        "batch_job_id": job.batch_job_id,
        "provider_status": status.provider_status,
        "request_counts": dict(status.request_counts),
        "set_files": bool(status.output_file_id or status.error_file_id),
        "output_file_id": status.output_file_id,
        "error_file_id": status.error_file_id,
        "set_usage": bool(status.usage),
        "provider_usage": dict(status.usage) if status.usage else None,
    }


def _terminal_values(status: BatchStatus, now: dt.datetime) -> dict[str, Any]:
    values: dict[str, Any] = {
        "provider_status": status.provider_status,
        "request_counts": dict(status.request_counts),
        "last_polled_at": now,
        "finished_at": now,
        "error": status.failure,
    }
    if status.output_file_id or status.error_file_id:
        values["output_file_id"] = status.output_file_id
        values["error_file_id"] = status.error_file_id
    if status.usage:
        values["provider_usage"] = dict(status.usage)
    return values


def mark_ended(conn: Connection, job: JobRecord, status: BatchStatus, now: dt.datetime) -> bool:
    """submitted → ended: terminal at the provider, ready to ingest. Only the poller that moves it
    marks it; a second one changes nothing."""
    return _move(
        conn,
        job.batch_job_id,
        (JobStatus.SUBMITTED,),
        status=JobStatus.ENDED,
        **_terminal_values(status, now),
    )


def mark_failed(conn: Connection, job: JobRecord, status: BatchStatus, now: dt.datetime) -> bool:
    """submitted → failed: the batch failed as a whole (its provider id stays on record). The
    caller then routes its requests by the failure's kind."""
    return _move(
        conn,
        job.batch_job_id,
        (JobStatus.SUBMITTED,),
        status=JobStatus.FAILED,
        **_terminal_values(status, now),
    )


_FAILED_BATCH_REQUESTS = (RequestStatus.SUBMITTED,)


def _dead_letter_worn_out(conn: Connection, job: JobRecord, cause: str) -> int:
    """Requests of a failed batch that have now seen `MAX_BATCH_FAILURES`: dead-lettered with the
    batch's errors."""
    return conn.execute(
        update(batch_requests)
        .where(
            batch_requests.c.batch_job_id == job.batch_job_id,
            batch_requests.c.status.in_(_FAILED_BATCH_REQUESTS),
            batch_requests.c.batch_failures + 1 >= MAX_BATCH_FAILURES,
        )
        .values(
            status=RequestStatus.DEAD_LETTER,
            batch_failures=batch_requests.c.batch_failures + 1,
            error=(
                f"its batches failed as a whole {MAX_BATCH_FAILURES} times; last, "
                f"{job.provider_batch_id}: {cause}"
            ),
            updated_at=func.now(),
        )
    ).rowcount


def requeue_after_token_limit(
    conn: Connection, job: JobRecord, new_batch_job_id: str, cause: str, now: dt.datetime
) -> int:
    """A batch that failed on the enqueued-token limit ran nothing: its requests, unchanged (same
    ids, same attempt), go into a new planned job of the same shape, which admission control
    lets go when the model's queue has room. Returns how many moved (0: no new job)."""
    _dead_letter_worn_out(conn, job, cause)
    still = (
        batch_requests.c.batch_job_id == job.batch_job_id,
        batch_requests.c.status.in_(_FAILED_BATCH_REQUESTS),
    )
    count = conn.execute(select(func.count()).where(*still)).scalar_one()
    if not count:
        return 0
    insert_planned_job(
        conn,
        NewJob(
            batch_job_id=new_batch_job_id,
            workflow=job.workflow,
            provider=job.provider,
            mode=job.mode,
            model=job.model,
            endpoint=job.endpoint,
            credentials_ref=job.credentials_ref,
            request_count=count,
            estimated_input_tokens=job.estimated_input_tokens,
            partitions=job.partitions,
            deadline_at=job.deadline_at,
            priming=job.priming,
            primed_by=job.primed_by,
            cache_prefixes=job.cache_prefixes,
        ),
    )
    # The jobs waiting for this one to prime their cache wait for its successor.
    conn.execute(
        update(batch_jobs)
        .where(batch_jobs.c.primed_by == job.batch_job_id)
        .values(primed_by=new_batch_job_id)
    )
    conn.execute(
        update(batch_requests)
        .where(*still)
        .values(
            status=RequestStatus.PLANNED,
            batch_job_id=new_batch_job_id,
            batch_failures=batch_requests.c.batch_failures + 1,
            error=f"batch {job.provider_batch_id} failed on the queue limit: {cause}",
            updated_at=func.now(),
        )
    )
    return count


def back_off_failed_batch(conn: Connection, job: JobRecord, cause: str, now: dt.datetime) -> int:
    """A batch that failed as a whole for a cause that may pass: its requests go back to pending
    (same ids: none ran), no earlier than the backoff of their failure count; those at the bound
    are dead-lettered. Returns how many went back."""
    _dead_letter_worn_out(conn, job, cause)
    failures = batch_requests.c.batch_failures + 1
    # `batch_backoff(failures)` per row, in SQL: first · 2^(failures - 1) seconds, at most max.
    seconds = cast(
        func.least(
            BATCH_BACKOFF_FIRST.total_seconds() * func.power(2, failures - 1),
            BATCH_BACKOFF_MAX.total_seconds(),
        ),
        Integer,
    )
    backoff = func.make_interval(0, 0, 0, 0, 0, 0, seconds)
    return conn.execute(
        update(batch_requests)
        .where(
            batch_requests.c.batch_job_id == job.batch_job_id,
            batch_requests.c.status.in_(_FAILED_BATCH_REQUESTS),
        )
        .values(
            status=RequestStatus.PENDING,
            batch_job_id=None,
            batch_failures=failures,
            not_before=bindparam("now", now, type_=DateTime(timezone=True)) + backoff,
            error=f"batch {job.provider_batch_id} failed as a whole, backing off: {cause}",
            updated_at=func.now(),
        )
    ).rowcount


# --- jobs: ingest -------------------------------------------------------------------------------


def begin_ingest(conn: Connection, job: JobRecord, now: dt.datetime) -> None:
    """An ingest run claims the job (a run that goes silent is taken over once stale)."""
    conn.execute(
        update(batch_jobs)
        .where(batch_jobs.c.batch_job_id == job.batch_job_id)
        .values(ingest_attempt=job.ingest_attempt + 1, ingest_started_at=now)
    )


def mark_ingested(
    conn: Connection, batch_job_id: str, provider_usage: Mapping[str, Any] | None
) -> bool:
    """ended → ingested: every line is accounted for (and its rendered line dropped)."""
    moved = _move(
        conn,
        batch_job_id,
        (JobStatus.ENDED,),
        status=JobStatus.INGESTED,
        ingested_at=func.now(),
        ingest_started_at=None,
        provider_usage=provider_usage,
    )
    if moved:
        drop_job_lines(conn, batch_job_id)
    return moved


def record_ingest_failure(conn: Connection, batch_job_id: str, error: str) -> None:
    """The ingest stopped; the job stays `ended` and a later run takes it again."""
    conn.execute(
        update(batch_jobs)
        .where(batch_jobs.c.batch_job_id == batch_job_id)
        .values(ingest_started_at=None, error=f"ingest failed: {error}")
    )


def insert_sync_job(conn: Connection, job: JobRecord, sync_job_id: str, now: dt.datetime) -> None:
    """A missed deadline's synchronous fallback: a job of its own (`mode = 'sync'`), planned; its
    requests are planned into it with the failed lines (`route_failures`)."""
    conn.execute(
        batch_jobs.insert().values(
            batch_job_id=sync_job_id,
            workflow=job.workflow,
            provider=job.provider,
            mode=SYNC,
            model=job.model,
            endpoint=job.endpoint,
            credentials_ref=job.credentials_ref,
            status=JobStatus.PLANNED,
            provider_batch_id=f"sync-{sync_job_id}",
            request_count=0,
            partitions=list(job.partitions),
            submitted_at=now,
        )
    )


def count_sync_requests(conn: Connection, sync_job_id: str) -> int:
    """Set the sync job's request count from its rows; returns it."""
    count = conn.execute(
        text("SELECT count(*) FROM batch_requests WHERE batch_job_id = :job"), {"job": sync_job_id}
    ).scalar_one()
    conn.execute(
        update(batch_jobs)
        .where(batch_jobs.c.batch_job_id == sync_job_id)
        .values(request_count=count)
    )
    return count


def start_sync_calls(conn: Connection, sync_job_id: str) -> bool:
    """planned → submitting: the synchronous calls are under way (each request's result commits
    as it comes; a re-run calls only the requests still planned)."""
    return _move(conn, sync_job_id, (JobStatus.PLANNED,), status=JobStatus.SUBMITTING)


def submit_sync_request(conn: Connection, custom_id: str) -> bool:
    """The request's synchronous call has answered: planned → submitted, so its line is applied
    like any batch line, in the same transaction."""
    return bool(
        conn.execute(
            update(batch_requests)
            .where(
                batch_requests.c.custom_id == custom_id,
                batch_requests.c.status == RequestStatus.PLANNED,
            )
            .values(status=RequestStatus.SUBMITTED, updated_at=func.now())
        ).rowcount
    )


def finish_sync_job(conn: Connection, sync_job_id: str) -> bool:
    """Every synchronous call of the job is answered and applied."""
    return _move(
        conn,
        sync_job_id,
        (JobStatus.PLANNED, JobStatus.SUBMITTING),
        status=JobStatus.INGESTED,
        finished_at=func.now(),
        ingested_at=func.now(),
    )
