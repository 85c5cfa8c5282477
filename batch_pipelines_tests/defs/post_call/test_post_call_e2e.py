"""Post-call analytics end to end through Dagster (issue 6): the day's calls of 12 tenants through the
window sensor and the poll sensor, a 3-date backfill, PII redaction checked on what the provider
received, and bad inputs through the whole flow. Postgres and the emulator are real; the code
location is driven tick by tick as the daemon drives it."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import dagster as dg
from sqlalchemy import func, select

from batch_pipelines.db.seed import seed_demo
from batch_pipelines.db.tables import (
    agents,
    batch_jobs,
    batch_requests,
    call_analytics,
    calls,
    cost_ledger,
    llm_usage,
    tenants,
)
from batch_pipelines.defs.batching.steps import BATCH_JOB_TAG
from batch_pipelines.defs.tenants.partitions import RANGE_END, RANGE_START, tenant_order
from batch_pipelines.providers.registry import tenant_credentials_ref

# --- driving Dagster ------------------------------------------------------------------------------


def _settle(daemon, rounds: int = 12) -> None:
    """Tick the submit and poll sensors until they launch nothing (every queued line submitted,
    every batch ingested, retries included)."""
    daemon.settle(rounds=rounds)


def _launch_date(daemon, day: dt.date, tenant_ids: list[str] | None = None):
    """What a UI backfill's single run for one date does: a range over the date's tenants."""
    order = tenant_order(daemon.instance)
    keys = sorted(tenant_ids or order, key=order.__getitem__)
    tags = {RANGE_START: f"{day.isoformat()}|{keys[0]}", RANGE_END: f"{day.isoformat()}|{keys[-1]}"}
    result = daemon.launch("post_call_job", dg.RunRequest(tags=tags))
    assert result is not None and result.success
    return result


def _ingest_runs(daemon) -> list:
    return [r for r in daemon.runs if r.dagster_run.job_name == "post_call_ingest_job"]


def _run_metadata(run, asset: str) -> dict[str, dict[str, Any]]:
    """Metadata values of a run's materialisations of `asset`, by partition."""
    return {
        event.materialization.partition: {
            k: v.value for k, v in event.materialization.metadata.items()
        }
        for event in run.get_asset_materialization_events()
        if event.materialization.asset_key == dg.AssetKey(asset)
    }


def _latest_metadata(runs, asset: str) -> dict[str, dict[str, Any]]:
    """The metadata of each partition's latest materialisation of `asset` over these runs."""
    latest: dict[str, dict[str, Any]] = {}
    for run in runs:
        latest.update(_run_metadata(run, asset))
    return latest


# --- reading what happened --------------------------------------------------------------------------


def _rows(engine, query) -> list:
    with engine.connect() as conn:
        return list(conn.execute(query))


def _scalar(engine, query):
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _sent_transcripts(engine, emulator) -> dict[str, list[str]]:
    """The transcript part of every request the emulator received, by call id (one per attempt)."""
    item_of = dict(_rows(engine, select(batch_requests.c.custom_id, batch_requests.c.item_id)))
    out: dict[str, list[str]] = defaultdict(list)
    for received in emulator.received_requests():
        assert received.custom_id in item_of, f"the provider got a request never issued: {received}"
        user = [s for s in _strings(received.body) if "<transcript>\n" in s]
        assert len(user) == 1, received.custom_id
        transcript = user[0].split("<transcript>\n", 1)[1].rsplit("\n</transcript>", 1)[0]
        out[item_of[received.custom_id]].append(transcript)
    return out


def _latest_requests(engine) -> dict[str, Any]:
    """The latest manifest row (attempt) of every item."""
    query = select(batch_requests).order_by(batch_requests.c.item_id, batch_requests.c.attempt)
    return {r.item_id: r for r in _rows(engine, query)}


def _utc_day(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


def _insert_call(engine, tenant_id: str, call_id: str, transcript: str, ended_at: dt.datetime):
    with engine.begin() as conn:
        agent_id = conn.execute(
            select(agents.c.agent_id).where(agents.c.tenant_id == tenant_id).limit(1)
        ).scalar_one()
        conn.execute(
            calls.insert().values(
                call_id=call_id,
                tenant_id=tenant_id,
                agent_id=agent_id,
                started_at=ended_at - dt.timedelta(minutes=3),
                ended_at=ended_at,
                transcript=transcript,
            )
        )


def _policies(engine) -> dict[str, dict]:
    return dict(_rows(engine, select(tenants.c.tenant_id, tenants.c.policy)))


# --- PII ---------------------------------------------------------------------------------------------

# Every kind the issue names, in the forms a speech transcript has them.
PII_CALL = """\
Agent: Good morning, thanks for calling. How can I help?
Caller: I'd like to book a consultation. My email is priya.shah+clinic@example.co.uk, or the \
other one, priya dot shah at gmail dot com.
Agent: And the best phone number?
Caller: +44 7700 900123, or my mobile 07700 900456, or (512) 555-0123 when I'm in Austin.
Agent: We take a card for the deposit.
Caller: It's 4111 1111 1111 1111, expiry next year.
Agent: And for the records?
Caller: My NHS number is 943 476 5919, social security number 123-45-6789, \
and national insurance QQ 12 34 56 C.
Agent: Thank you, you're booked for Tuesday at 10:15 AM. The consultation is £85.
Caller: Great, thanks."""
PII_LITERALS = {
    "email": ["priya.shah+clinic@example.co.uk", "priya dot shah at gmail dot com"],
    "phone": ["+44 7700 900123", "07700 900456", "(512) 555-0123", "555-0123"],
    "card": ["4111 1111 1111 1111", "4111"],
    "national_id": ["943 476 5919", "123-45-6789", "QQ 12 34 56 C"],
}
# Independent detectors for the seeded transcripts: written and spoken e-mail addresses, and
# standalone digit runs of 7 or more digits (phones, cards, national ids; not "PBY1559…" member ids).
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_SPOKEN_EMAIL = re.compile(r"\b\w+(?: (?:dot|underscore) \w+)* at \w+(?: dot \w+)+")
_DIGIT_RUN = re.compile(r"(?<![\w+(])\+?\(?\d[\d ()-]*\d")


def _pii_in(transcript: str) -> set[str]:
    found = set(_EMAIL.findall(transcript)) | set(_SPOKEN_EMAIL.findall(transcript))
    found |= {
        m.group(0).strip()
        for m in _DIGIT_RUN.finditer(transcript)
        if sum(c.isdigit() for c in m.group(0)) >= 7
    }
    return found


# --- (1) + (3): a whole day of 12 tenants through the window sensor --------------------------------


def test_a_day_of_12_tenants_is_analysed_or_accounted_for_priced_once_and_pii_never_leaves(
    daemon, engine, emulator
) -> None:
    today = dt.datetime.now(dt.UTC).date()
    seed_demo(
        engine, tenants=12, date=today, calls_per_tenant=10, leads_per_tenant=0, docs_per_tenant=0
    )
    policies = _policies(engine)
    redacting = sorted(t for t, p in policies.items() if p["redact_pii"])
    plain = sorted(t for t, p in policies.items() if not p["redact_pii"])
    assert redacting and plain
    # The same call with every kind of PII, for one tenant of each policy.
    ended = dt.datetime.combine(today, dt.time(0, 30), tzinfo=dt.UTC)
    _insert_call(engine, redacting[0], "call-pii-redacted", PII_CALL, ended)
    _insert_call(engine, plain[0], "call-pii-plain", PII_CALL, ended)

    daemon.tick_sensor("tenant_registry_sensor")
    window_runs = daemon.tick_sensor("post_call_window_sensor")
    assert len(window_runs) == 1 and window_runs[0].success
    assert daemon.tick_sensor("post_call_window_sensor") == []  # nothing new in this window
    _settle(daemon)

    lo, hi = _utc_day(today)
    finished = dict(
        _rows(
            engine,
            select(calls.c.call_id, calls.c.tenant_id).where(
                calls.c.ended_at >= lo, calls.c.ended_at < hi
            ),
        )
    )
    latest = _latest_requests(engine)
    _assert_every_call_analysed_or_accounted_for(engine, finished, latest, policies)
    _assert_one_pooled_batch_plus_one_per_isolated_tenant(engine, policies)
    _assert_usage_and_ledger_consistent(engine, latest)
    _assert_ingest_metadata(engine, _ingest_runs(daemon))
    _assert_pii_never_sent(engine, emulator, finished, latest, redacting, plain)


def _assert_every_call_analysed_or_accounted_for(engine, finished, latest, policies) -> None:
    """Every finished call has a result, or a terminal manifest row saying why not (or is held by
    its tenant's budget); calls still in progress are not queued; nothing is left in flight."""
    analysed = {r.call_id for r in _rows(engine, select(call_analytics.c.call_id))}
    assert set(latest) == set(finished)
    for call_id, tenant in finished.items():
        request = latest[call_id]
        if call_id in analysed:
            assert request.status == "succeeded", request
        elif request.status == "held":
            assert policies[tenant]["monthly_budget_usd"] is not None, request
            assert "budget" in request.error, request
        else:
            assert request.status in ("skipped", "dead_letter") and request.error, request
    assert len(analysed) >= 0.9 * len(finished)
    assert {"call-pii-redacted", "call-pii-plain"} <= analysed


def _assert_one_pooled_batch_plus_one_per_isolated_tenant(engine, policies) -> None:
    jobs = _rows(engine, select(batch_jobs))
    isolated = {t for t, p in policies.items() if p["isolated"]}
    assert sorted(j.credentials_ref for j in jobs) == sorted(
        ["default", *(tenant_credentials_ref(t) for t in isolated)]
    )
    assert {j.status for j in jobs} == {"ingested"}
    for job in jobs:
        in_job = {p["tenant"] for p in job.partitions}
        if job.credentials_ref == "default":
            assert not in_job & isolated and len(in_job) == len(policies) - len(isolated)
        else:
            assert in_job == {job.credentials_ref.removeprefix("tenant:")}


def _assert_usage_and_ledger_consistent(engine, latest) -> None:
    """One usage row per succeeded line and one ledger row per usage row, each with the request's
    tenant, vertical and tokens; batch price under the synchronous price."""
    succeeded = {r.custom_id: r for r in latest.values() if r.status == "succeeded"}
    usage = {u.usage_id: u for u in _rows(engine, select(llm_usage))}
    assert Counter(u.custom_id for u in usage.values()) == Counter(succeeded.keys())
    for u in usage.values():
        request = succeeded[u.custom_id]
        assert (u.tenant_id, u.vertical, u.agent_id) == (
            request.tenant_id,
            request.vertical,
            request.agent_id,
        )
        assert u.workflow == "post_call" and u.mode == "batch"
    ledger = _rows(engine, select(cost_ledger))
    assert Counter(r.usage_id for r in ledger) == Counter(usage.keys())
    for row in ledger:
        u = usage[row.usage_id]
        assert (row.tenant_id, row.vertical, row.agent_id, row.workflow, row.ledger_date) == (
            u.tenant_id,
            u.vertical,
            u.agent_id,
            u.workflow,
            u.ledger_date,
        )
        tokens = ("input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens")
        assert [getattr(row, t) for t in tokens] == [getattr(u, t) for t in tokens]
        assert 0 < row.cost_micro_usd < row.sync_cost_micro_usd


def _assert_ingest_metadata(engine, ingest_runs) -> None:
    """Each call_analytics partition reports its own counts (requests, tokens, failures, stored
    rows, redactions, estimated cost), not its run's totals; so does cost_ledger, adding up to the
    ledger; the blocking checks passed on every partition."""
    jobs = _scalar(engine, select(func.count()).select_from(batch_jobs))
    assert len(ingest_runs) == jobs and all(r.success for r in ingest_runs)
    checks = [e for r in ingest_runs for e in r.get_asset_check_evaluations()]
    assert checks and all(e.passed for e in checks if e.blocking)
    # Each ingest run checks the partitions its batch serves, not the rest of its range (the
    # pooled batch's range spans the isolated tenants' partitions too).
    served = {
        j.batch_job_id: {f"{p['date']}|{p['tenant']}" for p in j.partitions}
        for j in _rows(engine, select(batch_jobs))
    }
    for run in ingest_runs:
        checked = {e.partition for e in run.get_asset_check_evaluations()} - {None}  # run's
        assert checked == served[run.dagster_run.tags[BATCH_JOB_TAG]], run.run_id

    latest = _latest_metadata(ingest_runs, "call_analytics")
    usage = _rows(engine, select(llm_usage))
    stored = _rows(engine, select(call_analytics.c.tenant_id, call_analytics.c.redactions))
    by_partition: dict[str, Counter] = defaultdict(Counter)
    for u in usage:
        counts = by_partition[f"{u.ledger_date.isoformat()}|{u.tenant_id}"]
        counts["requests"] += 1
        counts["input_tokens"] += u.input_tokens + u.cached_input_tokens + u.cache_write_tokens
        counts["output_tokens"] += u.output_tokens
    for tenant_id, redactions in stored:
        (key,) = [k for k in by_partition if k.endswith(f"|{tenant_id}")]  # one date
        by_partition[key]["dagster/row_count"] += 1
        by_partition[key]["redactions"] += sum(redactions.values())
    assert set(by_partition) <= set(latest)
    for partition, meta in latest.items():
        own = by_partition[partition]
        for name in ("requests", "input_tokens", "output_tokens", "dagster/row_count"):
            assert meta[name] == own[name], (partition, name)
        assert meta["redactions"] == own["redactions"], partition
        assert meta["failed_lines"] == 0 and meta["in_flight"] == 0
        assert (meta["estimated_cost_usd"] > 0) == (own["requests"] > 0)
    # Partitions differ: nothing was copied from one onto the others.
    assert len({m["requests"] for m in latest.values()}) > 1
    for kind in ("email", "phone", "card", "national_id"):
        assert sum(m[f"redactions_{kind}"] for m in latest.values()) > 0, kind

    latest_cost = _latest_metadata(ingest_runs, "cost_ledger")
    ledger = _rows(engine, select(cost_ledger.c.cost_micro_usd))
    assert sum(m["requests"] for m in latest_cost.values()) == len(ledger)
    ledger_usd = float(sum(Decimal(r.cost_micro_usd) for r in ledger) / 1_000_000)
    assert abs(sum(m["cost_usd"] for m in latest_cost.values()) - ledger_usd) < 1e-6


def _assert_pii_never_sent(engine, emulator, finished, latest, redacting, plain) -> None:
    """Nothing of a redacting tenant's PII reached the provider; other tenants' text went as is."""
    sent = _sent_transcripts(engine, emulator)
    transcripts = dict(_rows(engine, select(calls.c.call_id, calls.c.transcript)))
    assert set(sent) == {c for c, r in latest.items() if r.status == "succeeded"}
    checked = 0
    for call_id, texts in sent.items():
        if finished[call_id] not in redacting:
            continue
        pii = _pii_in(transcripts[call_id])
        checked += len(pii)
        leaked = sorted(p for p in pii for text in texts if p in text)
        assert not leaked, f"{call_id}: {leaked[:5]}"
    assert checked >= 20  # the seed's own e-mails and numbers were looked for, not nothing

    (redacted,) = sent["call-pii-redacted"]
    for kind, literals in PII_LITERALS.items():
        for literal in literals:
            assert literal not in redacted, f"{kind} {literal!r} was sent"
    for placeholder in ("[EMAIL_1]", "[PHONE_3]", "[CARD_1]", "[NATIONAL_ID_3]"):
        assert placeholder in redacted
    assert "£85" in redacted and "10:15 AM" in redacted  # prices and times are not PII
    row = _rows(
        engine, select(call_analytics).where(call_analytics.c.call_id == "call-pii-redacted")
    )
    assert {k: n for k, n in row[0].redactions.items() if n} == {
        "email": 2,
        "phone": 3,
        "card": 1,
        "national_id": 3,
    }

    for call_id, texts in sent.items():
        if finished[call_id] in plain:
            assert texts == [transcripts[call_id]], call_id
    row = _rows(engine, select(call_analytics).where(call_analytics.c.call_id == "call-pii-plain"))
    assert row[0].redactions == {}


# --- (2): a 3-date backfill --------------------------------------------------------------------------


def test_a_3_date_backfill_pools_its_runs_into_one_batch_per_credentials_submitted_once(
    daemon, engine, emulator
) -> None:
    days = [dt.date(2026, 11, 2) + dt.timedelta(days=n) for n in range(3)]
    for day in days:
        seed_demo(
            engine, tenants=6, date=day, calls_per_tenant=4, leads_per_tenant=0, docs_per_tenant=0
        )
    daemon.tick_sensor("tenant_registry_sensor")
    isolated = {t for t, p in _policies(engine).items() if p["isolated"]}
    assert isolated and len(isolated) < 6

    # However a backfill is cut into runs (here one per date), they only queue: nothing is sent
    # until the submit sensor pools what they queued, one batch per credentials for all 3 dates.
    for day in days:
        _launch_date(daemon, day)
    assert _scalar(engine, select(func.count()).select_from(batch_jobs)) == 0
    submits = daemon.tick_sensor("batch_submit_sensor")
    assert submits and all(r.success for r in submits)
    assert {r.dagster_run.job_name for r in submits} == {"post_call_submit_job"}

    jobs = _rows(engine, select(batch_jobs))
    requests = _rows(
        engine, select(batch_requests).where(batch_requests.c.batch_job_id.is_not(None))
    )
    expected = Counter(["default", *(tenant_credentials_ref(t) for t in isolated)])
    assert Counter(j.credentials_ref for j in jobs) == expected
    for job in jobs:
        assert {p["date"] for p in job.partitions} == {day.isoformat() for day in days}
        assert job.provider_batch_id and job.input_file_id and job.model == "gpt-4o-mini"
    (pooled,) = [j for j in jobs if j.credentials_ref == "default"]
    assert {p["tenant"] for p in pooled.partitions} == set(_policies(engine)) - isolated

    # What the provider received: one input file per job, holding exactly that job's requests once.
    received = emulator.received_requests("openai")
    by_file: dict[str, list[str]] = defaultdict(list)
    for r in received:
        by_file[r.file_id].append(r.custom_id)
    assert sorted(by_file) == sorted(j.input_file_id for j in jobs)
    job_requests: dict[str, list[str]] = defaultdict(list)
    for r in requests:
        job_requests[r.batch_job_id].append(r.custom_id)
    for job in jobs:
        assert sorted(by_file[job.input_file_id]) == sorted(job_requests[job.batch_job_id])
    assert len({j.provider_batch_id for j in jobs}) == len(jobs)

    # Running a date again (a re-executed backfill run) queues and submits nothing new.
    _launch_date(daemon, days[0])
    assert daemon.tick_sensor("batch_submit_sensor") == []
    assert len(emulator.received_requests("openai")) == len(received)
    assert _scalar(engine, select(func.count()).select_from(batch_jobs)) == len(jobs)

    # Ingesting pooled batches is the day test's and the bad-input test's business.


# --- (4): bad inputs through the whole flow -----------------------------------------------------------

BUDGET_TOKENS = 12_000  # PostCallAnalytics' default transcript budget (estimate: UTF-8 bytes / 4)


def _long_transcript() -> str:
    line = "Caller: and then the boiler made the same knocking noise again, so I rang back.\n"
    middle = "Agent: MIDDLE-MARKER let me check that for you.\n"
    return (
        "Agent: HEAD-MARKER Hello, Summit Roofing.\n"
        + line * 1_000
        + middle
        + line * 1_000
        + "Caller: TAIL-MARKER thanks, bye."
    )


MESSY = (
    "Agent: Hello\x07, this is the caf\u00c3\u00a9 on Main Street\x1b[0m.\r\n"
    "Caller: I don\u00e2\u20ac\u2122t know if you\u2019re open\x0b on Sunday?\ufeff\x85\r\n"
    "Agent: We are, from 10 until 4. \u0645\u0631\u062d\u0628\u0627 \U0001f44b"
)


def test_bad_inputs_are_skipped_cut_cleaned_or_dead_lettered_with_a_reason(
    daemon, engine, emulator
) -> None:
    day = dt.date(2026, 11, 9)
    seed_demo(
        engine, tenants=2, date=day, calls_per_tenant=3, leads_per_tenant=0, docs_per_tenant=0
    )
    daemon.tick_sensor("tenant_registry_sensor")
    # The provider answers the first tenant's batches with malformed JSON; the second one, which
    # does not redact, gets the bad transcripts.
    broken, plain = tenant_order(daemon.instance)
    assert not _policies(engine)[plain]["redact_pii"]
    at = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    bad = {
        "call-empty": "",
        "call-only-noise": "  \n\t\x07\x1b \ufffd\ufffd\u00a0 \r\n",
        "call-huge": "Caller: hello hello hello. " * 40_000,  # ~1 MB, past the 200,000-token cap
        "call-long": _long_transcript(),  # ~160 KB: past the 12,000-token budget, under the cap
        "call-messy": MESSY,
    }
    for call_id, transcript in bad.items():
        _insert_call(engine, plain, call_id, transcript, at)

    # The broken tenant's batch is created while the provider answers malformed JSON, the other
    # tenant's while it answers well, the broken tenant's retries while it is malformed again.
    emulator.set_config(malformed_rate=1.0)
    _launch_date(daemon, day, [broken])
    assert daemon.tick_sensor("batch_submit_sensor")
    emulator.set_config(malformed_rate=0.0)
    submit = _launch_date(daemon, day, [plain])
    assert daemon.tick_sensor("batch_submit_sensor")
    emulator.set_config(malformed_rate=1.0)
    _settle(daemon)

    latest = _latest_requests(engine)
    analysed = {r.call_id: r for r in _rows(engine, select(call_analytics))}

    # Empty: skipped with a reason, never sent.
    for call_id in ("call-empty", "call-only-noise"):
        assert latest[call_id].status == "skipped", latest[call_id]
        assert "empty transcript" in latest[call_id].error
    # Past the hard cap: dead-lettered with the size and the cap, never sent.
    assert latest["call-huge"].status == "dead_letter"
    assert "transcript too large" in latest["call-huge"].error
    assert "hard cap of 200,000" in latest["call-huge"].error
    submit_meta = _run_metadata(submit, "post_call_requests")[f"{day.isoformat()}|{plain}"]
    assert submit_meta["skipped_items"] == 2 and submit_meta["dead_lettered_items"] == 1
    # Past the budget: cut (start and end kept, the cut said), analysed, and the result says so.
    assert latest["call-long"].status == "succeeded"
    assert latest["call-long"].notes["truncated"] is True
    assert latest["call-long"].notes["omitted_chars"] > 0
    assert analysed["call-long"].truncated is True
    # Control characters and broken encodings: cleaned, analysed.
    assert latest["call-messy"].status == "succeeded" and "call-messy" in analysed

    sent = _sent_transcripts(engine, emulator)
    assert not {"call-empty", "call-only-noise", "call-huge"} & set(sent)
    (transcript,) = sent["call-long"]
    assert "HEAD-MARKER" in transcript and "TAIL-MARKER" in transcript
    assert "MIDDLE-MARKER" not in transcript and "transcript cut:" in transcript
    assert len(transcript.encode()) <= BUDGET_TOKENS * 4
    (messy_sent,) = sent["call-messy"]
    assert "café on Main Street" in messy_sent and "I don’t know" in messy_sent
    assert "\u0645\u0631\u062d\u0628\u0627 \U0001f44b" in messy_sent  # RTL text and emoji kept
    for junk in ("\x07", "\x1b", "\x0b", "\ufeff", "\x85", "\r", "\u00c3\u00a9", "\u00e2\u20ac"):
        assert junk not in messy_sent, repr(junk)

    # Malformed answers: never stored; each line retried alone, then dead-lettered with the reason.
    broken_calls = [c for c, r in latest.items() if r.tenant_id == broken]
    assert broken_calls
    attempts = _rows(
        engine,
        select(batch_requests).where(batch_requests.c.tenant_id == broken),
    )
    for call_id in broken_calls:
        assert call_id not in analysed
        rows = sorted((r for r in attempts if r.item_id == call_id), key=lambda r: r.attempt)
        assert [r.status for r in rows] == ["failed", "failed", "dead_letter"], call_id
        assert all("invalid answer" in r.error for r in rows)
        assert rows[-1].error.startswith("gave up after 3 attempts")
    for job in _rows(engine, select(batch_jobs)):
        job_tenants = {p["tenant"] for p in job.partitions}
        if broken in job_tenants:
            assert job_tenants == {broken}, "the failing lines went out with other work"
    # The malformed answers were billed all the same, and priced once each.
    broken_usage = _scalar(
        engine, select(func.count()).select_from(llm_usage).where(llm_usage.c.tenant_id == broken)
    )
    assert broken_usage == 3 * len(broken_calls)
    assert _scalar(engine, select(func.count()).select_from(cost_ledger)) == _scalar(
        engine, select(func.count()).select_from(llm_usage)
    )
    # ... and the other tenant's work carried on: every other finished call is analysed.
    expected = {
        c
        for c, r in latest.items()
        if r.tenant_id != broken and c not in ("call-empty", "call-only-noise", "call-huge")
    }
    assert expected and expected <= set(analysed)
    ingest_runs = _ingest_runs(daemon)
    assert ingest_runs and all(r.success for r in ingest_runs)
    # Each tenant's partition counts its own failures.
    latest_meta = _latest_metadata(ingest_runs, "call_analytics")
    broken_meta = latest_meta[f"{day.isoformat()}|{broken}"]
    assert broken_meta["failed_lines"] == 3 * len(broken_calls)
    assert broken_meta["dead_lettered"] == len(broken_calls)
    assert broken_meta["requests"] == broken_usage and broken_meta["dagster/row_count"] == 0
    plain_meta = latest_meta[f"{day.isoformat()}|{plain}"]
    assert plain_meta["failed_lines"] == 0 and plain_meta["dead_lettered"] == 1  # call-huge
    assert plain_meta["dagster/row_count"] == len(expected)
