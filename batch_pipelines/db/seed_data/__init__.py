"""Text templates for the demo seed (`batch_pipelines.db.seed`): businesses, call scenarios, KB documents.

Templates are `str.format` strings. Each vertical lives in its own module and exposes `VERTICAL`, a
`Vertical`; `common` holds what every vertical shares (names, cities, greetings, goodbyes). Only
`batch_pipelines.db.seed` reads these; nothing here touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Exchange:
    """Two turns: `first` ("A" agent or "C" caller) says one of `ask`, the other says one of `reply`."""

    first: str
    ask: tuple[str, ...]
    reply: tuple[str, ...]
    kinds: tuple[str, ...] = ()  # empty: fits every kind of business in the vertical


@dataclass(frozen=True)
class Scenario:
    """One kind of call. Turn order: greeting, opener, core, extras, contact, sensitive, confirm, goodbye."""

    key: str
    kinds: tuple[str, ...]  # empty: every kind of business in the vertical
    opener: tuple[str, ...]  # the caller's first line (the agent's, when `outbound`)
    core: tuple[Exchange, ...]
    extras: tuple[
        Exchange, ...
    ] = ()  # drawn at random (with the vertical's FAQ) to reach the length
    confirm: tuple[str, ...] = ()  # the agent's wrap-up line
    service: str | None = None  # a substring of a service name in the kind's price list
    lead: bool = True  # the call produces a lead
    contact: bool = True  # the agent takes contact details
    outbound: bool = False  # the agent placed the call
    weight: float = 1.0
    sensitive: tuple[str, ...] = ("card", "id")  # which of the vertical's card / id beats may occur
    faq: bool = True  # whether the vertical's general FAQ may pad the call
    notes: tuple[str, ...] = ()  # lead notes, when the call produces a lead


@dataclass(frozen=True)
class Kind:
    """A kind of business within a vertical (a dental practice, a barber, a hotel …)."""

    noun: str  # "dental practice"
    services: tuple[tuple[str, int], ...]  # (service, base price in local currency; 0 = free)
    staff: tuple[str, ...]  # "name format|role": "Dr {last}|dentist", "{first}|stylist"
    hours: tuple[str, ...]  # opening-hours sentences


@dataclass(frozen=True)
class Doc:
    title: str
    paragraphs: tuple[str, ...]
    kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class Vertical:
    name: str
    businesses: tuple[tuple[str, str, str], ...]  # (business name, kind, region "uk" | "us")
    kinds: dict[str, Kind]
    agent_roles: tuple[str, ...]  # the first is the main line
    scenarios: tuple[Scenario, ...]
    faq: tuple[Exchange, ...]
    card_ask: tuple[str, ...]  # the agent asking for a card (deposit, guarantee, call-out fee)
    id_check: dict[str, tuple[Exchange, ...]] = field(default_factory=dict)  # region -> exchanges
    web_leads: tuple[str, ...] = ()  # notes for leads that did not come from a call
    docs: tuple[Doc, ...] = ()
    colours: tuple[str, ...] = ("#1f6feb",)
