"""The cost bound: the lowest cost the providers' price lists allow for a set of ledger rows, with
the same tokens and the same prompt structure; and why each workflow's cache does or does not
engage.

The rule: every shared prompt-prefix token past the model's minimum cacheable length is read from
the cache at the batch cached rate, each distinct prefix is written once per TTL, and everything
else is paid at the batch rate. Computed so:

1. Each row's prompt is its chain of cache prefixes, as the planner recorded it
   (`batch_requests.cache_prefix` → `prompt_prefixes`): a workflow's instructions, then a tenant's
   context, each the whole prompt up to a cache breakpoint. A prefix's length is the provider's own
   count where a row shows it (its cache reads and writes end at a breakpoint), else the planner's
   estimate (4 bytes a token).
2. Per (credentials, provider, model), since a prompt cache is per organisation or workspace, the
   prefixes form a tree. Caching a prefix costs one write, of its part past the cached prefix
   above it, per TTL session of the rows under it (a session ends at a gap of a TTL between their
   times; a read refreshes the entry), and saves the difference between the uncached and the
   cached rate on every row under it; a prefix shorter than the model's minimum cannot be cached.
   The cheapest choice over the tree is found exactly, top-down (each prefix, given the cached
   prefix above it).
3. Each row gets the token split the choice gives it (reads up to its longest cached prefix; the
   first row of each session writes instead), priced by `pricing.price_line` at the batch rate:
   the bound is priced by the ledger's token classes, never by a copy of their rules.

Self-hosted rows cost their share of the GPU time whatever their tokens: their bound is their
cost. Rows without a recorded structure (embeddings, rows planned before migration 0010) are
priced at the batch rate with their own token split. Sync rows (a missed deadline) count at the
batch rate: the lowest the price list allows.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Connection, text

from batch_pipelines.core.caching import prompt_cache
from batch_pipelines.core.models import alias_of, model_facts
from batch_pipelines.core.usage import TokenUsage
from batch_pipelines.ledger.pricing import price_line, resolve_unit_prices
from batch_pipelines.ledger.token_classes import price_of

__all__ = ["CacheBound", "CacheEngagement", "cache_bound"]

_SQL = Path(__file__).with_name("cache_bound_rows.sql")
ZERO = Decimal(0)


@dataclass
class _Row:
    tenant_id: str
    workflow: str
    provider: str
    model: str
    mode: str
    ledger_date: dt.date
    occurred_at: dt.datetime
    usage: TokenUsage
    cost: Decimal
    primed: bool
    chain: list[_Node] = field(default_factory=list)
    cached: int = 0  # the bound's split
    written: int = 0


@dataclass(eq=False)
class _Node:
    key: str
    estimate: int
    observed: int = 0
    children: dict[str, _Node] = field(default_factory=dict)
    rows: list[_Row] = field(default_factory=list)  # every row whose chain passes here
    cached: bool = False

    @property
    def tokens(self) -> int:
        return self.observed or self.estimate


@dataclass(frozen=True)
class _Prices:
    uncached: Decimal
    read: Decimal
    write: Decimal


@dataclass(frozen=True)
class CacheEngagement:
    """Whether a workflow's prompts on one model read from a cache, and why."""

    workflow: str
    provider: str
    model: str
    note: str


@dataclass(frozen=True)
class CacheBound:
    """The bound of a period's rows: micro-dollars per (tenant, workflow, ledger date), and one
    note per workflow and model saying whether and why its cache engages."""

    by_partition: dict[tuple[str, str, dt.date], Decimal]
    engagement: list[CacheEngagement]

    def notes(self, workflow: str) -> list[str]:
        return [e.note for e in self.engagement if e.workflow == workflow]


def _rows(conn: Connection, start: dt.date, end: dt.date) -> list[tuple[_Row, list, list]]:
    found = []
    for r in conn.execute(text(_SQL.read_text()), {"start": start, "end": end}).mappings():
        usage = TokenUsage(
            r["input_tokens"],
            r["cached_input_tokens"],
            r["cache_write_tokens"],
            r["cache_write_1h_tokens"],
            r["output_tokens"],
        )
        row = _Row(
            r["tenant_id"], r["workflow"], r["provider"], r["model"], r["mode"],
            r["ledger_date"], r["occurred_at"], usage, Decimal(r["cost_micro_usd"]), r["primed"],
        )  # fmt: skip
        chain = list(zip(r["prefix_keys"] or (), r["prefix_tokens"] or (), strict=True))
        found.append((row, r["credentials_ref"], chain))
    return found


def _read(tokens: int, step: int) -> int:
    return tokens // step * step


def _observe(row: _Row) -> None:
    """Where a row's own cache reads and writes end, they are the provider's count of a prefix
    (each read or written span ends at a breakpoint): the nearest prefix by estimate takes it."""
    usage = row.usage
    spans = {usage.cached_input_tokens + usage.cache_write_tokens}
    if usage.cached_input_tokens and usage.cache_write_tokens:
        spans.add(usage.cached_input_tokens)
    for span in spans - {0}:
        node = min(row.chain, key=lambda n: abs(n.estimate - span))
        node.observed = max(node.observed, span)


def _sessions(rows: Sequence[_Row], ttl: dt.timedelta) -> list[_Row]:
    """The first row of each TTL session of `rows` (by time; a gap of a TTL starts a new one)."""
    first: list[_Row] = []
    last: dt.datetime | None = None
    for row in sorted(rows, key=lambda r: r.occurred_at):
        if last is None or row.occurred_at - last >= ttl:
            first.append(row)
        last = row.occurred_at
    return first


class _Tree:
    """The prefixes of one (credentials, provider, model), and the cheapest caching of them."""

    def __init__(self, provider: str, model: str, prices: _Prices | None) -> None:
        facts = prompt_cache(provider)
        self.ttl = facts.ttl if facts else dt.timedelta(0)
        self.step = facts.read_step if facts else 1
        model_row = model_facts(model)
        self.minimum = model_row.min_cacheable_tokens if model_row else None
        self.prices = prices if facts and self.minimum else None
        self.roots: dict[str, _Node] = {}
        self._sessions: dict[int, int] = {}
        self._memo: dict[tuple[int, int], Decimal] = {}

    def add(self, row: _Row, chain: Sequence[tuple[str, int]]) -> None:
        level = self.roots
        for key, estimate in chain:
            node = level.get(key)
            if node is None:
                node = level[key] = _Node(key, estimate)
            node.rows.append(row)
            row.chain.append(node)
            level = node.children

    def cacheable(self, node: _Node) -> bool:
        return self.prices is not None and self.minimum is not None and node.tokens >= self.minimum

    def _session_count(self, node: _Node) -> int:
        if id(node) not in self._sessions:
            self._sessions[id(node)] = len(_sessions(node.rows, self.ttl))
        return self._sessions[id(node)]

    def _best(self, node: _Node, above: int) -> Decimal:
        """The least extra cost of `node`'s subtree over paying every token uncached, given the
        length of the cached prefix above it (price units: tokens x USD per 1M tokens)."""
        memo = self._memo.get((id(node), above))
        if memo is not None:
            return memo
        best = sum((self._best(c, above) for c in node.children.values()), ZERO)
        if self.cacheable(node):
            best = min(best, self._with_cache(node, above))
        self._memo[id(node), above] = best
        return best

    def _with_cache(self, node: _Node, above: int) -> Decimal:
        prices = self.prices
        assert prices is not None
        segment = _read(node.tokens, self.step) - _read(above, self.step)
        sessions, rows = self._session_count(node), len(node.rows)
        delta = segment * (
            sessions * (prices.write - prices.read) - rows * (prices.uncached - prices.read)
        )
        return delta + sum((self._best(c, node.tokens) for c in node.children.values()), ZERO)

    def solve(self) -> None:
        """Mark the cached prefixes of the cheapest choice, then give each row its split."""
        for root in self.roots.values():
            self._choose(root, 0)
        for root in self.roots.values():
            self._split(root, 0)

    def _choose(self, node: _Node, above: int) -> None:
        if self.cacheable(node):
            without = sum((self._best(c, above) for c in node.children.values()), ZERO)
            node.cached = self._with_cache(node, above) < without
        for child in node.children.values():
            self._choose(child, node.tokens if node.cached else above)

    def _split(self, node: _Node, above: int) -> None:
        if node.cached:
            for row in node.rows:  # reads its longest cached prefix (the last one set wins)
                row.cached = min(_read(node.tokens, self.step), row.usage.prompt_tokens)
            segment = _read(node.tokens, self.step) - _read(above, self.step)
            for first in _sessions(node.rows, self.ttl):
                moved = min(segment, first.cached - first.written)
                first.written += moved
        for child in node.children.values():
            self._split(child, node.tokens if node.cached else above)


def _prices(provider: str, model: str, at: dt.datetime) -> _Prices | None:
    facts = prompt_cache(provider)
    if facts is None:
        return None
    try:
        by_class = resolve_unit_prices(provider, model, "batch", at).unit_prices.by_class
    except LookupError:
        return None
    uncached = by_class[price_of("input_tokens")]
    read = by_class[price_of("cached_input_tokens")]
    write = by_class[price_of(facts.write_class)]
    if uncached is None or read is None or write is None:
        return None
    return _Prices(uncached, read, write)


def _bound_usage(row: _Row, write_class: str | None) -> TokenUsage:
    """The row's tokens split as the bound reads and writes them."""
    if not row.chain:
        return row.usage  # no structure recorded: its own split, at the batch rate
    prompt = row.usage.prompt_tokens
    read = row.cached - row.written
    written_1h = row.written if write_class == "cache_write_1h_tokens" else 0
    return TokenUsage(prompt - row.cached, read, row.written, written_1h, row.usage.output_tokens)


def cache_bound(conn: Connection, start: dt.date, end: dt.date) -> CacheBound:
    """The bound of the ledger rows booked from `start` to `end` (both included)."""
    loaded = _rows(conn, start, end)
    trees: dict[tuple[str, str, str], _Tree] = {}
    for row, credentials, chain in loaded:
        if not chain or row.mode == "self_hosted":
            continue
        model = alias_of(row.model)
        key = (credentials, row.provider, model)
        if key not in trees:
            trees[key] = _Tree(row.provider, model, _prices(row.provider, model, row.occurred_at))
        trees[key].add(row, chain)
    for row, _credentials, _chain in loaded:
        if row.chain and (row.usage.cached_input_tokens or row.usage.cache_write_tokens):
            _observe(row)
    for tree in trees.values():
        tree.solve()

    groups: dict[tuple[str, str, str, str, dt.date], list[_Row]] = defaultdict(list)
    bound: dict[tuple[str, str, dt.date], Decimal] = defaultdict(lambda: ZERO)
    for row, _credentials, _chain in loaded:
        if row.mode == "self_hosted":
            bound[row.tenant_id, row.workflow, row.ledger_date] += row.cost
        else:
            groups[row.tenant_id, row.workflow, row.provider, row.model, row.ledger_date].append(
                row
            )
    for (tenant_id, workflow, provider, model, day), rows in groups.items():
        facts = prompt_cache(provider)
        write_class = facts.write_class if facts else None
        usage = TokenUsage.sum(_bound_usage(r, write_class) for r in rows)
        at = min(r.occurred_at for r in rows)
        priced = price_line(provider, model, "batch", usage, at, tenant_id=tenant_id)
        bound[tenant_id, workflow, day] += priced.cost_micro_usd
    return CacheBound(dict(bound), _engagement(loaded, trees))


# ---- why a cache does or does not engage -----------------------------------------------------------


def _span(values: Iterable[int]) -> str:
    ordered = sorted(set(values))
    low, high = ordered[0], ordered[-1]
    return f"{low:,}" if low == high else f"{low:,}–{high:,}"


def _engagement(
    loaded: Sequence[tuple[_Row, str, list]], trees: dict[tuple[str, str, str], _Tree]
) -> list[CacheEngagement]:
    """One note per (workflow, provider, model): the prefix lengths against the model's minimum,
    what the price list makes of a cache read, and what the rows did."""
    by_model: dict[tuple[str, str, str], list[tuple[_Row, str]]] = defaultdict(list)
    for row, credentials, _chain in loaded:
        by_model[row.workflow, row.provider, alias_of(row.model)].append((row, credentials))
    notes = []
    for (workflow, provider, model), rows in sorted(by_model.items()):
        notes.append(
            CacheEngagement(workflow, provider, model, _note(provider, model, rows, trees))
        )
    return notes


def _note(
    provider: str, model: str, rows: Sequence[tuple[_Row, str]], trees: dict[tuple, _Tree]
) -> str:
    facts = model_facts(model)
    if prompt_cache(provider) is None:
        return f"{model} (self-hosted): billed by GPU time, a prompt cache changes no price"
    if facts is None or facts.min_cacheable_tokens is None:
        reason = facts.cache_source if facts else "not in the model table (core/models.py)"
        return f"{model}: no prompt cache ({reason})"
    minimum = facts.min_cacheable_tokens
    longest = [r.chain[-1] for r, _c in rows if r.chain]
    if not longest:
        return f"{model}: no prompt structure recorded for these rows"
    lengths = [node.tokens for node in longest]
    prompt = sum(r.usage.prompt_tokens for r, _c in rows)
    share = sum(r.usage.cached_input_tokens for r, _c in rows) / prompt if prompt else 0.0
    over = sum(1 for n in set(longest) if n.tokens >= minimum)
    if not over:
        return f"prefix {_span(lengths)} < {minimum:,} for {model}: no cache"
    tree = next(trees[c, provider, model] for r, c in rows if r.chain)
    prices = tree.prices
    prefix = f"prefix {_span(lengths)} ≥ {minimum:,} for {model}"
    if prices is None:
        return f"{prefix}, but no batch price is known for its cache"
    if prices.read >= prices.uncached:
        return (
            f"{prefix}, but its batch price has no cached-input discount (${prices.read} = "
            f"${prices.uncached} per 1M tokens): a cache read saves nothing"
        )
    parts = [f"{prefix}: cached, {share:.0%} of prompt tokens read from cache"]
    below = len(set(longest)) - over
    if below:
        parts.append(f"{below} of {len(set(longest))} prefixes below the minimum")
    primed = sum(1 for r, _c in rows if r.primed)
    if primed:
        parts.append(f"{primed:,} lines sent first to prime the cache")
    return "; ".join(parts)
