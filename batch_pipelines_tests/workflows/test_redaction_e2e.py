"""Issue 21's "done when", end to end: the redacting healthcare tenants' day of the demo seed (and the
corpus's healthcare hard cases: spelled names, spoken numbers and dates, member ids, addresses) is
planned, sent to the emulator through the official SDK, answered, ingested and stored.

- Nothing the emulator received holds any labelled identifier of the call it was for (the corpus's
  spans for these very transcripts), nor the caller's name, e-mail or phone from the lead.
- The tenant's stored analyses name the caller: the answers quote the placeholders they were sent,
  as a model does (the emulator's own answers are random words, so each result line is rewritten on
  the emulator's disk with a summary that uses the request's placeholders, and the real SDK then
  streams it to ingest), and what is stored holds the real values and no placeholder.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from sqlalchemy import Engine, select

from batch_pipelines.batching.ingest import ingest_job
from batch_pipelines.batching.planning import plan
from batch_pipelines.batching.polling import ended_jobs_awaiting_ingest, poll
from batch_pipelines.batching.submission import submit_planned
from batch_pipelines.db.seed import seed_demo
from batch_pipelines.db.tables import agents, batch_requests, call_analytics, calls, leads, tenants
from batch_pipelines.providers.registry import ProviderRegistry
from batch_pipelines.workflows.post_call import PostCallAnalytics
from batch_pipelines.workflows.redaction import PLACEHOLDER
from batch_pipelines_tests.data.pii_corpus import generate

DAY = dt.date(2026, 11, 25)  # the corpus's first seed day: these transcripts are labelled there


def _seed(engine: Engine) -> list[str]:
    """The demo seed's day and, for the first healthcare tenant, the corpus's healthcare hard
    cases as calls of that day. Returns the healthcare tenants."""
    seed_demo(
        engine,
        tenants=generate.TENANTS,
        date=DAY,
        seed=generate.SEED,
        calls_per_tenant=generate.CALLS,
        leads_per_tenant=4,
        docs_per_tenant=0,
    )
    with engine.begin() as conn:
        healthcare = sorted(
            conn.execute(
                select(tenants.c.tenant_id).where(tenants.c.vertical == "healthcare")
            ).scalars()
        )
        agent_id = conn.execute(
            select(agents.c.agent_id).where(agents.c.tenant_id == healthcare[0]).limit(1)
        ).scalar_one()
        ended = dt.datetime.combine(DAY, dt.time(12), tzinfo=dt.UTC)
        for case in generate.hard_cases():
            if case["vertical"] == "healthcare":
                conn.execute(
                    calls.insert().values(
                        call_id=f"call-{case['id']}",
                        tenant_id=healthcare[0],
                        agent_id=agent_id,
                        started_at=ended - dt.timedelta(minutes=4),
                        ended_at=ended,
                        transcript=case["text"],
                    )
                )
    return healthcare


def _identifiers() -> dict[str, set[str]]:
    """Per call id, the labelled identifiers of its transcript (corpus spans)."""
    found: dict[str, set[str]] = {}
    for case in generate.corpus():
        call_id = case["id"] if case["source"] == "seed" else f"call-{case['id']}"
        found[call_id] = {case["text"][start:end] for start, end, _kind in case["spans"]}
    return found


def _answer_quoting(user: str) -> str:
    """What a model returns for a redacted call: a summary that uses the placeholders it saw."""
    names = list(dict.fromkeys(re.findall(r"\[NAME_\d+\]", user)))
    who = " and ".join(names) if names else "The caller"
    answer = {
        "summary": f"{who} spoke with the clinic about an appointment.",
        "sentiment": 0.5,
        "lead_score": 70,
        "topics": ["appointment booking"],
        "next_action": f"Call {names[-1] if names else 'the caller'} back to confirm.",
    }
    return json.dumps(answer)


def _rewrite_answers(path, sent: dict[str, str]) -> None:
    lines = []
    for raw in path.read_bytes().splitlines():
        line = json.loads(raw)
        message = line["response"]["body"]["choices"][0]["message"]
        message["content"] = _answer_quoting(sent[line["custom_id"]])
        lines.append(json.dumps(line))
    path.write_text("\n".join(lines) + "\n")


def _words(value: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w]){re.escape(value)}(?![\w])")


def test_a_redacting_clinics_day_sends_no_identifier_and_stores_the_callers_names(
    engine: Engine, emulator: Any
) -> None:
    healthcare = _seed(engine)
    workflow = PostCallAnalytics()
    providers = ProviderRegistry(max_retries=0, timeout=30)
    plan(engine, workflow, providers, [DAY], healthcare)
    assert not submit_planned(engine, workflow, providers).deferred
    poll(engine, providers)

    with engine.connect() as conn:
        item_of = dict(
            conn.execute(select(batch_requests.c.custom_id, batch_requests.c.item_id)).all()
        )
        lead_rows = list(
            conn.execute(select(leads.c.call_id, leads.c.name, leads.c.email, leads.c.phone))
        )
        transcripts = dict(conn.execute(select(calls.c.call_id, calls.c.transcript)).all())
    received = list(emulator.received_requests())
    assert {item_of[r.custom_id] for r in received} >= {
        f"call-{c['id']}" for c in generate.hard_cases() if c["vertical"] == "healthcare"
    }

    # 1. Nothing that left holds an identifier of its call.
    identifiers = _identifiers()
    for row in lead_rows:
        if row.call_id:
            for value in (row.name, row.email, row.phone):
                if value and value in transcripts.get(row.call_id, ""):
                    identifiers[row.call_id].add(value)
    checked = 0
    sent_user: dict[str, str] = {}
    for request in received:
        call_id = item_of[request.custom_id]
        body = json.dumps(request.body, ensure_ascii=False)
        (user,) = [m["content"] for m in request.body["messages"] if m["role"] == "user"]
        sent_user[request.custom_id] = user
        leaked = [v for v in identifiers[call_id] if _words(v).search(body)]
        assert not leaked, f"{call_id} sent {leaked}"
        checked += len(identifiers[call_id])
    assert checked >= 100  # names, dates of birth, member ids, phones, e-mails … were looked for

    # 2. The answers use the placeholders; what is stored names the caller.
    jobs = ended_jobs_awaiting_ingest(engine)
    assert jobs
    for job in jobs:
        _rewrite_answers(emulator.home / "files" / f"{job.output_file_id}.jsonl", sent_user)
        ingest_job(engine, workflow, providers, job.batch_job_id)
    with engine.connect() as conn:
        stored = {row.call_id: row for row in conn.execute(select(call_analytics))}
    assert set(stored) == {item_of[r.custom_id] for r in received}
    named = 0
    for call_id, row in stored.items():
        texts = [row.summary, row.next_action, *row.topics]
        assert not any(PLACEHOLDER.search(t) for t in texts), (call_id, texts)
        for lead in lead_rows:
            if lead.call_id == call_id and lead.name in transcripts[call_id]:
                assert lead.name in row.summary, (call_id, row.summary)
                named += 1
    assert named >= 3
    assert "Luis Chen" in stored["call-lakeshore-dental-group-20261125-001"].summary
