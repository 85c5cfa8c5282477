"""The `lead_scoring` workflow against real Postgres: due items, prompts that carry one tenant's data,
strict validation, idempotent storing, drafts that stay inside their tenant whatever the model says."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, func, insert, select

from batch_pipelines.batching.workflow import (
    InvalidAnswer,
    ManifestRow,
    Rejected,
    Rendered,
    WorkItem,
)
from batch_pipelines.core.prompts import ChatPrompt, ModelAnswer
from batch_pipelines.core.tenants import TenantContext
from batch_pipelines.db.tables import (
    agents,
    batch_requests,
    call_analytics,
    calls,
    lead_scores,
    leads,
    outreach_drafts,
    tenants,
)
from batch_pipelines.workflows import lead_scoring as ls
from batch_pipelines.workflows.lead_scoring import (
    INSTRUCTIONS,
    NO_CONTACT_REASON,
    PHONE_ONLY_REASON,
    LeadScoring,
    parse_user_block,
)
from batch_pipelines.workflows.outreach import INSTRUCTION_RUN_WORDS, quotes_any
from batch_pipelines.workflows.text_cleaning import clean_text
from batch_pipelines_tests.workflows.test_outreach import assert_safe_draft

DAY = dt.date(2026, 11, 25)
NOON = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
CORPUS = yaml.safe_load(
    (Path(__file__).parent.parent / "data" / "adversarial_lead_notes.yaml").read_text()
)["cases"]


# --- fixtures and helpers --------------------------------------------------------------------------

TENANTS: dict[str, dict[str, Any]] = {
    "clifton-dental": {
        "name": "Clifton Dental Care",
        "vertical": "healthcare",
        "domain": "clifton-dental.example",
        "phone": "0117 496 0123",
        "facts": ["Open Monday to Saturday, 8am to 6pm.", "New patient check-up: £45."],
    },
    "brightside-homes": {
        "name": "Brightside Homes",
        "vertical": "real_estate",
        "domain": "brightside-homes.example",
        "phone": "0161 496 0777",
        "facts": ["Free valuations within 48 hours.", "Offices in Didsbury and Chorlton."],
    },
    "luxe-hair": {
        "name": "Luxe Hair Studio",
        "vertical": "salon",
        "domain": "luxehair.example",
        "phone": "(512) 555-0144",
        "facts": ["Colour consultations are free.", "Late opening on Thursdays."],
        "policy": {"isolated": True, "redact_pii": True},
    },
}


def brand_of(tenant_id: str) -> dict[str, Any]:
    spec = TENANTS[tenant_id]
    domain = spec["domain"]
    return {
        "name": spec["name"],
        "colour": "#7c3aed",
        "signature": f"The {spec['name']} team",
        "footer": f"{spec['name']}, 1 High Street",
        "unsubscribe_url": f"https://{domain}/unsubscribe",
        "booking_url": f"https://book.{domain}/new",
        "website": f"https://{domain}",
        "phone": spec["phone"],
        "allowed_link_domains": [domain],
        "facts": spec["facts"],
    }


def add_tenant(conn: Connection, tenant_id: str, **overrides: Any) -> None:
    spec = {**TENANTS.get(tenant_id, {}), **overrides}
    conn.execute(
        insert(tenants).values(
            tenant_id=tenant_id,
            name=spec["name"],
            vertical=spec.get("vertical", "sales"),
            tier="growth",
            tier_price_usd=99,
            policy=spec.get("policy", {}),
            brand=spec.get("brand", brand_of(tenant_id) if tenant_id in TENANTS else {}),
        )
    )
    conn.execute(
        insert(agents).values(agent_id=f"{tenant_id}-ava", tenant_id=tenant_id, name="Ava")
    )


def add_lead(
    conn: Connection,
    tenant_id: str,
    lead_id: str | None = None,
    *,
    created_at: dt.datetime = NOON,
    name: str = "Olivia Patel",
    email: str | None = "olivia.patel@gmail.com",
    phone: str | None = "07700 900123",
    notes: str = "Wants a check-up next week.",
    call_id: str | None = None,
) -> str:
    lead_id = lead_id or f"lead-{uuid.uuid4().hex[:12]}"
    conn.execute(
        insert(leads).values(
            lead_id=lead_id,
            tenant_id=tenant_id,
            agent_id=f"{tenant_id}-ava",
            call_id=call_id,
            created_at=created_at,
            name=name,
            email=email,
            phone=phone,
            notes=notes,
        )
    )
    return lead_id


def add_call_with_analytics(conn: Connection, tenant_id: str, summary: str) -> str:
    call_id = f"call-{uuid.uuid4().hex[:12]}"
    conn.execute(
        insert(calls).values(
            call_id=call_id,
            tenant_id=tenant_id,
            agent_id=f"{tenant_id}-ava",
            started_at=NOON - dt.timedelta(minutes=5),
            ended_at=NOON,
            transcript="...",
        )
    )
    custom_id = f"pc_{uuid.uuid4().hex[:20]}"
    conn.execute(
        insert(batch_requests).values(
            custom_id=custom_id,
            tenant_id=tenant_id,
            vertical=TENANTS[tenant_id]["vertical"],
            workflow="post_call",
            item_id=call_id,
            partition_date=DAY,
            status="succeeded",
        )
    )
    conn.execute(
        insert(call_analytics).values(
            call_id=call_id,
            tenant_id=tenant_id,
            summary=summary,
            sentiment=0.6,
            lead_score=72,
            topics=["check-up"],
            next_action="Call back on Friday to confirm the slot.",
            model="gpt-test",
            custom_id=custom_id,
        )
    )
    return call_id


def manifest_row(conn: Connection, tenant_id: str, lead_id: str) -> ManifestRow:
    """A manifest row as the engine would hand it to `store` (results reference it by custom_id)."""
    custom_id = f"ls_{uuid.uuid4().hex[:20]}"
    vertical = conn.execute(
        select(tenants.c.vertical).where(tenants.c.tenant_id == tenant_id)
    ).scalar_one()
    conn.execute(
        insert(batch_requests).values(
            custom_id=custom_id,
            tenant_id=tenant_id,
            vertical=vertical,
            workflow="lead_scoring",
            item_id=lead_id,
            partition_date=DAY,
            status="succeeded",
        )
    )
    return ManifestRow(
        custom_id=custom_id,
        batch_job_id=None,
        tenant_id=tenant_id,
        vertical=vertical,
        agent_id=f"{tenant_id}-ava",
        workflow="lead_scoring",
        item_id=lead_id,
        partition_date=DAY,
        attempt=1,
        notes={},
    )


def tenant_contexts(conn: Connection) -> dict[str, TenantContext]:
    rows = conn.execute(select(tenants))
    return {
        r.tenant_id: TenantContext(r.tenant_id, r.name, r.vertical, r.tier, r.policy, r.brand)
        for r in rows
    }


def good_answer(**overrides: Any) -> dict[str, Any]:
    answer = {
        "score": 78,
        "reasons": ["Asked for a check-up next week.", "Left an e-mail address."],
        "best_channel": "email",
        "best_time": "weekday mornings",
        "draft": {
            "subject": "Your check-up",
            "body_text": "Thanks for calling about a check-up.\n\nWe have slots next week.",
            "call_to_action": "Book your check-up",
        },
    }
    answer.update(overrides)
    return answer


def render_one(conn: Connection, workflow: LeadScoring, tenant_id: str, lead_id: str) -> Any:
    [outcome] = workflow.render(conn, [WorkItem(lead_id, tenant_id, DAY)], tenant_contexts(conn))
    return outcome


@pytest.fixture
def conn(engine: Engine) -> Iterator[Connection]:
    with engine.begin() as connection:
        for tenant_id in TENANTS:
            add_tenant(connection, tenant_id)
        yield connection


# --- workflow shape ----------------------------------------------------------------------------------


def test_defaults_and_constructor_configuration() -> None:
    default = LeadScoring()
    assert (default.name, default.provider, default.model, default.endpoint) == (
        "lead_scoring",
        "anthropic",
        "claude-haiku-4-5",
        "/v1/messages",
    )
    assert default.max_attempts == 3 and default.deadline is None
    custom = LeadScoring(provider="openai", model="gpt-5-mini", endpoint="/v1/chat/completions",
                         max_attempts=5, deadline=dt.timedelta(hours=20))  # fmt: skip
    assert (custom.provider, custom.model, custom.max_attempts) == ("openai", "gpt-5-mini", 5)


def _objects(schema: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    if schema.get("type") == "object":
        yield schema
        for sub in schema["properties"].values():
            yield from _objects(sub)
    if schema.get("type") == "array":
        yield from _objects(schema["items"])


def test_answer_schema_is_strict_mode_compatible() -> None:
    schema = ls.answer_schema()
    for obj in _objects(schema):
        assert obj["additionalProperties"] is False
        assert sorted(obj["required"]) == sorted(obj["properties"])
    assert schema["properties"]["score"] | {"description": ""} == {
        "type": "integer", "minimum": 0, "maximum": 100, "description": ""
    }  # fmt: skip
    assert schema["properties"]["best_channel"]["enum"] == ["email", "phone", "sms"]
    assert schema["properties"]["reasons"]["maxItems"] == 5


def test_answers_generated_from_the_schema_pass_validation() -> None:
    answers = pytest.importorskip("batch_pipelines.emulator.answers")
    for seed in range(50):
        ls.validate_answer(answers.schema_answer(ls.answer_schema(), random.Random(seed)))


# --- due items -----------------------------------------------------------------------------------


def test_due_items_are_the_leads_created_on_the_utc_date_without_a_score(conn: Connection) -> None:
    midnight = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    before = add_lead(
        conn, "clifton-dental", "before", created_at=midnight - dt.timedelta(seconds=1)
    )
    first = add_lead(conn, "clifton-dental", "first", created_at=midnight)
    # 23:30 in New York on the 24th is 04:30 UTC on the 25th: it belongs to the 25th.
    ny = dt.timezone(dt.timedelta(hours=-5))
    late = add_lead(
        conn, "brightside-homes", "late", created_at=dt.datetime(2026, 11, 24, 23, 30, tzinfo=ny)
    )
    last = add_lead(
        conn, "luxe-hair", "last", created_at=midnight + dt.timedelta(days=1, microseconds=-1)
    )
    after = add_lead(conn, "luxe-hair", "after", created_at=midnight + dt.timedelta(days=1))
    scored = add_lead(conn, "clifton-dental", "scored", created_at=NOON)
    workflow = LeadScoring()
    workflow.store(conn, manifest_row(conn, "clifton-dental", scored), ModelAnswer("m", json=good_answer()), "m")  # fmt: skip

    due = list(workflow.due_items(conn, [DAY], None))
    assert [(i.item_id, i.tenant_id, i.partition_date, i.agent_id) for i in due] == [
        ("late", "brightside-homes", DAY, "brightside-homes-ava"),
        (first, "clifton-dental", DAY, "clifton-dental-ava"),
        ("last", "luxe-hair", DAY, "luxe-hair-ava"),
    ]
    assert late == "late" and last == "last"
    assert [i.item_id for i in workflow.due_items(conn, [DAY], ["luxe-hair"])] == ["last"]
    assert list(workflow.due_items(conn, [DAY], [])) == []
    two_days = workflow.due_items(
        conn, [DAY + dt.timedelta(days=1), DAY - dt.timedelta(days=1)], None
    )
    assert [(i.item_id, i.partition_date) for i in two_days] == [
        (before, DAY - dt.timedelta(days=1)),
        (after, DAY + dt.timedelta(days=1)),
    ]


# --- render --------------------------------------------------------------------------------------


def test_prompt_layout_shared_instructions_then_own_tenant_block_then_the_lead(
    conn: Connection,
) -> None:
    call_id = add_call_with_analytics(conn, "clifton-dental", "Caller asked about a check-up.")
    ids = {
        t: add_lead(conn, t, call_id=call_id if t == "clifton-dental" else None) for t in TENANTS
    }
    workflow = LeadScoring()
    items = [WorkItem(lead_id, t, DAY) for t, lead_id in ids.items()]
    outcomes = list(workflow.render(conn, items, tenant_contexts(conn)))

    assert all(isinstance(o, Rendered) for o in outcomes)
    prompts = {o.item.tenant_id: o.prompt for o in outcomes}
    assert {p.static_blocks[0] for p in prompts.values()} == {INSTRUCTIONS}
    for tenant_id, prompt in prompts.items():
        assert isinstance(prompt, ChatPrompt)
        assert prompt.json_schema == ls.answer_schema() and prompt.schema_name == "lead_score"
        tenant_block = prompt.static_blocks[1]
        assert TENANTS[tenant_id]["name"] in tenant_block
        assert all(fact in tenant_block for fact in TENANTS[tenant_id]["facts"])
        for other_id, other in TENANTS.items():
            if other_id != tenant_id:
                assert other["name"] not in "".join(prompt.static_blocks) + prompt.user
                assert all(f not in tenant_block for f in other["facts"])

    record = parse_user_block(prompts["clifton-dental"].user)
    assert record["lead"] == {
        "first_name": "Olivia",
        "has_email": True,
        "has_phone": True,
        "created_at": "2026-11-25T12:00+00:00",
        "source": "call",
    }
    assert record["call"] == {
        "summary": "Caller asked about a check-up.",
        "sentiment": 0.6,
        "lead_score": 72,
        "next_action": "Call back on Friday to confirm the slot.",
    }
    assert record["untrusted_notes"] == "Wants a check-up next week."
    assert parse_user_block(prompts["brightside-homes"].user)["call"] is None
    # Contact details are not sent: only whether they exist (the template addresses the mail).
    for prompt in prompts.values():
        assert "olivia.patel@gmail.com" not in prompt.user and "900123" not in prompt.user
        assert "Patel" not in prompt.user


def test_a_lead_pointing_at_another_tenants_call_gets_no_call_analytics(conn: Connection) -> None:
    foreign_call = add_call_with_analytics(conn, "brightside-homes", "Brightside: 4-bed valuation.")
    lead_id = add_lead(conn, "clifton-dental", call_id=foreign_call)

    outcome = render_one(conn, LeadScoring(), "clifton-dental", lead_id)

    assert parse_user_block(outcome.prompt.user)["call"] is None
    assert "valuation" not in outcome.prompt.user


def test_items_that_do_not_match_their_lead_or_tenant_are_rejected(conn: Connection) -> None:
    lead_id = add_lead(conn, "clifton-dental")
    items = [
        WorkItem(lead_id, "brightside-homes", DAY),  # the lead is another tenant's
        WorkItem("no-such-lead", "clifton-dental", DAY),
        WorkItem(lead_id, "unknown-tenant", DAY),
    ]
    outcomes = list(LeadScoring().render(conn, items, tenant_contexts(conn)))
    assert all(isinstance(o, Rejected) for o in outcomes)
    assert [o.reason for o in outcomes] == [
        f"lead {lead_id!r} does not belong to 'brightside-homes'",
        "lead 'no-such-lead' no longer exists",
        "unknown tenant 'unknown-tenant'",
    ]


def test_notes_and_summary_are_redacted_when_the_tenant_policy_says_so(conn: Connection) -> None:
    call_id = add_call_with_analytics(
        conn, "luxe-hair", "Amy Lee gave 4111 1111 1111 1111 and asked for a colour."
    )
    notes = "Amy: call me on 07700 900456 or mail amy@gmail.com; card 4111 1111 1111 1111."
    lead_id = add_lead(conn, "luxe-hair", name="Amy Lee", notes=notes, call_id=call_id)
    plain_id = add_lead(conn, "clifton-dental", notes=notes)

    redacted = render_one(conn, LeadScoring(), "luxe-hair", lead_id)
    plain = render_one(conn, LeadScoring(), "clifton-dental", plain_id)

    record = parse_user_block(redacted.prompt.user)
    # One placeholder per value across the whole record: the lead's name is [NAME_1] everywhere.
    assert record["lead"]["first_name"] == "[NAME_1]"
    assert record["untrusted_notes"] == (
        "[NAME_1]: call me on [PHONE_1] or mail [EMAIL_1]; card [CARD_1]."
    )
    assert record["call"]["summary"] == "[NAME_1] gave [CARD_1] and asked for a colour."
    counts = {k: n for k, n in redacted.notes["redactions"].items() if n}
    assert counts == {"name": 3, "email": 1, "phone": 1, "card": 2}
    assert redacted.notes["pii"] == {
        "[NAME_1]": "Amy Lee",
        "[PHONE_1]": "07700 900456",
        "[EMAIL_1]": "amy@gmail.com",
        "[CARD_1]": "4111 1111 1111 1111",
    }
    assert parse_user_block(plain.prompt.user)["untrusted_notes"] == notes
    assert plain.notes == {}


def test_stored_score_and_draft_show_the_real_values(conn: Connection) -> None:
    """Re-identification on store: the lead is greeted by name in the draft, and the reasons name
    them, although the model only ever saw [NAME_1]."""
    lead_id = add_lead(
        conn, "luxe-hair", name="Amy Lee", email="amy@gmail.com", notes="Amy wants a colour."
    )
    (rendered,) = LeadScoring().render(
        conn, [WorkItem(lead_id, "luxe-hair", DAY)], tenant_contexts(conn)
    )
    assert rendered.notes["pii"] == {"[NAME_1]": "Amy Lee"}
    request = dataclasses.replace(manifest_row(conn, "luxe-hair", lead_id), notes=rendered.notes)
    answer = good_answer(
        reasons=["[NAME_1] asked for a colour appointment."],
        draft=_draft(body_text="Thanks for getting in touch, [NAME_1] would love to see you."),
    )
    LeadScoring().store(conn, request, ModelAnswer(model="m", json=answer), "m")
    score = conn.execute(select(lead_scores).where(lead_scores.c.lead_id == lead_id)).one()
    draft = conn.execute(select(outreach_drafts).where(outreach_drafts.c.lead_id == lead_id)).one()
    assert score.reasons == ["Amy Lee asked for a colour appointment."]
    assert "Amy Lee would love to see you" in draft.text
    assert "[NAME_1]" not in draft.text and "[NAME_1]" not in (draft.html or "")


def test_adversarial_notes_stay_inside_the_delimited_user_block(conn: Connection) -> None:
    lead_ids = {case["id"]: add_lead(conn, "clifton-dental", notes=_notes_of(case, "clifton-dental")) for case in CORPUS}  # fmt: skip
    items = [WorkItem(lead_id, "clifton-dental", DAY) for lead_id in lead_ids.values()]
    outcomes = dict(
        zip(lead_ids, LeadScoring().render(conn, items, tenant_contexts(conn)), strict=True)
    )

    for case in CORPUS:
        label = case["id"]
        outcome = outcomes[label]
        prompt = outcome.prompt
        user = prompt.user
        # Exactly one block, and everything outside it is the fixed preamble.
        assert user.count(ls.LEAD_RECORD_OPEN) == 1, label
        assert user.count(ls.LEAD_RECORD_CLOSE) == 1, label
        before, rest = user.split(ls.LEAD_RECORD_OPEN)
        inside, after = rest.split(ls.LEAD_RECORD_CLOSE)
        assert before == ls.USER_PREAMBLE + "\n" and after == "\n", label
        assert "<" not in inside and ">" not in inside, label  # nothing can open or close a tag
        record = json.loads(inside)
        assert set(record) == {"lead", "call", "untrusted_notes"}, label
        assert record["lead"]["has_email"] is True, label  # forged fields stayed in the string
        expected = clean_text(_notes_of(case, "clifton-dental"))
        if case.get("truncated"):
            assert outcome.notes == {"truncated": True}, label
            assert record["untrusted_notes"].startswith(expected[:1000]), label
            assert len(record["untrusted_notes"]) < 4 * ls.NOTES_BUDGET_TOKENS, label
        else:
            assert outcome.notes == {}, label
            assert record["untrusted_notes"] == expected, label
        assert prompt.static_blocks == outcomes[CORPUS[0]["id"]].prompt.static_blocks, label


_token = st.text(alphabet="bcdfghjkmnpqrstvwxz", min_size=6, max_size=10)
_free_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=60
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    specs=st.lists(
        st.tuples(
            st.sampled_from(sorted(TENANTS)),
            _free_text,
            st.booleans(),
            st.booleans(),
            st.booleans(),
        ),
        min_size=2,
        max_size=9,
    ),
    salt=_token,
)
def test_every_prompt_carries_only_its_own_tenants_data(
    engine: Engine, specs: list[tuple[str, str, bool, bool, bool]], salt: str
) -> None:
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            _check_isolation(connection, specs, salt)
        finally:
            transaction.rollback()


def _check_isolation(
    conn: Connection, specs: list[tuple[str, str, bool, bool, bool]], salt: str
) -> None:
    if not conn.execute(select(func.count()).select_from(tenants)).scalar():
        for tenant_id in TENANTS:
            add_tenant(conn, tenant_id)
    leads_by_id: dict[str, dict[str, Any]] = {}
    for n, (tenant_id, text, has_email, has_phone, with_call) in enumerate(specs):
        # Every value carries a marker unique to this lead, so finding it elsewhere is a leak.
        marker = f"Q{salt}{n}X"
        data = {
            "tenant_id": tenant_id,
            "name": f"Zed{marker} Surname{marker}",
            "email": f"mail{marker.lower()}@gmail.com" if has_email else None,
            "phone": f"07700 9{n:05d}" if has_phone else None,
            "notes": f"{text} note{marker}",
            "summary": f"summary{marker}",
        }
        call_id = add_call_with_analytics(conn, tenant_id, data["summary"]) if with_call else None
        lead_id = add_lead(conn, tenant_id, f"lead-{marker}", name=data["name"],
                           email=data["email"], phone=data["phone"], notes=data["notes"],
                           call_id=call_id)  # fmt: skip
        data["call"] = with_call
        leads_by_id[lead_id] = data
    items = [WorkItem(lead_id, d["tenant_id"], DAY) for lead_id, d in leads_by_id.items()]
    outcomes = list(LeadScoring().render(conn, items, tenant_contexts(conn)))

    assert [o.item.item_id for o in outcomes] == list(leads_by_id)
    for outcome in outcomes:
        assert isinstance(outcome, Rendered)
        own = leads_by_id[outcome.item.item_id]
        whole = "\n".join([*outcome.prompt.static_blocks, outcome.prompt.user])
        record = parse_user_block(outcome.prompt.user)
        redacts = TENANTS[own["tenant_id"]].get("policy", {}).get("redact_pii")
        assert record["lead"]["first_name"] == ("[NAME_1]" if redacts else own["name"].split()[0])
        assert record["lead"]["has_email"] is bool(own["email"])
        assert record["lead"]["has_phone"] is bool(own["phone"])
        if own["call"]:
            assert record["call"]["summary"] == own["summary"]
        assert f"note{own['name'][3:].split()[0]}" in record["untrusted_notes"]
        for other_id, other in leads_by_id.items():
            if other["tenant_id"] == own["tenant_id"]:
                continue
            marker = other_id.removeprefix("lead-")
            assert marker not in whole and marker.lower() not in whole
            assert other["phone"] is None or other["phone"] not in whole
        for tenant_id, spec in TENANTS.items():
            if tenant_id != own["tenant_id"]:
                assert spec["name"] not in whole and spec["domain"] not in whole
                assert spec["phone"] not in whole
                assert all(fact not in whole for fact in spec["facts"])


# --- store: validation ---------------------------------------------------------------------------


def _draft(**overrides: str) -> dict[str, str]:
    return {**good_answer()["draft"], **overrides}


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ([1, 2], "answer must be an object, got list"),
        ({k: v for k, v in good_answer().items() if k != "score"}, "answer is missing score"),
        (good_answer(extra=1), "answer has unexpected fields: extra"),
        (good_answer(score=101), "score must be between 0 and 100, got 101"),
        (good_answer(score=-1), "score must be between 0 and 100, got -1"),
        (good_answer(score=72.5), "score must be an integer, got 72.5"),
        (good_answer(score=True), "score must be an integer, got True"),
        (good_answer(score="80"), "score must be an integer, got '80'"),
        (good_answer(reasons=[]), "reasons must hold 1 to 5 items, got 0"),
        (good_answer(reasons=["a"] * 6), "reasons must hold 1 to 5 items, got 6"),
        (good_answer(reasons="good lead"), "reasons must be an array, got str"),
        (good_answer(reasons=["ok", 3]), "reasons[1] must be a string, got int"),
        (good_answer(reasons=["ok", "  "]), "reasons[1] is empty"),
        (good_answer(reasons=["x" * 301]), "reasons[0] is 301 characters; the limit is 300"),
        (good_answer(best_channel="fax"), "best_channel must be one of email, phone, sms, got 'fax'"),
        (good_answer(best_time=""), "best_time is empty"),
        (good_answer(draft="hello"), "draft must be an object, got str"),
        (good_answer(draft={"subject": "s", "body_text": "b"}), "draft is missing call_to_action"),
        (good_answer(draft={**_draft(), "html": "<b>"}), "draft has unexpected fields: html"),
        (good_answer(draft=_draft(subject="s" * 121)), "draft.subject is 121 characters; the limit is 120"),
        (good_answer(draft=_draft(body_text="b" * 1201)), "draft.body_text is 1201 characters; the limit is 1200"),
        (good_answer(draft=_draft(call_to_action="c" * 201)), "draft.call_to_action is 201 characters; the limit is 200"),
        (good_answer(draft=_draft(body_text=None)), "draft.body_text must be a string, got NoneType"),
    ],
)  # fmt: skip
def test_invalid_answers_are_rejected_with_a_precise_message(answer: Any, message: str) -> None:
    with pytest.raises(InvalidAnswer) as raised:
        ls.validate_answer(answer)
    assert str(raised.value) == message


def test_store_rejects_an_invalid_answer_and_writes_nothing(conn: Connection) -> None:
    cases = [
        (None, "the answer holds no JSON object (finish_reason='max_tokens')"),
        (good_answer(score=101), "score must be between 0 and 100, got 101"),
    ]
    for answer, message in cases:
        lead_id = add_lead(conn, "clifton-dental")
        request = manifest_row(conn, "clifton-dental", lead_id)
        model_answer = ModelAnswer("claude-haiku-4-5", json=answer, finish_reason="max_tokens")

        with pytest.raises(InvalidAnswer) as raised:
            LeadScoring().store(conn, request, model_answer, "claude-haiku-4-5")

        assert str(raised.value) == message
    assert conn.execute(select(func.count()).select_from(lead_scores)).scalar() == 0
    assert conn.execute(select(func.count()).select_from(outreach_drafts)).scalar() == 0


def test_a_channel_that_cannot_reach_the_lead_is_rejected(conn: Connection) -> None:
    cases = [
        (None, "07700 900123", "email"),
        ("a@gmail.com", None, "phone"),
        ("a@gmail.com", None, "sms"),
    ]
    for email, phone, channel in cases:
        lead_id = add_lead(conn, "clifton-dental", email=email, phone=phone)
        request = manifest_row(conn, "clifton-dental", lead_id)
        answer = ModelAnswer("m", json=good_answer(best_channel=channel))
        with pytest.raises(InvalidAnswer) as raised:
            LeadScoring().store(conn, request, answer, "m")
        assert str(raised.value) == (
            f"best_channel '{channel}' cannot reach this lead "
            f"(has e-mail: {email is not None}, has phone: {phone is not None})"
        )


def test_a_result_for_another_tenants_lead_is_rejected(conn: Connection) -> None:
    lead_id = add_lead(conn, "clifton-dental")
    request = manifest_row(conn, "brightside-homes", lead_id)
    with pytest.raises(InvalidAnswer, match="does not exist for tenant 'brightside-homes'"):
        LeadScoring().store(conn, request, ModelAnswer("m", json=good_answer()), "m")


# --- store: results ------------------------------------------------------------------------------


def _rows(conn: Connection, lead_id: str) -> tuple[Any, Any]:
    score = conn.execute(select(lead_scores).where(lead_scores.c.lead_id == lead_id)).one()
    draft = conn.execute(select(outreach_drafts).where(outreach_drafts.c.lead_id == lead_id)).one()
    return score, draft


def test_store_writes_the_score_and_a_branded_draft(conn: Connection) -> None:
    lead_id = add_lead(conn, "clifton-dental")
    request = manifest_row(conn, "clifton-dental", lead_id)

    LeadScoring().store(conn, request, ModelAnswer("claude-haiku-4-5-20251001", json=good_answer()), "claude-haiku-4-5")  # fmt: skip

    score, draft = _rows(conn, lead_id)
    assert (score.tenant_id, score.score, score.best_channel, score.best_time) == (
        "clifton-dental", 78, "email", "weekday mornings"
    )  # fmt: skip
    assert score.reasons == ["Asked for a check-up next week.", "Left an e-mail address."]
    assert (score.model, score.custom_id, score.batch_job_id) == (
        "claude-haiku-4-5-20251001", request.custom_id, None
    )  # fmt: skip
    assert draft.skipped_reason is None
    assert (draft.subject, draft.call_to_action) == ("Your check-up", "Book your check-up")
    assert_safe_draft(draft.subject, draft.text, draft.html, brand=brand_of("clifton-dental"))
    assert "We have slots next week." in draft.text and "We have slots next week." in draft.html
    assert draft.custom_id == request.custom_id


def test_storing_the_same_answer_twice_changes_nothing(conn: Connection) -> None:
    lead_id = add_lead(conn, "clifton-dental")
    request = manifest_row(conn, "clifton-dental", lead_id)
    workflow = LeadScoring()
    answer = ModelAnswer("m", json=good_answer())

    workflow.store(conn, request, answer, "m")
    first = [tuple(r) for r in _rows(conn, lead_id)]
    workflow.store(conn, request, answer, "m")
    second = [tuple(r) for r in _rows(conn, lead_id)]

    assert first == second
    assert conn.execute(select(func.count()).select_from(lead_scores)).scalar() == 1
    assert conn.execute(select(func.count()).select_from(outreach_drafts)).scalar() == 1
    # A retry's answer (a new manifest row) replaces the result instead of adding one.
    retry = manifest_row(conn, "clifton-dental", lead_id)
    workflow.store(conn, retry, ModelAnswer("m", json=good_answer(score=40)), "m")
    score, draft = _rows(conn, lead_id)
    assert (score.score, score.custom_id, draft.custom_id) == (40, retry.custom_id, retry.custom_id)


def test_a_lead_without_email_or_phone_is_scored_but_gets_no_draft(conn: Connection) -> None:
    lead_id = add_lead(conn, "clifton-dental", email=None, phone="  ")
    request = manifest_row(conn, "clifton-dental", lead_id)

    LeadScoring().store(conn, request, ModelAnswer("m", json=good_answer(best_channel="sms")), "m")

    score, draft = _rows(conn, lead_id)
    assert score.score == 78
    assert draft.skipped_reason == NO_CONTACT_REASON
    assert (draft.subject, draft.text, draft.html, draft.call_to_action) == (None,) * 4


def test_a_phone_only_lead_gets_a_call_script_instead_of_an_email(conn: Connection) -> None:
    lead_id = add_lead(conn, "clifton-dental", email=None)
    request = manifest_row(conn, "clifton-dental", lead_id)
    answer = good_answer(best_channel="phone", draft=_draft(body_text="Hi, it's Clifton Dental Care calling about your check-up. Call us on 0117 496 0123."))  # fmt: skip

    LeadScoring().store(conn, request, ModelAnswer("m", json=answer), "m")

    _, draft = _rows(conn, lead_id)
    assert draft.skipped_reason == PHONE_ONLY_REASON
    assert draft.subject is None and draft.html is None
    assert draft.text.startswith("Call script for Olivia (Clifton Dental Care)")
    assert "0117 496 0123" in draft.text  # the tenant's own number stays
    assert draft.call_to_action == "Book your check-up"


def test_a_tenant_without_an_unsubscribe_link_gets_no_email_draft(conn: Connection) -> None:
    add_tenant(conn, "plain-co", name="Plain Co", brand={"name": "Plain Co"})
    lead_id = add_lead(conn, "plain-co")
    LeadScoring().store(conn, manifest_row(conn, "plain-co", lead_id), ModelAnswer("m", json=good_answer()), "m")  # fmt: skip
    score, draft = _rows(conn, lead_id)
    assert score.score == 78
    assert (
        draft.skipped_reason == "draft withheld: the tenant's brand has no usable unsubscribe link"
    )


# --- store: adversarial answers across tenants -------------------------------------------------


def _other(tenant_id: str) -> str:
    ids = sorted(TENANTS)
    return ids[(ids.index(tenant_id) + 1) % len(ids)]


def _fill(text: str, tenant_id: str, other_leads: Mapping[str, Mapping[str, str]]) -> str:
    other = _other(tenant_id)
    return (
        text.replace("$OTHER_NAME", TENANTS[other]["name"])
        .replace("$OTHER_DOMAIN", TENANTS[other]["domain"])
        .replace("$OTHER_EMAIL", other_leads[other]["email"])
        .replace("$OTHER_PHONE", other_leads[other]["phone"])
        .replace("$OWN_DOMAIN", TENANTS[tenant_id]["domain"])
        .replace("$INSTRUCTIONS", INSTRUCTIONS[:1000])  # what fits in a body
    )


def _notes_of(case: Mapping[str, Any], tenant_id: str) -> str:
    if "notes_repeat" in case:
        return case["notes_repeat"]["text"] * case["notes_repeat"]["times"]
    return _fill(case["notes"], tenant_id, _PLACEHOLDER_LEADS)


_PLACEHOLDER_LEADS = {
    t: {"email": f"someone@{spec['domain']}", "phone": "0161 496 0999"}
    for t, spec in TENANTS.items()
}


def test_adversarial_answers_never_put_script_foreign_data_or_instructions_in_a_draft(
    conn: Connection,
) -> None:
    """Every corpus case, for every tenant: store the answer a hijacked model would give, then check
    every draft against every other tenant's names, domains and leads' data."""
    # Each tenant's "real" lead data, which the other tenants' adversarial answers try to leak.
    secrets = {
        t: {
            "email": f"vip.{t.split('-')[0]}@gmail.com",
            "phone": f"0161 496 0{100 + n}",
            "notes": f"Confidential note for {t}: budget 12k.",
        }
        for n, t in enumerate(sorted(TENANTS))
    }
    for t, data in secrets.items():
        add_lead(
            conn, t, f"secret-{t}", email=data["email"], phone=data["phone"], notes=data["notes"]
        )

    workflow = LeadScoring()
    stored: list[tuple[str, Mapping[str, Any], Any]] = []
    for tenant_id in TENANTS:
        for case in CORPUS:
            lead_id = add_lead(conn, tenant_id, notes=_notes_of(case, tenant_id))
            draft = {k: _fill(v, tenant_id, secrets) for k, v in case["draft"].items()}
            answer = good_answer(draft=draft)
            workflow.store(conn, manifest_row(conn, tenant_id, lead_id), ModelAnswer("m", json=answer), "m")  # fmt: skip
            _, row = _rows(conn, lead_id)
            stored.append((tenant_id, case, row))

    for tenant_id, case, row in stored:
        label = f"{tenant_id}/{case['id']}"
        if case["expect"] == "withheld":
            assert row.skipped_reason and row.skipped_reason.startswith("draft withheld"), label
            assert (row.subject, row.text, row.html) == (None, None, None), label
            continue
        assert row.skipped_reason is None, f"{label}: {row.skipped_reason}"
        forbidden = [_fill(s, tenant_id, secrets) for s in case.get("removed", [])]
        for other_id, spec in TENANTS.items():
            if other_id != tenant_id:
                forbidden += [spec["name"], spec["domain"], spec["phone"], *spec["facts"]]
                forbidden += list(secrets[other_id].values())
        assert_safe_draft(row.subject, row.text, row.html, brand=brand_of(tenant_id), forbidden=forbidden)  # fmt: skip
        for part in (row.subject, row.text, row.html, row.call_to_action):
            assert not quotes_any(part, [INSTRUCTIONS], INSTRUCTION_RUN_WORDS), label
        for kept in case.get("kept", []):
            assert _fill(kept, tenant_id, secrets) in row.text, f"{label}: lost {kept!r}"
        assert TENANTS[tenant_id]["name"] in row.html
