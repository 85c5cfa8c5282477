"""Prime, then fan out: which planned lines go first, in a priming batch, so that the rest read
the prompt cache it writes; and which lines write no cache at all, because nobody would read it.

Requests inside one batch do not read each other's cache writes; later batches read earlier
writes; a synchronous call's write was not read by a batch a second later (`core/caching.py` has
the sources). So a prefix shared by enough requests of a plan, which no batch of the last TTL
wrote, is primed: one of its requests goes alone (with one request of each other such prefix) in a
priming batch, and the others are planned into jobs `primed_by` it, which admission control holds
until it has ended (`admission.py`). Priming is engine state, on `batch_jobs`, so any submit path
that goes through admission respects it.

Prefixes nest (a workflow's instructions, then a tenant's context): the longest is what a request
reads, the shorter ones are shared more widely. They are primed from the shortest: a prefix whose
shorter prefix is itself being primed is primed by a second batch that waits for the first (one
write per distinct prefix, as the ledger's cost bound counts them). A priming line writes every
prefix of its own request, so it also primes its longer prefixes.

Writing a prefix pays when enough requests read it within the TTL: `n` of them when
``n x (uncached - read) > write - read`` at the batch prices (3 on Claude Haiku 4.5 with 1-hour
writes: a prefix of two requests costs less uncached than written once and read once; the same
sum as the ledger's bound). A prefix pays in a plan when it is *warm* (a batch of the same
credentials and model that carried it ended within the TTL, less a margin for the next batch to
start), *being primed* by a live priming job (waited for, not primed again), used by enough
requests of the plan, or *recurring* (a job of the last TTL carried it: a write now is read by
the next window's batch). A request's cache breakpoints after its longest prefix that pays are
dropped (`BatchProvider.with_cache_breakpoints`): it writes nothing nobody would read.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Generic, TypeVar

from sqlalchemy import Connection, and_, or_, select

from batch_pipelines.batching.admission import PRIMING_UNDER_WAY
from batch_pipelines.core.caching import Priming, PrimingMode, prompt_cache
from batch_pipelines.core.models import min_cacheable_tokens
from batch_pipelines.db.statuses import JobStatus
from batch_pipelines.db.tables import batch_jobs
from batch_pipelines.ledger.pricing import resolve_unit_prices
from batch_pipelines.ledger.token_classes import price_of

__all__ = [
    "PrimingBatch",
    "PrimingPlan",
    "Waits",
    "cacheable_keys",
    "plan_priming",
    "priming_pays",
    "write_threshold",
]

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
    whose end they wait for (None: nothing, they go in plain jobs); and, for each line that keeps
    fewer cache breakpoints than its prompt has, how many it keeps."""

    priming: dict[PrimingBatch, list[T]] = field(default_factory=lambda: defaultdict(list))
    waiting: dict[Waits, list[T]] = field(default_factory=lambda: defaultdict(list))
    breakpoints: dict[int, int] = field(default_factory=dict)  # id(line) → breakpoints kept


def _batch_prices(provider: str, model: str, now: dt.datetime) -> tuple[Decimal, ...] | None:
    """(uncached, read, write) batch prices of the model's cache classes, or None."""
    facts = prompt_cache(provider)
    if facts is None or min_cacheable_tokens(model) is None:
        return None
    try:
        prices = resolve_unit_prices(provider, model, "batch", now).unit_prices.by_class
    except LookupError:
        return None
    found = tuple(
        prices[price_of(name)]
        for name in ("input_tokens", "cached_input_tokens", facts.write_class)
    )
    return None if any(p is None for p in found) else found  # type: ignore[return-value]


def priming_pays(provider: str, model: str, policy: Priming, now: dt.datetime) -> bool:
    """Whether the workflow primes: never for a model or provider whose prices no cache changes;
    `on` always; `auto` where the model's batch price list bills a cache read below a cache write
    (gpt-4o-mini's batch price has no cached-input discount: a read costs what a write does, and
    priming would only delay the rest)."""
    if policy.mode is PrimingMode.OFF:
        return False
    prices = _batch_prices(provider, model, now)
    if prices is None:
        return False
    _uncached, read, write = prices
    return policy.mode is PrimingMode.ON or read < write


def write_threshold(provider: str, model: str, now: dt.datetime) -> int | None:
    """The fewest requests reading a prefix within a TTL that pay for writing it once: the least
    n with n x (uncached - read) > write - read; None when a cache read saves nothing."""
    prices = _batch_prices(provider, model, now)
    if prices is None:
        return None
    uncached, read, write = prices
    if read >= uncached:
        return None
    return max(2, int((write - read) / (uncached - read)) + 1)


def _known_prefixes(
    conn: Connection,
    provider: str,
    credentials_ref: str,
    model: str,
    keys: Sequence[str],
    now: dt.datetime,
) -> tuple[set[str], dict[str, str], set[str]]:
    """Of `keys`: the warm ones, those a live priming job is priming (key → its job id), and the
    recurring ones (a job planned within the TTL carried them)."""
    facts = prompt_cache(provider)
    if not keys or facts is None:
        return set(), {}, set()
    warm_since = now - (facts.ttl - WARM_MARGIN)
    rows = conn.execute(
        select(
            batch_jobs.c.batch_job_id,
            batch_jobs.c.status,
            batch_jobs.c.priming,
            batch_jobs.c.finished_at,
            batch_jobs.c.created_at,
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
                batch_jobs.c.created_at >= now - facts.ttl,
            ),
        )
        .order_by(batch_jobs.c.created_at)
    ).all()
    wanted = set(keys)
    warm: set[str] = set()
    priming: dict[str, str] = {}
    recurring: set[str] = set()
    for job_id, status, is_priming, finished_at, created_at, prefixes in rows:
        for key in wanted.intersection(prefixes):
            if status in _ENDED and finished_at is not None and finished_at >= warm_since:
                warm.add(key)
            elif is_priming and status in PRIMING_UNDER_WAY:
                priming.setdefault(key, job_id)
            if created_at >= now - facts.ttl:
                recurring.add(key)
    return warm, {k: j for k, j in priming.items() if k not in warm}, recurring


def plan_priming(
    conn: Connection,
    lines: Iterable[tuple[T, tuple[str, ...], int]],
    *,
    provider: str,
    credentials_ref: str,
    model: str,
    policy: Priming,
    primes: bool,
    threshold: int | None,
    now: dt.datetime,
) -> PrimingPlan[T]:
    """Split one group's lines, each given with its cacheable prefix keys (shortest first) and
    the number of cache breakpoints its prompt has (the cacheable ones are the last), into
    priming lines and lines that wait, and say which lines keep fewer breakpoints (module
    docstring). Deterministic: lines in the order given."""
    lines = list(lines)
    plan: PrimingPlan[T] = PrimingPlan()
    all_keys = sorted({key for _line, keys, _n in lines for key in keys})
    warm, in_flight, recurring = _known_prefixes(
        conn, provider, credentials_ref, model, all_keys, now
    )
    prime_from = policy.min_requests or threshold
    ready: dict[str, Waits] = {}  # key → what a request must wait for to read it
    pays: set[str] = set(warm) | set(in_flight)
    primers: dict[int, PrimingBatch] = {}  # line index → its priming batch
    batches: dict[Waits, PrimingBatch] = {}  # one priming batch per thing it waits for
    depth = max((len(keys) for _line, keys, _n in lines), default=0)
    for level in range(depth):
        members: dict[str, list[int]] = defaultdict(list)
        for index, (_line, keys, _n) in enumerate(lines):
            if len(keys) > level:
                members[keys[level]].append(index)
        for key, indices in members.items():
            parent = ready.get(lines[indices[0]][1][level - 1]) if level else None
            if threshold is not None and (len(indices) >= threshold or key in recurring):
                pays.add(key)
            if key in warm:
                ready[key] = None
            elif key in in_flight:
                ready[key] = in_flight[key]
            elif covering := next((primers[i] for i in indices if i in primers), None):
                ready[key] = covering  # a priming line of a shorter prefix writes this one too
            elif primes and prime_from is not None and len(indices) >= prime_from:
                batch = batches.get(parent)
                if batch is None:
                    batch = batches[parent] = PrimingBatch(waits_for=parent)
                primers[indices[0]] = batch
                ready[key] = batch
                pays.add(key)
            else:
                ready[key] = parent  # read the shorter prefix, write this one if it pays
    for index, (line, keys, breakpoints) in enumerate(lines):
        if index in primers:
            plan.priming[primers[index]].append(line)
        else:
            plan.waiting[ready[keys[-1]] if keys else None].append(line)
        # Breakpoints up to its longest prefix that pays; none after it (nobody would read them).
        paying = [level for level, key in enumerate(keys) if key in pays]
        keep = breakpoints - len(keys) + paying[-1] + 1 if paying else 0
        if keys and keep < breakpoints:
            plan.breakpoints[id(line)] = keep
    return plan


def cacheable_keys(model: str, prefixes: Sequence[tuple[str, int]]) -> tuple[str, ...]:
    """The keys of the prefixes (key, estimated tokens) the model can cache, shortest first."""
    minimum = min_cacheable_tokens(model)
    if minimum is None:
        return ()
    return tuple(key for key, tokens in prefixes if tokens >= minimum)
