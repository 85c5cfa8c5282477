"""The bad-input corpus (`batch_pipelines_tests/data/bad_inputs/`), each case with its expected
outcome: transcripts through the real post-call workflow, tenant ids through `add_tenant` and the
database, and provider result files through ingest, on both providers."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError

from batch_pipelines.batching import custom_ids
from batch_pipelines.batching.ingest import ingest_job
from batch_pipelines.batching.lifecycle import run_to_completion
from batch_pipelines.batching.planning import plan
from batch_pipelines.batching.polling import ended_jobs_awaiting_ingest, poll
from batch_pipelines.batching.submission import submit_planned
from batch_pipelines.db.seed import InvalidTenantId
from batch_pipelines.db.seed import add_tenant as seed_add_tenant
from batch_pipelines.providers.registry import ProviderRegistry

from .conftest import (
    DAY,
    PROVIDERS,
    add_calls,
    add_tenant,
    post_call,
    scratch_database,
    world,
)

pytestmark = pytest.mark.reliability

CORPUS = Path(__file__).resolve().parent.parent / "data" / "bad_inputs"


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((CORPUS / name).read_text(encoding="utf-8"))


TRANSCRIPTS = load("transcripts.yaml")["cases"]
TENANT_IDS = load("tenant_ids.yaml")
RESULT_FILES = load("result_files.yaml")["cases"]
STORABLE = [c for c in TRANSCRIPTS if c["expect"]["outcome"] != "unstorable"]
UNSTORABLE = [c for c in TRANSCRIPTS if c["expect"]["outcome"] == "unstorable"]


# --- transcripts ------------------------------------------------------------------------------


def build_transcript(case: Mapping[str, Any]) -> str:
    if "transcript" in case:
        return case["transcript"]
    spec = case["transcript_from"]
    if "hex" in spec:
        data = bytes.fromhex(spec["hex"])
        return (
            data.decode("latin-1")
            if spec["decode"] == "latin-1"
            else data.decode("utf-8", "replace")
        )
    return spec.get("prefix", "") + spec["repeat"] * spec["times"] + spec.get("suffix", "")


def insert_call(conn, call_id: str, tenant_id: str, transcript: str, minute: int) -> None:
    start = dt.datetime.combine(DAY, dt.time(10, 0), tzinfo=dt.UTC) + dt.timedelta(minutes=minute)
    conn.execute(
        text(
            "INSERT INTO calls (call_id, tenant_id, agent_id, started_at, ended_at, transcript)"
            " VALUES (:c, :t, :a, :s, :e, :x)"
        ),
        {
            "c": call_id,
            "t": tenant_id,
            "a": f"agent-{tenant_id}",
            "s": start,
            "e": start + dt.timedelta(minutes=3),
            "x": transcript,
        },
    )


def add_corpus_tenant(engine, tenant_id: str, *, redact_pii: bool) -> None:
    seed_add_tenant(
        engine, tenant_id, tenant_id.title(), "home_services", "growth", {"redact_pii": redact_pii}
    )
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO agents (agent_id, tenant_id, name) VALUES (:a, :t, 'Ava')"),
            {"a": f"agent-{tenant_id}", "t": tenant_id},
        )


def _user_and_system(provider: str, body: Mapping[str, Any]) -> tuple[str, str]:
    if provider == "openai":
        messages = body["messages"]
        return messages[-1]["content"], messages[0]["content"]
    return body["messages"][-1]["content"], "\n\n".join(b["text"] for b in body["system"])


@pytest.fixture(scope="module", params=PROVIDERS)
def transcript_day(request, pg_server_url, template_database, tmp_path_factory) -> dict[str, Any]:
    """Every storable transcript of the corpus as one day's calls, run to completion once per
    provider on a database and emulator of its own; what each call became."""
    provider = request.param
    with world(pg_server_url, template_database, tmp_path_factory.mktemp("corpus")) as (
        engine,
        emulator,
    ):
        add_corpus_tenant(engine, "plain", redact_pii=False)
        add_corpus_tenant(engine, "redacting", redact_pii=True)
        for minute, case in enumerate(STORABLE):
            with engine.begin() as conn:
                insert_call(
                    conn, case["id"], case.get("tenant", "plain"), build_transcript(case), minute
                )
        outcome = run_to_completion(
            engine, post_call(provider), ProviderRegistry(max_retries=0), [DAY]
        )
        with engine.connect() as conn:
            requests = {
                r.item_id: r
                for r in conn.execute(
                    text(
                        "SELECT DISTINCT ON (item_id) item_id, custom_id, status, error, notes"
                        " FROM batch_requests ORDER BY item_id, created_at DESC, attempt DESC"
                    )
                )
            }
            owners = dict(conn.execute(text("SELECT custom_id, item_id FROM batch_requests")).all())
            results = {
                r.call_id: r
                for r in conn.execute(
                    text(
                        "SELECT call_id, summary, topics::text AS topics, next_action, redactions,"
                        " truncated FROM call_analytics"
                    )
                )
            }
        sent: dict[str, list[tuple[str, str]]] = {}
        for received in emulator.received_requests(provider):
            if received.custom_id in owners:
                sent.setdefault(owners[received.custom_id], []).append(
                    _user_and_system(provider, received.body)
                )
    return {
        "provider": provider,
        "open": outcome.open_requests,
        "requests": requests,
        "results": results,
        "sent": sent,
    }


_TAG = re.compile(r"<\s*/?\s*transcript", re.IGNORECASE)
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.mark.parametrize("case", STORABLE, ids=[c["id"] for c in STORABLE])
def test_a_bad_transcript_has_its_expected_outcome(transcript_day, case) -> None:
    expect = case["expect"]
    assert transcript_day["open"] == 0
    call_id = case["id"]
    request = transcript_day["requests"][call_id]
    sent = transcript_day["sent"].get(call_id, [])
    result = transcript_day["results"].get(call_id)

    if expect["outcome"] in ("skipped", "dead_lettered"):
        status = "skipped" if expect["outcome"] == "skipped" else "dead_letter"
        assert (request.status, sent, result) == (status, [], None)
        assert expect["reason"] in request.error
        return

    assert request.status == "succeeded" and result is not None
    assert len(sent) == 1  # sent exactly once
    user, system = sent[0]
    truncated = expect["outcome"] == "truncated"
    assert result.truncated is truncated and request.notes["truncated"] is truncated
    # The transcript stays inside its one fenced block, printable, valid Unicode.
    assert len(_TAG.findall(user)) == 2, user[-400:]
    assert user.rstrip().endswith("</transcript>")
    assert not _FORBIDDEN.search(user)
    user.encode("utf-8")  # no lone surrogates
    for fragment in expect.get("sent_contains", []):
        assert fragment in user
    for fragment in expect.get("sent_excludes", []):
        assert fragment not in user
    for fragment in expect.get("system_excludes", []):
        assert fragment not in system
    stored = f"{result.summary}\n{result.topics}\n{result.next_action}"
    for fragment in expect.get("result_excludes", []):
        assert fragment not in stored
    if "redactions" in expect:
        assert {k: v for k, v in result.redactions.items() if v} == expect["redactions"]


@pytest.mark.parametrize("case", UNSTORABLE, ids=[c["id"] for c in UNSTORABLE])
def test_an_unstorable_transcript_never_reaches_the_calls_table(engine, case) -> None:
    add_corpus_tenant(engine, "plain", redact_pii=False)
    with pytest.raises((DBAPIError, StatementError, UnicodeEncodeError)), engine.begin() as conn:
        insert_call(conn, case["id"], "plain", build_transcript(case), 0)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM calls")).scalar_one() == 0


# --- tenant ids -------------------------------------------------------------------------------

REJECTED_IDS = TENANT_IDS["rejected"]


@pytest.fixture(scope="module")
def tenant_db(pg_server_url, template_database):
    """One database for every tenant-id case: none of them may leave a row."""
    with scratch_database(pg_server_url, template_database) as (engine, _):
        yield engine


@pytest.mark.parametrize("case", REJECTED_IDS, ids=[repr(c["id"]) for c in REJECTED_IDS])
def test_a_bad_tenant_id_is_rejected_by_add_tenant_and_by_the_database(tenant_db, case) -> None:
    engine = tenant_db
    tenant_id = case["id"]
    with pytest.raises(InvalidTenantId) as raised:
        seed_add_tenant(engine, tenant_id, "Acme", "sales", "growth")
    message = str(raised.value)
    for fragment in case["error_contains"]:
        assert fragment in message
    assert "must match" in message  # says what a valid id is
    if "suggestion" in case:
        assert raised.value.suggestion == case["suggestion"]
        assert f"Try {case['suggestion']!r}" in message

    # Whatever writes the table directly, Postgres refuses it too.
    with pytest.raises((IntegrityError, DBAPIError)) as refused, engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenants (tenant_id, name, vertical, tier, tier_price_usd)"
                " VALUES (:t, 'Acme', 'sales', 'growth', 499)"
            ),
            {"t": tenant_id},
        )
    assert case.get("db_error_contains", "tenant_slug") in str(refused.value)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM tenants")).scalar_one() == 0


def test_the_edges_of_the_tenant_id_pattern_are_accepted(engine) -> None:
    for tenant_id in TENANT_IDS["accepted"]:
        assert seed_add_tenant(engine, tenant_id, "Acme", "sales", "growth") == "inserted"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM tenants")).scalar_one() == len(
            TENANT_IDS["accepted"]
        )


# --- provider result files --------------------------------------------------------------------


def _custom_id(spec: Mapping[str, Any], lines: list[bytes], tenant: str, vault: list[str]) -> str:
    if "literal" in spec:
        return "a" * 10_000 if spec["literal"] == "{long}" else spec["literal"]
    if "never_issued" in spec:
        return custom_ids.new_custom_id(tenant, "post_call", f"call-{tenant}-never", 1)
    if "flipped_signature_of" in spec:
        original = json.loads(lines[spec["flipped_signature_of"]])["custom_id"]
        return original[:-1] + ("B" if original[-1] == "A" else "A")
    return vault[spec["of_vault_batch"]]


def mutate(lines: list[bytes], steps, tenant: str, vault: list[str]) -> tuple[bytes, list[int]]:
    """The altered file, and the lines whose manifest rows are to be tampered with."""
    out = list(lines)
    tail = b"\n"
    tamper: list[int] = []
    for step in steps:
        ((op, arg),) = step.items()
        if op == "append_raw":
            out.append(arg.encode("utf-8"))
        elif op == "append_hex":
            out.append(bytes.fromhex(arg))
        elif op == "duplicate_line":
            out.append(lines[arg])
        elif op == "cut_last_line_at":
            out[-1] = out[-1][:arg]
            tail = b""
        elif op == "keep_lines":
            out = out[:arg]
        elif op == "copy_line":
            record = json.loads(lines[arg["from"]])
            record["custom_id"] = _custom_id(arg["custom_id"], lines, tenant, vault)
            out.append(json.dumps(record).encode())
        elif op == "set_custom_id":
            record = json.loads(lines[arg["line"]])
            record["custom_id"] = arg["json"]
            out[arg["line"]] = json.dumps(record).encode()
        elif op == "tamper_manifest":
            tamper.append(arg["line"])
        else:
            raise ValueError(f"unknown mutation {op!r}")
    return (b"\n".join(out) + tail) if out else b"", tamper


def _result_path(emulator, provider: str, job) -> Path:
    """Where the emulator keeps a batch's results (its documented layout under its home)."""
    if provider == "openai":
        assert job.error_file_id is None  # no faults: every line is in the output file
        return emulator.home / "files" / f"{job.output_file_id}.jsonl"
    return emulator.home / "anthropic" / "results" / f"{job.provider_batch_id}.jsonl"


def _misattributed(conn) -> tuple[int, int, int]:
    """Usage rows not matching their manifest row's tenant and batch, usage rows for no manifest
    row, results whose tenant does not own the call."""
    return conn.execute(
        text(
            "SELECT"
            " (SELECT count(*) FROM llm_usage u JOIN batch_requests r USING (custom_id)"
            "   WHERE u.tenant_id <> r.tenant_id OR u.batch_job_id <> r.batch_job_id),"
            " (SELECT count(*) FROM llm_usage u WHERE NOT EXISTS"
            "   (SELECT 1 FROM batch_requests r WHERE r.custom_id = u.custom_id)),"
            " (SELECT count(*) FROM call_analytics a JOIN calls c USING (call_id)"
            "   JOIN batch_requests r ON r.custom_id = a.custom_id"
            "   WHERE a.tenant_id <> c.tenant_id OR r.tenant_id <> c.tenant_id)"
        )
    ).one()


def _case_tenant(index: int) -> str:
    return f"rf-{index:02d}"


@pytest.fixture(scope="module", params=PROVIDERS)
def result_file_day(request, pg_server_url, template_database, tmp_path_factory) -> dict:
    """One day per provider: a batch per case (an isolated tenant with 4 calls) and the vault
    batch. Each case's result file is altered on the emulator's disk and ingested; then the day
    is run to completion. What every step left behind, per case."""
    provider = request.param
    root = tmp_path_factory.mktemp("result-files")
    with world(pg_server_url, template_database, root) as (engine, emulator):
        for index in range(len(RESULT_FILES)):
            add_tenant(engine, _case_tenant(index), isolated=True)
            add_calls(engine, _case_tenant(index), 4)
        add_tenant(engine, "vault", isolated=True)
        add_calls(engine, "vault", 2)
        providers = ProviderRegistry(max_retries=0, timeout=30)
        workflow = post_call(provider)
        plan(engine, workflow, providers, [DAY])
        assert not submit_planned(engine, workflow, providers).deferred
        poll(engine, providers)
        jobs = {
            j.credentials_ref.removeprefix("tenant:"): j for j in ended_jobs_awaiting_ingest(engine)
        }
        assert len(jobs) == len(RESULT_FILES) + 1
        with engine.connect() as conn:
            vault = list(
                conn.execute(
                    text(
                        "SELECT custom_id FROM batch_requests WHERE tenant_id = 'vault'"
                        " ORDER BY custom_id"
                    )
                ).scalars()
            )
        ingested: dict[str, Any] = {}
        for index, case in enumerate(RESULT_FILES):
            tenant = _case_tenant(index)
            path = _result_path(emulator, provider, jobs[tenant])
            lines = path.read_bytes().splitlines()
            assert len(lines) == 4
            data, tamper = mutate(lines, case["mutate"], tenant, vault)
            path.write_bytes(data)
            with engine.begin() as conn:
                for line in tamper:
                    conn.execute(
                        text("UPDATE batch_requests SET tenant_id = 'vault' WHERE custom_id = :c"),
                        {"c": json.loads(lines[line])["custom_id"]},
                    )
            result = ingest_job(engine, workflow, providers, jobs[tenant].batch_job_id)
            with engine.connect() as conn:
                usage = conn.execute(
                    text("SELECT count(*) FROM llm_usage WHERE batch_job_id = :j"),
                    {"j": jobs[tenant].batch_job_id},
                ).scalar_one()
                ingested[case["id"]] = (result, usage, _misattributed(conn))
        vault_result = ingest_job(engine, workflow, providers, jobs["vault"].batch_job_id)
        outcome = run_to_completion(engine, workflow, providers, [DAY])
        with engine.connect() as conn:
            final = conn.execute(
                text(
                    "SELECT DISTINCT ON (item_id) item_id, tenant_id, status, error"
                    " FROM batch_requests ORDER BY item_id, created_at DESC, attempt DESC"
                )
            ).all()
            results = dict(
                conn.execute(
                    text("SELECT call_id, count(*) FROM call_analytics GROUP BY call_id")
                ).all()
            )
            misattributed = _misattributed(conn)
    return {
        "ingested": ingested,
        "vault": vault_result,
        "open": outcome.open_requests,
        "final": final,
        "results": results,
        "misattributed": misattributed,
    }


@pytest.mark.parametrize("case", RESULT_FILES, ids=[c["id"] for c in RESULT_FILES])
def test_a_bad_provider_result_file_attributes_nothing_it_should_not(result_file_day, case) -> None:
    index = RESULT_FILES.index(case)
    result, usage, misattributed = result_file_day["ingested"][case["id"]]
    expect = case["expect"]
    assert {k: v for k, v in result.rejected.items() if v} == expect["rejected"]
    assert (result.succeeded, result.missing) == (expect["succeeded"], expect["missing"])
    assert usage == expect["succeeded"]  # a rejected line is billed to no one
    assert misattributed == (0, 0, 0)
    # The vault batch, whose ids were replayed into another file, is ingested as if nothing happened.
    assert result_file_day["vault"].succeeded == 2 and not result_file_day["vault"].rejected

    # After the day is run to completion: retried lines succeeded, each call has one result.
    assert result_file_day["open"] == 0 and result_file_day["misattributed"] == (0, 0, 0)
    calls = [
        r for r in result_file_day["final"] if r.item_id.startswith(f"call-{_case_tenant(index)}-")
    ]
    assert len(calls) == 4
    dead = expect.get("dead_lettered", {"items": 0})
    dead_rows = [r for r in calls if r.status == "dead_letter"]
    assert len(dead_rows) == dead["items"]
    assert all(dead["reason"] in r.error for r in dead_rows)
    assert {r.status for r in calls if r.status != "dead_letter"} == {"succeeded"}
    for row in calls:
        expected_results = 0 if row.status == "dead_letter" else 1
        assert result_file_day["results"].get(row.item_id, 0) == expected_results
