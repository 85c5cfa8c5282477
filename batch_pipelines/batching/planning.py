"""Plan: choose due items, render them, pool across tenants, shard, and commit the plan.

Everything is written in one transaction before any network call: `batch_requests` rows (the
manifest) and `batch_jobs` rows in status `planned`. Rendered request lines are spooled to
`$BATCH_PIPELINES_HOME/spool/<batch_job_id>.jsonl` so submission sends exactly what was planned;
if the spool is missing (another machine, a cleaned disk) submission renders the rows again.
Rendering streams through a temporary file: only ids, sizes and prefix keys stay in memory.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, select

from batch_pipelines.batching import manifest, transitions
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
from batch_pipelines.batching.transitions import NewJob, NewRequest, RequestState
from batch_pipelines.batching.workflow import ManifestRow, Rejected, Rendered, Skipped, Workflow
from batch_pipelines.core.caching import CachePrefix, Priming
from batch_pipelines.core.prompts import ChatPrompt, EmbeddingInput, Prompt
from batch_pipelines.core.tenants import TenantContext
from batch_pipelines.db.settings import home_dir
from batch_pipelines.db.statuses import JobStatus, RequestStatus
from batch_pipelines.db.tables import batch_jobs, batch_requests
from batch_pipelines.ledger import budgets
from batch_pipelines.ledger.pricing import estimate_cost_micro_usd
from batch_pipelines.providers.base import BatchProvider, ShardLimits, prefix_key
from batch_pipelines.providers.registry import ProviderRegistry, tenant_credentials_ref

RENDER_CHUNK = 1000
# A spool file no job will read is removed once it is this old: younger, it may belong to a plan
# whose transaction has not committed yet.
ORPHAN_SPOOL_AGE = dt.timedelta(hours=1)
# Jobs whose spool is never read again (an ingested job's is removed by the ingest itself).
_SPOOL_DONE_STATUSES = (JobStatus.INGESTED, JobStatus.FAILED)
# The planner's estimate of a line's input tokens, for admission control: one per 4 bytes of the
# line's whole JSON (its markup, schema and ids too), above the ~4 characters a token of English
# prose the providers' tokenizers count. Text of denser scripts may count more.
BYTES_PER_TOKEN = 4
_SCRATCH_BUFFER = 1 << 20
Checkpoint = Callable[[str], None]


def spool_dir() -> Path:
    path = home_dir() / "spool"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class PlanResult:
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
    request: ManifestRow
    offset: int
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
        return -(-self.nbytes // BYTES_PER_TOKEN)


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
    """Plan the due items of `partition_dates` (None: only queued retries and held items) for
    `tenant_ids` (None: every tenant). Returns the planned jobs; nothing is sent yet."""
    now = now or manifest.utcnow()
    result = PlanResult()
    with engine.begin() as conn:
        manifest.lock_workflow(conn, workflow.name)
        remove_orphan_spools(conn)
        tenants = manifest.load_tenants(conn, tenant_ids)
        queued = _queued_requests(conn, workflow, partition_dates, tenant_ids, now)
        result.retries = sum(1 for r in queued if r.attempt > 1)
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
        candidates = queued + new_rows
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
            _write_jobs(conn, workflow, providers, scratch, lines, now, result, fresh)
        transitions.insert_requests(conn, fresh.values())
        if checkpoint:
            checkpoint("after_plan_written")
    if checkpoint:
        checkpoint("after_plan_commit")
    return result


def _queued_requests(
    conn,
    workflow: Workflow,
    partition_dates: Sequence[dt.date] | None,
    tenant_ids: Sequence[str] | None,
    now: dt.datetime,
) -> list[ManifestRow]:
    """Retries, requeues and held items waiting for a batch (whatever their date when
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


def _write_jobs(
    conn,
    workflow: Workflow,
    providers: ProviderRegistry,
    scratch,
    lines: list[_Line],
    now: dt.datetime,
    result: PlanResult,
    fresh: dict[str, RequestState],
) -> None:
    groups: dict[str, list[_Line]] = defaultdict(list)
    for line in lines:
        groups[line.credentials_ref].append(line)
    deadline_at = now + workflow.deadline if workflow.deadline else None
    mode = "self_hosted" if workflow.provider == "self_hosted" else BATCH
    limits = _shard_limits(workflow, providers)
    policy: Priming = getattr(workflow, "priming", None) or Priming()
    primes = priming_pays(workflow.provider, workflow.model, policy, now)
    threshold = write_threshold(workflow.provider, workflow.model, now)
    provider = providers.get(workflow.provider)
    for credentials_ref, group in sorted(groups.items()):
        # Requests sharing a static prefix sit next to each other, so they share the cache.
        group.sort(key=lambda ln: (ln.prefix, ln.request.tenant_id, ln.request.item_id))
        buckets: list[tuple[list[_Line], bool, Waits]] = [(group, False, None)]
        kept: dict[str, int] = {}  # custom id → cache breakpoints kept, for those that drop some
        if primes or threshold is not None:
            split = plan_priming(
                conn,
                [(ln, ln.cache_keys, ln.breakpoints) for ln in group],
                provider=workflow.provider,
                credentials_ref=credentials_ref,
                model=workflow.model,
                policy=policy,
                primes=primes,
                threshold=threshold,
                now=now,
            )
            kept = {
                ln.request.custom_id: split.breakpoints[id(ln)]
                for ln in group
                if id(ln) in split.breakpoints
            }
            # Priming batches first, each after the one it waits for (ids exist before use).
            priming = sorted(split.priming.items(), key=lambda item: _stage(item[0]))
            buckets = [(lines, True, batch) for batch, lines in priming]
            buckets += [(lines, False, waits) for waits, lines in split.waiting.items()]
            if kept:
                buckets = [
                    (_with_breakpoints(scratch, provider, lines, kept), is_priming, waits)
                    for lines, is_priming, waits in buckets
                ]
        for lines, is_priming, waits in buckets:
            sized = [Sized(ln, ln.nbytes, ln.embedding_inputs, ln.input_tokens) for ln in lines]
            for shard_lines in shard(sized, limits):
                batch_job_id = manifest.new_batch_job_id()
                if is_priming and isinstance(waits, PrimingBatch) and waits.batch_job_id is None:
                    # A priming batch is a handful of lines: one job (were it ever cut in more,
                    # its first job is the one waited for).
                    waits.batch_job_id = batch_job_id
                transitions.insert_planned_job(
                    conn,
                    NewJob(
                        batch_job_id=batch_job_id,
                        workflow=workflow.name,
                        provider=workflow.provider,
                        mode=mode,
                        model=workflow.model,
                        endpoint=workflow.endpoint,
                        credentials_ref=credentials_ref,
                        request_count=len(shard_lines),
                        estimated_input_tokens=sum(ln.input_tokens for ln in shard_lines),
                        partitions=manifest.partitions_of(ln.request for ln in shard_lines),
                        deadline_at=deadline_at,
                        priming=is_priming,
                        primed_by=_waited_job(waits.waits_for if is_priming else waits),
                        cache_prefixes=sorted({k for ln in shard_lines for k in ln.cache_keys}),
                    ),
                )
                _assign(conn, batch_job_id, shard_lines, now, fresh, kept)
                _spool(scratch, batch_job_id, shard_lines)
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
    scratch, provider: BatchProvider, lines: list[_Line], kept: dict[str, int]
) -> list[_Line]:
    """`lines`, those in `kept` re-encoded with fewer cache breakpoints (appended to the scratch
    file, from which the spool is copied)."""
    out = []
    for ln in lines:
        keep = kept.get(ln.request.custom_id)
        if keep is None:
            out.append(ln)
            continue
        encoded = provider.with_cache_breakpoints(
            os.pread(scratch.fileno(), ln.nbytes, ln.offset), keep
        )
        scratch.seek(0, os.SEEK_END)
        offset = scratch.tell()
        scratch.write(encoded)
        out.append(dataclasses.replace(ln, offset=offset, nbytes=len(encoded)))
    scratch.flush()
    return out


def _assign(
    conn,
    batch_job_id: str,
    lines: Sequence[_Line],
    now: dt.datetime,
    fresh: dict[str, RequestState],
    kept: dict[str, int],
) -> None:
    """The shard's requests planned into its job: new rows in memory, written ones by one
    statement."""
    written = []
    for ln in lines:
        state = fresh.get(ln.request.custom_id)
        breakpoints = kept.get(ln.request.custom_id)
        if state is None:
            written.append(
                (ln.request.custom_id, ln.notes, ln.estimated_cost, ln.cache_prefix, breakpoints)
            )
        else:
            state.status, state.batch_job_id = RequestStatus.PLANNED, batch_job_id
            state.notes, state.estimated_cost_micro_usd = ln.notes, ln.estimated_cost
            state.planned_at, state.cache_prefix = now, ln.cache_prefix
            state.cache_breakpoints = breakpoints
    transitions.assign_to_job(conn, batch_job_id, written, now)


def _shard_limits(workflow: Workflow, providers: ProviderRegistry) -> ShardLimits:
    """The provider's per-batch limits, and the model's queue limit: a shard never takes more
    than the whole queue alone (it could never be admitted)."""
    limits = providers.get(workflow.provider).limits(workflow.endpoint)
    queue = providers.queue_limit(workflow.provider, workflow.model)
    if queue is None:
        return limits
    if queue.unit == "requests":
        return dataclasses.replace(limits, max_lines=min(limits.max_lines, queue.limit))
    return dataclasses.replace(limits, max_input_tokens=queue.limit)


def _spool(scratch, batch_job_id: str, lines: Iterable[_Line]) -> None:
    """Copy the lines from the scratch file into the job's spool file, each run of lines that lie
    next to each other in the scratch file in one copy."""
    runs: list[tuple[int, int]] = []
    for line in lines:
        if runs and runs[-1][0] + runs[-1][1] == line.offset:
            runs[-1] = (runs[-1][0], runs[-1][1] + line.nbytes)
        else:
            runs.append((line.offset, line.nbytes))
    path = spool_dir() / f"{batch_job_id}.jsonl"
    partial = path.with_suffix(".partial")
    source = scratch.fileno()
    with open(partial, "wb") as out:
        target = out.fileno()
        for offset, nbytes in runs:
            _copy_range(source, target, offset, nbytes)
    os.replace(partial, path)


def _copy_range(source: int, target: int, offset: int, nbytes: int) -> None:
    """Append `nbytes` of `source` from `offset` to `target` (in the kernel where it can)."""
    while nbytes > 0:
        try:
            copied = os.copy_file_range(source, target, nbytes, offset)
        except OSError:
            copied = 0
        if copied <= 0:  # not supported here (or nothing copied): read and write instead
            data = os.pread(source, nbytes, offset)
            if not data:
                raise OSError(f"scratch file ended {nbytes} bytes early")
            copied = os.write(target, data)
        offset += copied
        nbytes -= copied


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
