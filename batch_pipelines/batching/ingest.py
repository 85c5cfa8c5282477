"""Ingest: stream a finished batch's results into results, usage rows and the manifest.

Lines are read one at a time from the provider's files (never a whole file in memory), attributed
to their manifest rows (`attribution.py`) and applied in chunks, one transaction per chunk: each
line's result, its `llm_usage` row and its request's outcome commit together (`storing.py`). This
thread reads while up to `WRITERS` earlier chunks are written, each on a connection of its own,
committed in file order (`ordered_writes.py`). Ingesting the same file twice changes nothing: a
request that is no longer `submitted` is skipped, and `llm_usage` is unique on (provider,
provider_batch_id, custom_id). Lines that failed go on by their kind (never ran: requeued without
an attempt; transient: a new attempt; permanent: dead-lettered), as do lines missing from the
files; if the job missed its deadline, those worth sending again go through the synchronous API
instead (`deadline.py`), and their usage rows say `mode = 'sync'`.

Crash safety: a chunk commits whole or not at all, and the chunks commit in order, so an ingest
stopped anywhere is re-run from the file and applies exactly the lines whose chunk did not commit.
The chunks (and the job's bookkeeping before them) commit without waiting for the disk
(`synchronous_commit = off`); the commit that marks the job `ingested` waits, and so makes all of
them durable at once. A server crash before it loses only work that the re-run redoes: the job is
still `ended`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
from collections.abc import Iterator

from sqlalchemy import Engine

from batch_pipelines.batching import deadline, manifest, transitions
from batch_pipelines.batching.attribution import load_job_state, read_chunks
from batch_pipelines.batching.credentials import adapter_or_park, park_for_configuration
from batch_pipelines.batching.jobs import load_job
from batch_pipelines.batching.ordered_writes import write_in_order
from batch_pipelines.batching.planning import Checkpoint, spool_dir
from batch_pipelines.batching.storing import IngestResult, apply_chunk, fail_missing
from batch_pipelines.batching.workflow import Workflow
from batch_pipelines.db.bulk import set_async_commit
from batch_pipelines.db.statuses import JobStatus
from batch_pipelines.providers.base import ProviderConfigError
from batch_pipelines.providers.registry import ProviderRegistry

__all__ = ["CHUNK_LINES", "WRITERS", "IngestResult", "ingest_job"]

CHUNK_LINES = 500  # lines per transaction
WRITERS = 3  # chunks written at once, each on its own connection, while the next one is read


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
            job = load_job(conn, batch_job_id, for_update=True)
            if job is None:
                raise LookupError(f"no batch job {batch_job_id}")
            if job.status is JobStatus.INGESTED:
                result.already_ingested = True
                return result
            if job.status is not JobStatus.ENDED:
                raise RuntimeError(f"batch job {batch_job_id} is {job.status}, not ended")
            provider, policy, parked = adapter_or_park(conn, providers, job, now)
            if provider is None:
                result.parked = parked
                return result
            transitions.begin_ingest(conn, job, now)
            state = load_job_state(conn, job, now)
        try:
            status = provider.retrieve(job.provider_batch_id)
            missed = job.deadline_at is not None and now >= job.deadline_at
            sync_job_id = deadline.open_sync_job(engine, job, now) if missed else None

            def write(conn, chunk) -> IngestResult:
                written = IngestResult(batch_job_id)
                apply_chunk(conn, workflow, state, chunk, written, now, sync_job_id)
                return written

            # Closed on the way out whatever happens: closes the provider's download stream.
            with contextlib.closing(
                read_chunks(provider.iter_results(status), state, CHUNK_LINES)
            ) as chunks:
                for written in write_in_order(
                    engine,
                    chunks,
                    write,
                    writers=WRITERS,
                    committed=(lambda: checkpoint("mid_ingest")) if checkpoint else None,
                ):
                    result.add(written)
            with engine.begin() as conn:
                set_async_commit(conn)
                fail_missing(conn, workflow, state, result, now, sync_job_id)
            if sync_job_id is not None:
                if checkpoint:
                    checkpoint("after_late_lines_marked")
                deadline.run_sync_job(
                    engine, workflow, provider, sync_job_id, result, checkpoint=checkpoint
                )
            # A synchronous commit: every commit of this ingest is on disk once it returns.
            with engine.begin() as conn:
                transitions.mark_ingested(
                    conn, batch_job_id, dict(status.usage) if status.usage else job.provider_usage
                )
            # The spooled request lines (rendered prompts, tenant data) are no longer needed.
            (spool_dir() / f"{batch_job_id}.jsonl").unlink(missing_ok=True)
        except ProviderConfigError as exc:
            with engine.begin() as conn:
                transitions.record_ingest_failure(conn, batch_job_id, str(exc))
                park_for_configuration(conn, job, policy, exc, manifest.utcnow())
            result.parked = str(exc)
        except BaseException as exc:
            with engine.begin() as conn:
                transitions.record_ingest_failure(conn, batch_job_id, str(exc))
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
