"""The cost ledger: one priced `cost_ledger` row per `llm_usage` row, per (ledger_date, tenant).

Pricing a partition
-------------------
`price_partition` brings the partition's ledger rows in line with its usage rows in one
transaction, set-based. A partition without ledger rows (the common case: its first pricing) gets
a plain ``INSERT … SELECT`` that also returns its totals (``ledger_insert.sql``); one with ledger
rows, or whose first insert meets a usage row priced under another partition, gets an
``INSERT … SELECT … ON CONFLICT (usage_id) DO UPDATE`` that rewrites only rows whose figures
changed and deletes ledger rows whose usage row moved to another partition
(``ledger_upsert.sql``). Both insert ``ledger_priced_rows.sql``. Pricing it again is idempotent (and writes nothing when nothing changed); it is how a price
correction is applied: fix ``price_overrides.yaml`` (bump its version), then re-materialise the
affected partitions (a backfill).

It is fast because `pricing.price_line` runs once per *price key*, not once per row. Rows with equal
keys have equal unit prices: the key is (provider, model, mode, UTC date of ``occurred_at``, the
time-of-day bucket for models priced by time of day, the prompt-size bucket for tiered models),
derived from the model's genai-prices entry (`_price_flags`). For each key, `price_line` prices a
representative usage; the unit prices it reports (``LinePrice.unit_prices``, exact decimal strings)
go into a session-local work table and are applied to every row in SQL with price_line's
class-by-class arithmetic and rounding (``ledger_priced_rows.sql``; whole quanta in bigint when
every price has at most 6 decimals, NUMERIC with half-even rounding otherwise). The key bounds
and resolved prices are kept in `price_cache` across the partitions of a run, so a range run reads
each partition's usage rows twice (its keys, then the insert) and prices nothing twice. The result is identical
to calling `price_line` on each row, which ``batch_pipelines_tests/ledger/test_ledger.py`` checks
row by row, ties included.

Self-hosted rows
----------------
A self-hosted deployment costs ``self_hosted.gpu_usd_per_hour`` of the override table whether it
is busy or not, and serves one model (one vLLM/TGI server per model). Its cost is allocated per
(ledger_date, provider, model) window: the whole UTC day (24 h x the hourly price) is split over
every tenant's self-hosted rows of that model and day by `pricing.allocate_self_hosted` (tenants by
token share in whole micro-dollars, largest remainder, ties to the lower tenant id; then each
tenant's lines), so the shares add up exactly to the day's cost. A day with no rows allocates its
cost to nobody. A tenant's share depends on the other tenants' rows of the day, so pricing a
partition that has (or had) self-hosted rows computes the whole day's allocation under a lock of
the day, and re-prices, in the same transaction, every other tenant of the date whose ledger rows
no longer hold their share (late rows, deleted rows, a new GPU price): the ledger's shares never
add up to more than the day, and equal it once every tenant's rows are priced.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from batch_pipelines.core.usage import TokenUsage
from batch_pipelines.ledger import pricing
from batch_pipelines.ledger.pricing import PriceOverrides, default_overrides
from batch_pipelines.ledger.token_classes import (
    FIGURES,
    WORK_TABLE_PRICE_NAMES,
    figure_sql,
    price_columns_sql,
)

__all__ = [
    "SELF_HOSTED_WINDOW_SECONDS",
    "InvariantResult",
    "PartitionTotals",
    "check_batch_tokens_match_provider",
    "check_priced_exactly_once",
    "check_rows_attributed",
    "check_usage_priced_within",
    "micro_to_usd",
    "partition_totals",
    "price_partition",
    "transaction",
    "unpriced_partitions",
]

SELF_HOSTED_WINDOW_SECONDS = 86_400
"""A self-hosted deployment is billed for the whole UTC day."""

_SQL_DIR = Path(__file__).parent
_SAMPLE_LIMIT = 10


@functools.cache
def _sql(name: str) -> str:
    return (_SQL_DIR / name).read_text(encoding="utf-8")


def micro_to_usd(micro_usd: Decimal) -> Decimal:
    """Micro-dollars to dollars, exactly."""
    return micro_usd.scaleb(-6)


@dataclass(frozen=True)
class PartitionTotals:
    """What one (ledger_date, tenant) partition holds after pricing. Money in micro-dollars."""

    ledger_date: dt.date
    tenant_id: str
    requests: int
    """Priced provider lines (= usage rows = ledger rows)."""
    input_tokens: int
    """Uncached prompt tokens, as in the tables."""
    cached_input_tokens: int
    cache_write_tokens: int
    output_tokens: int
    cost_micro_usd: Decimal
    sync_cost_micro_usd: Decimal
    batch_discount_micro_usd: Decimal
    cache_read_savings_micro_usd: Decimal
    cache_write_premium_micro_usd: Decimal

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cached_input_tokens + self.cache_write_tokens

    @property
    def saved_micro_usd(self) -> Decimal:
        """Against synchronous, uncached calls (= discount + cache savings - write premium)."""
        return self.sync_cost_micro_usd - self.cost_micro_usd


# ---- pricing -------------------------------------------------------------------------------------


def price_partition(
    conn: Connection,
    ledger_date: dt.date,
    tenant_id: str,
    overrides: PriceOverrides | None = None,
    *,
    price_cache: dict[tuple, dict[str, Any]] | None = None,
) -> PartitionTotals:
    """Price the tenant's `llm_usage` rows of `ledger_date` into `cost_ledger`, replacing what the
    partition held, in one transaction (the caller's, if one is open; it then commits).

    When the partition has self-hosted rows (or had), the other tenants of the date whose GPU
    shares that changes are re-priced in the same transaction (module docstring).

    Raises `pricing.UnknownModelPrice` for a model no price source knows, and ValueError for usage
    the price cannot apply to (output tokens on an input-only model, self-hosted rows without a
    GPU price); nothing is written then.

    `price_cache` (an empty dict to start with) lets a caller pricing many partitions with the
    same `overrides` resolve each price key once, not once per partition.
    """
    ov = default_overrides() if overrides is None else overrides
    cache = {} if price_cache is None else price_cache
    with transaction(conn):
        # Two runs pricing the same partition at once would collide on usage_id: serialise them.
        conn.execute(_LOCK_PARTITION, {"key": _partition_key(ledger_date, tenant_id)})
        _prepare_work_tables(conn)
        params = {"ledger_date": ledger_date, "tenant_id": tenant_id}
        self_hosted = conn.execute(text(_sql("ledger_self_hosted_partition.sql")), params).one()
        if not (self_hosted.has_usage or self_hosted.has_ledger_rows):
            try:
                return _price_rows(conn, ledger_date, tenant_id, ov, cache, allocated=False)
            except _NeedsShares:  # self-hosted rows committed since the probe
                pass
        # The day's GPU shares depend on every tenant's rows of the day: one allocation at a time.
        conn.execute(_LOCK_SELF_HOSTED_DAY, {"day": ledger_date.isoformat()})
        allocations = _self_hosted_allocations(conn, ledger_date, ov)
        _load(
            conn,
            "bp_ledger_allocations",
            [{"usage_id": k, "allocated": str(v)} for k, v in allocations.items()],
        )
        totals = _price_rows(conn, ledger_date, tenant_id, ov, cache, allocated=True)
        stale = conn.execute(text(_sql("ledger_self_hosted_stale.sql")), params).scalars().all()
        for other in stale:
            # A partition being priced right now is skipped: its pricing waits for this day's
            # lock and then allocates from the same rows.
            if conn.execute(
                _TRY_LOCK_PARTITION, {"key": _partition_key(ledger_date, other)}
            ).scalar():
                _price_rows(conn, ledger_date, other, ov, cache, allocated=True)
    return totals


_LOCK_PARTITION = text("SELECT pg_advisory_xact_lock(hashtext('cost_ledger'), hashtext(:key))")
_TRY_LOCK_PARTITION = text(
    "SELECT pg_try_advisory_xact_lock(hashtext('cost_ledger'), hashtext(:key))"
)
_LOCK_SELF_HOSTED_DAY = text(
    "SELECT pg_advisory_xact_lock(hashtext('cost_ledger_self_hosted'), hashtext(:day))"
)


class _NeedsShares(Exception):
    """The partition has self-hosted rows: price it with the day's GPU shares."""


def _partition_key(ledger_date: dt.date, tenant_id: str) -> str:
    """The partition's advisory-lock key (migration 0003's cascade takes the same)."""
    return f"{ledger_date.isoformat()}|{tenant_id}"


def _price_rows(
    conn: Connection,
    ledger_date: dt.date,
    tenant_id: str,
    ov: PriceOverrides,
    cache: dict[tuple, Any],
    *,
    allocated: bool,
) -> PartitionTotals:
    """Bring one partition's ledger rows in line with its usage rows (its lock is held; with
    `allocated`, the day's GPU shares are in bp_ledger_allocations)."""
    params = {"ledger_date": ledger_date, "tenant_id": tenant_id}
    _clear_price_tables(conn)
    keys = _usage_keys(conn, params, ov, cache)
    if not allocated and any(k.mode == "self_hosted" for k in keys):
        raise _NeedsShares  # before anything is written
    flags = {
        (k.provider, k.model, k.mode): cache[_flags_key(k.provider, k.model, k.mode, ov)]
        for k in keys
    }
    _load(
        conn,
        "bp_ledger_prices",
        [
            {
                **_price_key(k, tenant_id, ov, cache),
                "time_bounds": flags[k.provider, k.model, k.mode]["time_bounds"],
                "tier_starts": flags[k.provider, k.model, k.mode]["tier_starts"],
            }
            for k in keys
        ],
    )
    priced_rows = _priced_rows_sql(allocated)
    totals = _insert_new_partition(conn, params, priced_rows) if keys else None
    if totals is None:
        conn.execute(text(_sql("ledger_upsert.sql").format(priced_rows=priced_rows)), params)
        totals = partition_totals(conn, ledger_date, tenant_id)
    expected = sum(k.n for k in keys)
    if totals.requests != expected:  # a key without a price: a bug, never a silent gap
        raise RuntimeError(
            f"{ledger_date}|{tenant_id} has {totals.requests} ledger rows for {expected} "
            "usage rows after pricing"
        )
    return totals


@functools.cache
def _priced_rows_sql(allocated: bool) -> str:
    """ledger_priced_rows.sql with every figure derived from the token classes
    (`token_classes.figure_sql`, exact and rounded). A self-hosted row's GPU share is its cost and
    comes off its batch discount (its per-token prices are all 0, see `_resolve_key`)."""
    figures = {}
    for figure in FIGURES:
        exact = figure_sql(figure, exact=True)
        rounded = figure_sql(figure, exact=False)
        figures[figure] = f"CASE WHEN p.exact THEN {exact}\n        ELSE {rounded} END"
    if allocated:
        share = "CASE WHEN u.mode = 'self_hosted' THEN a.allocated ELSE 0 END"
        figures["cost_micro_usd"] += f"\n        + {share}"
        figures["batch_discount_micro_usd"] += f"\n        - {share}"
    return _sql("ledger_priced_rows.sql").format(
        **figures,
        allocations_join=(
            "LEFT JOIN pg_temp.bp_ledger_allocations AS a ON a.usage_id = u.usage_id"
            if allocated
            else ""
        ),
    )


def _usage_keys(
    conn: Connection, params: dict[str, Any], ov: PriceOverrides, cache: dict[tuple, Any]
) -> list[Any]:
    """The partition's price keys (ledger_usage_keys.sql), with the bucket bounds of every
    combination in it known (in `cache`) and loaded.

    Only combinations priced by time of day or prompt tier have bounds (a bp_ledger_flags row);
    the others are keyed alike with or without one. So the keys are read with the bounds known so
    far, and read again only when the partition brings a combination with bounds not yet loaded.
    """
    bounded = [
        {"provider": key[2], "model": key[3], "mode": key[4], **value}
        for key, value in cache.items()
        if key[0] == "flags" and key[1] == id(ov) and (value["time_bounds"] or value["tier_starts"])
    ]
    loaded = {(f["provider"], f["model"], f["mode"]) for f in bounded}
    _load(conn, "bp_ledger_flags", bounded)
    query = text(_sql("ledger_usage_keys.sql"))
    keys = conn.execute(query, params).all()
    new: list[dict[str, Any]] = []
    for combo in sorted({(k.provider, k.model, k.mode) for k in keys}):
        fkey = _flags_key(*combo, ov)
        if fkey not in cache:
            cache[fkey] = _price_flags(*combo, ov)
        flags = cache[fkey]
        if combo not in loaded and (flags["time_bounds"] or flags["tier_starts"]):
            new.append({"provider": combo[0], "model": combo[1], "mode": combo[2], **flags})
    if new:
        _load(conn, "bp_ledger_flags", new)
        keys = conn.execute(query, params).all()
    return keys


def _flags_key(provider: str, model: str, mode: str, ov: PriceOverrides) -> tuple:
    return ("flags", id(ov), provider, model, mode)


def _insert_new_partition(
    conn: Connection, params: dict[str, Any], priced_rows: str
) -> PartitionTotals | None:
    """Price a partition that has no ledger rows with a plain INSERT (no conflict handling to pay
    for), returning its totals; None when it has ledger rows, or when one of its usage rows is
    priced under another partition (the insert is then rolled back): those need the upsert."""
    # Ordered by the index's columns so that it is read through the index whatever the (often
    # stale, during a range run) statistics say: EXISTS or a bare LIMIT 1 may choose a sequential
    # scan hoping to stop early, and read the whole ledger when the partition is empty.
    has_rows = conn.execute(
        text(
            "SELECT 1 FROM cost_ledger WHERE ledger_date = :ledger_date AND tenant_id = :tenant_id"
            " ORDER BY ledger_date, tenant_id LIMIT 1"
        ),
        params,
    ).first()
    if has_rows is not None:
        return None
    insert = text(_sql("ledger_insert.sql").format(priced_rows=priced_rows, totals=_TOTALS))
    try:
        with conn.begin_nested():
            row = conn.execute(insert, params).one()._mapping
    except IntegrityError as e:
        if getattr(e.orig, "sqlstate", None) != _UNIQUE_VIOLATION:
            raise
        return None
    return _totals(params["ledger_date"], params["tenant_id"], row)


_UNIQUE_VIOLATION = "23505"
_TOTALS = """SELECT count(*) AS requests,
       coalesce(sum(input_tokens), 0) AS input_tokens,
       coalesce(sum(cached_input_tokens), 0) AS cached_input_tokens,
       coalesce(sum(cache_write_tokens), 0) AS cache_write_tokens,
       coalesce(sum(output_tokens), 0) AS output_tokens,
       coalesce(sum(cost_micro_usd), 0) AS cost,
       coalesce(sum(sync_cost_micro_usd), 0) AS sync_cost,
       coalesce(sum(batch_discount_micro_usd), 0) AS batch_discount,
       coalesce(sum(cache_read_savings_micro_usd), 0) AS cache_read_savings,
       coalesce(sum(cache_write_premium_micro_usd), 0) AS cache_write_premium"""


def partition_totals(conn: Connection, ledger_date: dt.date, tenant_id: str) -> PartitionTotals:
    """What the partition's ledger rows add up to (exact sums by Postgres)."""
    row = (
        conn.execute(
            text(_TOTALS + " FROM cost_ledger WHERE ledger_date = :d AND tenant_id = :t"),
            {"d": ledger_date, "t": tenant_id},
        )
        .one()
        ._mapping
    )
    return _totals(ledger_date, tenant_id, row)


def _totals(ledger_date: dt.date, tenant_id: str, row: Any) -> PartitionTotals:
    return PartitionTotals(
        ledger_date=ledger_date,
        tenant_id=tenant_id,
        requests=row["requests"],
        input_tokens=int(row["input_tokens"]),
        cached_input_tokens=int(row["cached_input_tokens"]),
        cache_write_tokens=int(row["cache_write_tokens"]),
        output_tokens=int(row["output_tokens"]),
        cost_micro_usd=Decimal(row["cost"]),
        sync_cost_micro_usd=Decimal(row["sync_cost"]),
        batch_discount_micro_usd=Decimal(row["batch_discount"]),
        cache_read_savings_micro_usd=Decimal(row["cache_read_savings"]),
        cache_write_premium_micro_usd=Decimal(row["cache_write_premium"]),
    )


_WORK_TABLES = {
    "bp_ledger_flags": "provider text, model text, mode text, time_bounds numeric[],"
    " tier_starts bigint[]",
    "bp_ledger_prices": (
        "provider text, model text, mode text, price_day date, time_bucket int, tier_bucket int,"
        f" exact boolean, {price_columns_sql('recordset')},"
        " pricing_source text, pricing_version text, priced_by text, unit_prices jsonb,"
        " time_bounds numeric[], tier_starts bigint[]"
    ),
    "bp_ledger_allocations": "usage_id bigint, allocated numeric",
}
# Exact (integer) arithmetic when a price is a whole number of quanta per token, up to $10,000
# per 1M tokens: tokens x quanta then stays far inside bigint.
_MAX_QUANTA_PER_TOKEN = 10**10


def _prepare_work_tables(conn: Connection) -> None:
    """Create the session's work tables if this connection lacks them; empty them (they empty
    themselves at commit, but a caller may price several partitions in one transaction). Checked
    every time, not remembered: a rolled-back transaction takes tables it created with it."""
    exists = conn.execute(
        text(
            "SELECT to_regclass('pg_temp.bp_ledger_prices') IS NOT NULL"
            " AND to_regprocedure('pg_temp.bp_ledger_quanta(numeric)') IS NOT NULL"
        )
    ).scalar_one()
    if not exists:
        ddl = _sql("ledger_temp_tables.sql").format(price_columns=price_columns_sql("ddl"))
        for statement in ddl.split(";\n"):
            if statement.strip():
                conn.execute(text(statement))
    conn.execute(text("; ".join(f"DELETE FROM pg_temp.{table}" for table in _WORK_TABLES)))


def _clear_price_tables(conn: Connection) -> None:
    """Empty what one partition's pricing loads (the day's GPU shares stay)."""
    conn.execute(text("DELETE FROM pg_temp.bp_ledger_flags; DELETE FROM pg_temp.bp_ledger_prices"))


def _load(conn: Connection, table: str, rows: list[dict[str, Any]]) -> None:
    """Fill a work table from JSON in one statement (a large one is analysed, for its size)."""
    if not rows:
        return
    conn.execute(
        text(
            f"INSERT INTO pg_temp.{table} SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb))"
            f" AS r ({_WORK_TABLES[table]})"
        ),
        {"rows": json.dumps(rows)},
    )
    if len(rows) > 1000:  # so a large allocation table is hash-joined
        conn.execute(text(f"ANALYZE pg_temp.{table}"))


@contextlib.contextmanager
def transaction(conn: Connection) -> Iterator[None]:
    """Run inside the caller's open transaction, or in a new one committed on success."""
    if conn.in_transaction():
        yield
        return
    with conn.begin():
        yield


def _price_flags(provider: str, model: str, mode: str, ov: PriceOverrides) -> dict[str, Any]:
    """What, besides the UTC date, can change this combination's unit prices.

    Override-table prices have neither dates nor tiers; genai-prices entries may have prompt-size
    tiers and time-of-day intervals. Every genai-prices model the line may be priced from is
    inspected (its own, and the reference model of a self-hosted line); being too fine only costs
    a few more `price_line` calls.
    """
    if mode == "self_hosted":
        info = _genai_model_info(ov.reference_provider, ov.reference_model)
    else:
        info = _genai_model_info(provider, model)
    starts: set[int] = set()
    bounds: set[Decimal] = set()
    if info is not None:
        _collect_price_bounds(info, starts, bounds)
    return {
        "provider": provider,
        "model": model,
        "mode": mode,
        "tier_starts": sorted(starts) or None,
        "time_bounds": [str(b) for b in sorted(bounds)] or None,
    }


@functools.cache
def _genai_model_info(provider: str, model: str) -> Any | None:
    try:
        # pricing's own snapshot of the bundled data (the same lookup price_line makes)
        _, info = pricing._genai_model(provider, model, "sync", dt.datetime.now(dt.UTC))
    except pricing.UnknownModelPrice:
        return None
    return info


def _collect_price_bounds(obj: Any, starts: set[int], bounds: set[Decimal]) -> None:
    from genai_prices.types import TieredPrices, TimeOfDateConstraint

    if isinstance(obj, TieredPrices):
        starts.update(int(t.start) for t in obj.tiers)
        return
    if isinstance(obj, TimeOfDateConstraint):
        for value in (obj.start_time, obj.end_time):
            if value.tzinfo is not None:
                value = dt.datetime.combine(dt.date(2000, 1, 1), value).astimezone(dt.UTC).timetz()
            seconds = value.hour * 3600 + value.minute * 60 + value.second
            bounds.add(Decimal(seconds) + Decimal(value.microsecond).scaleb(-6))
        return
    if isinstance(obj, list | tuple):
        children: Iterable[Any] = obj
    elif isinstance(obj, dict):
        children = obj.values()
    elif dataclasses.is_dataclass(obj) or type(obj).__module__.startswith("genai_prices"):
        children = vars(obj).values() if hasattr(obj, "__dict__") else ()
    else:
        return
    for child in children:
        _collect_price_bounds(child, starts, bounds)


def _price_key(
    key: Any, tenant_id: str, ov: PriceOverrides, cache: dict[tuple, dict[str, Any]]
) -> dict[str, Any]:
    """Price a representative line of the key with price_line and return its unit prices."""
    tenant_rates = tenant_id in ov.tenant_ids
    cache_key = (
        ov.label,
        id(ov),
        tenant_id if tenant_rates else None,
        key.provider,
        key.model,
        key.mode,
        key.price_day,
        key.time_bucket,
        key.tier_bucket,
        key.max_output > 0,  # output tokens on an input-only model must raise every time
    )
    if cache_key not in cache:
        cache[cache_key] = _resolve_key(key, tenant_id, ov)
    return cache[cache_key]


def _resolve_key(key: Any, tenant_id: str, ov: PriceOverrides) -> dict[str, Any]:
    sample = TokenUsage(input_tokens=int(key.sample_prompt), output_tokens=int(key.max_output))
    line = pricing.price_line(
        key.provider,
        key.model,
        key.mode,
        sample,
        key.sample_at,
        ov,
        tenant_id=tenant_id,
        allocated_cost_micro_usd=Decimal(0).quantize(pricing.QUANTUM)
        if key.mode == "self_hosted"
        else None,
    )
    up = line.unit_prices
    # An absent price is never billed: sync_* only exist as such, a self-hosted line pays nothing
    # per token, and the rest default as price_line does (cache classes at the input price are
    # present; output is absent on input-only models, where price_line has refused output tokens).
    prices = {name: Decimal(up.get(name, "0")) for name in WORK_TABLE_PRICE_NAMES}
    quanta = {name: value.scaleb(6) for name, value in prices.items()}
    exact = all(q == q.to_integral_value() and q <= _MAX_QUANTA_PER_TOKEN for q in quanta.values())
    return {
        "provider": key.provider,
        "model": key.model,
        "mode": key.mode,
        "price_day": key.price_day.isoformat(),
        "time_bucket": key.time_bucket,
        "tier_bucket": key.tier_bucket,
        "exact": exact,
        **{name: str(value) for name, value in prices.items()},
        **{f"q_{name}": int(q) if exact else 0 for name, q in quanta.items()},
        "pricing_source": line.pricing_source,
        "pricing_version": line.pricing_version,
        "priced_by": line.priced_by,
        "unit_prices": up,
    }


def _self_hosted_allocations(
    conn: Connection, ledger_date: dt.date, ov: PriceOverrides
) -> dict[int, Decimal]:
    """The GPU cost share of every self-hosted row of the date, of every tenant (module
    docstring): one window per (provider, model), split by `pricing.allocate_self_hosted`."""
    rows = conn.execute(text(_sql("ledger_self_hosted_rows.sql")), {"d": ledger_date}).all()
    if not rows:
        return {}
    if ov.gpu_usd_per_hour is None:
        raise ValueError(
            f"{ledger_date} has self-hosted usage but {ov.label} sets no "
            "self_hosted.gpu_usd_per_hour: add it to batch_pipelines/ledger/price_overrides.yaml"
        )
    windows: dict[tuple[str, str], list[tuple[int, str, TokenUsage]]] = {}
    for r in rows:  # ordered by provider, model, usage_id
        windows.setdefault((r.provider, r.model), []).append(
            (
                r.usage_id,
                r.tenant_id,
                TokenUsage(
                    input_tokens=r.input_tokens,
                    cached_input_tokens=r.cached_input_tokens,
                    cache_write_tokens=r.cache_write_tokens,
                    cache_write_1h_tokens=r.cache_write_1h_tokens,
                    output_tokens=r.output_tokens,
                ),
            )
        )
    shares: dict[int, Decimal] = {}
    for lines in windows.values():
        shares.update(
            pricing.allocate_self_hosted(ov.gpu_usd_per_hour, SELF_HOSTED_WINDOW_SECONDS, lines)
        )
    return shares


def unpriced_partitions(conn: Connection, workflow: str) -> list[tuple[dt.date, str]]:
    """(ledger_date, tenant) of every partition with usage rows of `workflow`'s batch jobs that
    no ledger row prices yet."""
    rows = conn.execute(text(_sql("ledger_unpriced_partitions.sql")), {"workflow": workflow})
    return [(r.ledger_date, r.tenant_id) for r in rows]


# ---- invariants ----------------------------------------------------------------------------------


class InvariantResult(NamedTuple):
    """(passed, details); details are JSON-friendly (counts and a few sample ids)."""

    passed: bool
    details: dict[str, Any]


def check_priced_exactly_once(
    conn: Connection, ledger_date: dt.date, tenant_id: str
) -> InvariantResult:
    """Every usage row of the partition has exactly one ledger row, and the partition's ledger
    rows price only usage rows of the partition."""
    params = {"d": ledger_date, "t": tenant_id, "n": _SAMPLE_LIMIT}
    usage_rows = conn.execute(
        text("SELECT count(*) FROM llm_usage WHERE ledger_date = :d AND tenant_id = :t"), params
    ).scalar_one()
    unpriced = conn.execute(
        text(
            "SELECT u.usage_id FROM llm_usage u"
            " WHERE u.ledger_date = :d AND u.tenant_id = :t"
            " AND NOT EXISTS (SELECT 1 FROM cost_ledger c WHERE c.usage_id = u.usage_id)"
            " ORDER BY u.usage_id"
        ),
        params,
    ).scalars()
    unpriced = list(unpriced)
    duplicated = list(
        conn.execute(
            text(
                "SELECT c.usage_id FROM cost_ledger c JOIN llm_usage u USING (usage_id)"
                " WHERE u.ledger_date = :d AND u.tenant_id = :t"
                " GROUP BY c.usage_id HAVING count(*) > 1 ORDER BY c.usage_id"
            ),
            params,
        ).scalars()
    )
    foreign = list(
        conn.execute(
            text(
                "SELECT c.ledger_id FROM cost_ledger c JOIN llm_usage u USING (usage_id)"
                " WHERE (c.ledger_date = :d AND c.tenant_id = :t)"
                " AND (u.ledger_date <> :d OR u.tenant_id <> :t) ORDER BY c.ledger_id"
            ),
            params,
        ).scalars()
    )
    details = {
        "usage_rows": usage_rows,
        "unpriced_usage_rows": len(unpriced),
        "duplicated_usage_rows": len(duplicated),
        "ledger_rows_outside_partition": len(foreign),
    }
    if unpriced:
        details["unpriced_usage_ids"] = unpriced[:_SAMPLE_LIMIT]
    if duplicated:
        details["duplicated_usage_ids"] = duplicated[:_SAMPLE_LIMIT]
    if foreign:
        details["foreign_ledger_ids"] = foreign[:_SAMPLE_LIMIT]
    return InvariantResult(not (unpriced or duplicated or foreign), details)


def check_batch_tokens_match_provider(
    conn: Connection, ledger_date: dt.date, tenant_id: str
) -> InvariantResult:
    """Per batch of the partition: ledger tokens equal the usage they price, and where the provider
    reported an aggregate (OpenAI's batch `usage`), the batch's tokens equal it.

    A batch is compared with its aggregate once it is `ingested` (every line accounted for). Its
    rows may belong to other tenants whose partitions are not priced yet: those count with their
    usage rows' tokens (which the first half of the check ties to the ledger rows once priced).
    Prompt tokens are compared with the aggregate's `input_tokens` (which includes cached and
    cache-write tokens), cached tokens with `input_tokens_details.cached_tokens` where given; the
    details use the aggregate's names, and each mismatch names its batch (ours and the provider's
    id) and says which counts differ.
    """
    params = {"d": ledger_date, "t": tenant_id}
    mismatched_rows = list(
        conn.execute(
            text(
                "SELECT c.usage_id FROM cost_ledger c JOIN llm_usage u USING (usage_id)"
                " WHERE u.ledger_date = :d AND u.tenant_id = :t AND ("
                " c.input_tokens <> u.input_tokens"
                " OR c.cached_input_tokens <> u.cached_input_tokens"
                " OR c.cache_write_tokens <> u.cache_write_tokens"
                " OR c.cache_write_1h_tokens <> u.cache_write_1h_tokens"
                " OR c.output_tokens <> u.output_tokens) ORDER BY c.usage_id"
            ),
            params,
        ).scalars()
    )
    batches = conn.execute(text(_sql("ledger_batch_tokens.sql")), params).mappings().all()
    compared, without_aggregate, mismatched = 0, 0, []
    for b in batches:
        agg = b["provider_usage"]
        if b["status"] != "ingested" or not isinstance(agg, dict) or "input_tokens" not in agg:
            without_aggregate += 1
            continue
        compared += 1
        reported = {
            "input_tokens": int(agg["input_tokens"]),
            "output_tokens": int(agg.get("output_tokens") or 0),
        }
        ours = {"input_tokens": int(b["prompt_tokens"]), "output_tokens": int(b["output_tokens"])}
        cached = (agg.get("input_tokens_details") or {}).get("cached_tokens")
        if cached is not None:
            reported["cached_tokens"] = int(cached)
            ours["cached_tokens"] = int(b["cached_tokens"])
        if reported != ours:
            mismatched.append(
                {
                    "batch_job_id": b["batch_job_id"],
                    "provider_batch_id": b["provider_batch_id"],
                    "differs": _differences(b["provider"], reported, ours),
                    "provider": reported,
                    "ledger": ours,
                }
            )
    details: dict[str, Any] = {
        "batches": len(batches),
        "batches_compared": compared,
        "batches_without_provider_aggregate": without_aggregate,
        "batches_mismatched": len(mismatched),
        "ledger_rows_with_other_tokens_than_usage": len(mismatched_rows),
    }
    if mismatched:
        details["mismatches"] = mismatched[:_SAMPLE_LIMIT]
    if mismatched_rows:
        details["mismatched_usage_ids"] = mismatched_rows[:_SAMPLE_LIMIT]
    return InvariantResult(not (mismatched or mismatched_rows), details)


def _differences(provider: str, reported: dict[str, int], ours: dict[str, int]) -> str:
    """'output_tokens: openai reports 301, the ledger has 300; ...' for the counts that differ."""
    return "; ".join(
        f"{name}: {provider} reports {reported[name]}, the ledger has {ours[name]}"
        for name in reported
        if reported[name] != ours[name]
    )


def check_usage_priced_within(
    conn: Connection, older_than: dt.timedelta, now: dt.datetime | None = None
) -> InvariantResult:
    """No `llm_usage` row recorded more than `older_than` ago (or before its recording time was
    kept, migration 0006) is without a ledger row: pricing after ingest covers every usage row,
    whatever run wrote it. Details name the (date, tenant) partitions to re-price."""
    cutoff = (now or dt.datetime.now(dt.UTC)) - older_than
    rows = (
        conn.execute(
            text(_sql("ledger_unpriced_usage.sql")), {"cutoff": cutoff, "n": _SAMPLE_LIMIT}
        )
        .mappings()
        .all()
    )
    unpriced = sum(r["usage_rows"] for r in rows)
    details: dict[str, Any] = {"unpriced_usage_rows": unpriced, "older_than": str(older_than)}
    if rows:
        details["partitions"] = {
            f"{r['ledger_date'].isoformat()}|{r['tenant_id']}": {
                "workflows": list(r["workflows"]),
                "usage_rows": r["usage_rows"],
                "sample_usage_ids": list(r["sample_ids"]),
            }
            for r in rows[:_SAMPLE_LIMIT]
        }
        details["partitions_unpriced"] = len(rows)
    return InvariantResult(unpriced == 0, details)


def check_rows_attributed(
    conn: Connection, ledger_date: dt.date, tenant_id: str
) -> InvariantResult:
    """No ledger row of the partition lacks a tenant or vertical, and each carries the tenant,
    vertical and workflow of its usage row and manifest request (so cost is never misattributed)."""
    rows = conn.execute(text(_sql("ledger_attribution.sql")), {"d": ledger_date, "t": tenant_id})
    row = rows.mappings().one()
    details = {
        "ledger_rows": row["ledger_rows"],
        "without_tenant_or_vertical": row["without_tenant_or_vertical"],
        "attribution_differs_from_usage_or_request": row["misattributed"],
    }
    if row["sample_ids"]:
        details["sample_ledger_ids"] = list(row["sample_ids"])[:_SAMPLE_LIMIT]
    return InvariantResult(
        row["without_tenant_or_vertical"] == 0 and row["misattributed"] == 0, details
    )
