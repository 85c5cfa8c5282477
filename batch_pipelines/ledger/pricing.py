"""Exact pricing of ledger lines: genai-prices plus the versioned override table.

Money
-----
Every amount is a `Decimal` of micro-dollars (USD x 1e6); no float is ever involved. Unit prices
are USD per 1M tokens, so ``tokens x unit price`` *is* the amount in micro-dollars.

Rounding rule: the amount of each token class of a line (uncached input, cache reads, 5-minute
cache writes, 1-hour cache writes, output) is quantized to `QUANTUM` = 0.000001 micro-dollars
(1e-12 USD, the scale of the ``NUMERIC(24, 6)`` ledger columns) with ROUND_HALF_EVEN, once. Every
figure of a line is a sum or difference of such class amounts, so

    sync_cost - cost == batch_discount + cache_read_savings - cache_write_premium

holds exactly on every line, and any number of lines add up exactly. The multiplication itself is
done in a context that traps `Inexact`, so nothing is rounded anywhere else. With unit prices of at
most 6 decimal places (every OpenAI and Anthropic price in genai-prices 0.2.3, the override table,
and their halves) nothing is rounded at all.

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
input price, output at the sync output price). With P the line's prices (batch or sync) and S the
sync prices:

- batch_discount      = (S.input - P.input) x prompt tokens + (S.output - P.output) x output tokens
- cache_read_savings  = (P.input - P.cached_input) x cache-read tokens
- cache_write_premium = (P.cache_write_x - P.input) x cache-write tokens of each TTL

so the batch discount is measured on uncached prices and the cache effects at the prices the line
actually paid (each per class amount rounded as above). A sync line has batch_discount 0.
For a self-hosted line the whole difference to the reference API model is reported as
batch_discount (it can be negative), and the cache figures are 0.
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
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_args

import yaml

from batch_pipelines.core.usage import TokenUsage

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
    "load_overrides",
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
_PRICE_FIELDS = ("input", "cached_input", "cache_write_5m", "cache_write_1h", "output")
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
        super().__init__(
            f"No {mode} price for model {model!r} of provider {provider!r}{when}: {reason}. "
            f"Add it to batch_pipelines/ledger/price_overrides.yaml under "
            f"models.{provider}.{model}.{mode} (input, cached_input, cache_write_5m, "
            f"cache_write_1h, output: USD per 1M tokens as decimal strings), bump the file's "
            f"version, and re-price the affected cost_ledger partitions."
        )


class OverridesError(ValueError):
    """The override table is malformed."""


# ---- unit prices -------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitPrices:
    """USD per 1M tokens for each token class. ``output`` is None for input-only models."""

    input: Decimal
    cached_input: Decimal
    cache_write_5m: Decimal
    """Standard cache writes: Anthropic's 5-minute TTL, OpenAI's only kind."""
    cache_write_1h: Decimal
    output: Decimal | None

    def __post_init__(self) -> None:
        for name in _PRICE_FIELDS:
            value = getattr(self, name)
            if value is None and name == "output":
                continue
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise ValueError(
                    f"UnitPrices.{name} must be a finite non-negative Decimal, got {value!r}"
                )

    def scaled(self, multiplier: Decimal) -> UnitPrices:
        return UnitPrices(
            *(
                None if (v := getattr(self, name)) is None else _EXACT.multiply(v, multiplier)
                for name in _PRICE_FIELDS
            )
        )

    def as_strings(self, prefix: str = "") -> dict[str, str]:
        return {
            prefix + name: _fmt(value)
            for name in _PRICE_FIELDS
            if (value := getattr(self, name)) is not None
        }


@dataclass(frozen=True)
class ResolvedPrices:
    """Unit prices for one (provider, model, mode, time) and where they came from."""

    unit_prices: UnitPrices
    source: PricingSource
    versions: tuple[str, ...]
    """Every price table that contributed, e.g. ('price_overrides 2026-11-26.1', 'genai-prices 0.2.3')."""
    priced_as: str
    """provider/model as matched in the source (genai-prices matches dated and aliased names)."""
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
    _only_keys(entry, set(_PRICE_FIELDS), where)
    if "input" not in entry:
        raise OverridesError(f"{where}: `input` is required")
    base = _decimal(entry["input"], f"{where}.input")

    def get(name: str) -> Decimal:
        return base if entry.get(name) is None else _decimal(entry[name], f"{where}.{name}")

    output = None if entry.get("output") is None else _decimal(entry["output"], f"{where}.output")
    return UnitPrices(
        base, get("cached_input"), get("cache_write_5m"), get("cache_write_1h"), output
    )


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


def _genai_model(provider: str, model: str, mode: str, at: datetime) -> tuple[Provider, ModelInfo]:
    try:
        return _snapshot().find_provider_model(model, None, provider, None)
    except LookupError as e:
        raise UnknownModelPrice(
            provider, model, mode, at, f"{genai_prices_label()} does not know it ({e})"
        ) from None


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
    ancestor (1h write -> write -> input), and a tier applies to all tokens once the whole prompt
    exceeds its start.
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
    input_price = at_tier(price.input_mtok)
    if input_price is None:
        raise fail("genai-prices has no per-token input price for it")
    write = at_tier(price.cache_write_mtok)

    def first(*values: Decimal | None) -> Decimal:
        return next(v for v in values if v is not None)

    return UnitPrices(
        input=input_price,
        cached_input=first(at_tier(price.cache_read_mtok), input_price),
        cache_write_5m=first(at_tier(price.cache_write_5m_mtok), write, input_price),
        cache_write_1h=first(at_tier(price.cache_write_1h_mtok), write, input_price),
        output=at_tier(price.output_mtok),
    )


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
    key = (provider.lower(), model.lower(), mode)
    name = f"{provider}/{model}"
    if tenant_id is not None and (tenant_id, *key) in ov.tenants:
        return ResolvedPrices(ov.tenants[(tenant_id, *key)], "override", (ov.label,), name)
    if key in ov.negotiated:
        return ResolvedPrices(ov.negotiated[key], "override", (ov.label,), name)
    if key in ov.models:
        return ResolvedPrices(ov.models[key], "override", (ov.label,), name)

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
        )
    if _batch_variant_active(gp_provider, gp_model, occurred_at):
        batch = gp_model.get_prices(occurred_at, BATCH_PRICE_CONTEXT)
        return ResolvedPrices(
            _unit_prices_from_genai(batch, prompt_tokens, fail), "genai-prices", (label,), priced_as
        )
    multiplier = ov.batch_fallback_multiplier
    if multiplier is None or provider.lower() not in ov.batch_fallback_providers:
        raise fail(
            f"{label} has no batch price for it at that date and the override table's "
            f"batch_fallback does not cover provider {provider!r}"
        )
    standard = _unit_prices_from_genai(gp_model.get_prices(occurred_at), prompt_tokens, fail)
    return ResolvedPrices(
        standard.scaled(multiplier), "override", (ov.label, label), priced_as, multiplier
    )


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
    p, s = paid.unit_prices, sync.unit_prices
    _check_output_price(usage, p, paid, mode)
    _check_output_price(usage, s, sync, "sync")

    u, r = usage.input_tokens, usage.cached_input_tokens
    w5, w1, o = usage.cache_write_5m_tokens, usage.cache_write_1h_tokens, usage.output_tokens
    with localcontext(_EXACT):  # sums of quantized amounts: exact, or an Inexact error
        # What the line paid, per class.
        c_u, c_r = _amt(u, p.input), _amt(r, p.cached_input)
        c_w5, c_w1 = _amt(w5, p.cache_write_5m), _amt(w1, p.cache_write_1h)
        c_o = _amt(o, p.output)
        # The cache classes at the line's own uncached input price.
        l_r, l_w5, l_w1 = _amt(r, p.input), _amt(w5, p.input), _amt(w1, p.input)
        # The same tokens at the synchronous, uncached price.
        s_u, s_r = _amt(u, s.input), _amt(r, s.input)
        s_w5, s_w1 = _amt(w5, s.input), _amt(w1, s.input)
        s_o = _amt(o, s.output)

        cost = c_u + c_r + c_w5 + c_w1 + c_o
        sync_cost = s_u + s_r + s_w5 + s_w1 + s_o
        batch_discount = (s_u - c_u) + (s_r - l_r) + (s_w5 - l_w5) + (s_w1 - l_w1) + (s_o - c_o)
        cache_read_savings = l_r - c_r
        cache_write_premium = (c_w5 - l_w5) + (c_w1 - l_w1)

    unit_prices = p.as_strings()
    unit_prices["sync_input"] = _fmt(s.input)
    if s.output is not None:
        unit_prices["sync_output"] = _fmt(s.output)
    if paid.batch_multiplier is not None:
        unit_prices["batch_multiplier"] = _fmt(paid.batch_multiplier)
    return LinePrice(
        cost_micro_usd=cost,
        sync_cost_micro_usd=sync_cost,
        batch_discount_micro_usd=batch_discount,
        cache_read_savings_micro_usd=cache_read_savings,
        cache_write_premium_micro_usd=cache_write_premium,
        pricing_source=paid.source,
        pricing_version=_join_versions(paid, sync),
        unit_prices=unit_prices,
        priced_as=paid.priced_as,
    )


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
    cost = _q(allocated)
    ref = resolve_unit_prices(
        ov.reference_provider,
        ov.reference_model,
        "sync",
        occurred_at,
        prompt_tokens=usage.prompt_tokens,
        tenant_id=tenant_id,
        overrides=ov,
    )
    s = ref.unit_prices
    _check_output_price(usage, s, ref, "sync")
    with localcontext(_EXACT):
        sync_cost = (
            _amt(usage.input_tokens, s.input)
            + _amt(usage.cached_input_tokens, s.input)
            + _amt(usage.cache_write_5m_tokens, s.input)
            + _amt(usage.cache_write_1h_tokens, s.input)
            + _amt(usage.output_tokens, s.output)
        )
        batch_discount = sync_cost - cost
    unit_prices = {"sync_input": _fmt(s.input), "sync_reference": ref.priced_as}
    if s.output is not None:
        unit_prices["sync_output"] = _fmt(s.output)
    if ov.gpu_usd_per_hour is not None:
        unit_prices["gpu_usd_per_hour"] = _fmt(ov.gpu_usd_per_hour)
    zero = _q(Decimal(0))
    return LinePrice(
        cost_micro_usd=cost,
        sync_cost_micro_usd=sync_cost,
        batch_discount_micro_usd=batch_discount,
        cache_read_savings_micro_usd=zero,
        cache_write_premium_micro_usd=zero,
        pricing_source="override",
        pricing_version=" + ".join(dict.fromkeys((ov.label, *ref.versions))),
        unit_prices=unit_prices,
        priced_as=f"{provider}/{model}",
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
    lines: Sequence[tuple[K, TokenUsage]],
) -> dict[K, Decimal]:
    """Spread a window's GPU cost over the requests processed in it.

    Each request's share is proportional to its tokens processed (prompt + output); the shares are
    whole quanta and add up exactly to `self_hosted_window_cost_micro_usd` (largest remainder,
    ties to the earlier line). A window whose lines report no tokens is split equally. An empty
    window returns {} (its cost is allocated to nobody: the caller decides).
    """
    keys = [key for key, _ in lines]
    if len(set(keys)) != len(keys):
        raise ValueError("allocate_self_hosted: line keys must be unique")
    for key, usage in lines:
        if not isinstance(usage, TokenUsage):
            raise TypeError(f"line {key!r}: usage must be a TokenUsage, got {type(usage).__name__}")
    window = self_hosted_window_cost_micro_usd(gpu_usd_per_hour, window_seconds)
    if not lines:
        return {}
    quanta = int(window.scaleb(6, context=_ROUND))
    weights = [usage.prompt_tokens + usage.output_tokens for _, usage in lines]
    total = sum(weights)
    if total == 0:
        weights, total = [1] * len(lines), len(lines)
    shares = [quanta * w // total for w in weights]
    remainders = [quanta * w % total for w in weights]
    leftover = quanta - sum(shares)
    for i in sorted(range(len(lines)), key=lambda i: (-remainders[i], i))[:leftover]:
        shares[i] += 1
    return {
        key: _q(Decimal(n).scaleb(-6, context=_ROUND)) for key, n in zip(keys, shares, strict=True)
    }


# ---- helpers -------------------------------------------------------------------------------------


def _q(value: Decimal) -> Decimal:
    return value.quantize(QUANTUM, context=_ROUND)


def _amt(tokens: int, unit_price: Decimal | None) -> Decimal:
    """tokens x USD per 1M tokens = micro-dollars, rounded once to the quantum."""
    if unit_price is None:  # only reached with tokens == 0 (checked by _check_output_price)
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


def _check_output_price(
    usage: TokenUsage, prices: UnitPrices, resolved: ResolvedPrices, mode: str
) -> None:
    if usage.output_tokens and prices.output is None:
        raise ValueError(
            f"{resolved.priced_as} ({mode}) has no output price (input-only model) but the usage "
            f"reports {usage.output_tokens} output tokens"
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
