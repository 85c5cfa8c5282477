"""Demo seed and tenant ids: a realistic, deterministic, idempotent day; invalid tenant ids refused."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, func, select, text

from batch_pipelines.db import seed as seed_module
from batch_pipelines.db import tables
from batch_pipelines.db.engine import with_database, with_driver
from batch_pipelines.db.seed import (
    DEMO_BUDGET_USD,
    InvalidTenantId,
    add_tenant,
    demo_rows,
    demo_tenant_ids,
    seed_demo,
    validate_tenant_id,
)
from batch_pipelines.db.tables import TENANT_SLUG_PATTERN, TIERS, VERTICALS

DAY = dt.date(2026, 11, 25)
NEXT_DAY = DAY + dt.timedelta(days=1)
SOURCE_TABLES = {
    "tenants": "tenant_id",
    "agents": "agent_id",
    "calls": "call_id",
    "leads": "lead_id",
    "kb_documents": "doc_id",
}
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(
    r"\+44 ?7700 ?900 ?\d{3}|07700 ?900 ?\d{3}"  # UK numbers reserved for drama
    r"|\(\d{3}\) 555-01\d{2}|\d{3}-555-01\d{2}|\+1 \d{3} 555 01\d{2}"  # North American 555-01xx
)
CARD = re.compile(r"\b\d{4} \d{4} \d{4} \d{4}\b|\b\d{4} \d{6} \d{5}\b")
NATIONAL_ID = re.compile(
    r"\b999 \d{3} \d{4}\b"  # NHS number (test range)
    r"|\bQQ \d{2} \d{2} \d{2} [A-D]\b"  # National Insurance number (never-issued prefix)
    r"|\b9\d{2}-\d{2}-\d{4}\b"  # SSN-shaped
)
VOCABULARY = {
    "healthcare": ("appointment", "check-up", "dentist", "physio", "patient", "doctor", "pain"),
    "sales": ("quote", "demo", "solar", "charger", "seat", "finance", "survey"),
    "real_estate": ("viewing", "property", "flat", "apartment", "rent", "landlord", "valuation"),
    "salon": (
        "cut",
        "trim",
        "fade",
        "hair",
        "colour",
        "color",
        "manicure",
        "pedicure",
        "lash",
        "facial",
        "brow",
        "appointment",
    ),
    "hospitality": ("table", "room", "booking", "menu", "dinner", "party", "hire"),
    "home_services": ("boiler", "engineer", "electric", "clean", "roof", "leak", "quote", "repair"),
}
# Words that would betray a transcript written for the wrong vertical.
FOREIGN_WORDS = {
    "healthcare": ("haircut", "boiler", "solar", "viewing"),
    "sales": ("dentist", "haircut", "boiler"),
    "real_estate": ("dentist", "haircut", "manicure"),
    "salon": ("boiler", "dentist", "solar"),
    "hospitality": ("boiler", "dentist", "solar"),
    "home_services": ("dentist", "haircut", "manicure"),
}


def _rows(engine: Engine, table: str) -> list[dict]:
    """All rows of a source table in key order, without a server-set `created_at` (now())."""
    t = tables.metadata.tables[table]
    server_set = {"tenants", "agents"}  # the seed leaves their created_at to the server
    columns = [c for c in t.c if not (c.name == "created_at" and table in server_set)]
    with engine.connect() as conn:
        result = conn.execute(select(*columns).order_by(t.c[SOURCE_TABLES[table]]))
        return [dict(r._mapping) for r in result]


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(tables.metadata.tables[table])
        ).scalar()


def _turns(transcript: str) -> list[str]:
    return transcript.split("\n")


def _luhn_ok(number: str) -> bool:
    digits = [int(d) for d in number if d.isdigit()][::-1]
    total = sum(
        d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(digits)
    )
    return total % 10 == 0


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    seed_demo(engine, date=DAY)
    return engine


@pytest.fixture
def other_engine(pg_server_url: str, template_database: str) -> Iterator[Engine]:
    """A second fresh, migrated database (the `engine` fixture gives the first)."""
    name = f"bp_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(with_driver(pg_server_url, "psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"'))
    other = create_engine(with_driver(with_database(pg_server_url, name), "psycopg"))
    try:
        yield other
    finally:
        other.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- the demo day ---------------------------------------------------------------------------------


def test_demo_day_has_twelve_tenants_two_per_vertical_four_per_tier(engine: Engine) -> None:
    summary = seed_demo(engine, tenants=12, date=DAY)

    assert (summary.tenants, summary.calls, summary.leads, summary.kb_documents) == (
        12,
        120,
        48,
        36,
    )
    assert 24 <= summary.agents <= 36
    tenants = _rows(engine, "tenants")
    assert sorted(summary.tenant_ids) == [t["tenant_id"] for t in tenants]
    assert Counter(t["vertical"] for t in tenants) == {v: 2 for v in VERTICALS}
    assert Counter(t["tier"] for t in tenants) == {t: 4 for t in TIERS}
    prices = {t["tier"]: t["tier_price_usd"] for t in tenants}
    assert {k: int(v) for k, v in prices.items()} == {"starter": 149, "growth": 499, "scale": 1499}
    for vertical in VERTICALS:  # the two tenants of a vertical are on different tiers
        assert len({t["tier"] for t in tenants if t["vertical"] == vertical}) == 2


def test_demo_tenant_ids_are_slugs_of_realistic_business_names(seeded: Engine) -> None:
    tenants = _rows(seeded, "tenants")
    for t in tenants:
        assert re.fullmatch(TENANT_SLUG_PATTERN, t["tenant_id"])
        assert len(t["tenant_id"]) <= 40
        # the id is the business name, slugged
        words = re.sub(r"[^a-z0-9]+", " ", t["name"].lower()).split()
        assert t["tenant_id"].split("-")[0] in words
    everyone = set(demo_tenant_ids(72, 7))  # 72 tenants use every business name once
    assert {
        "brightsmile-dental",
        "northside-physio",
        "apex-solar-sales",
        "harbor-homes",
    } <= everyone


def test_demo_policies_mix_redaction_isolation_and_one_small_budget(seeded: Engine) -> None:
    tenants = _rows(seeded, "tenants")
    policies = {t["tenant_id"]: t["policy"] for t in tenants}
    assert all(
        set(p) >= {"redact_pii", "isolated", "monthly_budget_usd"} for p in policies.values()
    )

    redacting = [t for t in tenants if t["policy"]["redact_pii"]]
    assert all(t["policy"]["redact_pii"] for t in tenants if t["vertical"] == "healthcare")
    assert any(t["vertical"] != "healthcare" for t in redacting)
    assert len(redacting) < len(tenants)  # mixed, not all

    assert sum(p["isolated"] for p in policies.values()) == 2  # one tenant in six
    budgets = [
        p["monthly_budget_usd"] for p in policies.values() if p["monthly_budget_usd"] is not None
    ]
    assert budgets == [DEMO_BUDGET_USD]
    assert 0 < DEMO_BUDGET_USD < 1


def test_demo_brand_has_the_fields_outreach_mail_needs(seeded: Engine) -> None:
    for t in _rows(seeded, "tenants"):
        brand = t["brand"]
        assert brand["brand_name"] == t["name"]
        assert re.fullmatch(r"#[0-9a-fA-F]{6}", brand["colour"])
        assert brand["signature"] and t["name"] in brand["footer"]
        domain = brand["website"].removeprefix("https://")
        assert domain in brand["allowed_link_domains"]
        assert brand["unsubscribe_url"].startswith(brand["website"])


def test_each_tenant_has_two_or_three_agents_and_hashed_kb_documents(seeded: Engine) -> None:
    agents = _rows(seeded, "agents")
    per_tenant = Counter(a["tenant_id"] for a in agents)
    assert set(per_tenant.values()) <= {2, 3} and len(per_tenant) == 12
    assert all(re.fullmatch(rf"agent-{a['tenant_id']}-[1-3]", a["agent_id"]) for a in agents)

    docs = _rows(seeded, "kb_documents")
    names = {t["tenant_id"]: t["name"] for t in _rows(seeded, "tenants")}
    assert Counter(d["tenant_id"] for d in docs) == {t: 3 for t in names}
    for d in docs:
        assert re.fullmatch(rf"doc-{d['tenant_id']}-[1-3]", d["doc_id"])
        assert d["content_sha256"] == hashlib.sha256(d["content"].encode()).hexdigest()
        assert d["uploaded_at"].astimezone(dt.UTC).date() == DAY
        assert d["content"].count("\n\n") >= 2  # several paragraphs
        assert d["deleted_at"] is None
    # documents are about the business (its name, address, phone or domain), not generic
    footers = {t["tenant_id"]: t["brand"]["footer"].split(" · ") for t in _rows(seeded, "tenants")}
    domains = {
        t["tenant_id"]: t["brand"]["website"].split("//")[1] for t in _rows(seeded, "tenants")
    }
    for tenant_id in names:
        own = [d["content"] for d in docs if d["tenant_id"] == tenant_id]
        facts = [*footers[tenant_id], domains[tenant_id]]
        assert any(fact in c for c in own for fact in facts), tenant_id
        assert not any("{" in c or "}" in c for c in own)
    assert len({d["content_sha256"] for d in docs}) == len(docs)


def test_calls_fall_on_the_seeded_utc_day_with_a_few_still_in_progress(seeded: Engine) -> None:
    calls = _rows(seeded, "calls")
    assert len(calls) == 120
    for c in calls:
        assert re.fullmatch(rf"call-{c['tenant_id']}-20261125-\d{{3}}", c["call_id"])
        assert c["started_at"].astimezone(dt.UTC).date() == DAY
        if c["ended_at"] is not None:
            assert c["ended_at"] >= c["started_at"]
            assert c["ended_at"].astimezone(dt.UTC).date() == DAY
        turns = _turns(c["transcript"])
        assert 8 <= len(turns) <= 30
        assert all(t.startswith(("Agent: ", "Caller: ")) for t in turns)
    in_progress = [c for c in calls if c["ended_at"] is None]
    assert 1 <= len(in_progress) <= 12
    durations = [(c["ended_at"] - c["started_at"]).total_seconds() for c in calls if c["ended_at"]]
    assert min(durations) < 120 and max(durations) > 240  # a realistic spread
    hours = {c["started_at"].astimezone(dt.UTC).hour for c in calls}
    assert len(hours) >= 12  # spread across the UTC day


def test_transcripts_carry_contact_details_and_now_and_then_a_card_or_id_number(
    seeded: Engine,
) -> None:
    transcripts = [c["transcript"] for c in _rows(seeded, "calls")]
    with_email = sum(bool(EMAIL.search(t)) for t in transcripts)
    with_phone = sum(bool(PHONE.search(t)) for t in transcripts)
    assert with_email >= len(transcripts) * 0.4
    assert with_phone >= len(transcripts) * 0.5
    cards = [m for t in transcripts for m in CARD.findall(t)]
    assert cards and all(_luhn_ok(c) for c in cards)
    assert any(NATIONAL_ID.search(t) for t in transcripts)
    assert (
        sum(bool(CARD.search(t) or NATIONAL_ID.search(t)) for t in transcripts)
        < len(transcripts) / 3
    )


def test_transcripts_read_like_calls_of_their_vertical(engine: Engine) -> None:
    seed_demo(engine, tenants=24, date=DAY, calls_per_tenant=20)
    vertical = {t["tenant_id"]: t["vertical"] for t in _rows(engine, "tenants")}
    calls = _rows(engine, "calls")
    for c in calls:
        text_ = c["transcript"].lower()
        v = vertical[c["tenant_id"]]
        assert any(w in text_ for w in VOCABULARY[v]), (v, c["transcript"])
        assert not any(w in text_ for w in FOREIGN_WORDS[v]), (v, c["transcript"])
    # varied content: many distinct caller openings per vertical
    for v in VERTICALS:
        openings = {_turns(c["transcript"])[1] for c in calls if vertical[c["tenant_id"]] == v}
        assert len(openings) >= 8, v


def test_leads_are_created_on_the_day_from_their_calls(seeded: Engine) -> None:
    leads = _rows(seeded, "leads")
    calls = {c["call_id"]: c for c in _rows(seeded, "calls")}
    assert len(leads) == 48
    for lead in leads:
        assert re.fullmatch(rf"lead-{lead['tenant_id']}-20261125-\d{{3}}", lead["lead_id"])
        assert lead["created_at"].astimezone(dt.UTC).date() == DAY
        assert lead["name"]
        call = calls.get(lead["call_id"])
        if call is None:
            continue
        assert call["tenant_id"] == lead["tenant_id"] and call["agent_id"] == lead["agent_id"]
        assert call["ended_at"] is not None and lead["created_at"] >= call["ended_at"]
        assert lead["name"].split()[0] in call["transcript"]
        for field in ("email", "phone"):
            assert lead[field] is None or lead[field] in call["transcript"]
    assert sum(lead["call_id"] is not None for lead in leads) >= 40
    neither = [lead for lead in leads if lead["email"] is None and lead["phone"] is None]
    both = [lead for lead in leads if lead["email"] and lead["phone"]]
    assert 1 <= len(neither) <= 12 and len(both) >= 12
    assert 3 <= sum(bool(lead["notes"]) for lead in leads) < len(leads)


# --- idempotence and determinism ------------------------------------------------------------------


def test_reseeding_the_same_day_inserts_nothing(seeded: Engine) -> None:
    before = {t: _count(seeded, t) for t in SOURCE_TABLES}
    again = seed_demo(seeded, date=DAY)
    assert again.total == 0
    assert len(again.tenant_ids) == 12
    assert {t: _count(seeded, t) for t in SOURCE_TABLES} == before


def test_seeding_another_day_adds_only_that_days_calls_and_leads(seeded: Engine) -> None:
    docs_before = _rows(seeded, "kb_documents")
    summary = seed_demo(seeded, date=NEXT_DAY)
    assert (summary.tenants, summary.agents, summary.kb_documents) == (0, 0, 0)
    assert (summary.calls, summary.leads) == (120, 48)
    calls = _rows(seeded, "calls")
    assert sum("-20261126-" in c["call_id"] for c in calls) == 120
    assert all(
        c["started_at"].astimezone(dt.UTC).date() == NEXT_DAY
        for c in calls
        if "-20261126-" in c["call_id"]
    )
    assert _rows(seeded, "kb_documents") == docs_before
    # a different day is a different day: not the same calls again
    day1 = {
        c["call_id"].replace("-20261125-", "-"): c["transcript"]
        for c in calls
        if "-20261125-" in c["call_id"]
    }
    day2 = {
        c["call_id"].replace("-20261126-", "-"): c["transcript"]
        for c in calls
        if "-20261126-" in c["call_id"]
    }
    assert sum(day1[k] != day2[k] for k in day1) > 100


def test_same_arguments_give_identical_rows_in_two_fresh_databases_whichever_insert_path(
    engine: Engine, other_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = seed_demo(engine, date=DAY, seed=11)  # multi-row INSERT (small tables)
    monkeypatch.setattr(seed_module, "_COPY_FROM_ROWS", 1)  # COPY through a temporary table
    second = seed_demo(other_engine, date=DAY, seed=11)
    assert first == second
    for table in SOURCE_TABLES:
        assert _rows(engine, table) == _rows(other_engine, table), table


def test_demo_rows_do_not_depend_on_the_python_process() -> None:
    """No reliance on `hash()` or set order: another interpreter with another hash seed agrees."""
    code = (
        "import datetime, hashlib, sys; from batch_pipelines.db.seed import demo_rows;"
        "rows = demo_rows(tenants=12, date=datetime.date(2026, 11, 25));"
        "sys.stdout.write(hashlib.sha256(repr(rows).encode()).hexdigest())"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
        )
        digests.add(out.stdout)
    here = hashlib.sha256(repr(demo_rows(tenants=12, date=DAY)).encode()).hexdigest()
    assert digests == {here}


def test_tenant_ids_depend_only_on_the_seed_and_grow_by_appending() -> None:
    assert demo_tenant_ids(12, 7) == demo_tenant_ids(12, 7)
    assert demo_tenant_ids(36, 7)[:12] == demo_tenant_ids(12, 7)
    assert demo_tenant_ids(12, 8) != demo_tenant_ids(12, 7)


def test_large_seeds_still_get_unique_valid_tenant_ids() -> None:
    ids = demo_tenant_ids(3000, 7)
    assert len(set(ids)) == 3000
    assert all(validate_tenant_id(i) == i for i in ids)


def test_the_same_call_is_the_same_whatever_the_other_counts() -> None:
    small = demo_rows(tenants=6, date=DAY, calls_per_tenant=5, leads_per_tenant=1)
    large = demo_rows(tenants=12, date=DAY, calls_per_tenant=10, leads_per_tenant=4)
    large_calls = {c["call_id"]: c for c in large["calls"]}
    assert all(large_calls[c["call_id"]] == c for c in small["calls"])


# --- tenant ids and add_tenant --------------------------------------------------------------------

INVALID_IDS = [
    "Acme",
    "a|b",
    "c,d",
    "../x",
    "x'; drop table tenants;--",
    "",
    "a" * 64,
    "-lead",
    "_lead",
    "a.b",
    "a/b",
    "a[0]",
    "tenant one",
    "acme\n",
    "café",
]


@pytest.mark.parametrize("tenant_id", INVALID_IDS)
def test_validate_tenant_id_refuses_non_slugs_with_an_actionable_message(tenant_id: str) -> None:
    with pytest.raises(InvalidTenantId) as caught:
        validate_tenant_id(tenant_id)
    message = str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert TENANT_SLUG_PATTERN in message
    assert "Dagster partition keys" in message and "'|'" in message
    assert caught.value.tenant_id == tenant_id


@pytest.mark.parametrize(
    ("tenant_id", "explanation", "suggestion"),
    [
        ("Acme Dental", "uppercase letters", "acme-dental"),
        ("a|b", "contains '|'", "a-b"),
        ("c,d", "contains ','", "c-d"),
        ("../x", "starts with '.'", "x"),
        ("", "it is empty", None),
        ("a" * 64, "64 characters long (at most 63)", "a" * 63),
        ("x'; drop table", "contains ' ', \"'\", ';'", "x-drop-table"),
    ],
)
def test_invalid_tenant_id_error_says_what_is_wrong_and_suggests_a_slug(
    tenant_id: str, explanation: str, suggestion: str | None
) -> None:
    with pytest.raises(InvalidTenantId) as caught:
        validate_tenant_id(tenant_id)
    assert explanation in str(caught.value)
    assert caught.value.suggestion == suggestion
    if suggestion:
        assert f"Try {suggestion!r}" in str(caught.value)
        assert validate_tenant_id(suggestion) == suggestion


def test_validate_tenant_id_refuses_non_strings() -> None:
    with pytest.raises(InvalidTenantId, match="not a string"):
        validate_tenant_id(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "tenant_id", ["acme", "a", "0day", "brightsmile-dental", "tenant_42", "a" * 63]
)
def test_validate_tenant_id_accepts_slugs(tenant_id: str) -> None:
    assert validate_tenant_id(tenant_id) == tenant_id


def test_add_tenant_refuses_invalid_ids_before_writing(engine: Engine) -> None:
    for tenant_id in INVALID_IDS:  # one database for all of them: each would cost a clone
        with pytest.raises(InvalidTenantId), engine.begin() as conn:
            add_tenant(conn, tenant_id, "Acme", "sales", "starter")
    assert _count(engine, "tenants") == 0


def test_add_tenant_upserts_idempotently_and_prices_the_tier(engine: Engine) -> None:
    with engine.begin() as conn:
        assert add_tenant(conn, "acme-dental", "Acme Dental", "healthcare", "starter") == "inserted"
    with engine.begin() as conn:
        assert (
            add_tenant(conn, "acme-dental", "Acme Dental", "healthcare", "starter") == "unchanged"
        )
    policy = {"redact_pii": True, "monthly_budget_usd": 25}
    assert (
        add_tenant(engine, "acme-dental", "Acme Dental", "healthcare", "scale", policy) == "updated"
    )
    (row,) = _rows(engine, "tenants")
    assert row["tier"] == "scale" and int(row["tier_price_usd"]) == 1499
    assert row["policy"] == {"redact_pii": True, "isolated": False, "monthly_budget_usd": 25}
    assert row["brand"] == {"brand_name": "Acme Dental"}


BAD_TENANT_FIELDS = [
    ({"vertical": "dentistry"}, "unknown vertical 'dentistry'"),
    ({"tier": "gold"}, r"unknown tier 'gold'.*starter \(\$149/month\)"),
    ({"name": "  "}, "name must be a non-empty string"),
    ({"policy": {"redact_pii": "yes"}}, "must be true or false"),
    ({"policy": {"monthly_budget_usd": -1}}, "finite amount >= 0"),
    ({"policy": {"monthly_budget_usd": True}}, "must be a number or null"),
    ({"policy": {"monthly_budget_usd": float("nan")}}, "finite amount >= 0"),
    ({"brand": {"colour": "blue"}}, "hex colour"),
    ({"brand": {"allowed_link_domains": "acme.example"}}, "list of domain names"),
    ({"brand": {"website": "javascript:alert(1)"}}, "http\\(s\\) URL"),
]


def test_add_tenant_refuses_bad_vertical_tier_policy_or_brand(engine: Engine) -> None:
    for kwargs, message in BAD_TENANT_FIELDS:
        args = {"name": "Acme", "vertical": "sales", "tier": "starter", **kwargs}
        with pytest.raises(ValueError, match=message):
            add_tenant(engine, "acme", **args)
    assert _count(engine, "tenants") == 0


def test_seed_demo_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="tenants must be a non-negative integer"):
        demo_rows(tenants=-1, date=DAY)
    with pytest.raises(TypeError, match="datetime.date"):
        demo_rows(date=dt.datetime(2026, 11, 25, 12))  # type: ignore[arg-type]
    assert demo_rows(date="2026-11-25") == demo_rows(date=DAY)
