"""Queue, then plan: choose due items, render them, queue them; later, per group, pool and shard.

Two steps, each one transaction written before any network call:

1. `queue` (a request asset's run, for whatever partitions Dagster gave it; an ingest run for its
   retries): the due items are rendered (cleaning, PII redaction, truncation), checked against the
   tenants' budgets, and written to the manifest (`batch_requests`) as `queued`, each with its
   rendered line and the group it pools in in `request_lines`. Nothing is sent, so how Dagster cut
   a backfill into runs never decides what pools.
2. `plan_queued` (a submit run, launched by `batch_submit_sensor` for one group (workflow,
   provider, credentials, model, endpoint) once the group's oldest line has waited the batch window
   or the group fills a shard): every queued line of the group, whatever run queued it, ordered so
   that requests sharing a prompt prefix are adjacent, sharded at the provider's limits into
   `batch_jobs` rows `planned`.

Everything the second step and the submission after it need is in Postgres, so they may run on
another machine than the first; a spool file (`$BATCH_PIPELINES_HOME/spool/<batch_job_id>.jsonl`)
is only a cache of a job's lines there. `plan` does both at once (scripts, tests, benchmarks: a
window of 0). Rendering streams through a temporary file: only ids, sizes and prefix keys stay in
memory.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Connection, Engine, select

from batch_pipelines.batching import manifest, transitions
from batch_pipelines.batching.groups import SubmitGroup, estimated_tokens, shard_limits
from batch_pipelines.batching.jobs import BATCH
from batch_pipelines.batching.priming import (
    PrimingBatch,
    Waits,
    cacheable_keys,
    plan_priming,
    priming_pays,
    write_threshold,
)
from batch_pipelines.batching.sharding import Sized, shard
from batch_pipelines.batching.transitions import NewJob, NewRequest, QueuedLine, RequestState
from batch_pipelines.batching.workflow import ManifestRow, Rejected, Rendered, Skipped, Workflow
from batch_pipelines.core.caching import CachePrefix, Priming
from batch_pipelines.core.prompts import ChatPrompt, EmbeddingInput, Prompt
from batch_pipelines.core.tenants import TenantContext
from batch_pipelines.db.settings import home_dir
from batch_pipelines.db.statuses import JobStatus, RequestStatus
from batch_pipelines.db.tables import batch_jobs, batch_requests, request_lines
from batch_pipelines.ledger import budgets
from batch_pipelines.ledger.pricing import estimate_cost_micro_usd
from batch_pipelines.providers.base import BatchProvider, prefix_key
from batch_pipelines.providers.registry import ProviderRegistry, tenant_credentials_ref

RENDER_CHUNK = 1000
# A spool file no job will read is removed once it is this old: younger, it may belong to a
# submission under way.
ORPHAN_SPOOL_AGE = dt.timedelta(hours=1)
# Jobs whose spool is never read again (an ingested job's is removed by the ingest itself).
_SPOOL_DONE_STATUSES = (JobStatus.INGESTED, JobStatus.FAILED)
_SCRATCH_BUFFER = 1 << 20
Checkpoint = Callable[[str], None]


def spool_dir() -> Path:
    path = home_dir() / "spool"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class QueueResult:
    """What a queue step wrote: lines queued, and items that went no further, by why."""

    queued: int = 0
    skipped: int = 0
    rejected: int = 0  # dead-lettered at once (too big, refused by the workflow)
    held: int = 0  # kept back by the tenant's budget
    retries: int = 0  # retries among them (attempt > 1)
    queued_by_tenant: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass
class PlanResult:
    """What a plan step wrote; `plan` (queue and plan at once) adds what its queue step found."""

    batch_job_ids: list[str] = field(default_factory=list)
    priming_job_ids: list[str] = field(default_factory=list)  # also in batch_job_ids
    planned: int = 0
    skipped: int = 0
    rejected: int = 0
    held: int = 0
    retries: int = 0
    requests_by_tenant: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass(frozen=True)
class _Line:
    """A rendered request line: in the queue step, at `offset` of its scratch file; in the plan
    step, read from `request_lines` (`offset` None)."""

    request: ManifestRow
    offset: int | None
    nbytes: int
    embedding_inputs: int
    prefix: str
    credentials_ref: str
    estimated_cost: Decimal
    notes: dict
    cache_prefix: str | None  # the longest prefix (what the ledger's bound reads)
    cache_keys: tuple[str, ...]  # the prefixes the model can cache, shortest first
    breakpoints: int  # the cache breakpoints of its prompt (one per prefix)

    @property
    def input_tokens(self) -> int:
        """What the line takes of its model's enqueued-token limit, estimated from its size."""
        return estimated_tokens(self.nbytes)


def _estimate_tokens(prompt) -> tuple[int, int]:
    """Rough prompt/output tokens for budget reservations: 4 bytes a token, the output cap."""
    if isinstance(prompt, EmbeddingInput):
        return sum(len(t.encode()) for t in prompt.texts) // 4 + 1, 0
    size = _utf8_size(tuple(prompt.static_blocks)) + len(prompt.user.encode())
    return size // 4 + 1, prompt.max_output_tokens


class _Prefixes:
    """Each distinct static prefix's cache prefixes, computed once per plan (a tenant's requests
    share their blocks and schema), and the `prompt_prefixes` rows to record."""

    def __init__(self, provider: BatchProvider, provider_name: str, model: str, endpoint: str):
        self.provider, self.provider_name = provider, provider_name
        self.model, self.endpoint = model, endpoint
        self._seen: dict[tuple, tuple[str | None, tuple[str, ...], int]] = {}
        self._schemas: list[object] = []  # keeps the schemas whose ids are keys alive
        self.records: dict[str, tuple[str, str, str, list[str], list[int]]] = {}

    def of(self, prompt: Prompt) -> tuple[str | None, tuple[str, ...], int]:
        """(longest prefix key, cacheable keys shortest first, number of prefixes) of a prompt."""
        if not isinstance(prompt, ChatPrompt):
            return None, (), 0
        memo = (prompt.static_blocks, prompt.schema_name, id(prompt.json_schema))
        found = self._seen.get(memo)
        if found is None:
            self._schemas.append(prompt.json_schema)
            prefixes = self.provider.cache_prefixes(self.model, self.endpoint, prompt)
            found = self._seen[memo] = self._record(prefixes)
        return found

    def _record(self, prefixes: tuple[CachePrefix, ...]) -> tuple[str | None, tuple[str, ...], int]:
        if not prefixes:
            return None, (), 0
        chain = [(p.key, p.tokens) for p in prefixes]
        longest = prefixes[-1].key
        self.records[longest] = (
            longest,
            self.provider_name,
            self.model,
            [key for key, _ in chain],
            [tokens for _, tokens in chain],
        )
        return longest, cacheable_keys(self.model, chain), len(chain)


@functools.lru_cache(maxsize=4096)
def _utf8_size(blocks: tuple[str, ...]) -> int:
    """UTF-8 bytes of static blocks (cached: a tenant's requests share them)."""
    return sum(len(b.encode()) for b in blocks)


def plan(
    engine: Engine,
    workflow: Workflow,
    providers: ProviderRegistry,
    partition_dates: Sequence[dt.date] | None,
    tenant_ids: Sequence[str] | None = None,
    *,
    now: dt.datetime | None = None,
    checkpoint: Checkpoint | None = None,
) -> PlanResult:
    """Queue the due items of `partition_dates` (None: only retries and held items) for
    `tenant_ids` (None: every tenant), then plan every queued line of the workflow, whatever its
    group and however short it has waited (a batch window of 0). Nothing is sent yet."""
    queued = queue(
        engine, workflow, providers, partition_dates, tenant_ids, now=now, checkpoint=checkpoint
    )
    result = plan_queued(engine, workflow, providers, now=now, checkpoint=checkpoint)
    result.skipped, result.rejected = queued.skipped, queued.rejected
    result.held, result.retries = queued.held, queued.retries
    return result


# --- queue -------------------------------------------------------------------------------------


def queue(
    engine: Engine,
    workflow: Workflow,
    providers: ProviderRegistry,
    partition_dates: Sequence[dt.date] | None,
    tenant_ids: Sequence[str] | None = None,
    *,
    now: dt.datetime | None = None,
    checkpoint: Checkpoint | None = None,
) -> QueueResult:
    """Render the due items of `partition_dates` (None: only retries, requeues and held items,
    whatever their date) for `tenant_ids` (None: every tenant), and queue them: manifest rows
    `queued` with their lines in `request_lines`, skipped and rejected items settled with their
    reasons, items past their tenant's budget held. One transaction; nothing is planned or sent."""
    now = now or manifest.utcnow()
    result = QueueResult()
    with engine.begin() as conn:
        manifest.lock_workflow(conn, workflow.name)
        tenants = manifest.load_tenants(conn, tenant_ids)
        waiting = _waiting_requests(conn, workflow, partition_dates, tenant_ids, now)
        result.retries = sum(1 for r in waiting if r.attempt > 1)
        new_rows: list[ManifestRow] = []
        if partition_dates:
            due = [
                i
                for i in workflow.due_items(conn, partition_dates, tenant_ids)
                if i.tenant_id in tenants
            ]
            taken = manifest.items_with_requests(conn, workflow.name, [i.item_id for i in due])
            # Not written yet: each new row is written once, in its final state, after rendering
            # (in this same transaction, so nothing else ever sees the difference).
            new_rows = transitions.new_requests(
                workflow.name,
                [
                    NewRequest(i, tenants[i.tenant_id].vertical)
                    for i in due
                    if i.item_id not in taken
                ],
            )
        fresh = {r.custom_id: RequestState(r) for r in new_rows}
        candidates = waiting + new_rows
        if not candidates:
            return result
        all_tenants = tenants | manifest.load_tenants(
            conn, {r.tenant_id for r in candidates} - tenants.keys()
        )
        # A large buffer: lines of ~8 KB would otherwise each be a system call.
        with tempfile.TemporaryFile(dir=spool_dir(), buffering=_SCRATCH_BUFFER) as scratch:
            lines = _render_to(
                scratch,
                conn,
                workflow,
                providers,
                candidates,
                all_tenants,
                now,
                result,
                fresh,
            )
            lines = _hold_over_budget(conn, lines, result, fresh)
            _queue_lines(conn, workflow, scratch, lines, now, result, fresh)
        if checkpoint:
            checkpoint("after_queue_written")
    if checkpoint:
        checkpoint("after_queue_commit")
    return result


def _waiting_requests(
    conn,
    workflow: Workflow,
    partition_dates: Sequence[dt.date] | None,
    tenant_ids: Sequence[str] | None,
    now: dt.datetime,
) -> list[ManifestRow]:
    """Retries, requeues and held items waiting to be rendered again (whatever their date when
    `partition_dates` is None), once their backoff has passed."""
    query = select(batch_requests).where(
        batch_requests.c.workflow == workflow.name,
        batch_requests.c.status.in_((RequestStatus.PENDING, RequestStatus.HELD)),
        (batch_requests.c.not_before.is_(None)) | (batch_requests.c.not_before <= now),
    )
    if partition_dates:
        query = query.where(batch_requests.c.partition_date.in_(list(partition_dates)))
    if tenant_ids is not None:
        query = query.where(batch_requests.c.tenant_id.in_(list(tenant_ids)))
    rows = conn.execute(query.order_by(batch_requests.c.created_at))
    return [manifest.manifest_row(r) for r in rows]


def _render_to(
    scratch,
    conn,
    workflow: Workflow,
    providers: ProviderRegistry,
    candidates: Sequence[ManifestRow],
    tenants: dict[str, TenantContext],
    now: dt.datetime,
    result: PlanResult,
    fresh: dict[str, RequestState],
) -> list[_Line]:
    by_item = {r.item_id: r for r in candidates}
    # Rendered (and written to the scratch file) tenant by tenant, so that each tenant's lines are
    # contiguous there and land in the spool in long runs; returned in the candidates' order.
    position = {r.item_id: n for n, r in enumerate(candidates)}
    order = sorted(candidates, key=lambda r: (r.tenant_id, r.item_id))
    numbered: list[tuple[int, _Line]] = []
    skipped: list[tuple[str, str]] = []
    rejected: list[tuple[str, str]] = []
    # Lines are encoded by the shared adapter whatever the credentials they go with: encoding
    # needs no key, and a tenant whose key is missing gets its jobs planned all the same (its
    # submit parks them until the key is there). The estimate of each (prompt, output) token
    # count is computed once per run (many requests share one).
    provider = providers.get(workflow.provider)
    max_bytes = provider.limits(workflow.endpoint).max_bytes
    estimates: dict[tuple[int, int], Decimal] = {}
    mode = "self_hosted" if workflow.provider == "self_hosted" else "batch"
    prefixes = _Prefixes(provider, workflow.provider, workflow.model, workflow.endpoint)
    for start in range(0, len(order), RENDER_CHUNK):
        chunk = order[start : start + RENDER_CHUNK]
        outcomes = workflow.render(conn, [manifest.work_item(r) for r in chunk], tenants)
        for outcome in outcomes:
            request = by_item[outcome.item.item_id]
            if outcome.item.tenant_id != request.tenant_id:
                raise RuntimeError(
                    f"{workflow.name} rendered item {request.item_id} for tenant "
                    f"{outcome.item.tenant_id}, but it belongs to {request.tenant_id}"
                )
            if isinstance(outcome, Skipped):
                skipped.append((request.custom_id, outcome.reason))
                continue
            if isinstance(outcome, Rejected):
                rejected.append((request.custom_id, outcome.reason))
                continue
            assert isinstance(outcome, Rendered)
            tenant = tenants[request.tenant_id]
            credentials_ref = (
                tenant_credentials_ref(tenant.tenant_id) if tenant.isolated else "default"
            )
            encoded = provider.encode_line(
                request.custom_id, workflow.model, workflow.endpoint, outcome.prompt
            )
            if len(encoded) > max_bytes:
                rejected.append(
                    (request.custom_id, f"request of {len(encoded)} bytes exceeds the batch limit")
                )
                continue
            tokens = _estimate_tokens(outcome.prompt)
            estimated_cost = estimates.get(tokens)
            if estimated_cost is None:
                estimated_cost = estimates[tokens] = estimate_cost_micro_usd(
                    workflow.provider, workflow.model, mode, *tokens, now
                )
            offset = scratch.tell()
            scratch.write(encoded)
            cache_prefix, cache_keys, breakpoints = prefixes.of(outcome.prompt)
            numbered.append(
                (
                    position[request.item_id],
                    _Line(
                        request=request,
                        offset=offset,
                        nbytes=len(encoded),
                        embedding_inputs=len(outcome.prompt.texts)
                        if isinstance(outcome.prompt, EmbeddingInput)
                        else 0,
                        prefix=prefix_key(outcome.prompt),
                        credentials_ref=credentials_ref,
                        estimated_cost=estimated_cost,
                        notes=dict(outcome.notes),
                        cache_prefix=cache_prefix,
                        cache_keys=cache_keys,
                        breakpoints=breakpoints,
                    ),
                )
            )
    scratch.flush()
    transitions.record_prompt_prefixes(conn, prefixes.records.values())
    _settle(conn, RequestStatus.SKIPPED, skipped, fresh)
    _settle(conn, RequestStatus.DEAD_LETTER, rejected, fresh)
    result.skipped += len(skipped)
    result.rejected += len(rejected)
    numbered.sort(key=lambda nl: nl[0])
    return [line for _, line in numbered]


def _settle(
    conn,
    status: RequestStatus,
    outcomes: Sequence[tuple[str, str]],
    fresh: dict[str, RequestState],
) -> None:
    """Skipped or rejected (dead-lettered) items with each one's reason: rows not written yet take
    it in memory, written ones (retries) through their transition."""
    written: list[tuple[str, str]] = []
    for custom_id, reason in outcomes:
        state = fresh.get(custom_id)
        if state is None:
            written.append((custom_id, reason))
        else:
            state.status, state.error = status, reason
    if status is RequestStatus.SKIPPED:
        transitions.skip_requests(conn, written)
    else:
        transitions.dead_letter_requests(conn, written)


def _hold_over_budget(
    conn,
    lines: list[_Line],
    result: PlanResult,
    fresh: dict[str, RequestState],
) -> list[_Line]:
    """Items whose tenant's budget of the month they are booked to (their partition date) would
    be passed are held (kept, never dropped); held items come back into every later plan and go
    when the budget allows. `budgets.hold_over_budget` decides and serialises the tenant's
    reservations until this plan commits."""
    reasons = budgets.hold_over_budget(
        conn,
        [
            budgets.BudgetClaim(
                ln.request.custom_id,
                ln.request.tenant_id,
                ln.request.partition_date,
                ln.estimated_cost,
            )
            for ln in lines
        ],
    )
    keep = [ln for ln in lines if ln.request.custom_id not in reasons]
    held = [ln for ln in lines if ln.request.custom_id in reasons]
    written = []
    for ln in held:
        state = fresh.get(ln.request.custom_id)
        if state is None:
            written.append(ln)
        else:
            state.status = RequestStatus.HELD
            state.error = reasons[ln.request.custom_id]
            state.estimated_cost_micro_usd = ln.estimated_cost
    transitions.hold_requests(
        conn,
        [
            (ln.request.custom_id, ln.estimated_cost, reasons[ln.request.custom_id])
            for ln in written
        ],
    )
    result.held += len(held)
    return keep


def _queue_lines(
    conn,
    workflow: Workflow,
    scratch,
    lines: list[_Line],
    now: dt.datetime,
    result: QueueResult,
    fresh: dict[str, RequestState],
) -> None:
    """The rendered lines queued: new rows written in their final state, written ones (retries,
    requeues, released holds) moved to `queued`, each line copied from the scratch file into
    `request_lines` with its group."""
    written = []
    for ln in lines:
        state = fresh.get(ln.request.custom_id)
        if state is None:
            written.append((ln.request.custom_id, ln.notes, ln.estimated_cost, ln.cache_prefix))
        else:
            state.status, state.notes = RequestStatus.QUEUED, ln.notes
            state.estimated_cost_micro_usd = ln.estimated_cost
            state.cache_prefix = ln.cache_prefix
        result.queued_by_tenant[ln.request.tenant_id] += 1
    transitions.insert_requests(conn, fresh.values())
    transitions.queue_written_requests(conn, written)
    source = scratch.fileno()
    transitions.insert_request_lines(
        conn,
        (
            QueuedLine(
                custom_id=ln.request.custom_id,
                workflow=workflow.name,
                provider=workflow.provider,
                credentials_ref=ln.credentials_ref,
                model=workflow.model,
                endpoint=workflow.endpoint,
                prefix_key=ln.prefix,
                embedding_inputs=ln.embedding_inputs,
                cache_keys=ln.cache_keys,
                breakpoints=ln.breakpoints,
                line=os.pread(source, ln.nbytes, ln.offset),
            )
            for ln in lines
            if ln.offset is not None
        ),
        now,
        replacing=[custom_id for custom_id, *_ in written],
    )
    result.queued += len(lines)


# --- plan --------------------------------------------------------------------------------------


def plan_queued(
    engine: Engine,
    workflow: Workflow,
    providers: ProviderRegistry,
    *,
    credentials_ref: str | None = None,
    now: dt.datetime | None = None,
    checkpoint: Checkpoint | None = None,
) -> PlanResult:
    """Plan every queued line of `workflow` (of one credentials' group, if given) into pooled,
    sharded jobs, whatever runs queued them: `batch_jobs` rows `planned` and their requests with
    them, in one transaction. Nothing is sent yet."""
    now = now or manifest.utcnow()
    result = PlanResult()
    with engine.begin() as conn:
        manifest.lock_workflow(conn, workflow.name)
        remove_orphan_spools(conn)
        transitions.drop_finished_lines(conn)
        groups = _queued_lines(conn, workflow.name, credentials_ref)
        for group, lines in sorted(groups.items()):
            _write_jobs(conn, workflow, providers, group, lines, now, result)
        if checkpoint:
            checkpoint("after_plan_written")
    if checkpoint:
        checkpoint("after_plan_commit")
    return result


def _queued_lines(
    conn: Connection, workflow: str, credentials_ref: str | None
) -> dict[SubmitGroup, list[_Line]]:
    """The workflow's queued lines (their sizes and prefixes, not their bytes) by group."""
    query = (
        select(
            batch_requests,
            request_lines.c.provider,
            request_lines.c.credentials_ref,
            request_lines.c.model,
            request_lines.c.endpoint,
            request_lines.c.prefix_key,
            request_lines.c.nbytes,
            request_lines.c.embedding_inputs,
            request_lines.c.cache_keys,
            request_lines.c.breakpoints,
        )
        .select_from(batch_requests.join(request_lines))
        .where(
            batch_requests.c.workflow == workflow,
            batch_requests.c.status == RequestStatus.QUEUED,
        )
    )
    if credentials_ref is not None:
        query = query.where(request_lines.c.credentials_ref == credentials_ref)
    groups: dict[SubmitGroup, list[_Line]] = defaultdict(list)
    for row in conn.execute(query):
        group = SubmitGroup(workflow, row.provider, row.credentials_ref, row.model, row.endpoint)
        groups[group].append(
            _Line(
                request=manifest.manifest_row(row),
                offset=None,
                nbytes=row.nbytes,
                embedding_inputs=row.embedding_inputs,
                prefix=row.prefix_key,
                credentials_ref=row.credentials_ref,
                estimated_cost=row.estimated_cost_micro_usd,
                notes=dict(row.notes or {}),
                cache_prefix=row.cache_prefix,
                cache_keys=tuple(row.cache_keys),
                breakpoints=row.breakpoints,
            )
        )
    return groups


def _write_jobs(
    conn,
    workflow: Workflow,
    providers: ProviderRegistry,
    group: SubmitGroup,
    lines: list[_Line],
    now: dt.datetime,
    result: PlanResult,
) -> None:
    """One group's lines into jobs: ordered so that requests sharing a static prefix sit next to
    each other (they share the cache), cut at the provider's limits."""
    deadline_at = now + workflow.deadline if workflow.deadline else None
    mode = "self_hosted" if group.provider == "self_hosted" else BATCH
    limits = shard_limits(providers, group.provider, group.model, group.endpoint)
    policy: Priming = getattr(workflow, "priming", None) or Priming()
    primes = priming_pays(group.provider, group.model, policy, now)
    threshold = write_threshold(group.provider, group.model, now)
    lines.sort(key=job_line_order)
    buckets: list[tuple[list[_Line], bool, Waits]] = [(lines, False, None)]
    kept: dict[str, int] = {}  # custom id → cache breakpoints kept, for those that drop some
    if primes or threshold is not None:
        # The group's queued lines, whatever runs queued them, decide what is primed: a prefix
        # shared across the window's runs is primed once for all of them.
        split = plan_priming(
            conn,
            [(ln, ln.cache_keys, ln.breakpoints) for ln in lines],
            provider=group.provider,
            credentials_ref=group.credentials_ref,
            model=group.model,
            policy=policy,
            primes=primes,
            threshold=threshold,
            now=now,
        )
        kept = {
            ln.request.custom_id: split.breakpoints[id(ln)]
            for ln in lines
            if id(ln) in split.breakpoints
        }
        # Priming batches first, each after the one it waits for (ids exist before use).
        priming = sorted(split.priming.items(), key=lambda item: _stage(item[0]))
        buckets = [(members, True, batch) for batch, members in priming]
        buckets += [(members, False, waits) for waits, members in split.waiting.items()]
        if kept:
            sizes = _with_breakpoints(conn, providers.get(group.provider), kept)
            buckets = [
                (
                    [
                        dataclasses.replace(ln, nbytes=sizes[ln.request.custom_id])
                        if ln.request.custom_id in sizes
                        else ln
                        for ln in members
                    ],
                    is_priming,
                    waits,
                )
                for members, is_priming, waits in buckets
            ]
    for members, is_priming, waits in buckets:
        sized = [Sized(ln, ln.nbytes, ln.embedding_inputs, ln.input_tokens) for ln in members]
        for shard_lines in shard(sized, limits):
            batch_job_id = manifest.new_batch_job_id()
            if is_priming and isinstance(waits, PrimingBatch) and waits.batch_job_id is None:
                # A priming batch is a handful of lines: one job (were it ever cut in more, its
                # first job is the one waited for).
                waits.batch_job_id = batch_job_id
            transitions.insert_planned_job(
                conn,
                NewJob(
                    batch_job_id=batch_job_id,
                    workflow=group.workflow,
                    provider=group.provider,
                    mode=mode,
                    model=group.model,
                    endpoint=group.endpoint,
                    credentials_ref=group.credentials_ref,
                    request_count=len(shard_lines),
                    estimated_input_tokens=sum(ln.input_tokens for ln in shard_lines),
                    partitions=manifest.partitions_of(ln.request for ln in shard_lines),
                    deadline_at=deadline_at,
                    priming=is_priming,
                    primed_by=_waited_job(waits.waits_for if is_priming else waits),
                    cache_prefixes=sorted({k for ln in shard_lines for k in ln.cache_keys}),
                ),
            )
            transitions.plan_into_job(
                conn,
                batch_job_id,
                [ln.request.custom_id for ln in shard_lines],
                now,
                breakpoints={
                    ln.request.custom_id: kept[ln.request.custom_id]
                    for ln in shard_lines
                    if ln.request.custom_id in kept
                },
            )
            result.batch_job_ids.append(batch_job_id)
            if is_priming:
                result.priming_job_ids.append(batch_job_id)
            result.planned += len(shard_lines)
            for ln in shard_lines:
                result.requests_by_tenant[ln.request.tenant_id] += 1


def _stage(batch: PrimingBatch) -> int:
    """How many new priming batches `batch` waits for, one after the other."""
    stage = 0
    while isinstance(batch.waits_for, PrimingBatch):
        batch, stage = batch.waits_for, stage + 1
    return stage


def _waited_job(waits: Waits) -> str | None:
    """The job id of what a job waits for (a new priming batch is written before its waiters)."""
    if isinstance(waits, PrimingBatch):
        if waits.batch_job_id is None:
            raise RuntimeError("a priming batch must be planned before the jobs that wait for it")
        return waits.batch_job_id
    return waits


def _with_breakpoints(
    conn: Connection, provider: BatchProvider, kept: dict[str, int]
) -> dict[str, int]:
    """The queued lines of `kept` re-encoded with fewer cache breakpoints, stored in place of
    their lines in `request_lines` (what submission sends), a chunk at a time; their new sizes
    by custom id."""
    sizes: dict[str, int] = {}
    ids = sorted(kept)
    for start in range(0, len(ids), RENDER_CHUNK):
        rows = conn.execute(
            select(request_lines.c.custom_id, request_lines.c.line).where(
                request_lines.c.custom_id.in_(ids[start : start + RENDER_CHUNK])
            )
        )
        encoded = {
            custom_id: provider.with_cache_breakpoints(bytes(line), kept[custom_id])
            for custom_id, line in rows
        }
        transitions.replace_request_lines(conn, encoded)
        sizes |= {custom_id: len(line) for custom_id, line in encoded.items()}
    return sizes


def job_line_order(line: _Line) -> tuple[str, str, str]:
    """The order of a job's lines (submission streams them from `request_lines` the same way)."""
    return (line.prefix, line.request.tenant_id, line.request.item_id)


def remove_orphan_spools(conn, *, min_age: dt.timedelta = ORPHAN_SPOOL_AGE) -> int:
    """Delete the spool files older than `min_age` that no job will read: those of a plan that
    crashed before its commit (no such job), of a job that failed, and half-written or scratch
    files. They hold rendered prompts, tenant data that should not outlive its use. Removing one
    in error loses nothing: submission renders a missing spool again from the manifest. Returns
    the number of files removed."""
    cutoff = time.time() - min_age.total_seconds()
    old: dict[str, list[Path]] = defaultdict(list)  # by batch job id (the name's first part)
    for path in spool_dir().iterdir():
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                old[path.name.split(".", 1)[0]].append(path)
        except FileNotFoundError:  # removed meanwhile (an ingest, another plan)
            continue
    if not old:
        return 0
    live = set(
        conn.execute(
            select(batch_jobs.c.batch_job_id).where(
                batch_jobs.c.batch_job_id.in_(list(old)),
                batch_jobs.c.status.not_in(_SPOOL_DONE_STATUSES),
            )
        ).scalars()
    )
    removed = 0
    for job_id, paths in old.items():
        for path in paths:
            # A live job's spool stays; its scratch (`.render`) and half-written (`.partial`)
            # files that old are left over from a crash.
            if job_id in live and path.suffix == ".jsonl" and path.name == f"{job_id}.jsonl":
                continue
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def due_tenants(
    engine: Engine, workflow: Workflow, partition_dates: Sequence[dt.date]
) -> list[str]:
    """Tenants with items of these dates that have no request yet (what a sensor wakes up for)."""
    with engine.connect() as conn:
        due = list(workflow.due_items(conn, partition_dates, None))
        taken = manifest.items_with_requests(conn, workflow.name, [i.item_id for i in due])
    return sorted({i.tenant_id for i in due if i.item_id not in taken})
