"""Submit planned jobs, and heal a crash between the provider's create and our record.

A job moves planned → submitting (committed before any call) → submitted (provider id recorded).
A job found in `submitting` is reconciled, never blindly resubmitted: OpenAI batches carry our
batch_job_id in their metadata, so the match is exact; Anthropic has no metadata, so a candidate
must match on creation time (within the window after our attempt) and request count, and must not
already belong to another job. No candidate: nothing was created, so it is safe to plan the job
again. More than one: the job is `needs_attention` with the candidates listed, for a person.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select

from batch_pipelines.batching import manifest
from batch_pipelines.batching.planning import RENDER_CHUNK, Checkpoint, spool_dir
from batch_pipelines.batching.workflow import Rendered, Workflow
from batch_pipelines.db.tables import batch_jobs
from batch_pipelines.providers.base import (
    BatchProvider,
    BatchStatus,
    ProviderError,
    RequestLines,
)
from batch_pipelines.providers.registry import ProviderRegistry


@dataclass
class SubmitResult:
    submitted: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)  # found at the provider after a crash
    deferred: dict[str, str] = field(default_factory=dict)  # job → why it waits for a later run
    needs_attention: list[str] = field(default_factory=list)


def provider_for_job(conn, providers: ProviderRegistry, job) -> BatchProvider:
    policy = None
    if job.credentials_ref != "default":
        tenant_id = job.credentials_ref.removeprefix("tenant:")
        policy = manifest.tenant_policies(conn, [tenant_id]).get(tenant_id)
    return providers.get(job.provider, job.credentials_ref, policy)


def submit_planned(
    engine: Engine,
    workflow: Workflow,
    providers: ProviderRegistry,
    batch_job_ids: Sequence[str] | None = None,
    *,
    checkpoint: Checkpoint | None = None,
) -> SubmitResult:
    """Submit every planned job of `workflow` (or just `batch_job_ids`), reconciling any job left
    in `submitting` by a crash first."""
    result = SubmitResult()
    with engine.connect() as conn:
        query = select(batch_jobs.c.batch_job_id, batch_jobs.c.status).where(
            batch_jobs.c.workflow == workflow.name,
            batch_jobs.c.mode != "sync",
            batch_jobs.c.status.in_(("planned", "submitting")),
        )
        if batch_job_ids is not None:
            query = query.where(batch_jobs.c.batch_job_id.in_(list(batch_job_ids)))
        jobs = list(conn.execute(query.order_by(batch_jobs.c.created_at)))
    for job in jobs:
        if job.status == "submitting":
            try:
                outcome = reconcile_job(engine, providers, job.batch_job_id)
            except ProviderError as exc:
                result.deferred[job.batch_job_id] = f"reconciliation deferred: {exc}"
                continue
            if outcome == "adopted":
                result.adopted.append(job.batch_job_id)
                continue
            if outcome != "replanned":
                if outcome == "needs_attention":
                    result.needs_attention.append(job.batch_job_id)
                continue
        try:
            if submit_job(engine, workflow, providers, job.batch_job_id, checkpoint=checkpoint):
                result.submitted.append(job.batch_job_id)
        except ProviderError as exc:
            result.deferred[job.batch_job_id] = str(exc)
    return result


def submit_job(
    engine: Engine,
    workflow: Workflow,
    providers: ProviderRegistry,
    batch_job_id: str,
    *,
    checkpoint: Checkpoint | None = None,
) -> bool:
    """Submit one planned job. Returns False if another process has it (or it is not planned)."""
    with manifest.job_lock(engine, f"submit:{batch_job_id}") as locked:
        if not locked:
            return False
        return _submit_locked(engine, workflow, providers, batch_job_id, checkpoint)


def _submit_locked(
    engine: Engine,
    workflow: Workflow,
    providers: ProviderRegistry,
    batch_job_id: str,
    checkpoint: Checkpoint | None,
) -> bool:
    with engine.begin() as conn:
        job = conn.execute(
            select(batch_jobs)
            .where(batch_jobs.c.batch_job_id == batch_job_id, batch_jobs.c.status == "planned")
            .with_for_update(skip_locked=True)
        ).one_or_none()
        if job is None:
            return False
        manifest.update_job(conn, batch_job_id, status="submitting", submitted_at=manifest.utcnow())
        provider = provider_for_job(conn, providers, job)
    with _request_lines(engine, workflow, provider, job) as lines:
        input_file_id = job.input_file_id
        if input_file_id is None:
            input_file_id = provider.upload(batch_job_id, lines)
            if input_file_id:
                with engine.begin() as conn:
                    manifest.update_job(conn, batch_job_id, input_file_id=input_file_id)
        if checkpoint:
            checkpoint("after_upload")
        try:
            status = provider.create(batch_job_id, job.endpoint, input_file_id, lines)
        except ProviderError as exc:
            # The create may or may not have reached the provider: reconcile now, not guess.
            outcome = _reconcile_locked(engine, providers, batch_job_id)
            if outcome == "adopted":
                return True
            raise ProviderError(f"{exc} (job {batch_job_id} is {outcome})") from exc
    if checkpoint:
        checkpoint("after_create")
    record_submitted(engine, batch_job_id, status)
    if checkpoint:
        checkpoint("after_record")
    return True


def record_submitted(engine: Engine, batch_job_id: str, status: BatchStatus) -> None:
    with engine.begin() as conn:
        manifest.update_job(
            conn,
            batch_job_id,
            status="submitted",
            provider_batch_id=status.provider_batch_id,
            provider_status=status.provider_status,
            request_counts=dict(status.request_counts),
            error=None,
        )
        requests = [r.custom_id for r in manifest.job_requests(conn, batch_job_id)]
        manifest.set_request_status(conn, requests, "submitted")


@contextlib.contextmanager
def _request_lines(
    engine: Engine, workflow: Workflow, provider: BatchProvider, job
) -> Iterator[RequestLines]:
    """The planned lines as a file: the spool when it is whole, or else the lines rendered again
    from the manifest with the same ids into a scratch file (removed afterwards). Streamed both
    ways: a shard is never held in memory whole."""
    path = spool_dir() / f"{job.batch_job_id}.jsonl"
    if path.exists() and _count_lines(path) == job.request_count:
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


def _count_lines(path: Path) -> int:
    """Lines in a file (a last line without its newline counts), read in blocks."""
    count = 0
    last = b"\n"
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def _render_lines(engine: Engine, workflow: Workflow, provider: BatchProvider, job, out) -> None:
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
                out.write(
                    provider.encode_line(request.custom_id, job.model, job.endpoint, outcome.prompt)
                )


def reconcile_job(engine: Engine, providers: ProviderRegistry, batch_job_id: str) -> str:
    """Decide what happened to a job left in `submitting`.

    Returns 'adopted' (the provider has it; recorded), 'replanned' (nothing was created; back to
    planned), 'needs_attention' (ambiguous), 'busy' (a live process is submitting it right now),
    or the job's status if it is not `submitting`.
    """
    with manifest.job_lock(engine, f"submit:{batch_job_id}") as locked:
        if not locked:
            return "busy"
        return _reconcile_locked(engine, providers, batch_job_id)


def _reconcile_locked(engine: Engine, providers: ProviderRegistry, batch_job_id: str) -> str:
    with engine.connect() as conn:
        job = manifest.job_row(conn, batch_job_id)
        if job is None or job.status != "submitting":
            return job.status if job is not None else "missing"
        provider = provider_for_job(conn, providers, job)
        claimed = set(
            conn.execute(
                select(batch_jobs.c.provider_batch_id).where(
                    batch_jobs.c.provider == job.provider,
                    batch_jobs.c.provider_batch_id.is_not(None),
                )
            ).scalars()
        )
    attempted_at = job.submitted_at or job.created_at
    candidates = [
        c
        for c in provider.find_created(batch_job_id, attempted_at, job.request_count)
        if c.provider_batch_id not in claimed
    ]
    if len(candidates) == 1:
        record_submitted(engine, batch_job_id, candidates[0])
        return "adopted"
    with engine.begin() as conn:
        if not candidates:
            manifest.update_job(
                conn,
                batch_job_id,
                status="planned",
                error="a submit attempt did not reach the provider; planned again",
            )
            return "replanned"
        ids = ", ".join(c.provider_batch_id for c in candidates)
        manifest.update_job(
            conn,
            batch_job_id,
            status="needs_attention",
            error=(
                f"crash between create and record; {len(candidates)} provider batches match "
                f"({ids}): a person must adopt one (set provider_batch_id) and cancel the others"
            ),
        )
    return "needs_attention"


def stale_submitting(engine: Engine, older_than: dt.timedelta) -> list[str]:
    cutoff = manifest.utcnow() - older_than
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(batch_jobs.c.batch_job_id).where(
                    batch_jobs.c.status == "submitting", batch_jobs.c.submitted_at < cutoff
                )
            ).scalars()
        )
