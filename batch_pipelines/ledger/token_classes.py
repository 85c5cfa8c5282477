"""The token classes a line is billed by, declared once.

Every billing rule of the ledger is a sum over these classes: `pricing.price_line` computes a
line's figures from them in Python, `ledger.price_partition` applies the same figures to many rows
in SQL (`figure_sql`), the override table's entries and the ledger's work table have one price per
class (`PRICE_NAMES`), and genai-prices' prices are read into them (`genai_fields`). Adding a class
(a new cache TTL, a long-context tier billed as its own class) is one `TokenClass` here, plus the
usage column it counts.

A class declares:

- ``price``: the name of the price it pays (USD per 1M tokens): the key in an override entry, the
  field of `UnitPrices`, the column of the ledger's work table;
- ``usage_attribute`` / ``usage_sql``: where its tokens are, on a `TokenUsage` and on an
  ``llm_usage`` row (aliased ``u``);
- ``reference``: the price the same tokens would pay without the cache (uncached input for the
  prompt classes; output pays its own). The *synchronous* price of the reference is the class's sync
  reference (``sync_<reference>``, what `sync_cost` bills it at), and an override entry that omits
  the class's price bills it at the reference price;
- ``cache_effect``: which savings figure its difference to the reference belongs to.

The figures of a line, each a sum over the classes of amounts rounded once (see `pricing`):

- cost                = tokens x paid price
- sync_cost           = tokens x sync reference price
- batch_discount      = sync_cost - (tokens x the line's own reference price)
- cache_read_savings  = read classes:  tokens x reference price - tokens x paid price
- cache_write_premium = write classes: tokens x paid price - tokens x reference price

so ``sync_cost - cost = batch_discount + cache_read_savings - cache_write_premium`` exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

__all__ = [
    "FIGURES",
    "PRICE_NAMES",
    "REFERENCE_NAMES",
    "REQUIRED_PRICE",
    "TOKEN_CLASSES",
    "WORK_TABLE_PRICE_NAMES",
    "TokenClass",
    "figure_sql",
    "line_figures",
    "price_columns_sql",
    "price_of",
]

CacheEffect = Literal["none", "read", "write"]


@dataclass(frozen=True)
class TokenClass:
    """One token class (its fields: the module docstring)."""

    price: str
    usage_attribute: str
    usage_sql: str
    reference: str
    genai_fields: tuple[str, ...]
    """genai-prices `ModelPrice` fields, the first one priced wins (then the reference price)."""
    cache_effect: CacheEffect = "none"


TOKEN_CLASSES: tuple[TokenClass, ...] = (
    TokenClass("input", "input_tokens", "u.input_tokens", "input", ("input_mtok",)),
    TokenClass(
        "cached_input",
        "cached_input_tokens",
        "u.cached_input_tokens",
        "input",
        ("cache_read_mtok",),
        "read",
    ),
    TokenClass(
        "cache_write_5m",
        "cache_write_5m_tokens",
        "(u.cache_write_tokens - u.cache_write_1h_tokens)",
        "input",
        ("cache_write_5m_mtok", "cache_write_mtok"),
        "write",
    ),
    TokenClass(
        "cache_write_1h",
        "cache_write_1h_tokens",
        "u.cache_write_1h_tokens",
        "input",
        ("cache_write_1h_mtok", "cache_write_mtok"),
        "write",
    ),
    TokenClass("output", "output_tokens", "u.output_tokens", "output", ("output_mtok",)),
)

PRICE_NAMES: tuple[str, ...] = tuple(c.price for c in TOKEN_CLASSES)
_PRICE_BY_ATTRIBUTE = {c.usage_attribute: c.price for c in TOKEN_CLASSES}


def price_of(usage_attribute: str) -> str:
    """The price name of the class whose tokens are `usage_attribute` of a `TokenUsage`."""
    return _PRICE_BY_ATTRIBUTE[usage_attribute]


REFERENCE_NAMES: tuple[str, ...] = tuple(dict.fromkeys(c.reference for c in TOKEN_CLASSES))
"""The classes others are variants of (input, output): the prices every entry is built around."""
REQUIRED_PRICE = "input"
"""Every price entry has an uncached input price; any other class without a price of its own is
billed at its reference's price, and a reference class without one (output, on an input-only
model) has no price: tokens of it are refused."""
WORK_TABLE_PRICE_NAMES: tuple[str, ...] = PRICE_NAMES + tuple(f"sync_{r}" for r in REFERENCE_NAMES)
"""The unit prices of a price key, as `price_line` reports them and the work table holds them."""

FIGURES = (
    "cost_micro_usd",
    "sync_cost_micro_usd",
    "batch_discount_micro_usd",
    "cache_read_savings_micro_usd",
    "cache_write_premium_micro_usd",
)

# A figure as signed terms per class: (sign, which price) with "paid" the class's own price,
# "reference" its reference's price at the line's mode and "sync" the reference's sync price.
Term = tuple[int, Literal["paid", "reference", "sync"]]
_TERMS: dict[str, Callable[[TokenClass], tuple[Term, ...]]] = {
    "cost_micro_usd": lambda c: ((1, "paid"),),
    "sync_cost_micro_usd": lambda c: ((1, "sync"),),
    "batch_discount_micro_usd": lambda c: ((1, "sync"), (-1, "reference")),
    "cache_read_savings_micro_usd": lambda c: (
        ((1, "reference"), (-1, "paid")) if c.cache_effect == "read" else ()
    ),
    "cache_write_premium_micro_usd": lambda c: (
        ((1, "paid"), (-1, "reference")) if c.cache_effect == "write" else ()
    ),
}


def _figure_terms(figure: str, token_class: TokenClass) -> tuple[Term, ...]:
    """The signed price terms `figure` sums for `token_class` (the one definition of a figure)."""
    return _TERMS[figure](token_class)


def _price_name(token_class: TokenClass, which: str) -> str:
    """The name of the price a term bills `token_class` at (a `WORK_TABLE_PRICE_NAMES` entry)."""
    if which == "paid":
        return token_class.price
    if which == "reference":
        return token_class.reference
    return f"sync_{token_class.reference}"


# Every figure as flat (sign, usage attribute, price name) terms, resolved once: price_line runs
# per planned request (budget estimates), so its loop stays lean.
_FLAT_TERMS: dict[str, tuple[tuple[int, str, str], ...]] = {
    figure: tuple(
        (sign, token_class.usage_attribute, _price_name(token_class, which))
        for token_class in TOKEN_CLASSES
        for sign, which in _figure_terms(figure, token_class)
    )
    for figure in FIGURES
}


def line_figures(
    usage: object,
    prices: Mapping[str, Decimal | None],
    amount: Callable[[int, Decimal | None], Decimal],
) -> dict[str, Decimal]:
    """Every figure of a line: `usage` a `TokenUsage`, `prices` by `WORK_TABLE_PRICE_NAMES`, and
    `amount(tokens, unit price)` the rounded amount of one class (computed once per class and
    price). The caller sums in an exact context."""
    amounts: dict[tuple[str, str], Decimal] = {}
    figures: dict[str, Decimal] = {}
    for figure, terms in _FLAT_TERMS.items():
        total = Decimal(0)
        for sign, attribute, name in terms:
            class_amount = amounts.get((attribute, name))
            if class_amount is None:
                class_amount = amounts[attribute, name] = amount(
                    getattr(usage, attribute), prices[name]
                )
            total = total + class_amount if sign > 0 else total - class_amount
        figures[figure] = total
    return figures


def figure_sql(figure: str, *, exact: bool) -> str:
    """`figure` over an ``llm_usage`` row ``u`` joined to its price key ``p``, in micro-dollars.

    ``exact``: with every price a whole number of quanta per token (``p.q_*``), tokens x quanta is
    an exact bigint, so terms with the same price are added as one product of summed tokens (the
    same integer). Otherwise each class amount is rounded on its own with ``bp_ledger_quanta``
    (half to even), as `price_line` rounds it.
    """
    if exact:
        # Classes that sum the same prices share one product: (their tokens) x (the signed sum of
        # those prices in quanta), the same integer as the class products added one by one.
        groups: dict[tuple[tuple[int, str], ...], list[str]] = {}
        for token_class in TOKEN_CLASSES:
            prices = tuple(
                (sign, _price_name(token_class, which))
                for sign, which in _figure_terms(figure, token_class)
            )
            if prices:
                groups.setdefault(prices, []).append(token_class.usage_sql)
        terms = [
            (1, f"({' + '.join(tokens)}) * ({_signed_sum((s, f'p.q_{n}') for s, n in prices)})")
            for prices, tokens in groups.items()
        ]
    else:
        terms = [
            (
                sign,
                f"pg_temp.bp_ledger_quanta({token_class.usage_sql}"
                f" * p.{_price_name(token_class, which)})",
            )
            for token_class in TOKEN_CLASSES
            for sign, which in _figure_terms(figure, token_class)
        ]
    return f"({_signed_sum(terms)}) * 0.000001" if terms else "0"


def _signed_sum(terms: Iterable[tuple[int, str]]) -> str:
    """'a + b - c' from signed terms."""
    joined = ""
    for sign, term in terms:
        if not joined:
            joined = term if sign > 0 else f"-{term}"
        else:
            joined += f" + {term}" if sign > 0 else f" - {term}"
    return joined


def price_columns_sql(form: Literal["ddl", "recordset"]) -> str:
    """The work table's price columns (USD per 1M tokens, then whole quanta per token), in the
    order `ledger_temp_tables.sql` creates them (``ddl``) and `jsonb_to_recordset` reads them."""
    not_null = " NOT NULL" if form == "ddl" else ""
    return ", ".join(
        [f"{name} numeric{not_null}" for name in WORK_TABLE_PRICE_NAMES]
        + [f"q_{name} bigint{not_null}" for name in WORK_TABLE_PRICE_NAMES]
    )
