"""Exact pricing of ledger lines: genai-prices plus the versioned override table.

Money
-----
Every amount is a `Decimal` of micro-dollars (USD x 1e6); no float is ever involved. Unit prices
are USD per 1M tokens, so ``tokens x unit price`` *is* the amount in micro-dollars.

A line is billed by token class (`token_classes`: uncached input, cache reads, 5-minute cache
writes, 1-hour cache writes, output), each declared once with its usage column, the price it pays
and its synchronous reference. Rounding rule: the amount of each class of a line is quantized to
`QUANTUM` = 0.000001 micro-dollars (1e-12 USD, the scale of the ``NUMERIC(24, 6)`` ledger
columns) with ROUND_HALF_EVEN, once. Every figure of a line is a sum or difference of such class
amounts, so

    sync_cost - cost == batch_discount + cache_read_savings - cache_write_premium

holds exactly on every line, and any number of lines add up exactly. The multiplication itself is
done in a context that traps `Inexact`, so nothing is rounded anywhere else. With unit prices of at
most 6 decimal places (every OpenAI and Anthropic price in genai-prices 0.2.3, the override table,
and their halves) nothing is rounded at all.

Model names
-----------
Providers answer with a dated snapshot (``gpt-4o-mini-2024-07-18``, ``claude-haiku-4-5-20251001``)
while prices are written for aliases. Every source is asked for the line's own name first, then for
its alias (`core.models.alias_of`), so an override may name a snapshot exactly (it then wins over
the alias's entry of the same table) and an alias's entry prices all its snapshots. Each priced
line says which entry priced it (``priced_by``, stored on its ledger row).

Price source order (first hit wins; see price_overrides.yaml)
--------------------------------------------------------------
1. the override table's tenant-specific negotiated rate, 2. its organisation-wide negotiated rate,
3. its list prices for what genai-prices lacks (batch embeddings), 4. genai-prices' bundled data
(batch through ``price_context={'processing': 'batch'}``, at ``genai_request_timestamp=occurred_at``),
5. for batch lines genai-prices has no batch price for (every date before 2026-10-14 in 0.2.3): the
table's ``batch_fallback`` multiplier (0.5) applied to genai-prices' standard price of that date.

genai-prices is read from the data bundled in the installed wheel, through a snapshot of our own:
an `UpdatePrices` started anywhere in the process (which fetches from GitHub) cannot change what
we price with, so ``pricing_version = "genai-prices <version>"`` identifies the prices exactly.

Savings split
-------------
``sync_cost`` is the same tokens at the synchronous, uncached price (every prompt token at the sync
input price, output at the sync output price); the split of ``sync_cost - cost`` into
batch_discount, cache_read_savings and cache_write_premium is declared in `token_classes`: the
batch discount is measured on uncached prices and the cache effects at the prices the line
actually paid (each class amount rounded as above). A sync line has batch_discount 0.
For a self-hosted line the whole difference to the reference API model is reported as
batch_discount (it can be negative), and the cache figures are 0.

Self-hosted GPU cost
--------------------
A deployment's window (a UTC day) costs its hourly price x its length, rounded once to the quantum
(`self_hosted_window_cost_micro_usd`). `allocate_self_hosted` splits it exactly: first over the
tenants by their share of the window's tokens (prompt + output), in whole micro-dollars by largest
remainder, ties to the lower tenant id (a rest below one micro-dollar, only when the window's cost
is not a whole number of micro-dollars, goes to the next tenant in that order); then each tenant's
share over its lines by token share, in quanta by largest remainder, ties to the earlier line. The
shares of the tenants add up to the window's cost, and the shares of a tenant's lines to its share.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_args

import yaml

from batch_pipelines.core.models import alias_of
from batch_pipelines.core.usage import TokenUsage
from batch_pipelines.ledger.token_classes import (
    PRICE_NAMES,
    REFERENCE_NAMES,
    REQUIRED_PRICE,
    TOKEN_CLASSES,
    line_figures,
)

if TYPE_CHECKING:
    from genai_prices import Usage
    from genai_prices.data_snapshot import DataSnapshot
    from genai_prices.types import ModelInfo, ModelPrice, Provider

__all__ = [
    "BATCH_PRICE_CONTEXT",
    "DEFAULT_OVERRIDES_PATH",
    "QUANTUM",
    "LinePrice",
    "Mode",
    "OverridesError",
    "PriceOverrides",
    "ResolvedPrices",
    "UnitPrices",
    "UnknownModelPrice",
    "allocate_self_hosted",
    "default_overrides",
    "estimate_cost_micro_usd",
    "genai_prices_label",
    "genai_usage",
    "largest_remainder",
    "load_overrides",
    "model_names",
    "price_line",
    "resolve_unit_prices",
    "self_hosted_window_cost_micro_usd",
]

Mode = Literal["batch", "sync", "self_hosted"]
ApiMode = Literal["batch", "sync"]
PricingSource = Literal["genai-prices", "override"]

QUANTUM = Decimal("0.000001")
"""Smallest unit of a ledger amount, in micro-dollars (1e-12 USD)."""

BATCH_PRICE_CONTEXT: Mapping[str, str] = {"processing": "batch"}
DEFAULT_OVERRIDES_PATH = Path(__file__).with_name("price_overrides.yaml")

_MODES = get_args(Mode)
_API_MODES = get_args(ApiMode)
_MICRO_USD_IN_QUANTA = 10**6
# Multiplications must be exact: 80 significant digits and a trap on Inexact.
_EXACT = Context(
    prec=80, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow, Inexact]
)
_ROUND = Context(
    prec=80, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)


# ---- errors ------------------------------------------------------------------------------------


class UnknownModelPrice(LookupError):
    """No price is known for a (provider, model, mode) at a date."""

    def __init__(
        self, provider: str, model: str, mode: str, occurred_at: datetime | None, reason: str
    ) -> None:
        self.provider, self.model, self.mode, self.reason = provider, model, mode, reason
        when = f" on {occurred_at.date().isoformat()}" if occurred_at is not None else ""
        names = model_names(model)
        where = f"models.{provider}.{names[-1]}.{mode}"
        if len(names) > 1:
            where += f" (its alias: every snapshot) or models.{provider}.{names[0]}.{mode}"
        super().__init__(
            f"No {mode} price for model {model!r} of provider {provider!r}{when}: {reason}. "
            f"Add it to batch_pipelines/ledger/price_overrides.yaml under {where} "
            f"({', '.join(PRICE_NAMES)}: USD per 1M tokens as decimal strings), bump the file's "
            f"version, and re-price the affected cost_ledger partitions."
        )


class OverridesError(ValueError):
    """The override table is malformed."""


# ---- unit prices -------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitPrices:
    """USD per 1M tokens for each token class (`token_classes.PRICE_NAMES`), e.g.
    ``prices.input``. A class priced None has no price at all (output of an input-only model): a
    line with tokens of it is refused."""

    by_class: Mapping[str, Decimal | None]

    def __post_init__(self) -> None:
        if set(self.by_class) != set(PRICE_NAMES):
            raise ValueError(f"UnitPrices needs exactly the classes {PRICE_NAMES}")
        for name, value in self.by_class.items():
            if value is None and name != REQUIRED_PRICE:
                continue
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise ValueError(
                    f"UnitPrices.{name} must be a finite non-negative Decimal, got {value!r}"
                )
        object.__setattr__(self, "by_class", MappingProxyType(dict(self.by_class)))

    def __getattr__(self, name: str) -> Decimal | None:
        by_class = self.__dict__.get("by_class")
        if by_class is None or name not in by_class:
            raise AttributeError(name)
        return by_class[name]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnitPrices) and dict(self.by_class) == dict(other.by_class)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.by_class.items())))

    def scaled(self, multiplier: Decimal) -> UnitPrices:
        return UnitPrices(
            {
                name: None if value is None else _EXACT.multiply(value, multiplier)
                for name, value in self.by_class.items()
            }
        )

    def as_strings(self, prefix: str = "") -> dict[str, str]:
        return {
            prefix + name: _fmt(value)
            for name in PRICE_NAMES
            if (value := self.by_class[name]) is not None
        }


@dataclass(frozen=True)
class ResolvedPrices:
    """Unit prices for one (provider, model, mode, time) and where they came from."""

    unit_prices: UnitPrices
    source: PricingSource
    versions: tuple[str, ...]
    """Every price table that contributed, e.g. ('price_overrides 2026-11-26.1', 'genai-prices 0.2.3')."""
    priced_as: str
    """provider/model as matched in the source (the line's own name or its alias)."""
    priced_by: str
    """The entry that priced it, e.g. 'price_overrides negotiated.openai.gpt-4o-mini.batch' or
    'genai-prices openai/gpt-4o-mini batch'."""
    batch_multiplier: Decimal | None = None
    """Set when the batch price is the fallback rule's multiple of the standard price."""


# ---- the override table ------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceOverrides:
    """The parsed, validated price_overrides.yaml."""

    version: str
    models: Mapping[tuple[str, str, str], UnitPrices]
    """(provider, model, mode) -> list prices genai-prices lacks."""
    negotiated: Mapping[tuple[str, str, str], UnitPrices]
    tenants: Mapping[tuple[str, str, str, str], UnitPrices]
    """(tenant_id, provider, model, mode) -> negotiated rate for that tenant only."""
    batch_fallback_multiplier: Decimal | None
    batch_fallback_providers: frozenset[str]
    gpu_usd_per_hour: Decimal | None
    reference_provider: str = "openai"
    reference_model: str = "gpt-4o-mini"

    @property
    def label(self) -> str:
        return f"price_overrides {self.version}"

    @functools.cached_property
    def tenant_ids(self) -> frozenset[str]:
        """Tenants with rates of their own."""
        return frozenset(tenant_id for tenant_id, *_ in self.tenants)

    @classmethod
    def from_yaml(cls, path: str | Path) -> PriceOverrides:
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            raise OverridesError(f"{path}: not valid YAML: {e}") from e
        return cls.from_dict(raw, origin=str(path))

    @classmethod
    def from_dict(cls, raw: Any, *, origin: str = "price overrides") -> PriceOverrides:
        top = _table(raw, origin)
        _only_keys(
            top,
            {"version", "models", "negotiated", "tenants", "batch_fallback", "self_hosted"},
            origin,
        )
        version = top.get("version")
        if not isinstance(version, str) or not version.strip():
            raise OverridesError(
                f'{origin}: `version` must be a non-empty string, e.g. "2026-11-26.1"'
            )

        models = _price_tree(top.get("models") or {}, f"{origin}: models")
        negotiated = _price_tree(top.get("negotiated") or {}, f"{origin}: negotiated")
        tenants: dict[tuple[str, str, str, str], UnitPrices] = {}
        for tenant_id, tree in _table(top.get("tenants") or {}, f"{origin}: tenants").items():
            for key, prices in _price_tree(tree, f"{origin}: tenants.{tenant_id}").items():
                tenants[(str(tenant_id), *key)] = prices

        fallback = _table(top.get("batch_fallback") or {}, f"{origin}: batch_fallback")
        _only_keys(fallback, {"multiplier", "providers"}, f"{origin}: batch_fallback")
        multiplier = (
            None
            if fallback.get("multiplier") is None
            else _decimal(fallback["multiplier"], f"{origin}: batch_fallback.multiplier")
        )
        providers = fallback.get("providers") or []
        if not isinstance(providers, list) or not all(isinstance(p, str) for p in providers):
            raise OverridesError(f"{origin}: batch_fallback.providers must be a list of names")

        hosted = _table(top.get("self_hosted") or {}, f"{origin}: self_hosted")
        _only_keys(hosted, {"gpu_usd_per_hour", "reference"}, f"{origin}: self_hosted")
        gpu = (
            None
            if hosted.get("gpu_usd_per_hour") is None
            else _decimal(hosted["gpu_usd_per_hour"], f"{origin}: self_hosted.gpu_usd_per_hour")
        )
        reference = _table(hosted.get("reference") or {}, f"{origin}: self_hosted.reference")
        _only_keys(reference, {"provider", "model"}, f"{origin}: self_hosted.reference")
        return cls(
            version=version.strip(),
            models=models,
            negotiated=negotiated,
            tenants=tenants,
            batch_fallback_multiplier=multiplier,
            batch_fallback_providers=frozenset(p.lower() for p in providers),
            gpu_usd_per_hour=gpu,
            reference_provider=str(reference.get("provider", "openai")).lower(),
            reference_model=str(reference.get("model", "gpt-4o-mini")).lower(),
        )


def load_overrides(path: str | Path | None = None) -> PriceOverrides:
    """Parse an override table (the bundled price_overrides.yaml when ``path`` is None)."""
    return PriceOverrides.from_yaml(DEFAULT_OVERRIDES_PATH if path is None else path)


@functools.cache
def default_overrides() -> PriceOverrides:
    """The bundled table, parsed once per process."""
    return load_overrides()


def _table(value: Any, where: str) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise OverridesError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def _only_keys(table: Mapping[Any, Any], allowed: set[str], where: str) -> None:
    unknown = set(map(str, table)) - allowed
    if unknown:
        raise OverridesError(
            f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}"
        )


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool | float):
        raise OverridesError(
            f"{where}: {value!r} is a YAML {type(value).__name__}; write money as a quoted "
            f'decimal string, e.g. "0.065"'
        )
    if isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation as e:
            raise OverridesError(f"{where}: {value!r} is not a decimal number") from e
    else:
        raise OverridesError(f"{where}: expected a decimal string, got {type(value).__name__}")
    if not result.is_finite() or result < 0:
        raise OverridesError(f"{where}: {value!r} must be a finite, non-negative number")
    return result


def _price_entry(raw: Any, where: str) -> UnitPrices:
    entry = _table(raw, where)
    _only_keys(entry, set(PRICE_NAMES), where)
    if entry.get(REQUIRED_PRICE) is None:
        raise OverridesError(f"{where}: `{REQUIRED_PRICE}` is required")
    return _filled(
        {
            name: _decimal(entry[name], f"{where}.{name}")
            for name in PRICE_NAMES
            if entry.get(name) is not None
        }
    )


def _filled(given: Mapping[str, Decimal | None]) -> UnitPrices:
    """Unit prices from the classes a source prices: a class it does not price pays its
    reference's price; a reference class it does not price has none (None)."""
    prices: dict[str, Decimal | None] = {}
    for token_class in _REFERENCES_FIRST:  # the others default to them
        own = given.get(token_class.price)
        prices[token_class.price] = own if own is not None else prices.get(token_class.reference)
    return UnitPrices(prices)


_REFERENCES_FIRST = sorted(TOKEN_CLASSES, key=lambda c: c.reference != c.price)


def _price_tree(raw: Any, where: str) -> dict[tuple[str, str, str], UnitPrices]:
    """provider -> model -> mode -> entry, flattened; names lower-cased."""
    out: dict[tuple[str, str, str], UnitPrices] = {}
    for provider, models in _table(raw, where).items():
        for model, modes in _table(models, f"{where}.{provider}").items():
            modes = _table(modes, f"{where}.{provider}.{model}")
            _only_keys(modes, set(_API_MODES), f"{where}.{provider}.{model}")
            for mode, entry in modes.items():
                key = (str(provider).lower(), str(model).lower(), str(mode))
                out[key] = _price_entry(entry, f"{where}.{provider}.{model}.{mode}")
    return out


# ---- genai-prices --------------------------------------------------------------------------------


def genai_prices_label() -> str:
    from genai_prices import __version__

    return f"genai-prices {__version__}"


@functools.cache
def _snapshot() -> DataSnapshot:
    """Our own snapshot of the bundled data: never the auto-updated one, never the network."""
    from genai_prices import data
    from genai_prices.data_snapshot import DataSnapshot

    return DataSnapshot(providers=data.providers, from_auto_update=False)


def genai_usage(usage: TokenUsage) -> Usage:
    """`usage` as genai-prices' Usage (whose input_tokens is the whole prompt)."""
    from genai_prices import Usage

    return Usage(
        input_tokens=usage.prompt_tokens,
        cache_read_tokens=usage.cached_input_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        cache_write_5m_tokens=usage.cache_write_5m_tokens,
        cache_write_1h_tokens=usage.cache_write_1h_tokens,
        output_tokens=usage.output_tokens,
    )


def model_names(model: str) -> tuple[str, ...]:
    """The names a line's model is priced under, most specific first: its own (lower-cased) and,
    for a dated snapshot, its alias. The one model-name resolution of every price source."""
    own = model.lower()
    return tuple(dict.fromkeys((own, alias_of(own))))


def _genai_model(provider: str, model: str, mode: str, at: datetime) -> tuple[Provider, ModelInfo]:
    for name in model_names(model):
        found = _genai_lookup(provider.lower(), name)
        if found is not None:
            return found
    raise UnknownModelPrice(
        provider, model, mode, at, f"{genai_prices_label()} does not know it (nor its alias)"
    )


@functools.lru_cache(maxsize=1024)
def _genai_lookup(provider: str, model: str) -> tuple[Provider, ModelInfo] | None:
    """genai-prices' own match of a name (it knows some snapshots apart from their alias, e.g.
    gpt-4o-2024-05-13), in our snapshot; cached, the snapshot never changes."""
    try:
        return _snapshot().find_provider_model(model, None, provider, None)
    except LookupError:
        return None


def _batch_variant_active(provider: Provider, model: ModelInfo, at: datetime) -> bool:
    """Whether genai-prices' calc_price would apply a batch price (mirrors ModelInfo.calc_price)."""
    if not any(model is m for m in provider.models):
        return False  # a fallback provider's model: genai-prices ignores the price context
    for variant in model.price_variants or ():
        if variant.constraint is not None and not variant.constraint.active(at):
            continue
        if all(BATCH_PRICE_CONTEXT.get(k) == v for k, v in variant.when.items()) and any(
            v is not None for v in variant.prices.__dict__.values()
        ):
            return True
    return False


def _unit_prices_from_genai(
    price: ModelPrice, prompt_tokens: int, fail: functools.partial[UnknownModelPrice]
) -> UnitPrices:
    """Resolve a genai-prices ModelPrice to flat unit prices for a prompt of this size.

    Mirrors genai-prices' decomposition: an unpriced class is billed at its nearest priced
    ancestor (the class's `genai_fields` in order, e.g. 1h write -> write, then its reference
    price), and a tier applies to all tokens once the whole prompt exceeds its start.
    """
    from genai_prices.types import TieredPrices

    def at_tier(value: Any) -> Decimal | None:
        if isinstance(value, TieredPrices):
            applicable = value.base
            for tier in reversed(value.tiers):
                if prompt_tokens > tier.start:
                    applicable = tier.price
                    break
            return applicable
        return value

    if getattr(price, "requests_kcount", None) is not None:
        raise fail("genai-prices bills it per request as well, which the ledger does not model")
    given: dict[str, Decimal | None] = {}
    for token_class in TOKEN_CLASSES:
        for name in token_class.genai_fields:
            value = at_tier(getattr(price, name, None))
            if value is not None:
                given[token_class.price] = value
                break
    if given.get(REQUIRED_PRICE) is None:
        raise fail(f"genai-prices has no per-token {REQUIRED_PRICE} price for it")
    return _filled(given)


# ---- resolution ----------------------------------------------------------------------------------


def resolve_unit_prices(
    provider: str,
    model: str,
    mode: ApiMode,
    occurred_at: datetime,
    *,
    prompt_tokens: int = 0,
    tenant_id: str | None = None,
    overrides: PriceOverrides | None = None,
) -> ResolvedPrices:
    """Unit prices for a batch or sync line, in the source order of the module docstring.

    ``prompt_tokens`` (the whole prompt) selects the long-context tier where a model has one.
    """
    if mode not in _API_MODES:
        raise ValueError(f"mode must be one of {_API_MODES} here, got {mode!r}")
    _check_timestamp(occurred_at)
    ov = default_overrides() if overrides is None else overrides
    override = _override_entry(ov, provider.lower(), model, mode, tenant_id)
    if override is not None:
        return override

    fail = functools.partial(UnknownModelPrice, provider, model, mode, occurred_at)
    gp_provider, gp_model = _genai_model(provider, model, mode, occurred_at)
    priced_as = f"{gp_provider.id}/{gp_model.id}"
    label = genai_prices_label()
    if mode == "sync":
        standard = gp_model.get_prices(occurred_at)
        return ResolvedPrices(
            _unit_prices_from_genai(standard, prompt_tokens, fail),
            "genai-prices",
            (label,),
            priced_as,
            f"genai-prices {priced_as} standard",
        )
    if _batch_variant_active(gp_provider, gp_model, occurred_at):
        batch = gp_model.get_prices(occurred_at, BATCH_PRICE_CONTEXT)
        return ResolvedPrices(
            _unit_prices_from_genai(batch, prompt_tokens, fail),
            "genai-prices",
            (label,),
            priced_as,
            f"genai-prices {priced_as} batch",
        )
    multiplier = ov.batch_fallback_multiplier
    if multiplier is None or provider.lower() not in ov.batch_fallback_providers:
        raise fail(
            f"{label} has no batch price for it at that date and the override table's "
            f"batch_fallback does not cover provider {provider!r}"
        )
    standard = _unit_prices_from_genai(gp_model.get_prices(occurred_at), prompt_tokens, fail)
    return ResolvedPrices(
        standard.scaled(multiplier),
        "override",
        (ov.label, label),
        priced_as,
        f"genai-prices {priced_as} standard x price_overrides batch_fallback {_fmt(multiplier)}",
        multiplier,
    )


def _override_entry(
    ov: PriceOverrides, provider: str, model: str, mode: str, tenant_id: str | None
) -> ResolvedPrices | None:
    """The override table's entry for the line, in its order of tables; within a table the
    line's own model name before its alias."""
    names = model_names(model)
    tables: list[tuple[str, Mapping[tuple[str, ...], UnitPrices], tuple[str, ...]]] = []
    if tenant_id is not None and tenant_id in ov.tenant_ids:
        tables.append((f"tenants.{tenant_id}", ov.tenants, (tenant_id,)))
    tables += [("negotiated", ov.negotiated, ()), ("models", ov.models, ())]
    for table_name, table, prefix in tables:
        for name in names:
            prices = table.get((*prefix, provider, name, mode))
            if prices is not None:
                return ResolvedPrices(
                    prices,
                    "override",
                    (ov.label,),
                    f"{provider}/{name}",
                    f"price_overrides {table_name}.{provider}.{name}.{mode}",
                )
    return None


# ---- pricing a line ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinePrice:
    """The priced line. Amounts are Decimal micro-dollars at `QUANTUM`.

    ``sync_cost - cost == batch_discount + cache_read_savings - cache_write_premium`` exactly.
    """

    cost_micro_usd: Decimal
    sync_cost_micro_usd: Decimal
    batch_discount_micro_usd: Decimal
    cache_read_savings_micro_usd: Decimal
    cache_write_premium_micro_usd: Decimal
    pricing_source: PricingSource
    pricing_version: str
    unit_prices: dict[str, str]
    priced_as: str
    priced_by: str
    """The entry that priced what the line paid (see `ResolvedPrices.priced_by`)."""

    @property
    def savings_micro_usd(self) -> Decimal:
        return self.sync_cost_micro_usd - self.cost_micro_usd


def price_line(
    provider: str,
    model: str,
    mode: Mode,
    usage: TokenUsage,
    occurred_at: datetime,
    overrides: PriceOverrides | None = None,
    *,
    tenant_id: str | None = None,
    allocated_cost_micro_usd: Decimal | None = None,
) -> LinePrice:
    """Price one provider line.

    ``occurred_at`` must be timezone-aware (the request time; it selects the price in force).
    ``tenant_id`` selects a tenant's negotiated rate, if the table has one.
    Self-hosted lines cost their share of the GPU window: pass it as ``allocated_cost_micro_usd``
    (from `allocate_self_hosted`); ``provider``/``model`` are then labels only.
    """
    if not isinstance(usage, TokenUsage):
        raise TypeError(f"usage must be a TokenUsage, got {type(usage).__name__}")
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    _check_timestamp(occurred_at)
    ov = default_overrides() if overrides is None else overrides

    if mode == "self_hosted":
        return _price_self_hosted(
            provider, model, usage, occurred_at, ov, tenant_id, allocated_cost_micro_usd
        )
    if allocated_cost_micro_usd is not None:
        raise ValueError("allocated_cost_micro_usd is only for self_hosted lines")

    common = dict(prompt_tokens=usage.prompt_tokens, tenant_id=tenant_id, overrides=ov)
    paid = resolve_unit_prices(provider, model, mode, occurred_at, **common)
    sync = (
        paid
        if mode == "sync"
        else resolve_unit_prices(provider, model, "sync", occurred_at, **common)
    )
    prices = _line_prices(paid.unit_prices, sync.unit_prices)
    _check_priced(usage, prices, paid.priced_by, mode)
    with localcontext(_EXACT):  # sums of quantized amounts: exact, or an Inexact error
        figures = line_figures(usage, prices, _amt)

    unit_prices = paid.unit_prices.as_strings()
    unit_prices.update(_sync_strings(sync.unit_prices))
    if paid.batch_multiplier is not None:
        unit_prices["batch_multiplier"] = _fmt(paid.batch_multiplier)
    return LinePrice(
        **figures,
        pricing_source=paid.source,
        pricing_version=_join_versions(paid, sync),
        unit_prices=unit_prices,
        priced_as=paid.priced_as,
        priced_by=paid.priced_by,
    )


def _line_prices(paid: UnitPrices, sync: UnitPrices) -> dict[str, Decimal | None]:
    """Every price a figure may use (`token_classes.WORK_TABLE_PRICE_NAMES`): the classes' paid
    prices and the synchronous prices of the reference classes."""
    return {**paid.by_class, **{f"sync_{name}": sync.by_class[name] for name in REFERENCE_NAMES}}


def _sync_strings(sync: UnitPrices) -> dict[str, str]:
    return {
        f"sync_{name}": _fmt(value)
        for name in REFERENCE_NAMES
        if (value := sync.by_class[name]) is not None
    }


def _price_self_hosted(
    provider: str,
    model: str,
    usage: TokenUsage,
    occurred_at: datetime,
    ov: PriceOverrides,
    tenant_id: str | None,
    allocated: Decimal | None,
) -> LinePrice:
    if allocated is None:
        raise ValueError(
            "a self_hosted line costs its share of the GPU window: compute it with "
            "allocate_self_hosted(...) and pass it as allocated_cost_micro_usd"
        )
    if not isinstance(allocated, Decimal) or not allocated.is_finite() or allocated < 0:
        raise ValueError(
            f"allocated_cost_micro_usd must be a non-negative Decimal, got {allocated!r}"
        )
    if _q(allocated) != allocated:
        raise ValueError(
            f"allocated_cost_micro_usd {allocated} is finer than the quantum {QUANTUM}"
        )
    allocated_cost = _q(allocated)
    reference = resolve_unit_prices(
        ov.reference_provider,
        ov.reference_model,
        "sync",
        occurred_at,
        prompt_tokens=usage.prompt_tokens,
        tenant_id=tenant_id,
        overrides=ov,
    )
    # The API figures with nothing paid per token (so no cache effect, and the batch discount is
    # the whole sync cost), then the GPU share as the cost.
    free = UnitPrices(dict.fromkeys(PRICE_NAMES, Decimal(0)))
    prices = _line_prices(free, reference.unit_prices)
    _check_priced(usage, prices, reference.priced_by, "sync")
    with localcontext(_EXACT):
        figures = line_figures(usage, prices, _amt)
        figures["cost_micro_usd"] = allocated_cost
        figures["batch_discount_micro_usd"] -= allocated_cost
    unit_prices = _sync_strings(reference.unit_prices)
    unit_prices["sync_reference"] = reference.priced_as
    if ov.gpu_usd_per_hour is not None:
        unit_prices["gpu_usd_per_hour"] = _fmt(ov.gpu_usd_per_hour)
    return LinePrice(
        **figures,
        pricing_source="override",
        pricing_version=" + ".join(dict.fromkeys((ov.label, *reference.versions))),
        unit_prices=unit_prices,
        priced_as=f"{provider}/{model}",
        priced_by="price_overrides self_hosted.gpu_usd_per_hour",
    )


def estimate_cost_micro_usd(
    provider: str,
    model: str,
    mode: Mode,
    prompt_tokens: int,
    output_tokens: int,
    occurred_at: datetime,
    *,
    tenant_id: str | None = None,
    overrides: PriceOverrides | None = None,
) -> Decimal:
    """Expected cost of a planned request, for budget reservations.

    No cache hit is assumed (every prompt token uncached), so the estimate errs high. A
    self-hosted request is estimated at the reference API model's sync price (an upper bound: its
    real cost depends on the window it runs in).
    """
    usage = TokenUsage(input_tokens=prompt_tokens, output_tokens=output_tokens)
    if mode == "self_hosted":
        zero = _q(Decimal(0))
        line = price_line(
            provider,
            model,
            mode,
            usage,
            occurred_at,
            overrides,
            tenant_id=tenant_id,
            allocated_cost_micro_usd=zero,
        )
        return line.sync_cost_micro_usd
    return price_line(
        provider, model, mode, usage, occurred_at, overrides, tenant_id=tenant_id
    ).cost_micro_usd


# ---- self-hosted -----------------------------------------------------------------------------------

K = TypeVar("K", bound=Hashable)


def self_hosted_window_cost_micro_usd(
    gpu_usd_per_hour: Decimal | str | int, window_seconds: int | Decimal
) -> Decimal:
    """What a window of the deployment costs, rounded once to `QUANTUM` (half-even)."""
    price = _money_arg(gpu_usd_per_hour, "gpu_usd_per_hour")
    if isinstance(window_seconds, bool) or not isinstance(window_seconds, int | Decimal):
        raise ValueError(f"window_seconds must be an int or Decimal, got {window_seconds!r}")
    if not Decimal(window_seconds).is_finite() or window_seconds < 0:
        raise ValueError(f"window_seconds must be finite and non-negative, got {window_seconds}")
    # USD/h x s / 3600 x 1e6 micro-USD/USD, counted in quanta (1e-6 micro-USD), exactly.
    quanta = round(Fraction(price) * Fraction(window_seconds) * 10**12 / 3600)
    return _q(Decimal(quanta).scaleb(-6, context=_ROUND))


def allocate_self_hosted(
    gpu_usd_per_hour: Decimal | str | int,
    window_seconds: int | Decimal,
    lines: Sequence[tuple[K, str, TokenUsage]],
) -> dict[K, Decimal]:
    """Split a window's GPU cost over the (line key, tenant id, usage) lines processed in it.

    The rule (module docstring, "Self-hosted GPU cost"): the window's cost over the tenants by
    token share (prompt + output), in whole micro-dollars by largest remainder, ties to the lower
    tenant id; each tenant's share over its lines by token share, in quanta, ties to the earlier
    line in `lines`. Shares that report no tokens at all are split equally. The result adds up
    exactly to `self_hosted_window_cost_micro_usd`; an empty window returns {} (its cost is
    allocated to nobody: the caller decides).
    """
    keys = [key for key, _, _ in lines]
    if len(set(keys)) != len(keys):
        raise ValueError("allocate_self_hosted: line keys must be unique")
    for key, _, usage in lines:
        if not isinstance(usage, TokenUsage):
            raise TypeError(f"line {key!r}: usage must be a TokenUsage, got {type(usage).__name__}")
    window = self_hosted_window_cost_micro_usd(gpu_usd_per_hour, window_seconds)
    if not lines:
        return {}
    window_quanta = int(window.scaleb(6, context=_ROUND))
    by_tenant: dict[str, list[tuple[K, int]]] = {}
    for key, tenant_id, usage in lines:
        by_tenant.setdefault(tenant_id, []).append((key, usage.prompt_tokens + usage.output_tokens))
    tenant_ids = sorted(by_tenant)
    tenant_shares = largest_remainder(
        window_quanta,
        [sum(tokens for _, tokens in by_tenant[t]) for t in tenant_ids],
        unit=_MICRO_USD_IN_QUANTA,
    )
    shares: dict[K, int] = {}
    for tenant_id, tenant_share in zip(tenant_ids, tenant_shares, strict=True):
        tenant_lines = by_tenant[tenant_id]
        line_shares = largest_remainder(tenant_share, [tokens for _, tokens in tenant_lines])
        shares.update(zip((key for key, _ in tenant_lines), line_shares, strict=True))
    return {key: _q(Decimal(shares[key]).scaleb(-6, context=_ROUND)) for key in keys}


def largest_remainder(total: int, weights: Sequence[int], unit: int = 1) -> list[int]:
    """`total` split in proportion to `weights` (all zero: equally), in multiples of `unit`.

    Each part is first its proportional share rounded down to a multiple of `unit`; what is left
    goes one `unit` at a time to the parts with the largest remainders, ties to the earlier part,
    and a rest smaller than `unit` (when `total` is not a multiple of it) to the next part in that
    order. The parts add up to `total` exactly, each within one `unit` of its exact share.
    """
    if total < 0 or unit < 1 or any(w < 0 for w in weights):
        raise ValueError("largest_remainder: total, weights must be >= 0 and unit >= 1")
    if not weights:
        return []
    if not any(weights):
        weights = [1] * len(weights)
    weight_total = sum(weights)
    divisor = weight_total * unit
    parts = [total * weight // divisor * unit for weight in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % divisor), i))
    leftover = total - sum(parts)
    for i in order:
        if leftover <= 0:
            break
        given = min(unit, leftover)
        parts[i] += given
        leftover -= given
    return parts


# ---- helpers -------------------------------------------------------------------------------------


def _q(value: Decimal) -> Decimal:
    return value.quantize(QUANTUM, context=_ROUND)


def _amt(tokens: int, unit_price: Decimal | None) -> Decimal:
    """tokens x USD per 1M tokens = micro-dollars, rounded once to the quantum."""
    if unit_price is None:  # only reached with tokens == 0 (checked by _check_priced)
        unit_price = Decimal(0)
    return _q(_EXACT.multiply(Decimal(tokens), unit_price))


def _fmt(value: Decimal) -> str:
    """Plain decimal notation without trailing zeros ("0.3", "10"), exact."""
    return format(value.normalize(context=_ROUND), "f")


def _check_timestamp(occurred_at: datetime) -> None:
    if not isinstance(occurred_at, datetime):
        raise TypeError(f"occurred_at must be a datetime, got {type(occurred_at).__name__}")
    if occurred_at.tzinfo is None or occurred_at.utcoffset() is None:
        raise ValueError("occurred_at must be timezone-aware (prices change at UTC dates)")


def _check_priced(
    usage: TokenUsage, prices: Mapping[str, Decimal | None], priced_by: str, mode: str
) -> None:
    """Tokens of a class need every price its figures use (an input-only model has no output
    price: output tokens there are an error, never billed at 0)."""
    for token_class in TOKEN_CLASSES:
        tokens = getattr(usage, token_class.usage_attribute)
        if not tokens:
            continue
        for name in (token_class.price, token_class.reference, f"sync_{token_class.reference}"):
            if prices[name] is None:
                raise ValueError(
                    f"{priced_by} ({mode}) has no {name.removeprefix('sync_')} price (an "
                    f"input-only model) but the usage reports {tokens} "
                    f"{token_class.usage_attribute}"
                )


def _money_arg(value: Decimal | str | int, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | str | int):
        raise ValueError(
            f"{name} must be a Decimal, decimal string or int, never {type(value).__name__}"
        )
    try:
        result = Decimal(value)
    except InvalidOperation as e:
        raise ValueError(f"{name}: {value!r} is not a decimal number") from e
    if not result.is_finite() or result < 0:
        raise ValueError(f"{name} must be finite and non-negative, got {value!r}")
    return result


def _join_versions(*resolved: ResolvedPrices) -> str:
    return " + ".join(dict.fromkeys(v for r in resolved for v in r.versions))
