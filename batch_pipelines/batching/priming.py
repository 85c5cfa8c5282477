"""Prime, then fan out: which planned lines go first, in a priming batch, so that the rest read
the prompt cache it writes.

Requests inside one batch do not read each other's cache writes; later batches read earlier
writes; a synchronous call's write was not read by a batch a second later (`core/caching.py` has
the sources). So a prefix shared by many requests of a plan, which no batch of the last TTL wrote,
is primed: one of its requests goes alone (with one request of each other such prefix) in a
priming batch, and the others are planned into jobs `primed_by` it, which admission control holds
until it has ended (`admission.py`). Priming is engine state, on `batch_jobs`, so any submit path
that goes through admission respects it.

Prefixes nest (a workflow's instructions, then a tenant's context): the longest is what a request
reads, the shorter ones are shared more widely. They are primed from the shortest: a prefix whose
shorter prefix is itself being primed is primed by a second batch that waits for the first (one
write per distinct prefix, as the ledger's cost bound counts them). A priming line writes every
prefix of its own request, so it also primes its longer prefixes.

A prefix is *warm* when a batch of the same credentials and model that carried it ended within
the TTL (less a margin for the next batch to start); one being primed by a live priming job is
waited for rather than primed again. A prefix shared by fewer than the policy's `min_requests`
requests is not primed (its one request writes it, for a later batch to read).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy import Connection, and_, or_, select

from batch_pipelines.batching.admission import PRIMING_UNDER_WAY
from batch_pipelines.core.caching import Priming, PrimingMode, prompt_cache
from batch_pipelines.core.models import min_cacheable_tokens
from batch_pipelines.db.statuses import JobStatus
from batch_pipelines.db.tables import batch_jobs
from batch_pipelines.ledger.pricing import resolve_unit_prices
from batch_pipelines.ledger.token_classes import price_of

__all__ = ["PrimingBatch", "Waits", "cacheable_keys", "plan_priming", "priming_pays"]

T = TypeVar("T")
# A warm prefix must still be cached when the next batch starts processing: a batch is created
# within a poll tick of its priming batch's end, and usually starts within minutes.
WARM_MARGIN = dt.timedelta(minutes=10)
_ENDED = (JobStatus.ENDED, JobStatus.INGESTED)


@dataclass(eq=False)
class PrimingBatch:
    """A priming job to plan: it waits for `waits_for` (an existing job id, another new priming
    batch, or nothing)."""

    waits_for: str | PrimingBatch | None
    batch_job_id: str | None = None  # given when the job is written


Waits = str | PrimingBatch | None


@dataclass
class PrimingPlan(Generic[T]):
    """Lines by what they wait for: priming lines by their priming batch, the others by the job
    whose end they wait for (None: nothing, they go in plain jobs)."""

    priming: dict[PrimingBatch, list[T]] = field(default_factory=lambda: defaultdict(list))
    waiting: dict[Waits, list[T]] = field(default_factory=lambda: defaultdict(list))


def priming_pays(provider: str, model: str, policy: Priming, now: dt.datetime) -> bool:
    """Whether the workflow primes: never for a model or provider whose prices no cache changes;
    `on` always; `auto` where the model's batch price list bills a cache read below a cache write
    (gpt-4o-mini's batch price has no cached-input discount: a read costs what a write does, and
    priming would only delay the rest)."""
    facts = prompt_cache(provider)
    if policy.mode is PrimingMode.OFF or facts is None or min_cacheable_tokens(model) is None:
        return False
    if policy.mode is PrimingMode.ON:
        return True
    try:
        prices = resolve_unit_prices(provider, model, "batch", now).unit_prices.by_class
    except LookupError:
        return False
    read, write = prices[price_of("cached_input_tokens")], prices[price_of(facts.write_class)]
    return read is not None and write is not None and read < write


def cacheable_keys(model: str, prefixes: Sequence[tuple[str, int]]) -> tuple[str, ...]:
    """The keys of the prefixes (key, estimated tokens) the model can cache, shortest first."""
    minimum = min_cacheable_tokens(model)
    if minimum is None:
        return ()
    return tuple(key for key, tokens in prefixes if tokens >= minimum)


def _known_prefixes(
    conn: Connection,
    provider: str,
    credentials_ref: str,
    model: str,
    keys: Sequence[str],
    now: dt.datetime,
) -> tuple[set[str], dict[str, str]]:
    """Of `keys`: the warm ones, and those a live priming job is priming (key → its job id)."""
    facts = prompt_cache(provider)
    if not keys or facts is None:
        return set(), {}
    warm_since = now - (facts.ttl - WARM_MARGIN)
    rows = conn.execute(
        select(
            batch_jobs.c.batch_job_id,
            batch_jobs.c.status,
            batch_jobs.c.cache_prefixes,
        )
        .where(
            batch_jobs.c.provider == provider,
            batch_jobs.c.credentials_ref == credentials_ref,
            batch_jobs.c.model == model,
            batch_jobs.c.cache_prefixes.overlap(list(keys)),
            or_(
                and_(batch_jobs.c.priming, batch_jobs.c.status.in_(PRIMING_UNDER_WAY)),
                and_(batch_jobs.c.status.in_(_ENDED), batch_jobs.c.finished_at >= warm_since),
            ),
        )
        .order_by(batch_jobs.c.created_at)
    ).all()
    wanted = set(keys)
    warm: set[str] = set()
    priming: dict[str, str] = {}
    for job_id, status, prefixes in rows:
        for key in wanted.intersection(prefixes):
            if status in _ENDED:
                warm.add(key)
            else:
                priming.setdefault(key, job_id)
    return warm, {k: j for k, j in priming.items() if k not in warm}


def plan_priming(
    conn: Connection,
    lines: Iterable[tuple[T, tuple[str, ...]]],
    *,
    provider: str,
    credentials_ref: str,
    model: str,
    policy: Priming,
    now: dt.datetime,
) -> PrimingPlan[T]:
    """Split one group's lines (each with its cacheable prefix keys, shortest first) into priming
    lines and lines that wait (module docstring). Deterministic: lines in the order given."""
    lines = list(lines)
    plan: PrimingPlan[T] = PrimingPlan()
    all_keys = sorted({key for _line, keys in lines for key in keys})
    warm, in_flight = _known_prefixes(conn, provider, credentials_ref, model, all_keys, now)
    ready: dict[str, Waits] = {}  # key → what a request must wait for to read it
    primers: dict[int, PrimingBatch] = {}  # line index → its priming batch
    batches: dict[Waits, PrimingBatch] = {}  # one priming batch per thing it waits for
    depth = max((len(keys) for _line, keys in lines), default=0)
    for level in range(depth):
        members: dict[str, list[int]] = defaultdict(list)
        for index, (_line, keys) in enumerate(lines):
            if len(keys) > level:
                members[keys[level]].append(index)
        for key, indices in members.items():
            parent = ready.get(lines[indices[0]][1][level - 1]) if level else None
            if key in warm:
                ready[key] = None
            elif key in in_flight:
                ready[key] = in_flight[key]
            elif covering := next((primers[i] for i in indices if i in primers), None):
                ready[key] = covering  # a priming line of a shorter prefix writes this one too
            elif len(indices) >= policy.min_requests:
                batch = batches.get(parent)
                if batch is None:
                    batch = batches[parent] = PrimingBatch(waits_for=parent)
                primers[indices[0]] = batch
                ready[key] = batch
            else:
                ready[key] = parent  # its one request reads the shorter prefix, writes this one
    for index, (line, keys) in enumerate(lines):
        if index in primers:
            plan.priming[primers[index]].append(line)
        else:
            plan.waiting[ready[keys[-1]] if keys else None].append(line)
    return plan
