"""What the engine needs from a workflow, and the provider-neutral shapes they exchange.

A workflow (post-call analytics, lead scoring, KB indexing) says which items are due, renders each
item into a provider-neutral prompt that carries ONE tenant's data, and validates and stores the
model's answer. The engine owns everything else: custom ids, pooling, sharding, submission, polling,
ingest, retries, usage rows. Providers turn a prompt into their own wire format.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Connection

from batch_pipelines.core.prompts import ModelAnswer, Prompt
from batch_pipelines.core.tenants import TenantContext


@dataclass(frozen=True)
class WorkItem:
    """One unit of work: a call to analyse, a lead to score, a document version to embed."""

    item_id: str
    tenant_id: str
    partition_date: dt.date
    agent_id: str | None = None


@dataclass(frozen=True)
class Rendered:
    """An item rendered into a prompt. `notes` are kept on the manifest row (e.g. redaction counts,
    `truncated`) and handed back to `store`."""

    item: WorkItem
    prompt: Prompt
    notes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Skipped:
    """An item that needs no model call (e.g. an empty transcript), with the reason."""

    item: WorkItem
    reason: str


@dataclass(frozen=True)
class Rejected:
    """An item that can never be processed as it is (e.g. past the hard size cap): dead-lettered."""

    item: WorkItem
    reason: str


RenderOutcome = Rendered | Skipped | Rejected


@dataclass(frozen=True)
class ManifestRow:
    """The manifest row (`batch_requests`) a result belongs to. `attempt` counts the sends that
    failed transiently; `requeues` (sends that never ran), `batch_failures` (batches that failed
    as a whole) and `first_planned_at` are the engine's other retry bounds, carried to the
    item's next row."""

    custom_id: str
    batch_job_id: str | None
    tenant_id: str
    vertical: str
    agent_id: str | None
    workflow: str
    item_id: str
    partition_date: dt.date
    attempt: int
    notes: Mapping[str, Any]
    requeues: int = 0
    batch_failures: int = 0
    first_planned_at: dt.datetime | None = None
    cache_breakpoints: int | None = None  # its line keeps only so many (None: all)


class InvalidAnswer(ValueError):
    """The model's answer does not satisfy the workflow's schema or ranges: never stored; the line
    is retried, then dead-lettered with this message."""


# What `store_many` is given per answer: the manifest row, the answer, the model the batch ran on.
StoreItem = tuple[ManifestRow, ModelAnswer, str]


class Workflow(Protocol):
    """A workflow the engine can run. One may also implement `StoresMany` (ingest then stores a
    chunk's answers with one call instead of one `store` per line)."""

    name: str  # as declared in `core/workflows.py`
    provider: str  # 'openai' | 'anthropic' | 'self_hosted'
    model: str
    endpoint: str  # '/v1/chat/completions' | '/v1/embeddings' | '/v1/messages'
    max_attempts: int
    deadline: dt.timedelta | None  # from planning; a batch past it is cancelled, the rest sent sync
    # Optional: `priming` (a `core.caching.Priming`, the default `AUTO_PRIMING`) says when the
    # planner sends a new shared prompt prefix first, in a priming batch.

    def due_items(
        self, conn: Connection, partition_dates: Sequence[dt.date], tenant_ids: Sequence[str] | None
    ) -> Iterable[WorkItem]:
        """Items of these partitions (all tenants when `tenant_ids` is None) that have no stored
        result yet. The engine itself drops items that already have a live, succeeded, skipped or
        dead-lettered request."""
        ...

    def render(
        self,
        conn: Connection,
        items: Sequence[WorkItem],
        tenants: Mapping[str, TenantContext],
    ) -> Iterable[RenderOutcome]:
        """Render every item (batch-load what it needs). Each prompt carries only the data of
        `tenants[item.tenant_id]`."""
        ...

    def store(
        self, conn: Connection, request: ManifestRow, answer: ModelAnswer, batch_model: str
    ) -> None:
        """Validate `answer` and write the workflow's result rows for `request.item_id` (idempotent
        upsert), inside the caller's transaction. Raise `InvalidAnswer` if it is not acceptable."""
        ...


@runtime_checkable
class StoresMany(Protocol):
    """Optional for a `Workflow`: store many answers at once (ingest's fast path).

    `store_many(conn, items)` must mean exactly `store` for each item, in order, inside the
    caller's transaction: it returns one outcome per item, None when the item was stored, or the
    exception `store` would have raised for it (`InvalidAnswer` and the like), and nothing of a
    failed item is written. An exception raised instead of returned fails the whole call: the
    engine rolls it back (it runs in a savepoint) and falls back to `store` line by line, so the
    other lines still go through.
    """

    def store_many(
        self, conn: Connection, items: Sequence[StoreItem]
    ) -> Sequence[Exception | None]: ...
