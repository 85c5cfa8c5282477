"""Reading a finished batch's result lines and attributing each to its manifest row.

A line is attributed only if its custom id is in this job's manifest with a matching signature and
the row is still `submitted`; anything else (unknown, forged, from another batch, a duplicate) is
counted, logged and attributed to no one. Lines are cut into chunks, each applied in one
transaction (`storing.py`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import orjson
from sqlalchemy import Connection, text

from batch_pipelines.batching import custom_ids
from batch_pipelines.batching.jobs import JobRecord
from batch_pipelines.batching.transitions import LineFailure
from batch_pipelines.batching.workflow import ManifestRow
from batch_pipelines.db.statuses import RequestStatus
from batch_pipelines.providers.base import FailureKind, LineOutcome, ResultLine

log = logging.getLogger(__name__)
_ATTRIBUTED = "attributed"  # the reader's own mark: this request's line was seen in this ingest


@dataclass
class JobState:
    """What applying lines needs to know about the job they belong to."""

    batch_job_id: str
    provider: str
    provider_batch_id: str
    mode: str
    model: str
    occurred_at: dt.datetime
    requests: dict[str, ManifestRow]
    statuses: dict[str, str]

    def unanswered(self) -> list[ManifestRow]:
        """Requests still waiting for their line: the provider returned nothing for them. Marks
        them seen."""
        missing = [c for c, status in self.statuses.items() if status == RequestStatus.SUBMITTED]
        for custom_id in missing:
            self.statuses[custom_id] = _ATTRIBUTED
        return [self.requests[c] for c in missing]


@dataclass
class Chunk:
    """Lines read and attributed by the reader, to be applied in one transaction."""

    lines: int = 0
    answered: list[tuple[ManifestRow, ResultLine]] = field(default_factory=list)
    failed: list[LineFailure] = field(default_factory=list)
    unattributed: list[str] = field(default_factory=list)  # ids not in this job's manifest
    forged: int = 0
    duplicate: int = 0


# What the reader needs of a job's manifest rows, in `ManifestRow` order, then the status (the
# notes as JSON text: orjson parses them faster than the driver's JSON loader).
_JOB_REQUESTS = text(
    """
    SELECT custom_id, batch_job_id, tenant_id, vertical, agent_id, workflow, item_id,
           partition_date, attempt, CAST(notes AS text), requeues, batch_failures,
           first_planned_at, status
    FROM batch_requests WHERE batch_job_id = :batch_job_id
    """
)


def load_job_state(conn: Connection, job: JobRecord, now: dt.datetime) -> JobState:
    requests: dict[str, ManifestRow] = {}
    statuses: dict[str, str] = {}
    loads = orjson.loads
    rows = conn.execute(_JOB_REQUESTS, {"batch_job_id": job.batch_job_id}).all()
    for custom_id, *fields, notes, requeues, batch_failures, first_planned_at, status in rows:
        requests[custom_id] = ManifestRow(
            custom_id,
            *fields,
            loads(notes) if notes else {},
            requeues,
            batch_failures,
            first_planned_at,
        )
        statuses[custom_id] = status
    return JobState(
        batch_job_id=job.batch_job_id,
        provider=job.provider,
        provider_batch_id=job.provider_batch_id or "",
        mode=job.mode,
        model=job.model,
        occurred_at=job.finished_at or now,
        requests=requests,
        statuses=statuses,
    )


def read_chunks(lines: Iterable[ResultLine], state: JobState, size: int) -> Iterator[Chunk]:
    """Attribute each line to this job's manifest row (in this thread: it alone tracks which
    requests have had their line) and cut them into chunks of `size` lines."""
    requests, statuses = state.requests, state.statuses
    signed = custom_ids.signature_matches
    submitted = RequestStatus.SUBMITTED.value
    succeeded = LineOutcome.SUCCEEDED
    chunk = Chunk()
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
        elif statuses.get(request.custom_id) != submitted:
            chunk.duplicate += 1
        else:
            statuses[request.custom_id] = _ATTRIBUTED
            if line.outcome == succeeded and line.usage is not None and line.answer is not None:
                chunk.answered.append((request, line))
            else:
                chunk.failed.append(
                    LineFailure(
                        request,
                        line.failure_kind or FailureKind.TRANSIENT,
                        f"{line.outcome}: {line.error or 'no detail'}",
                    )
                )
        if chunk.lines >= size:
            yield chunk
            chunk = Chunk()
    if chunk.lines:
        yield chunk
