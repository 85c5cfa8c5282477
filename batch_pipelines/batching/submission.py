"""Submit planned jobs: admission control, creates sent once, and reconciliation of the rest.

A job is uploaded (OpenAI Files) while `planned`: an upload bills nothing, and its file id is kept
for the create. Then, holding the create lock of its (provider, credentials) from before the
create until its result is recorded, the job is admitted (`admission.py`: its provider's queue has
room), moved to `submitting` (committed), created — without SDK retries, creates are not
idempotent — and recorded `submitted`. What the create's failure says decides the rest:

- 429: nothing was created; the job goes back to `planned`, deferred by the Retry-After (the
  tick goes on with the other jobs);
- 401/403, a missing key: a configuration error; the job is parked (`credentials.py`);
- another 4xx: the provider refused the batch as it is; the job needs a person;
- anything else (5xx, 529, a timeout, a dropped connection): the batch may exist. It is reconciled
  before anything is sent again: OpenAI batches carry our batch_job_id in their metadata, so the
  match is exact; Anthropic has no metadata, so a candidate must match on creation time (within
  the create's own window: no other create of the credentials can fall there, the lock sees to
  it) and request count, and must not already belong to another job. One candidate: adopted.
  None: nothing was created, the job is planned again. More: the job needs a person.

A job found in `submitting` with no live submitter (its process died) is reconciled the same way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from sqlalchemy import Engine, func, select

from batch_pipelines.batching import manifest, transitions
from batch_pipelines.batching.admission import admit
from batch_pipelines.batching.credentials import (
    adapter_or_park,
    park_for_configuration,
    resume_configured,
)
from batch_pipelines.batching.jobs import SYNC, JobRecord, due, load_job, select_jobs
from batch_pipelines.batching.planning import RENDER_CHUNK, Checkpoint, spool_dir
from batch_pipelines.batching.workflow import Rendered, Workflow
from batch_pipelines.db.statuses import Attention, JobStatus
from batch_pipelines.db.tables import batch_jobs, batch_requests, request_lines
from batch_pipelines.providers.base import (
    BatchProvider,
    BatchStatus,
    ProviderConfigError,
    ProviderError,
    ProviderRateLimited,
    ProviderRefused,
    RequestLines,
)
from batch_pipelines.providers.registry import ProviderRegistry

# A 429 without a Retry-After: the job waits this long.
DEFAULT_RATE_LIMIT_WAIT = dt.timedelta(seconds=60)
# Queued lines read from Postgres at a time while a job's file is written.
LINES_PER_FETCH = 500


class Outcome(StrEnum):
    SUBMITTED = "submitted"
    ADOPTED = "adopted"  # found at the provider after a create that raised, or a crash
    REPLANNED = "replanned"  # nothing was created: planned again
    WAITING = "waiting"  # admission control: no room in the provider's queue yet
    DEFERRED = "deferred"  # tried, and left for a later run (429, an outage)
    PARKED = "parked"  # needs_attention
    BUSY = "busy"  # another live process has it
    SKIPPED = "skipped"  # not planned (any more), or not due yet


@dataclass(frozen=True)
class Submitted:
    outcome: Outcome
    reason: str = ""


@dataclass
class SubmitResult:
    submitted: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)  # found at the provider after a crash
    waiting: dict[str, str] = field(default_factory=dict)  # job → why admission holds it
    deferred: dict[str, str] = field(default_factory=dict)  # job → why it waits for a later run
    needs_attention: list[str] = field(default_factory=list)

    def add(self, batch_job_id: str, result: Submitted) -> None:
        if result.outcome is Outcome.SUBMITTED:
            self.submitted.append(batch_job_id)
        elif result.outcome is Outcome.ADOPTED:
            self.adopted.append(batch_job_id)
        elif result.outcome is Outcome.WAITING:
            self.waiting[batch_job_id] = result.reason
        elif result.outcome in (Outcome.DEFERRED, Outcome.REPLANNED):
            self.deferred[batch_job_id] = result.reason
        elif result.outcome is Outcome.PARKED:
            self.needs_attention.append(batch_job_id)


def submit_planned(
    engine: Engine,
    workflow: Workflow,
    providers: ProviderRegistry,
    batch_job_ids: Sequence[str] | None = None,
    *,
    credentials_ref: str | None = None,
    checkpoint: Checkpoint | None = None,
    now: dt.datetime | None = None,
) -> SubmitResult:
    """Submit every planned job of `workflow` (of one credentials' group, or just
    `batch_job_ids`) that is due and admitted, reconciling any job a dead process left in
    `submitting` first; then finish the synchronous calls of any missed deadline a crash
    interrupted."""
    from batch_pipelines.batching.deadline import run_sync_jobs

    now = now or manifest.utcnow()
    result = SubmitResult()
    resume_configured(engine, providers, now)
    with engine.connect() as conn:
        where = [
            batch_jobs.c.workflow == workflow.name,
            batch_jobs.c.mode != SYNC,
            batch_jobs.c.status.in_((JobStatus.PLANNED, JobStatus.SUBMITTING)),
            due(now),
        ]
        if batch_job_ids is not None:
            where.append(batch_jobs.c.batch_job_id.in_(list(batch_job_ids)))
        if credentials_ref is not None:
            where.append(batch_jobs.c.credentials_ref == credentials_ref)
        jobs = select_jobs(conn, *where, order_by=batch_jobs.c.created_at)
    for job in jobs:
        if job.status is JobStatus.SUBMITTING:
            try:
                reconciled = reconcile_job(engine, providers, job.batch_job_id)
            except ProviderError as exc:
                result.deferred[job.batch_job_id] = f"reconciliation deferred: {exc}"
                continue
            if reconciled.outcome is not Outcome.REPLANNED:
                result.add(job.batch_job_id, reconciled)
                continue
        result.add(
            job.batch_job_id,
            submit_job(
                engine, workflow, providers, job.batch_job_id, checkpoint=checkpoint, now=now
            ),
        )
    run_sync_jobs(engine, workflow, providers, checkpoint=checkpoint)
    return result


def submit_job(
    engine: Engine,
    workflow: Workflow,
    providers: ProviderRegistry,
    batch_job_id: str,
    *,
    checkpoint: Checkpoint | None = None,
    now: dt.datetime | None = None,
) -> Submitted:
    """Submit one planned job; what became of it."""
    with manifest.job_lock(engine, f"submit:{batch_job_id}") as locked:
        if not locked:
            return Submitted(Outcome.BUSY)
        return _submit_locked(
            engine, workflow, providers, batch_job_id, checkpoint, now or manifest.utcnow()
        )


def _submit_locked(
    engine: Engine,
    workflow: Workflow,
    providers: ProviderRegistry,
    batch_job_id: str,
    checkpoint: Checkpoint | None,
    now: dt.datetime,
) -> Submitted:
    with engine.begin() as conn:
        job = load_job(conn, batch_job_id)
        if job is None or job.status is not JobStatus.PLANNED or not job.due(now):
            return Submitted(Outcome.SKIPPED)
        provider, policy, parked = adapter_or_park(conn, providers, job, now)
        if provider is None:
            return Submitted(Outcome.PARKED, parked or "")
    limit = providers.queue_limit(job.provider, job.model)
    with _request_lines(engine, workflow, provider, job) as lines:
        input_file_id = job.input_file_id
        if input_file_id is None:
            try:
                input_file_id = provider.upload(batch_job_id, lines)
            except (ProviderError, ProviderConfigError) as exc:
                return _not_sent(engine, job, policy, exc)
            if input_file_id:
                with engine.begin() as conn:
                    transitions.record_input_file(conn, batch_job_id, input_file_id)
        if checkpoint:
            checkpoint("after_upload")
        create_lock = manifest.create_lock_key(job.provider, job.credentials_ref)
        with manifest.job_lock(engine, create_lock, wait=True):
            with engine.begin() as conn:
                job = load_job(conn, batch_job_id, for_update=True)
                if job is None or job.status is not JobStatus.PLANNED:
                    return Submitted(Outcome.SKIPPED)
                admission = admit(conn, job, limit)
                if not admission.admitted:
                    return Submitted(Outcome.WAITING, admission.reason)
                attempted_at = manifest.utcnow()
                transitions.mark_submitting(conn, batch_job_id, attempted_at)
            try:
                status = provider.create(batch_job_id, job.endpoint, input_file_id, lines)
            except (ProviderError, ProviderConfigError) as exc:
                return _create_failed(engine, providers, job, policy, exc, attempted_at)
            if checkpoint:
                checkpoint("after_create")
            record_submitted(engine, batch_job_id, status)
    if checkpoint:
        checkpoint("after_record")
    return Submitted(Outcome.SUBMITTED)


def _not_sent(
    engine: Engine, job: JobRecord, policy, error: ProviderError | ProviderConfigError
) -> Submitted:
    """The upload failed: nothing was created. The job stays `planned` (deferred by a 429's
    Retry-After), or is parked for its configuration."""
    now = manifest.utcnow()
    with engine.begin() as conn:
        if isinstance(error, ProviderConfigError):
            park_for_configuration(conn, job, policy, error, now)
            return Submitted(Outcome.PARKED, str(error))
        if isinstance(error, ProviderRateLimited):
            until = now + _wait(error)
            transitions.defer_job(conn, job.batch_job_id, until, f"{error}; again after {until}")
            return Submitted(Outcome.DEFERRED, str(error))
    return Submitted(Outcome.DEFERRED, str(error))


def _wait(error: ProviderRateLimited) -> dt.timedelta:
    if error.retry_after is None:
        return DEFAULT_RATE_LIMIT_WAIT
    return dt.timedelta(seconds=error.retry_after)


def _create_failed(
    engine: Engine,
    providers: ProviderRegistry,
    job: JobRecord,
    policy,
    error: ProviderError | ProviderConfigError,
    attempted_at: dt.datetime,
) -> Submitted:
    """What the create's failure says about whether the batch exists (module docstring). Called
    holding the create lock; the job is `submitting`."""
    now = manifest.utcnow()
    with engine.begin() as conn:
        job = load_job(conn, job.batch_job_id, for_update=True)
        if isinstance(error, ProviderConfigError):
            park_for_configuration(conn, job, policy, error, now)
            return Submitted(Outcome.PARKED, str(error))
        if isinstance(error, ProviderRateLimited):
            until = now + _wait(error)
            transitions.replan_unsent(
                conn, job.batch_job_id, f"{error}; again after {until}", not_before=until
            )
            return Submitted(Outcome.DEFERRED, str(error))
        if isinstance(error, ProviderRefused):
            transitions.park_needs_attention(
                conn,
                job,
                Attention.PERMANENT_FAILURE,
                f"the provider refused the batch (HTTP {error.status_code}), so it was not "
                f"created: {error}. Fix the cause, then release the job to plan its requests "
                "again (transitions.release_parked)",
            )
            return Submitted(Outcome.PARKED, str(error))
    # The batch may exist: find out before anything is sent again.
    try:
        reconciled = _reconcile_locked(engine, providers, job.batch_job_id, attempted_at, now)
    except ProviderError as exc:
        # The job stays `submitting`: reconciled by a later submit or poll, never resent blindly.
        return Submitted(Outcome.DEFERRED, f"{error}; reconciliation deferred: {exc}")
    if reconciled.outcome is Outcome.REPLANNED:
        return Submitted(Outcome.DEFERRED, f"{error} (nothing was created: planned again)")
    if reconciled.outcome is Outcome.ADOPTED:
        return reconciled
    return Submitted(reconciled.outcome, f"{error} ({reconciled.reason})")


def record_submitted(engine: Engine, batch_job_id: str, status: BatchStatus) -> None:
    with engine.begin() as conn:
        transitions.mark_submitted(conn, batch_job_id, status)


@contextlib.contextmanager
def _request_lines(
    engine: Engine, workflow: Workflow, provider: BatchProvider, job: JobRecord
) -> Iterator[RequestLines]:
    """The planned lines as a file. The spool is a cache of them on this machine: when it is not
    whole, the lines queued in Postgres (`request_lines`) are written to it, so a submit run on any
    machine sends exactly what was queued; lines missing there too (a job planned before they
    were kept) are rendered again from the manifest, with the same ids, into a scratch file
    (removed afterwards). Streamed every way: a shard is never held in memory whole."""
    path = spool_dir() / f"{job.batch_job_id}.jsonl"
    if path.exists() and _count_lines(path) == job.request_count:
        yield RequestLines(path)
        return
    if _spool_queued_lines(engine, job, path):
        yield RequestLines(path)
        return
    fd, name = tempfile.mkstemp(dir=spool_dir(), prefix=f"{job.batch_job_id}.", suffix=".render")
    scratch = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            _render_lines(engine, workflow, provider, job, out)
        yield RequestLines(scratch)
    finally:
        scratch.unlink(missing_ok=True)


def _spool_queued_lines(engine: Engine, job: JobRecord, path: Path) -> bool:
    """Write the job's queued lines from Postgres to its spool file, in the order it was planned
    in; False (nothing written) unless every line of the job is there."""
    owned = (
        select(batch_requests.c.custom_id)
        .where(batch_requests.c.batch_job_id == job.batch_job_id)
        .scalar_subquery()
    )
    with engine.connect() as conn:
        stored = conn.execute(
            select(func.count()).where(request_lines.c.custom_id.in_(owned))
        ).scalar_one()
        if stored != job.request_count:
            return False
        rows = conn.execution_options(yield_per=LINES_PER_FETCH).execute(
            select(request_lines.c.line)
            .select_from(request_lines.join(batch_requests))
            .where(batch_requests.c.batch_job_id == job.batch_job_id)
            .order_by(
                request_lines.c.prefix_key, batch_requests.c.tenant_id, batch_requests.c.item_id
            )
        )
        partial = path.with_suffix(".partial")
        with open(partial, "wb") as out:
            for (line,) in rows:
                out.write(line)
    os.replace(partial, path)
    return True


def _count_lines(path: Path) -> int:
    """Lines in a file (a last line without its newline counts), read in blocks."""
    count = 0
    last = b"\n"
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def _render_lines(
    engine: Engine, workflow: Workflow, provider: BatchProvider, job: JobRecord, out
) -> None:
    with engine.connect() as conn:
        requests = manifest.job_requests(conn, job.batch_job_id)
        tenants = manifest.load_tenants(conn, {r.tenant_id for r in requests})
        by_item = {r.item_id: r for r in requests}
        for start in range(0, len(requests), RENDER_CHUNK):
            chunk = requests[start : start + RENDER_CHUNK]
            for outcome in workflow.render(conn, [manifest.work_item(r) for r in chunk], tenants):
                request = by_item[outcome.item.item_id]
                if not isinstance(outcome, Rendered):
                    # The item changed since planning (e.g. its transcript was emptied): the
                    # line is left out and ingest finds it missing, which retries or
                    # dead-letters it.
                    continue
                line = provider.encode_line(
                    request.custom_id, job.model, job.endpoint, outcome.prompt
                )
                if request.cache_breakpoints is not None:  # as planned: no write nobody reads
                    line = provider.with_cache_breakpoints(line, request.cache_breakpoints)
                out.write(line)


def reconcile_job(engine: Engine, providers: ProviderRegistry, batch_job_id: str) -> Submitted:
    """Decide what happened to a job a dead process left in `submitting`: adopted (the provider
    has it; recorded), replanned (nothing was created), parked (ambiguous), or busy (a live
    process holds the job or its credentials' create lock: it is being submitted right now)."""
    with manifest.job_lock(engine, f"submit:{batch_job_id}") as locked:
        if not locked:
            return Submitted(Outcome.BUSY)
        with engine.connect() as conn:
            job = load_job(conn, batch_job_id)
        if job is None or job.status is not JobStatus.SUBMITTING:
            return Submitted(Outcome.SKIPPED)
        create_lock = manifest.create_lock_key(job.provider, job.credentials_ref)
        with manifest.job_lock(engine, create_lock) as free:
            if not free:
                return Submitted(Outcome.BUSY)
            attempted_at = job.submitted_at or job.created_at
            # The create it attempted lasted at most the client's timeout.
            until = attempted_at + dt.timedelta(seconds=providers.timeout)
            return _reconcile_locked(engine, providers, batch_job_id, attempted_at, until)


def _reconcile_locked(
    engine: Engine,
    providers: ProviderRegistry,
    batch_job_id: str,
    attempted_after: dt.datetime,
    attempted_before: dt.datetime,
) -> Submitted:
    """Reconcile a `submitting` job, holding its credentials' create lock."""
    now = manifest.utcnow()
    with engine.begin() as conn:
        job = load_job(conn, batch_job_id)
        if job is None or job.status is not JobStatus.SUBMITTING:
            return Submitted(Outcome.SKIPPED)
        provider, policy, parked = adapter_or_park(conn, providers, job, now)
        if provider is None:
            return Submitted(Outcome.PARKED, parked or "")
        claimed = set(
            conn.execute(
                select(batch_jobs.c.provider_batch_id).where(
                    batch_jobs.c.provider == job.provider,
                    batch_jobs.c.provider_batch_id.is_not(None),
                )
            ).scalars()
        )
    try:
        found = provider.find_created(
            batch_job_id, attempted_after, attempted_before, job.request_count
        )
    except ProviderConfigError as exc:
        with engine.begin() as conn:
            park_for_configuration(conn, job, policy, exc, now)
        return Submitted(Outcome.PARKED, str(exc))
    candidates = [c for c in found if c.provider_batch_id not in claimed]
    if len(candidates) == 1:
        record_submitted(engine, batch_job_id, candidates[0])
        return Submitted(Outcome.ADOPTED)
    with engine.begin() as conn:
        if not candidates:
            transitions.replan_unsent(
                conn,
                batch_job_id,
                "a submit attempt created nothing at the provider; planned again",
            )
            return Submitted(Outcome.REPLANNED, "nothing was created")
        ids = ", ".join(c.provider_batch_id for c in candidates)
        reason = (
            f"a create whose answer was lost: {len(candidates)} provider batches match ({ids}); "
            "a person must adopt one (set provider_batch_id, status 'submitted') and cancel the "
            "others"
        )
        transitions.park_needs_attention(conn, job, Attention.AMBIGUOUS_CREATE, reason)
    return Submitted(Outcome.PARKED, reason)
