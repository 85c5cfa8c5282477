"""The statuses of `batch_jobs` and `batch_requests`, declared once.

The tables' check constraints and partial indexes (`tables.py`) are built from these enums; the
engine's transitions (`batching/transitions.py`) are the only code that writes them. Members are
`str`, so they go to the database and to JSON as their value.
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    PLANNED = "planned"  # rows committed, nothing sent yet (or sent back to wait: admission, 429)
    SUBMITTING = "submitting"  # the create is under way; reconciliation heals a crash here
    SUBMITTED = "submitted"  # the provider has it and it is not terminal
    ENDED = "ended"  # terminal at the provider, results not yet ingested
    INGESTED = "ingested"  # every line accounted for
    FAILED = "failed"  # failed as a whole at the provider; its requests went on as classified
    NEEDS_ATTENTION = "needs_attention"  # parked: `attention` says why, `error` what to do


class RequestStatus(StrEnum):
    PENDING = "pending"  # waiting to be rendered (a retry, a requeue, a backed-off batch failure)
    QUEUED = "queued"  # rendered, its line in `request_lines`: waiting for its group's submit run
    PLANNED = "planned"  # in a planned job
    SUBMITTED = "submitted"  # in a job the provider has
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # this send failed; a newer row of the item carries it on
    DEAD_LETTER = "dead_letter"  # given up, with the reason
    HELD = "held"  # kept back by the tenant's budget
    SKIPPED = "skipped"  # needed no model call (e.g. an empty transcript); `error` says why


class Attention(StrEnum):
    """Why a job is `needs_attention`."""

    CONFIGURATION = "configuration"  # a missing key variable, 401, 403: resumes once fixed
    AMBIGUOUS_CREATE = "ambiguous_create"  # several provider batches may be this job's
    PERMANENT_FAILURE = "permanent_failure"  # the provider refused the batch as a whole


# Jobs the engine still has to move on.
LIVE_JOB_STATUSES = (
    JobStatus.PLANNED,
    JobStatus.SUBMITTING,
    JobStatus.SUBMITTED,
    JobStatus.ENDED,
)
# Jobs whose batch counts against a provider's queue (admission control).
QUEUED_JOB_STATUSES = (JobStatus.SUBMITTING, JobStatus.SUBMITTED)
# An item may be in at most one of these at a time (the `uq_batch_requests_live_item` index).
LIVE_REQUEST_STATUSES = (
    RequestStatus.PENDING,
    RequestStatus.QUEUED,
    RequestStatus.PLANNED,
    RequestStatus.SUBMITTED,
    RequestStatus.HELD,
)
# Requests still waiting for a batch or a result (held ones wait for budget, not for us).
OPEN_REQUEST_STATUSES = (
    RequestStatus.PENDING,
    RequestStatus.QUEUED,
    RequestStatus.PLANNED,
    RequestStatus.SUBMITTED,
)
# After one of these an item needs no new request.
DONE_REQUEST_STATUSES = (
    RequestStatus.SUCCEEDED,
    RequestStatus.SKIPPED,
    RequestStatus.DEAD_LETTER,
)
# Sent to the provider: the row must name its job.
SENT_REQUEST_STATUSES = (RequestStatus.PLANNED, RequestStatus.SUBMITTED)
# Terminal without a result: the row must say why.
EXPLAINED_REQUEST_STATUSES = (RequestStatus.DEAD_LETTER, RequestStatus.SKIPPED)
