"""Tenants and demo data: tenant-id validation, `add_tenant`, and a deterministic, realistic demo day.

`seed_demo(engine, tenants=12, date=…)` writes tenants across the six verticals and three tiers, their
agents and knowledge-base documents, and one day of calls (transcripts with names, e-mail addresses and
phone numbers, now and then a card or national-id number) and leads. Everything is derived from
`random.Random(f"{seed}:…")` strings, so the same arguments give the same rows in any process, and
every id is deterministic (`call-<tenant>-<yyyymmdd>-<nnn>`), so a re-run inserts nothing twice
(`INSERT … ON CONFLICT DO NOTHING`). Tenant-level data (tenant, agents, documents) depends on the seed
only, never on the date (documents keep the `uploaded_at` of the first day seeded): seeding another
date adds that date's calls and leads and reuses the rest.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import random
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Connection, Engine, Table, or_, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from batch_pipelines.db.seed_data import Exchange, Scenario, Vertical, common
from batch_pipelines.db.seed_data import healthcare as _healthcare
from batch_pipelines.db.seed_data import home_services as _home_services
from batch_pipelines.db.seed_data import hospitality as _hospitality
from batch_pipelines.db.seed_data import real_estate as _real_estate
from batch_pipelines.db.seed_data import sales as _sales
from batch_pipelines.db.seed_data import salon as _salon
from batch_pipelines.db.seed_data.faqs import FAQ_DOCS
from batch_pipelines.db.tables import (
    TENANT_SLUG_PATTERN,
    TIERS,
    VERTICALS,
    agents,
    calls,
    kb_documents,
    leads,
)
from batch_pipelines.db.tables import tenants as tenants_table

__all__ = [
    "DEMO_BUDGET_USD",
    "TIER_PRICES_USD",
    "InvalidTenantId",
    "SeedSummary",
    "add_tenant",
    "demo_rows",
    "demo_tenant_ids",
    "seed_demo",
    "slugify",
    "validate_tenant_id",
]

TIER_PRICES_USD: dict[str, Decimal] = {
    "starter": Decimal("149.00"),
    "growth": Decimal("499.00"),
    "scale": Decimal("1499.00"),
}
# The one demo tenant in twelve with a budget: small enough that a day or two of work exceeds it.
DEMO_BUDGET_USD = 0.01

_SLUG_RE = re.compile(TENANT_SLUG_PATTERN)
_MAX_TENANT_ID = 63
_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")

_VERTICALS: dict[str, Vertical] = {
    v.VERTICAL.name: v.VERTICAL
    for v in (_healthcare, _sales, _real_estate, _salon, _hospitality, _home_services)
}
assert tuple(_VERTICALS) == VERTICALS, "seed_data verticals must follow tables.VERTICALS"

# --- tenant ids -----------------------------------------------------------------------------------


class InvalidTenantId(ValueError):
    """A tenant id that is not a slug (and so cannot be a Dagster partition key)."""

    def __init__(self, tenant_id: object, problems: Sequence[str], suggestion: str | None):
        self.tenant_id = tenant_id
        self.problems = tuple(problems)
        self.suggestion = suggestion
        shown = repr(tenant_id)
        if isinstance(tenant_id, str) and len(tenant_id) > 70:
            shown = f"{tenant_id[:60]!r}… ({len(tenant_id)} characters)"
        message = (
            f"invalid tenant id {shown}: {'; '.join(self.problems)}. A tenant id must match "
            f"{TENANT_SLUG_PATTERN}: 1 to {_MAX_TENANT_ID} characters, only lowercase letters, "
            "digits, '-' and '_', starting with a letter or digit. Tenant ids become Dagster "
            "partition keys, where '|', ',', '[' and ']' break multi-partition keys, and uppercase "
            "letters, '/', '.' and spaces are not allowed either."
        )
        if suggestion:
            message += f" Try {suggestion!r}."
        super().__init__(message)


def _tenant_id_problems(tenant_id: object) -> list[str]:
    if not isinstance(tenant_id, str):
        return [f"it is a {type(tenant_id).__name__}, not a string"]
    if not tenant_id:
        return ["it is empty"]
    problems = []
    if len(tenant_id) > _MAX_TENANT_ID:
        problems.append(f"it is {len(tenant_id)} characters long (at most {_MAX_TENANT_ID})")
    if not re.match(r"[a-z0-9]", tenant_id):
        problems.append(f"it starts with {tenant_id[0]!r}")
    if any(c.isupper() for c in tenant_id):
        problems.append("it contains uppercase letters")
    bad = sorted({c for c in tenant_id if not re.fullmatch(r"[a-zA-Z0-9_-]", c)})
    if bad:
        shown = ", ".join(repr(c) for c in bad[:8]) + (" …" if len(bad) > 8 else "")
        problems.append(f"it contains {shown}")
    return problems or ["it does not match the pattern"]


def validate_tenant_id(tenant_id: str) -> str:
    """Return `tenant_id` unchanged if it is a valid slug; raise `InvalidTenantId` saying why not."""
    if isinstance(tenant_id, str) and _SLUG_RE.fullmatch(tenant_id):
        return tenant_id
    suggestion = slugify(tenant_id) if isinstance(tenant_id, str) else None
    if suggestion == tenant_id or not suggestion:
        suggestion = None
    raise InvalidTenantId(tenant_id, _tenant_id_problems(tenant_id), suggestion)


def slugify(name: str) -> str:
    """A tenant-id slug from a business name: "Marlow & Finch Estate Agents" → "marlow-finch-estate-agents"."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower().replace("'", "")).strip("-")
    return slug[:_MAX_TENANT_ID].rstrip("-_")


# --- tenants --------------------------------------------------------------------------------------

_POLICY_DEFAULTS: dict[str, Any] = {
    "redact_pii": False,
    "isolated": False,
    "monthly_budget_usd": None,
}


def _normalize_policy(policy: Mapping[str, Any] | None) -> dict[str, Any]:
    if policy is None:
        policy = {}
    if not isinstance(policy, Mapping):
        raise ValueError(f"policy must be a dict, not {type(policy).__name__}")
    out = {**_POLICY_DEFAULTS, **policy}
    for key in ("redact_pii", "isolated"):
        if not isinstance(out[key], bool):
            raise ValueError(f"policy[{key!r}] must be true or false, not {out[key]!r}")
    budget = out["monthly_budget_usd"]
    if budget is not None:
        if isinstance(budget, bool) or not isinstance(budget, int | float | Decimal | str):
            raise ValueError(
                f"policy['monthly_budget_usd'] must be a number or null, not {budget!r}"
            )
        try:
            amount = Decimal(str(budget))
        except ArithmeticError:
            raise ValueError(f"policy['monthly_budget_usd'] is not a number: {budget!r}") from None
        if not amount.is_finite() or amount < 0:
            raise ValueError(
                f"policy['monthly_budget_usd'] must be a finite amount >= 0, not {budget!r}"
            )
        out["monthly_budget_usd"] = int(amount) if amount == amount.to_integral() else float(amount)
    _require_json("policy", out)
    return out


def _normalize_brand(brand: Mapping[str, Any] | None, name: str) -> dict[str, Any]:
    if brand is None:
        return {"brand_name": name}
    if not isinstance(brand, Mapping):
        raise ValueError(f"brand must be a dict, not {type(brand).__name__}")
    out = dict(brand)
    colour = out.get("colour")
    if colour is not None and not (isinstance(colour, str) and _HEX_COLOUR.match(colour)):
        raise ValueError(f"brand['colour'] must be a hex colour like '#1f6feb', not {colour!r}")
    domains = out.get("allowed_link_domains")
    if domains is not None and not (
        isinstance(domains, list) and all(isinstance(d, str) and d for d in domains)
    ):
        raise ValueError("brand['allowed_link_domains'] must be a list of domain names")
    for key in ("unsubscribe_url", "website"):
        url = out.get(key)
        if url is not None and not (isinstance(url, str) and re.match(r"https?://[^\s/]+", url)):
            raise ValueError(f"brand[{key!r}] must be an http(s) URL, not {url!r}")
    _require_json("brand", out)
    return out


def _require_json(what: str, value: Any) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be JSON-serialisable: {exc}") from None


def _tenant_row(
    tenant_id: str,
    name: str,
    vertical: str,
    tier: str,
    policy: Mapping[str, Any] | None,
    brand: Mapping[str, Any] | None,
) -> dict[str, Any]:
    validate_tenant_id(tenant_id)
    if not isinstance(name, str) or not name.strip():
        raise ValueError("tenant name must be a non-empty string")
    if vertical not in VERTICALS:
        raise ValueError(f"unknown vertical {vertical!r}: expected one of {', '.join(VERTICALS)}")
    if tier not in TIERS:
        raise ValueError(
            f"unknown tier {tier!r}: expected one of "
            + ", ".join(f"{t} (${TIER_PRICES_USD[t]:,.0f}/month)" for t in TIERS)
        )
    return {
        "tenant_id": tenant_id,
        "name": name.strip(),
        "vertical": vertical,
        "tier": tier,
        "tier_price_usd": TIER_PRICES_USD[tier],
        "policy": _normalize_policy(policy),
        "brand": _normalize_brand(brand, name.strip()),
    }


def add_tenant(
    conn: Connection | Engine,
    tenant_id: str,
    name: str,
    vertical: str,
    tier: str,
    policy: dict | None = None,
    brand: dict | None = None,
) -> Literal["inserted", "updated", "unchanged"]:
    """Create or update one tenant (idempotent). Validates the id, vertical, tier, policy and brand.

    The tier sets `tier_price_usd` (starter $149, growth $499, scale $1,499). Missing policy keys
    default to `redact_pii=False, isolated=False, monthly_budget_usd=None`. Re-adding a tenant with the
    same values changes nothing and returns "unchanged".
    """
    row = _tenant_row(tenant_id, name, vertical, tier, policy, brand)  # raises before any I/O
    if isinstance(conn, Engine):
        with conn.begin() as c:
            return _upsert_tenant(c, row)
    return _upsert_tenant(conn, row)


def _upsert_tenant(
    conn: Connection, row: dict[str, Any]
) -> Literal["inserted", "updated", "unchanged"]:
    stmt = pg_insert(tenants_table).values(row)
    columns = ("name", "vertical", "tier", "tier_price_usd", "policy", "brand")
    stmt = stmt.on_conflict_do_update(
        index_elements=[tenants_table.c.tenant_id],
        set_={c: stmt.excluded[c] for c in columns},
        where=or_(*(tenants_table.c[c].is_distinct_from(stmt.excluded[c]) for c in columns)),
    ).returning(text("(xmax = 0) AS inserted"))
    result = conn.execute(stmt).first()
    if result is None:
        return "unchanged"
    return "inserted" if result.inserted else "updated"


# --- the demo day ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedSummary:
    """What one `seed_demo` call inserted (rows that already existed are not counted)."""

    date: dt.date
    tenant_ids: tuple[str, ...]
    tenants: int = 0
    agents: int = 0
    calls: int = 0
    leads: int = 0
    kb_documents: int = 0

    @property
    def total(self) -> int:
        return self.tenants + self.agents + self.calls + self.leads + self.kb_documents

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["date"] = self.date.isoformat()
        out["tenant_ids"] = list(self.tenant_ids)
        return out


@dataclass
class _Tenant:
    index: int
    tenant_id: str
    name: str
    vertical: Vertical
    kind: str
    region: str
    tier: str
    policy: dict[str, Any]
    brand: dict[str, Any]
    utc_offset: int
    area: str  # phone prefix / area code of the city
    postcode_prefix: str
    city: str
    agents: list[tuple[str, str, str]] = field(default_factory=list)  # (agent_id, name, persona)
    staff: list[tuple[str, str]] = field(default_factory=list)  # (name, role)
    prices: dict[str, int] = field(default_factory=dict)  # service -> price
    context: dict[str, Any] = field(default_factory=dict)  # tenant-level template variables


_DEPOSITS = {
    "healthcare": (20, 25, 50),
    "sales": (250, 500),
    "real_estate": (250, 350, 450),
    "salon": (10, 15, 20),
    "hospitality": (100, 200, 250),
    "home_services": (50, 75),
}
_LATE_FEES = {
    "healthcare": (25, 30, 40),
    "sales": (0,),
    "real_estate": (50,),
    "salon": (10, 15, 20),
    "hospitality": (10, 15, 20),
    "home_services": (35, 45),
}
_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # the letters UK postcodes use in the inward code


def _rng(*parts: object) -> random.Random:
    """A generator seeded by a string (stable across processes; `hash()` is never involved)."""
    return random.Random(":".join(str(p) for p in parts))


def _nice_price(value: float) -> int:
    if value <= 0:
        return 0
    if value < 50:
        return max(1, round(value))
    if value < 500:
        return int(5 * round(value / 5))
    return int(50 * round(value / 50))


def _money(amount: int) -> str:
    return f"{amount:,}"


def _postcode(rng: random.Random, region: str, prefix: str) -> str:
    if region == "uk":
        return f"{prefix}{rng.randint(1, 20)} {rng.randint(1, 9)}{rng.choice(_LETTERS)}{rng.choice(_LETTERS)}"
    return f"{prefix}{rng.randint(1, 99):02d}"


def _address(rng: random.Random, region: str, city: str, prefix: str) -> tuple[str, str]:
    street = rng.choice(common.STREETS[region])
    postcode = _postcode(rng, region, prefix)
    if region == "uk":
        return f"{rng.randint(1, 180)} {street}, {city} {postcode}", postcode
    return f"{rng.randint(100, 4999)} {street}, {city} {postcode}", postcode


def _person_name(rng: random.Random) -> tuple[str, str]:
    return rng.choice(common.FIRST_NAMES), rng.choice(common.LAST_NAMES)


def _staff_name(rng: random.Random, fmt: str) -> tuple[str, str]:
    name_fmt, _, role = fmt.partition("|")
    first, last = _person_name(rng)
    return name_fmt.format(first=first, last=last), role


def _business_order(vertical: Vertical, seed: int) -> list[tuple[str, str, str]]:
    order = list(vertical.businesses)
    _rng(seed, "businesses", vertical.name).shuffle(order)
    return order


def _demo_tenants(count: int, seed: int) -> list[_Tenant]:
    """The first `count` demo tenants for `seed`; tenant i never depends on `count`."""
    orders: dict[str, list[tuple[str, str, str]]] = {}
    branches: dict[tuple[str, str], list[str]] = {}
    used: set[str] = set()
    out = []
    for i in range(count):
        vertical = _VERTICALS[VERTICALS[i % len(VERTICALS)]]
        if vertical.name not in orders:
            orders[vertical.name] = _business_order(vertical, seed)
        order = orders[vertical.name]
        k = i // len(VERTICALS)
        base, kind, region = order[k % len(order)]
        name = base
        if k >= len(order):  # names used up: branches of the same businesses
            key = (vertical.name, region)
            if key not in branches:
                places = list(common.BRANCHES[region])
                _rng(seed, "branches", vertical.name, region).shuffle(places)
                branches[key] = places
            places = branches[key]
            j = k // len(order) - 1
            name = f"{base} {places[j % len(places)]}"
            if j >= len(places):
                name += f" {j // len(places) + 1}"
        slug = slugify(name).removeprefix("the-")
        candidate, n = slug, 2
        while candidate in used:
            candidate, n = f"{slug}-{n}", n + 1
        used.add(candidate)
        out.append(_make_tenant(i, candidate, name, vertical, kind, region, seed))
    return out


def _policy_for(index: int, vertical: str, tier: str) -> dict[str, Any]:
    """The demo's policy mix (deterministic in the tenant's position, so easy to reason about):

    - `redact_pii`: every healthcare tenant and every scale-tier tenant (half of a 12-tenant seed);
    - `isolated`: every other scale-tier tenant, i.e. one tenant in six;
    - `monthly_budget_usd`: `DEMO_BUDGET_USD` for one tenant in twelve (index 9, 21, …), else null.
    """
    return {
        "redact_pii": vertical == "healthcare" or tier == "scale",
        "isolated": tier == "scale" and (index // 3) % 2 == 0,
        "monthly_budget_usd": DEMO_BUDGET_USD if index % 12 == 9 else None,
    }


def _make_tenant(
    index: int,
    tenant_id: str,
    name: str,
    vertical: Vertical,
    kind_name: str,
    region: str,
    seed: int,
) -> _Tenant:
    rng = _rng(seed, "tenant", tenant_id)
    kind = vertical.kinds[kind_name]
    tier = TIERS[(index + index // len(VERTICALS)) % len(TIERS)]
    city, area, postcode_prefix, offset = rng.choice(common.CITIES[region])
    address, _ = _address(rng, region, city, postcode_prefix)
    if region == "uk":
        business_phone = f"{area}{rng.randrange(1000):03d}"
    else:
        business_phone = f"({area}) 555-01{rng.randrange(100):02d}"
    domain = tenant_id.replace("-", "").replace("_", "") + ".example"
    lexicon = common.LEXICON[region]
    staff = [_staff_name(rng, fmt) for fmt in kind.staff]
    n_agents = rng.choice((2, 3))
    personas = rng.sample(common.AGENT_PERSONAS, n_agents)
    tenant_agents = [
        (f"agent-{tenant_id}-{n}", f"{persona} ({role})", persona)
        for n, (persona, role) in enumerate(zip(personas, vertical.agent_roles, strict=False), 1)
    ]
    multiplier = rng.choice((0.9, 1.0, 1.0, 1.1, 1.2, 1.35))
    prices = {
        service.format(**lexicon): _nice_price(base * multiplier) for service, base in kind.services
    }
    cur = lexicon["cur"]
    price_list = "\n".join(
        f"- {service}: {cur}{_money(price)}" if price else f"- {service}: free"
        for service, price in prices.items()
    )
    staff_list = (
        ", ".join(f"{n} ({r})" for n, r in staff[:-1]) + f" and {staff[-1][0]} ({staff[-1][1]})"
    )
    context = {
        **lexicon,
        "business": name,
        "noun": kind.noun,
        "city": city,
        "address": address,
        "business_phone": business_phone,
        "website": f"https://{domain}",
        "domain": domain,
        "email_business": f"{rng.choice(('hello', 'info', 'bookings', 'team'))}@{domain}",
        "hours": rng.choice(kind.hours),
        "cancel_hours": rng.choice((24, 48)),
        "late_fee": rng.choice(_LATE_FEES[vertical.name]),
        "deposit": rng.choice(_DEPOSITS[vertical.name]),
        "insurer": rng.choice(common.INSURERS[region]),
        "staff_list": staff_list,
        "price_list": price_list,
    }
    context["parking"] = rng.choice(common.PARKING).format(**lexicon)
    if region == "us":
        prices = {_us_spelling(service): price for service, price in prices.items()}
        for key in ("noun", "hours", "staff_list", "price_list", "parking"):
            context[key] = _us_spelling(context[key])
    colour = rng.choice(vertical.colours)
    policy = _policy_for(index, vertical.name, tier)
    brand = {
        "brand_name": name,
        "colour": colour,
        "signature": f"{staff[0][0]} and the team at {name}",
        "footer": f"{name} · {address} · {business_phone}",
        "unsubscribe_url": f"https://{domain}/unsubscribe",
        "allowed_link_domains": [domain, f"book.{domain}"],
        "website": f"https://{domain}",
    }
    return _Tenant(
        index=index,
        tenant_id=tenant_id,
        name=name,
        vertical=vertical,
        kind=kind_name,
        region=region,
        tier=tier,
        policy=policy,
        brand=brand,
        utc_offset=offset,
        area=area,
        postcode_prefix=postcode_prefix,
        city=city,
        agents=tenant_agents,
        staff=staff,
        prices=prices,
        context=context,
    )


def _fits(kinds: tuple[str, ...], kind: str) -> bool:
    return not kinds or kind in kinds


def _render(template: str, values: Mapping[str, Any], region: str) -> str:
    if region == "us":
        template = _us_spelling(template)
    return template.format_map(values)


@functools.lru_cache(maxsize=4096)
def _us_spelling(text: str) -> str:
    for uk, us in common.US_SPELLING:
        text = text.replace(uk, us)
    return text


# --- people, and the per-call template variables -------------------------------------------------


def _ascii(s: str) -> str:
    return re.sub(
        r"[^a-z]", "", unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode().lower()
    )


def _email(rng: random.Random, first: str, last: str, region: str) -> str:
    f, lst = _ascii(first), _ascii(last)
    domain = rng.choice(common.EMAIL_DOMAINS[region])
    local = rng.choice(
        (
            f"{f}.{lst}",
            f"{f}{lst}{rng.randint(1, 99)}",
            f"{f[0]}{lst}",
            f"{f}_{lst}{rng.randint(70, 99)}",
            f"{f}.{lst[0]}",
        )
    )
    return f"{local}@{domain}"


def _phone(rng: random.Random, tenant: _Tenant) -> str:
    if tenant.region == "uk":
        n = f"{rng.randrange(1000):03d}"
        return rng.choice((f"07700 900{n}", f"+44 7700 900{n}", f"07700900{n}", f"07700 900 {n}"))
    area = tenant.area if rng.random() < 0.7 else rng.choice(common.CITIES["us"])[1]
    n = f"{rng.randrange(100):02d}"
    return rng.choice((f"({area}) 555-01{n}", f"{area}-555-01{n}", f"+1 {area} 555 01{n}"))


def _nhs_number(rng: random.Random) -> str:
    while True:
        digits = [9, 9, 9] + [rng.randrange(10) for _ in range(6)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        if check == 11:
            check = 0
        if check != 10:
            s = "".join(map(str, digits + [check]))
            return f"{s[:3]} {s[3:6]} {s[6:]}"


def _clock(seconds: int, region: str) -> str:
    hour, minute = divmod(seconds // 60, 60)
    h12 = hour % 12 or 12
    if region == "us":
        return f"{h12}:{minute:02d} {'AM' if hour < 12 else 'PM'}"
    return f"{h12}:{minute:02d}{'am' if hour < 12 else 'pm'}"


def _slots(first_hour: int, last_hour: int) -> list[int]:
    return [h * 3600 + m * 60 for h in range(first_hour, last_hour + 1) for m in (0, 15, 30, 45)]


# Appointment times offered on calls (seconds after local midnight), by kind of business.
_SLOTS = _slots(8, 18)
_KIND_SLOTS = {"restaurant": _slots(12, 21)}


class _Values(dict):
    """Template variables. The rarely used ones (ids, cards, addresses …) are made on first use, each
    from its own generator, so whether a template uses one never shifts any other value."""

    def __init__(self, base: Mapping[str, Any], salt: int, tenant: _Tenant, date: dt.date):
        super().__init__(base)
        self.salt, self.tenant, self.date = salt, tenant, date

    def __missing__(self, key: str) -> Any:
        make = _LAZY_VALUES.get(key)
        if make is None:
            raise KeyError(key)
        value = self[key] = make(random.Random(f"{self.salt}:{key}"), self)
        return value


def _dob(rng: random.Random, v: _Values) -> str:
    birth = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(55 * 365))
    if v.tenant.region == "uk":
        return f"{birth.day} {birth:%B %Y}"
    return f"{birth:%B} {birth.day}, {birth.year}"


def _rent(rng: random.Random, v: _Values) -> str:
    base = 1600 if v.tenant.region == "uk" else 2300
    return _money(_nice_price(base * rng.uniform(0.6, 1.5)))


_LAZY_VALUES: dict[str, Any] = {
    "last_spelled": lambda rng, v: "-".join(_ascii(v["last"]).upper()),
    "email_spoken": lambda rng, v: (
        v["email"].replace(".", " dot ").replace("@", " at ").replace("_", " underscore ")
    ),
    "dob": _dob,
    "rent": _rent,
    "street2": lambda rng, v: rng.choice(common.STREETS[v.tenant.region]),
    "ref": lambda rng, v: (
        f"{rng.choice('BCDHKMRTX')}{rng.choice('BCDHKMRTX')}-{rng.randint(10000, 99999)}"
    ),
    "nhs": lambda rng, v: _nhs_number(rng),
    "ni": lambda rng, v: (
        f"QQ {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.choice('ABCD')}"
    ),
    "ssn": lambda rng, v: (
        f"9{rng.randrange(100):02d}-{rng.randint(1, 49):02d}-{rng.randint(1, 9999):04d}"
    ),
    "member_id": lambda rng, v: (
        "".join(rng.choice("ABCDEFGHJKMNPRSTWXYZ") for _ in range(3))
        + f"{rng.randrange(10**9):09d}"
    ),
    "card": lambda rng, v: rng.choice(common.TEST_CARDS),
    "expiry": lambda rng, v: (
        f"{rng.randint(1, 12):02d}/{(v.date.year + rng.randint(1, 4)) % 100:02d}"
    ),
    "cvc": lambda rng, v: f"{rng.randrange(1000):03d}",
    "postcode_value": lambda rng, v: _postcode(rng, v.tenant.region, v.tenant.postcode_prefix),
    "customer_address": lambda rng, v: (
        f"{rng.randint(1, 240)} {rng.choice(common.STREETS[v.tenant.region])}, {v['postcode_value']}"
    ),
}


def _call_vars(
    rng: random.Random, tenant: _Tenant, date: dt.date, scenario: Scenario | None
) -> _Values:
    """Everything a call or lead template may use (tenant context + a caller + times and numbers)."""
    first, last = _person_name(rng)
    o1, o2 = sorted(rng.sample([d for d in range(1, 8) if (date.weekday() + d) % 7 != 6], 2))
    t1, t2 = sorted(rng.sample(_KIND_SLOTS.get(tenant.kind, _SLOTS), 2))
    service, price = _service_for(rng, tenant, scenario)
    values = _Values(tenant.context, rng.getrandbits(64), tenant, date)
    values.update(
        first=first,
        last=last,
        full=f"{first} {last}",
        email=_email(rng, first, last, tenant.region),
        phone=_phone(rng, tenant),
        staff=rng.choice(tenant.staff)[0],
        day=_WEEKDAYS[(date.weekday() + o1) % 7],
        day2=_WEEKDAYS[(date.weekday() + o2) % 7],
        time=_clock(t1, tenant.region),
        time2=_clock(t2, tenant.region),
        service=service,
        price=_money(price),
        price_plus=_money(price + _nice_price(price * 0.2)),
    )
    return values


_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _service_for(rng: random.Random, tenant: _Tenant, scenario: Scenario | None) -> tuple[str, int]:
    priced = [(s, p) for s, p in tenant.prices.items() if p > 0]
    if scenario is not None and scenario.service:
        hint = scenario.service.lower()
        matches = [(s, p) for s, p in priced if hint in s.lower()]
        if matches:
            return _spoken(matches[0][0]), matches[0][1]
    service, price = rng.choice(priced)
    return _spoken(service), price


def _spoken(service: str) -> str:
    """ "Signature facial (60 min)" → "signature facial"; "Power flush, from" → "power flush"."""
    words = re.sub(r"\s*\(.*?\)", "", service).split(",")[0].strip()
    return words[0].lower() + words[1:] if words[1:2].islower() else words


# --- calls ----------------------------------------------------------------------------------------

_Turn = tuple[str, str]  # ("A" | "C", template)


def _exchange(rng: random.Random, ex: Exchange) -> list[_Turn]:
    second = "C" if ex.first == "A" else "A"
    return [(ex.first, rng.choice(ex.ask)), (second, rng.choice(ex.reply))]


def _merge(turns: Iterable[_Turn]) -> list[_Turn]:
    """Consecutive lines of one speaker become one turn."""
    out: list[_Turn] = []
    for speaker, line in turns:
        if out and out[-1][0] == speaker:
            out[-1] = (speaker, f"{out[-1][1]} {line}")
        else:
            out.append((speaker, line))
    return out


_PATTERNS = (("both", 0.6), ("phone", 0.2), ("email", 0.14), ("none", 0.06))


def _weighted(rng: random.Random, options: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


@dataclass
class _Call:
    row: dict[str, Any]
    scenario: Scenario
    values: dict[str, Any]
    gave_phone: bool
    gave_email: bool

    @property
    def makes_lead(self) -> bool:
        return self.scenario.lead and self.row["ended_at"] is not None


def _names_caller(scenario: Scenario) -> bool:
    """Whether the caller already gives their full name in the scenario's core turns."""
    return any("{full}" in line for ex in scenario.core for line in (*ex.ask, *ex.reply))


def _contact_turns(
    rng: random.Random, scenario: Scenario, pattern: str, named: bool
) -> tuple[list[_Turn], bool, bool]:
    if not scenario.contact:
        return [], False, False
    phone = pattern in ("both", "phone")
    email = pattern in ("both", "email")
    turns: list[_Turn] = []
    if scenario.outbound:
        if phone:
            turns += [
                ("A", "Is {phone} still the best number for you?"),
                ("C", "Yes, that's my {mobile}."),
            ]
        if email:
            turns += [
                ("A", "And I'll send everything to {email} — is that still right?"),
                ("C", rng.choice(common.READBACK_ACKS)),
            ]
        return turns, phone, email
    if not named:  # the caller has not said their name yet
        turns += [("A", rng.choice(common.NAME_ASKS)), ("C", rng.choice(common.NAME_REPLIES))]
    if pattern == "none":
        turns += [("C", rng.choice(common.NO_DETAILS)), ("A", rng.choice(common.NO_DETAILS_ACKS))]
    if phone:
        turns += [("A", rng.choice(common.PHONE_ASKS)), ("C", rng.choice(common.PHONE_REPLIES))]
    if email:
        reply = rng.choice(common.EMAIL_REPLIES)
        turns += [("A", rng.choice(common.EMAIL_ASKS)), ("C", reply)]
        if "{email_spoken}" in reply:
            turns += [
                ("A", rng.choice(common.EMAIL_READBACKS)),
                ("C", rng.choice(common.READBACK_ACKS)),
            ]
    return turns, phone, email


def _make_call(tenant: _Tenant, date: dt.date, seed: int, n: int, width: int) -> _Call:
    rng = _rng(seed, date.isoformat(), tenant.tenant_id, "call", n)
    vertical = tenant.vertical
    scenarios = [s for s in vertical.scenarios if _fits(s.kinds, tenant.kind)]
    scenario: Scenario = rng.choices(scenarios, weights=[s.weight for s in scenarios])[0]
    agent_id, _, persona = rng.choices(tenant.agents, weights=[3] + [1] * (len(tenant.agents) - 1))[
        0
    ]
    in_progress = rng.random() < 0.06
    target = rng.randint(8, 30)
    # When (local time), which decides the greeting; the call is later placed on the UTC day.
    if in_progress:
        start = 86_400 - rng.randint(120, 2_400)
        local = (start + tenant.utc_offset * 3600) % 86_400
    else:
        local = rng.randint(8 * 3600, 20 * 3600) if rng.random() < 0.85 else rng.randrange(86_400)
        start = (local - tenant.utc_offset * 3600) % 86_400
    hour = local // 3600
    values = _call_vars(rng, tenant, date, scenario)
    values["agent"] = persona
    values["part"] = "morning" if hour < 12 else "afternoon" if hour < 17 else "evening"

    head: list[_Turn] = []
    if scenario.outbound:
        head.append(("A", rng.choice(scenario.opener)))
    else:
        after_hours = hour < 8 or hour >= 20
        head.append(
            ("A", rng.choice(common.AFTER_HOURS_GREETINGS if after_hours else common.GREETINGS))
        )
        head.append(("C", rng.choice(scenario.opener)))
    for ex in scenario.core:
        if _fits(ex.kinds, tenant.kind):
            head += _exchange(rng, ex)
    pattern = _weighted(rng, _PATTERNS) if scenario.contact else "none"
    named_in_core = _names_caller(scenario)
    contact, gave_phone, gave_email = _contact_turns(rng, scenario, pattern, named_in_core)
    sensitive: list[_Turn] = []
    if scenario.contact and scenario.lead:
        roll = rng.random()
        if roll < 0.12 and vertical.card_ask and "card" in scenario.sensitive:
            sensitive += [
                ("A", rng.choice(vertical.card_ask)),
                ("C", rng.choice(common.CARD_REPLIES)),
                ("A", rng.choice(common.CARD_ACKS)),
            ]
        elif roll < 0.24 and vertical.id_check.get(tenant.region) and "id" in scenario.sensitive:
            sensitive += _exchange(rng, rng.choice(vertical.id_check[tenant.region]))
    named = scenario.outbound or scenario.contact or named_in_core
    closing: list[_Turn] = []
    if scenario.confirm:
        closing += [("A", rng.choice(scenario.confirm)), ("C", rng.choice(common.ACK_CONFIRM))]
    closing += [
        ("A", rng.choice(common.ANYTHING_ELSE)),
        ("C", rng.choice(common.NOTHING_ELSE)),
        ("A", rng.choice(common.GOODBYES if named else common.GOODBYES_ANONYMOUS)),
    ]
    faq = vertical.faq if scenario.faq else ()
    pool = [ex for ex in (*scenario.extras, *faq) if _fits(ex.kinds, tenant.kind)]
    rng.shuffle(pool)
    body, tail = _merge(head), _merge(contact + sensitive + closing)

    def length(body_turns: int, last_speaker: str) -> int:
        return body_turns + len(tail) - (last_speaker == tail[0][0])

    for ex in pool:  # extras go between the core and the contact details, up to the target length
        if length(len(body), body[-1][0]) >= target:
            break
        (s1, line1), (s2, line2) = _exchange(rng, ex)
        if length(len(body) + (s1 != body[-1][0]) + 1, s2) > 30:
            break
        body = _merge([*body, (s1, line1), (s2, line2)])
    for s1, line1, s2, line2 in common.FILLERS:  # a short call still has at least 8 turns
        if length(len(body), body[-1][0]) >= 8:
            break
        body = _merge([*body, (s1, line1), (s2, line2)])
    turns = _merge(body + tail)
    if in_progress:
        turns = turns[: max(8, rng.randint(len(turns) // 2, len(turns) - 1))]
    rendered = [
        f"{'Agent' if speaker == 'A' else 'Caller'}: {_render(line, values, tenant.region)}"
        for speaker, line in turns
    ]
    # Durations: ~2.6 words (14.5 characters) a second, a pause between turns, sometimes a hold.
    seconds = sum(len(line) / 14.5 + rng.uniform(0.6, 2.4) for line in rendered)
    seconds += rng.choice((0, 0, 0, 0, 20, 45, 90, 180))
    duration = int(seconds)
    start = min(start, 86_399 - duration) if not in_progress else start
    midnight = dt.datetime.combine(date, dt.time(), tzinfo=dt.UTC)
    started_at = midnight + dt.timedelta(seconds=start)
    call_id = f"call-{tenant.tenant_id}-{date:%Y%m%d}-{n:0{width}d}"
    row = {
        "call_id": call_id,
        "tenant_id": tenant.tenant_id,
        "agent_id": agent_id,
        "started_at": started_at,
        "ended_at": None if in_progress else started_at + dt.timedelta(seconds=duration),
        "transcript": "\n".join(rendered),
    }
    values["agent_id"] = agent_id
    return _Call(
        row, scenario, values, gave_phone and not in_progress, gave_email and not in_progress
    )


# --- leads and documents --------------------------------------------------------------------------

_LEAD_FROM_CALL = (("as_call", 0.84), ("neither", 0.06), ("phone_only", 0.05), ("email_only", 0.05))
_WEB_LEAD = (("both", 0.5), ("email", 0.25), ("phone", 0.15), ("none", 0.1))


def _make_lead(
    tenant: _Tenant, date: dt.date, seed: int, j: int, width: int, call: _Call | None
) -> dict[str, Any]:
    rng = _rng(seed, date.isoformat(), tenant.tenant_id, "lead", j)
    end_of_day = dt.datetime.combine(date, dt.time(23, 59, 59), tzinfo=dt.UTC)
    if call is not None:
        values = call.values
        mode = _weighted(rng, _LEAD_FROM_CALL)
        # The lead keeps what the caller gave, less what the agent did not write down.
        phone = (
            call.gave_phone and mode != "neither" and not (mode == "email_only" and call.gave_email)
        )
        email = (
            call.gave_email and mode != "neither" and not (mode == "phone_only" and call.gave_phone)
        )
        created_at = min(
            call.row["ended_at"] + dt.timedelta(seconds=rng.randint(5, 900)), end_of_day
        )
        notes_pool = call.scenario.notes
        agent_id = call.row["agent_id"]
        has_notes = rng.random() < 0.35
    else:
        values = _call_vars(rng, tenant, date, None)
        mode = _weighted(rng, _WEB_LEAD)
        phone, email = mode in ("both", "phone"), mode in ("both", "email")
        local = rng.randint(7 * 3600, 23 * 3600)
        created_at = dt.datetime.combine(date, dt.time(), tzinfo=dt.UTC) + dt.timedelta(
            seconds=(local - tenant.utc_offset * 3600) % 86_400
        )
        notes_pool = tenant.vertical.web_leads
        agent_id = tenant.agents[0][0]
        has_notes = rng.random() < 0.6
    notes = (
        _render(rng.choice(notes_pool), values, tenant.region) if has_notes and notes_pool else ""
    )
    return {
        "lead_id": f"lead-{tenant.tenant_id}-{date:%Y%m%d}-{j:0{width}d}",
        "tenant_id": tenant.tenant_id,
        "agent_id": agent_id,
        "call_id": call.row["call_id"] if call is not None else None,
        "created_at": created_at,
        "name": values["full"],
        "email": values["email"] if email else None,
        "phone": values["phone"] if phone else None,
        "notes": notes,
    }


def _make_docs(tenant: _Tenant, date: dt.date, seed: int, count: int) -> list[dict[str, Any]]:
    templates = [d for d in tenant.vertical.docs if _fits(d.kinds, tenant.kind)]
    _rng(seed, tenant.tenant_id, "docs").shuffle(templates)
    # Every tenant publishes its vertical's FAQ first: its knowledge base, like a real business's,
    # holds enough about its offer for a draft to quote (and for its prompt prefix to cache).
    templates.insert(0, FAQ_DOCS[tenant.vertical.name])
    rows = []
    for n in range(1, count + 1):
        doc = templates[(n - 1) % len(templates)]
        part = (n - 1) // len(templates)
        title = doc.title + (f" (part {part + 1})" if part else "")
        paragraphs = [_render(p, tenant.context, tenant.region) for p in doc.paragraphs]
        if part:
            paragraphs.insert(0, f"Supplement {part + 1} to our {doc.title.lower()}.")
        content = "\n\n".join(paragraphs)
        when = _rng(seed, date.isoformat(), tenant.tenant_id, "doc", n).randint(7 * 3600, 19 * 3600)
        rows.append(
            {
                "doc_id": f"doc-{tenant.tenant_id}-{n}",
                "tenant_id": tenant.tenant_id,
                "title": title,
                "content": content,
                "content_sha256": hashlib.sha256(content.encode()).hexdigest(),
                "uploaded_at": dt.datetime.combine(date, dt.time(), tzinfo=dt.UTC)
                + dt.timedelta(seconds=when),
            }
        )
    return rows


# --- public entry points --------------------------------------------------------------------------


def _as_date(date: dt.date | str) -> dt.date:
    if isinstance(date, dt.datetime):
        raise TypeError("date must be a datetime.date (a calendar day), not a datetime")
    if isinstance(date, str):
        return dt.date.fromisoformat(date)
    if not isinstance(date, dt.date):
        raise TypeError(f"date must be a datetime.date, not {type(date).__name__}")
    return date


def _count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
    return value


def demo_rows(
    *,
    tenants: int = 12,
    date: dt.date | str,
    seed: int = 7,
    calls_per_tenant: int = 10,
    leads_per_tenant: int = 4,
    docs_per_tenant: int = 3,
) -> dict[str, list[dict[str, Any]]]:
    """The rows `seed_demo` writes, by table name, without touching a database."""
    day = _as_date(date)
    _count("tenants", tenants)
    _count("calls_per_tenant", calls_per_tenant)
    _count("leads_per_tenant", leads_per_tenant)
    _count("docs_per_tenant", docs_per_tenant)
    call_width = max(3, len(str(calls_per_tenant)))
    lead_width = max(3, len(str(leads_per_tenant)))
    out: dict[str, list[dict[str, Any]]] = {
        "tenants": [],
        "agents": [],
        "calls": [],
        "leads": [],
        "kb_documents": [],
    }
    for tenant in _demo_tenants(tenants, seed):
        out["tenants"].append(
            _tenant_row(
                tenant.tenant_id,
                tenant.name,
                tenant.vertical.name,
                tenant.tier,
                tenant.policy,
                tenant.brand,
            )
        )
        out["agents"] += [
            {"agent_id": agent_id, "tenant_id": tenant.tenant_id, "name": name}
            for agent_id, name, _ in tenant.agents
        ]
        day_calls = [
            _make_call(tenant, day, seed, n, call_width) for n in range(1, calls_per_tenant + 1)
        ]
        out["calls"] += [c.row for c in day_calls]
        eligible = [c for c in day_calls if c.makes_lead]
        for j in range(1, leads_per_tenant + 1):
            call = eligible[j - 1] if j <= len(eligible) else None
            out["leads"].append(_make_lead(tenant, day, seed, j, lead_width, call))
        out["kb_documents"] += _make_docs(tenant, day, seed, docs_per_tenant)
    return out


_KEYS: dict[str, tuple[Table, str]] = {
    "tenants": (tenants_table, "tenant_id"),
    "agents": (agents, "agent_id"),
    "calls": (calls, "call_id"),
    "leads": (leads, "lead_id"),
    "kb_documents": (kb_documents, "doc_id"),
}


_COPY_FROM_ROWS = (
    1_000  # from this many rows, COPY through a temporary table beats multi-row INSERT
)


def _insert_new(conn: Connection, name: str, rows: list[dict[str, Any]]) -> int:
    """INSERT … ON CONFLICT DO NOTHING; returns how many rows were new."""
    if not rows:
        return 0
    table, key = _KEYS[name]
    if len(rows) >= _COPY_FROM_ROWS and conn.dialect.driver == "psycopg":
        return _copy_new(conn, table, key, rows)
    stmt = pg_insert(table).on_conflict_do_nothing(index_elements=[key]).returning(table.c[key])
    return len(conn.execute(stmt, rows).all())  # multi-row VALUES, 1,000 rows a statement


def _copy_new(conn: Connection, table: Table, key: str, rows: list[dict[str, Any]]) -> int:
    """COPY into a temporary table, then INSERT … SELECT … ON CONFLICT DO NOTHING (large seeds)."""
    from psycopg.types.json import Jsonb

    columns = list(rows[0])
    names = ", ".join(f'"{c}"' for c in columns)
    temp = f"seed_{table.name}"
    conn.execute(text(f'CREATE TEMPORARY TABLE "{temp}" (LIKE "{table.name}" INCLUDING DEFAULTS)'))
    cursor = conn.connection.driver_connection.cursor()
    with cursor, cursor.copy(f'COPY "{temp}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([Jsonb(v) if isinstance(v, dict) else v for v in row.values()])
    inserted = conn.execute(
        text(
            f'INSERT INTO "{table.name}" ({names}) SELECT {names} FROM "{temp}" '
            f'ON CONFLICT ("{key}") DO NOTHING RETURNING 1'
        )
    ).all()
    conn.execute(text(f'DROP TABLE "{temp}"'))
    return len(inserted)


def seed_demo(
    engine: Engine | Connection,
    *,
    tenants: int = 12,
    date: dt.date | str,
    seed: int = 7,
    calls_per_tenant: int = 10,
    leads_per_tenant: int = 4,
    docs_per_tenant: int = 3,
) -> SeedSummary:
    """Write a deterministic, realistic demo day; rows that already exist are left as they are.

    With an `Engine` everything is written in one transaction; with a `Connection` the caller's
    transaction is used. Returns how many rows were inserted per table.
    """
    rows = demo_rows(
        tenants=tenants,
        date=date,
        seed=seed,
        calls_per_tenant=calls_per_tenant,
        leads_per_tenant=leads_per_tenant,
        docs_per_tenant=docs_per_tenant,
    )

    def write(conn: Connection) -> SeedSummary:
        counts = {name: _insert_new(conn, name, rows[name]) for name in _KEYS}  # FK order
        return SeedSummary(
            date=_as_date(date),
            tenant_ids=tuple(r["tenant_id"] for r in rows["tenants"]),
            **counts,
        )

    if isinstance(engine, Connection):
        return write(engine)
    with engine.begin() as conn:
        return write(conn)


def demo_tenant_ids(tenants: int = 12, seed: int = 7) -> list[str]:
    """The ids `seed_demo(tenants=…, seed=…)` uses, in order."""
    return [t.tenant_id for t in _demo_tenants(_count("tenants", tenants), seed)]
