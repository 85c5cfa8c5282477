"""Daily lead scoring through Dagster as the daemon runs it: the schedule's one run per day pools
every tenant's leads into one Anthropic batch (isolated tenants apart), the poll sensor launches
the ingest, and every lead ends up scored with a safe, tenant-branded draft or the reason it has
none. A UI-style backfill over a date range pools per date."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
import orjson
import yaml
from dagster._core.definitions.automation_tick_evaluation_context import (
    build_run_requests_with_backfill_policies,
)
from dagster._core.definitions.events import AssetKeyPartitionKey
from dagster._core.definitions.partitions.context import partition_loading_context
from sqlalchemy import Engine, func, insert, select, text, update

from batch_pipelines.db.seed import seed_demo
from batch_pipelines.db.tables import (
    batch_jobs,
    batch_requests,
    cost_ledger,
    lead_scores,
    leads,
    llm_usage,
    outreach_drafts,
    tenants,
)
from batch_pipelines.workflows.lead_scoring import (
    INSTRUCTIONS,
    NO_CONTACT_REASON,
    PHONE_ONLY_REASON,
    USER_PREAMBLE,
    parse_user_block,
)
from batch_pipelines_tests.workflows.test_outreach import TEMPLATE_TAGS, parse_html

DAY = dt.date(2026, 11, 20)
TICK = dt.datetime(2026, 11, 21, 2, tzinfo=dt.UTC)  # the schedule's 02:00 UTC tick on DAY + 1
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
CORPUS = yaml.safe_load(
    (Path(__file__).parents[2] / "data" / "adversarial_lead_notes.yaml").read_text()
)["cases"]


# --- driving the daemon ------------------------------------------------------------------------------


def _settle(daemon, rounds: int = 8) -> None:
    """Tick the submit and poll sensors until they launch nothing (every queued line submitted,
    every batch ingested, retries included)."""
    daemon.settle(rounds=rounds)


def _schedule_day(daemon, engine: Engine) -> dg.ExecuteInProcessResult:
    daemon.tick_sensor("tenant_registry_sensor")
    runs = daemon.tick_schedule("lead_scoring_schedule", TICK)
    assert len(runs) == 1, f"the schedule launched {len(runs)} runs for {DAY}"
    assert runs[0].success and runs[0].dagster_run.job_name == "lead_scoring_job"
    # The run queued the day's leads; the submit sensor (a window of 0) sends them.
    assert all(r.success for r in daemon.tick_sensor("batch_submit_sensor"))
    return runs[0]


# --- reading what the pipeline produced ---------------------------------------------------------------


def _tenants(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {r.tenant_id: r for r in conn.execute(select(tenants))}


def _isolated(engine: Engine) -> set[str]:
    return {t for t, row in _tenants(engine).items() if row.policy.get("isolated")}


def _jobs(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(batch_jobs).order_by(batch_jobs.c.created_at)))


def _tenant_of_custom_id(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(select(batch_requests.c.custom_id, batch_requests.c.tenant_id))
        return dict(rows.tuples().all())


def _drafts(engine: Engine) -> dict[str, Any]:
    """lead_id → (lead columns, its draft row or None)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                leads.c.lead_id,
                leads.c.tenant_id,
                leads.c.email,
                leads.c.phone,
                outreach_drafts.c.tenant_id.label("draft_tenant_id"),
                outreach_drafts.c.subject,
                outreach_drafts.c.text,
                outreach_drafts.c.html,
                outreach_drafts.c.call_to_action,
                outreach_drafts.c.skipped_reason,
            ).outerjoin(outreach_drafts, outreach_drafts.c.lead_id == leads.c.lead_id)
        )
        return {r.lead_id: r for r in rows}


def _brand(tenant: Any) -> dict[str, Any]:
    brand = dict(tenant.brand)
    brand.setdefault("name", brand.get("brand_name") or tenant.name)
    return brand


def _domain(tenant: Any) -> str:
    return urlsplit(tenant.brand["website"]).hostname


# --- the checks every draft must pass ------------------------------------------------------------------


def _normalised(value: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


def _phone_digits(value: str) -> set[str]:
    """The last nine digits of every phone-like run (so +44 117 … and 0117 … compare equal)."""
    runs = re.findall(r"\+?\(?\d[\d \t().-]{6,}\d", value)
    return {d[-9:] for d in ("".join(c for c in r if c.isdigit()) for r in runs) if len(d) >= 9}


def _tenant_data(engine: Engine) -> dict[str, dict[str, set[str]]]:
    """What belongs to each tenant and must never reach another tenant's draft: its names, its
    website domain, its leads' e-mail addresses and phone numbers."""
    data: dict[str, dict[str, set[str]]] = {}
    for tenant_id, tenant in _tenants(engine).items():
        names = {tenant.name, tenant.brand.get("brand_name") or tenant.name}
        data[tenant_id] = {
            "names": {_normalised(n) for n in names},
            "domains": {_domain(tenant)},
            "emails": set(),
            "phones": set(),
        }
    with engine.connect() as conn:
        for lead in conn.execute(select(leads.c.tenant_id, leads.c.email, leads.c.phone)):
            if lead.email:
                data[lead.tenant_id]["emails"].add(lead.email.lower())
            if lead.phone:
                data[lead.tenant_id]["phones"] |= _phone_digits(lead.phone)
    return data


def _draft_parts(draft: Any) -> list[str]:
    parts = (draft.subject, draft.text, draft.html, draft.call_to_action, draft.skipped_reason)
    return [p for p in parts if p]


def _assert_no_other_tenants_data(draft: Any, data: Mapping[str, Mapping[str, set[str]]]) -> None:
    own = data[draft.tenant_id]
    for other_id, other in data.items():
        if other_id == draft.tenant_id:
            continue
        for part in _draft_parts(draft):
            normalised, lowered = _normalised(part), part.lower()
            for name in other["names"] - own["names"]:
                assert not re.search(rf"(?<!\w){re.escape(name)}(?!\w)", normalised), (
                    f"{draft.lead_id} ({draft.tenant_id}) names {other_id}: {name!r}"
                )
            for domain in other["domains"] - own["domains"]:
                assert not re.search(rf"(?<![\w.-]){re.escape(domain)}", lowered), (
                    f"{draft.lead_id} ({draft.tenant_id}) links to {other_id}'s {domain}"
                )
            for email in other["emails"] - own["emails"]:
                assert email not in lowered, f"{draft.lead_id} carries {other_id}'s lead {email}"
            leaked = _phone_digits(part) & (other["phones"] - own["phones"])
            assert not leaked, f"{draft.lead_id} carries {other_id}'s lead phone {leaked}"


def _instruction_fragments() -> list[str]:
    """Sentences of the system prompt and the user preamble long enough to be a leak, not a
    coincidence."""
    sentences = re.split(r"(?<=[.:;])\s+|\n+", INSTRUCTIONS + "\n" + USER_PREAMBLE)
    return [_normalised(s) for s in sentences if len(s.split()) >= 6]


def _assert_no_instructions(draft: Any) -> None:
    for part in _draft_parts(draft):
        normalised = _normalised(part)
        for fragment in _instruction_fragments():
            assert fragment not in normalised, f"{draft.lead_id} quotes the prompt: {fragment!r}"


def _assert_email_draft(draft: Any, tenant: Any, forbidden: Iterable[str] = ()) -> None:
    """Valid, balanced HTML of the template's tags only, links only to the tenant's allowed hosts,
    brand and unsubscribe link in both parts, no script or event handler; a plain-text part and a
    one-line subject; none of `forbidden` (case-insensitive) anywhere."""
    label = draft.lead_id
    assert draft.skipped_reason is None, f"{label}: {draft.skipped_reason}"
    assert draft.subject and draft.text and draft.html, label
    assert "\n" not in draft.subject and "\r" not in draft.subject, label
    assert draft.html.lstrip().lower().startswith("<!doctype html>"), label
    parsed = parse_html(draft.html)
    assert not parsed.problems and parsed.stack == [], (label, parsed.problems, parsed.stack)
    assert {tag for tag, _ in parsed.tags} <= TEMPLATE_TAGS, label
    assert [tag for tag, _ in parsed.tags].count("body") == 1, label
    allowed = {_domain(tenant), *tenant.brand.get("allowed_link_domains", [])}

    def allowed_url(url: str) -> bool:
        host = urlsplit(url).hostname or ""
        return urlsplit(url).scheme in ("https", "http") and any(
            host == a or host.endswith("." + a) for a in allowed
        )

    hrefs = []
    for _tag, attrs in parsed.tags:
        assert not [a for a in attrs if a.startswith("on") or a == "src"], (label, attrs)
        if "href" in attrs:
            hrefs.append(attrs["href"] or "")
            assert allowed_url(hrefs[-1]), (label, hrefs[-1])
    for url in re.findall(r"https?://[^\s<>\"')]+", draft.text):
        assert allowed_url(url), (label, url)
    brand = _brand(tenant)
    assert brand["unsubscribe_url"] in hrefs and brand["unsubscribe_url"] in draft.text, label
    visible = "".join(parsed.text)
    assert brand["name"] in visible and brand["name"] in draft.text, label
    for part in (draft.subject, draft.text, draft.html):
        lowered = unicodedata.normalize("NFKC", part).lower()
        assert "<script" not in lowered and "javascript:" not in lowered, label
        for value in forbidden:
            assert value.lower() not in lowered, f"{label}: {value!r} leaked into the draft"


# --- the daily run -------------------------------------------------------------------------------------


def test_schedule_tick_scores_the_days_leads_of_every_tenant_in_one_pooled_batch(
    daemon, engine, emulator
) -> None:
    seed_demo(
        engine, tenants=8, date=DAY, calls_per_tenant=3, leads_per_tenant=4, docs_per_tenant=0
    )
    isolated = _isolated(engine)
    assert len(isolated) == 2  # two of the demo's first eight tenants are isolated

    run = _schedule_day(daemon, engine)

    # One run covering every tenant of the day, by a partition range in Dagster's order.
    keys = daemon.instance.get_dynamic_partitions("tenants")
    assert set(keys) == set(_tenants(engine))
    assert run.dagster_run.tags[RANGE_START] == f"{DAY.isoformat()}|{keys[0]}"
    assert run.dagster_run.tags[RANGE_END] == f"{DAY.isoformat()}|{keys[-1]}"
    assert run.dagster_run.tags["dagster/run_key"] == f"lead_scoring:{DAY.isoformat()}"

    # One pooled batch for the shared tenants, one of its own per isolated tenant.
    jobs = _jobs(engine)
    assert Counter(j.credentials_ref for j in jobs) == {
        "default": 1,
        **{f"tenant:{t}": 1 for t in isolated},
    }
    assert {(j.workflow, j.provider, j.status) for j in jobs} == {
        ("lead_scoring", "anthropic", "submitted")
    }
    # What actually left for the provider, batch by batch: only the batch's own tenants.
    owner = _tenant_of_custom_id(engine)
    received = defaultdict(list)
    for request in emulator.received_requests("anthropic"):
        received[request.batch_id].append(owner[request.custom_id])
    by_provider_id = {j.provider_batch_id: j for j in jobs}
    assert set(received) == set(by_provider_id)
    with engine.connect() as conn:
        leads_by_tenant = Counter(
            dict(
                conn.execute(select(leads.c.tenant_id, func.count()).group_by(leads.c.tenant_id))
                .tuples()
                .all()
            )
        )
    for batch_id, request_tenants in received.items():
        job = by_provider_id[batch_id]
        assert len(request_tenants) == job.request_count
        if job.credentials_ref == "default":
            assert Counter(request_tenants) == {
                t: n for t, n in leads_by_tenant.items() if t not in isolated
            }
        else:
            tenant_id = job.credentials_ref.removeprefix("tenant:")
            assert Counter(request_tenants) == {tenant_id: leads_by_tenant[tenant_id]}

    # The same tick again (a daemon restart, a second scheduler) launches nothing: run key.
    assert daemon.tick_schedule("lead_scoring_schedule", TICK) == []
    assert len(_jobs(engine)) == len(jobs)

    _settle(daemon)

    with engine.connect() as conn:
        scored = dict(
            conn.execute(select(lead_scores.c.lead_id, lead_scores.c.tenant_id)).tuples().all()
        )
        statuses = Counter(conn.execute(select(batch_requests.c.status)).scalars())
    assert statuses == {"succeeded": sum(leads_by_tenant.values())}, statuses
    drafts = _drafts(engine)
    assert scored == {lead_id: d.tenant_id for lead_id, d in drafts.items()}, "every lead scored"

    all_tenants = _tenants(engine)
    data = _tenant_data(engine)
    kinds = Counter()
    for draft in drafts.values():
        assert draft.draft_tenant_id == draft.tenant_id, f"{draft.lead_id} has no draft row"
        if draft.email:
            _assert_email_draft(draft, all_tenants[draft.tenant_id])
            kinds["email"] += 1
        elif draft.phone:
            assert draft.skipped_reason == PHONE_ONLY_REASON and draft.html is None
            assert draft.text and all_tenants[draft.tenant_id].name in draft.text  # call script
            kinds["phone only"] += 1
        else:
            assert draft.skipped_reason == NO_CONTACT_REASON
            assert (draft.subject, draft.text, draft.html) == (None, None, None)
            kinds["no contact"] += 1
        _assert_no_other_tenants_data(draft, data)
        _assert_no_instructions(draft)
    assert kinds["email"] and kinds["phone only"] and kinds["no contact"], kinds  # all three seen


# --- untrusted notes, and a model that obeys them ---------------------------------------------------------


def _fill(value: str, placeholders: Mapping[str, str]) -> str:
    for key in sorted(placeholders, key=len, reverse=True):  # $OTHER_NAME before $OTHER_...
        value = value.replace(key, placeholders[key])
    return value


def _obey(emulator, engine: Engine, answers: Mapping[str, Mapping[str, str]]) -> int:
    """Let the provider's model obey the notes: in each ended batch's results, replace the draft of
    the adversarial leads (by item id) with what the notes asked for. Everything else the pipeline
    receives (custom ids, usage, scores) stays as the provider produced it."""
    with engine.connect() as conn:
        item_of = dict(
            conn.execute(select(batch_requests.c.custom_id, batch_requests.c.item_id))
            .tuples()
            .all()
        )
    replaced = 0
    for job in _jobs(engine):
        path = emulator.state.anthropic.results_path(job.provider_batch_id)  # ends the batch
        lines = []
        for raw in path.read_bytes().splitlines():
            line = orjson.loads(raw)
            draft = answers.get(item_of[line["custom_id"]])
            if draft is not None and line["result"]["type"] == "succeeded":
                (block,) = line["result"]["message"]["content"]
                block["input"]["draft"] = dict(draft)
                replaced += 1
            lines.append(orjson.dumps(line))
        path.write_bytes(b"\n".join(lines) + b"\n")
    return replaced


def test_adversarial_lead_notes_never_yield_script_foreign_links_or_the_prompt_in_a_draft(
    daemon, engine, emulator
) -> None:
    seed_demo(
        engine, tenants=3, date=DAY, calls_per_tenant=0, leads_per_tenant=2, docs_per_tenant=0
    )
    all_tenants = _tenants(engine)
    shared = sorted(t for t in all_tenants if not all_tenants[t].policy.get("isolated"))
    target, other = shared[0], shared[1]
    # The other tenant mails under a brand name of its own: that name is protected too.
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE tenants SET brand = brand || CAST(:b AS jsonb) WHERE tenant_id = :t"),
            {"b": '{"brand_name": "Northwind Smiles"}', "t": other},
        )
        other_lead = conn.execute(
            select(leads.c.email, leads.c.phone).where(
                leads.c.tenant_id == other, leads.c.email.is_not(None)
            )
        ).first()
    assert other_lead is not None, f"the demo gave {other} no lead with an e-mail address"
    other_lead_email = other_lead.email
    other_lead_phone = other_lead.phone or "0161 496 0999"
    if other_lead.phone is None:  # make sure the phone placeholder is the other tenant's data
        with engine.begin() as conn:
            conn.execute(
                update(leads)
                .where(leads.c.email == other_lead_email)
                .values(phone=other_lead_phone)
            )
    placeholders = {
        "$OTHER_NAME": "Northwind Smiles",
        "$OTHER_DOMAIN": _domain(all_tenants[other]),
        "$OTHER_EMAIL": other_lead_email,
        "$OTHER_PHONE": other_lead_phone,
        "$OWN_DOMAIN": _domain(all_tenants[target]),
        "$INSTRUCTIONS": INSTRUCTIONS[:1000],
    }
    cases: dict[str, Mapping[str, Any]] = {}
    notes_of: dict[str, str] = {}
    with engine.begin() as conn:
        agent = conn.execute(
            text("SELECT agent_id FROM agents WHERE tenant_id = :t LIMIT 1"), {"t": target}
        ).scalar_one()
        for n, case in enumerate(CORPUS):
            lead_id = f"lead-{target}-adversarial-{n:02d}"
            repeat = case.get("notes_repeat")
            notes = (
                repeat["text"] * repeat["times"] if repeat else _fill(case["notes"], placeholders)
            )
            conn.execute(
                insert(leads).values(
                    lead_id=lead_id,
                    tenant_id=target,
                    agent_id=agent,
                    created_at=dt.datetime.combine(DAY, dt.time(15, n), tzinfo=dt.UTC),
                    name=f"Robin{n} Example",
                    email=f"robin{n}@mail.example.net",
                    phone=None,
                    notes=notes,
                )
            )
            cases[lead_id], notes_of[lead_id] = case, notes

    _schedule_day(daemon, engine)

    # The notes left only as data: inside the escaped lead record, never in the system blocks.
    owner = _tenant_of_custom_id(engine)
    with engine.connect() as conn:
        item_of = dict(
            conn.execute(select(batch_requests.c.custom_id, batch_requests.c.item_id))
            .tuples()
            .all()
        )
    sent = 0
    for request in emulator.received_requests("anthropic"):
        lead_id = item_of[request.custom_id]
        if lead_id not in cases:
            continue
        sent += 1
        assert owner[request.custom_id] == target
        system = "".join(block["text"] for block in request.body["system"])
        (message,) = request.body["messages"]
        user = message["content"]
        assert user.count("<") == 2 and user.count(">") == 2, lead_id  # only the record markers
        record = parse_user_block(user)
        assert set(record) == {"lead", "call", "untrusted_notes"}, lead_id
        assert record["lead"]["has_email"] is True and record["lead"]["has_phone"] is False
        assert request.body["tools"][0]["input_schema"]["properties"]["best_channel"]["enum"] == [
            "email"
        ]
        probe = notes_of[lead_id].strip()[:40]
        assert _normalised(probe) not in _normalised(system), lead_id
    assert sent == len(cases)

    answers = {
        lead_id: {k: _fill(v, placeholders) for k, v in case["draft"].items()}
        for lead_id, case in cases.items()
    }
    assert _obey(emulator, engine, answers) == len(cases)
    _settle(daemon)

    drafts = _drafts(engine)
    data = _tenant_data(engine)
    with engine.connect() as conn:
        scored = set(conn.execute(select(lead_scores.c.lead_id)).scalars())
        truncated = dict(
            conn.execute(
                select(batch_requests.c.item_id, batch_requests.c.notes["truncated"].as_boolean())
            )
            .tuples()
            .all()
        )
    assert set(drafts) == scored  # every lead scored, whatever its notes
    for lead_id, draft in drafts.items():
        _assert_no_other_tenants_data(draft, data)
        _assert_no_instructions(draft)
        case = cases.get(lead_id)
        if case is None:
            continue
        label = case["id"]
        if case["expect"] == "withheld":
            assert draft.skipped_reason and draft.skipped_reason.startswith("draft withheld"), label
            assert (draft.subject, draft.text, draft.html) == (None, None, None), label
            continue
        forbidden = [_fill(s, placeholders) for s in case.get("removed", [])]
        _assert_email_draft(draft, all_tenants[target], forbidden)
        for kept in case.get("kept", []):
            assert _fill(kept, placeholders) in draft.text, f"{label}: lost {kept!r}"
        if case.get("truncated"):
            assert truncated[lead_id] is True, label


# --- backfills -----------------------------------------------------------------------------------------


def _backfill_run_requests(daemon, dates: list[dt.date]) -> list[dg.RunRequest]:
    """The runs Dagster's asset backfill makes for `lead_score_requests` over these dates and every
    tenant (what a UI backfill launches): its own grouping of the partitions by backfill policy."""
    tenant_keys = daemon.instance.get_dynamic_partitions("tenants")
    partitions = [
        AssetKeyPartitionKey(dg.AssetKey("lead_score_requests"), f"{d.isoformat()}|{t}")
        for d in dates
        for t in tenant_keys
    ]
    with partition_loading_context(dynamic_partitions_store=daemon.instance):
        return list(
            build_run_requests_with_backfill_policies(
                partitions, daemon.defs.resolve_asset_graph(), daemon.instance
            )
        )


def test_a_backfill_over_more_dates_than_tenants_pools_every_tenant_and_date_into_one_batch(
    daemon, engine, emulator
) -> None:
    """Dagster cuts a dates x tenants backfill along the dimension with fewer keys: 5 dates of 4
    tenants become one run per tenant. The runs only queue; the submit sensor pools what they
    queued, so the shared tenants' leads of every date still go in one batch (with the runs
    submitting their own partitions, there was one batch per tenant)."""
    dates = [DAY + dt.timedelta(days=n) for n in range(5)]
    for day in dates:
        seed_demo(
            engine, tenants=4, date=day, calls_per_tenant=0, leads_per_tenant=2, docs_per_tenant=0
        )
    daemon.tick_sensor("tenant_registry_sensor")
    isolated = _isolated(engine)
    shared_tenants = set(_tenants(engine)) - isolated
    assert len(shared_tenants) >= 2

    requests = _backfill_run_requests(daemon, dates)
    # The premise: one run per tenant, each over all the dates.
    assert len(requests) == 4
    for request in requests:
        start, end = request.tags[RANGE_START], request.tags[RANGE_END]
        assert start.split("|")[1] == end.split("|")[1]
        assert (start[:10], end[:10]) == (dates[0].isoformat(), dates[-1].isoformat())
    runs = [daemon.launch("lead_scoring_job", r) for r in requests]
    assert all(r is not None and r.success for r in runs)
    assert _jobs(engine) == []  # queued, not sent
    assert daemon.tick_sensor("batch_submit_sensor")

    (shared,) = [j for j in _jobs(engine) if j.credentials_ref == "default"]
    with engine.connect() as conn:
        leads = conn.execute(
            text(
                "SELECT count(*) FROM leads l JOIN tenants t USING (tenant_id)"
                " WHERE NOT coalesce((t.policy->>'isolated')::boolean, false)"
            )
        ).scalar_one()
    assert {p["date"] for p in shared.partitions} == {d.isoformat() for d in dates}
    assert {p["tenant"] for p in shared.partitions} == shared_tenants
    assert shared.request_count == leads
    for job in _jobs(engine):
        if job.credentials_ref != "default":
            assert {p["tenant"] for p in job.partitions} == {
                job.credentials_ref.removeprefix("tenant:")
            }


# --- the ledger, priced in the ingest run ------------------------------------------------------------


def test_the_ingest_run_prices_every_usage_row_in_the_ledger(daemon, engine, emulator) -> None:
    seed_demo(
        engine, tenants=2, date=DAY, calls_per_tenant=0, leads_per_tenant=2, docs_per_tenant=0
    )
    _schedule_day(daemon, engine)
    _settle(daemon)

    ingest_runs = [r for r in daemon.runs if r.dagster_run.job_name == "lead_scoring_ingest_job"]
    with engine.connect() as conn:
        usage = conn.execute(select(func.count()).select_from(llm_usage)).scalar_one()
        priced = conn.execute(select(func.count()).select_from(cost_ledger)).scalar_one()
    assert usage == 4
    assert ingest_runs and all(r.success for r in ingest_runs)
    assert priced == usage
