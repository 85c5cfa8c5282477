"""Tenant isolation, as a property: whatever the tenants (how many, pooled or isolated, redacting
or not, on which provider) and whatever their transcripts, no request body that reached the
provider holds data of a tenant other than its manifest row's, an isolated tenant's requests
travel in batches of its own, and a redacting tenant's e-mail addresses never leave. The same for
lead scoring, whose prompts carry each tenant's context (its profile and knowledge base, a cached
prefix, primed): no tenant's knowledge base reaches another tenant's request.

Each tenant's data carries a distinctive token (in its business name and in every transcript);
filler text is drawn from an alphabet the tokens cannot be formed from. Bodies are read from what
the emulator received, joined to `batch_requests` by custom id.

Row-level security for `ledger_reader` is tested in `batch_pipelines_tests/ledger/test_rls.py`;
forged, swapped and replayed custom ids in `test_bad_inputs.py` (`result_files.yaml`).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from batch_pipelines.batching.lifecycle import run_to_completion
from batch_pipelines.db.seed import add_tenant
from batch_pipelines.db.tables import VERTICALS
from batch_pipelines.providers.registry import ProviderRegistry
from batch_pipelines.workflows.lead_scoring import LeadScoring

from .conftest import DAY, PROVIDERS, post_call

pytestmark = pytest.mark.reliability

# Tokens are "Q" + 7 letters of QWXZ-free lower case; filler never contains "Q", so it cannot
# form another tenant's token, and the spaces around a token keep NFC from joining it to a mark.
_TOKEN = st.text(alphabet="abcdefghijkmnoprstuvy", min_size=7, max_size=7).map(lambda s: "Q" + s)
_FILLER = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",), blacklist_characters="\x00Qq@"
    ),  # no NUL (Postgres), no surrogates, no "@" (e-mails are ours)
    max_size=120,
)


@st.composite
def tenants(draw):
    count = draw(st.integers(min_value=2, max_value=4))
    tokens = draw(st.lists(_TOKEN, min_size=count, max_size=count, unique=True))
    return [
        {
            "tenant_id": f"t{i}-{token[1:].lower()}",
            "token": token,
            "vertical": draw(st.sampled_from(VERTICALS)),
            "isolated": draw(st.booleans()),
            "redact_pii": draw(st.booleans()),
            "transcripts": draw(st.lists(_FILLER, min_size=1, max_size=3)),
        }
        for i, token in enumerate(tokens)
    ]


def _reset(engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("TRUNCATE tenants, agents, calls, batch_jobs, batch_requests, llm_usage CASCADE")
        )


def _seed(engine, drawn) -> None:
    for t in drawn:
        policy = {"isolated": t["isolated"], "redact_pii": t["redact_pii"]}
        add_tenant(engine, t["tenant_id"], f"Biz {t['token']} Ltd", t["vertical"], "scale", policy)
    _seed_calls(engine, drawn)


def _seed_calls(engine, drawn) -> None:
    ended = dt.datetime.combine(DAY, dt.time(9), tzinfo=dt.UTC)
    for t in drawn:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO agents (agent_id, tenant_id, name) VALUES (:a, :t, 'Ava')"),
                {"a": f"agent-{t['tenant_id']}", "t": t["tenant_id"]},
            )
            for n, filler in enumerate(t["transcripts"]):
                conn.execute(
                    text(
                        "INSERT INTO calls (call_id, tenant_id, agent_id, started_at, ended_at,"
                        " transcript) VALUES (:c, :t, :a, :s, :e, :x)"
                    ),
                    {
                        "c": f"call-{t['tenant_id']}-{n}",
                        "t": t["tenant_id"],
                        "a": f"agent-{t['tenant_id']}",
                        "s": ended - dt.timedelta(minutes=4),
                        "e": ended + dt.timedelta(minutes=n),
                        "x": f"{filler} {t['token']} mail {t['token'].lower()}.{n}@example.com {filler}",
                    },
                )


@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure is reproducible, never flaky
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=tenants(), provider=st.sampled_from(PROVIDERS))
def test_no_request_body_holds_another_tenants_data(engine, emulator, drawn, provider) -> None:
    _reset(engine)
    _seed(engine, drawn)
    outcome = run_to_completion(
        engine, post_call(provider), ProviderRegistry(max_retries=0, timeout=30), [DAY]
    )
    assert outcome.open_requests == 0
    by_tenant = {t["tenant_id"]: t for t in drawn}
    with engine.connect() as conn:
        owner = dict(conn.execute(text("SELECT custom_id, tenant_id FROM batch_requests")).all())
        jobs = conn.execute(
            text(
                "SELECT j.credentials_ref, array_agg(DISTINCT r.tenant_id) AS tenants"
                " FROM batch_jobs j JOIN batch_requests r USING (batch_job_id)"
                " GROUP BY j.batch_job_id, j.credentials_ref"
            )
        ).all()
    sent = [r for r in emulator.received_requests(provider) if r.custom_id in owner]
    assert len(sent) == sum(len(t["transcripts"]) for t in drawn)  # nothing skipped: all checked
    for request in sent:
        tenant = by_tenant[owner[request.custom_id]]
        body = json.dumps(request.body, ensure_ascii=False)
        assert tenant["token"] in body  # the check below is not vacuous
        for other in drawn:
            if other is not tenant:
                assert other["token"] not in body, (tenant["tenant_id"], other["tenant_id"])
                assert other["token"].lower() not in body
        email = f"{tenant['token'].lower()}."
        assert (email in body) is not tenant["redact_pii"]
    for credentials_ref, job_tenants in jobs:
        isolated = [t for t in job_tenants if by_tenant[t]["isolated"]]
        if credentials_ref == "default":
            assert isolated == []  # an isolated tenant never shares a batch
        else:
            assert job_tenants == isolated == [credentials_ref.removeprefix("tenant:")]


def test_one_tenants_missing_key_does_not_stop_the_other_tenants(
    engine, emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-shared")  # real-key mode, against the emulator
    monkeypatch.setenv("OPENAI_BASE_URL", emulator.openai_base_url)
    credentials = {"openai_api_key_env": "VAULT_KEY_NOT_SET"}
    add_tenant(engine, "acme", "Acme", "sales", "growth")
    add_tenant(
        engine, "vault", "Vault", "sales", "scale", {"isolated": True, "credentials": credentials}
    )
    drawn = [
        {"tenant_id": "acme", "token": "Qacme", "transcripts": ["hello"]},
        {"tenant_id": "vault", "token": "Qvault", "transcripts": ["hello"]},
    ]
    _seed_calls(engine, drawn)
    outcome = run_to_completion(
        engine,
        post_call("openai"),
        ProviderRegistry(max_retries=0, timeout=30),
        [DAY],
        max_rounds=3,
    )
    with engine.connect() as conn:
        status = dict(conn.execute(text("SELECT tenant_id, status FROM batch_requests")).all())
    assert status["acme"] == "succeeded"
    assert status["vault"] != "succeeded"
    (parked,) = outcome.blocked  # the tenant's job, with the variable to set
    assert parked.tenants == ("vault",) and "VAULT_KEY_NOT_SET" in parked.reason
    assert outcome.open_requests == 0


@st.composite
def tenants_with_knowledge(draw):
    count = draw(st.integers(min_value=2, max_value=3))
    tokens = draw(st.lists(_TOKEN, min_size=count, max_size=count, unique=True))
    return [
        {
            "tenant_id": f"k{i}-{token[1:].lower()}",
            "token": token,
            "vertical": draw(st.sampled_from(VERTICALS)),
            "isolated": draw(st.booleans()),
            "documents": draw(st.lists(_FILLER, min_size=1, max_size=2)),
            "leads": draw(st.integers(min_value=1, max_value=4)),
        }
        for i, token in enumerate(tokens)
    ]


def _seed_knowledge(engine, drawn) -> None:
    created = dt.datetime.combine(DAY, dt.time(11), tzinfo=dt.UTC)
    for t in drawn:
        add_tenant(engine, t["tenant_id"], f"Biz {t['token']} Ltd", t["vertical"], "scale",
                   {"isolated": t["isolated"]})  # fmt: skip
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO agents (agent_id, tenant_id, name) VALUES (:a, :t, 'Ava')"),
                {"a": f"agent-{t['tenant_id']}", "t": t["tenant_id"]},
            )
            for n, filler in enumerate(t["documents"]):
                # Long enough for Haiku 4.5's 4,096-token minimum: the context is cached, primed.
                content = f"{filler} Our price list {t['token']}. " + "Opening hours daily. " * 230
                conn.execute(
                    text(
                        "INSERT INTO kb_documents (doc_id, tenant_id, title, content,"
                        " content_sha256) VALUES (:d, :t, :title, :c, encode(sha256("
                        "convert_to(:c, 'UTF8')), 'hex'))"
                    ),
                    {"d": f"doc-{t['tenant_id']}-{n}", "t": t["tenant_id"],
                     "title": f"Doc {t['token']} {n}", "c": content},
                )  # fmt: skip
            for n in range(t["leads"]):
                conn.execute(
                    text(
                        "INSERT INTO leads (lead_id, tenant_id, agent_id, created_at, name, email,"
                        " phone, notes) VALUES (:l, :t, :a, :c, 'Ann Lee', 'ann@example.com',"
                        " '07700 900123', :notes)"
                    ),
                    {"l": f"lead-{t['tenant_id']}-{n}", "t": t["tenant_id"],
                     "a": f"agent-{t['tenant_id']}", "c": created,
                     "notes": f"asked about {t['token']}"},
                )  # fmt: skip


@settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=tenants_with_knowledge(), provider=st.sampled_from(PROVIDERS))
def test_no_request_holds_another_tenants_context(engine, emulator, drawn, provider) -> None:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE tenants, batch_jobs, prompt_prefixes CASCADE"))
    _seed_knowledge(engine, drawn)
    workflow = (
        LeadScoring()
        if provider == "anthropic"
        else LeadScoring(provider="openai", model="gpt-4o-mini", endpoint="/v1/chat/completions")
    )
    outcome = run_to_completion(
        engine, workflow, ProviderRegistry(max_retries=0, timeout=30), [DAY], poll_interval=0.01
    )
    assert outcome.open_requests == 0
    with engine.connect() as conn:
        owner = dict(conn.execute(text("SELECT custom_id, tenant_id FROM batch_requests")).all())
    by_tenant = {t["tenant_id"]: t for t in drawn}
    sent = [r for r in emulator.received_requests(provider) if r.custom_id in owner]
    assert len(sent) == sum(t["leads"] for t in drawn)
    for request in sent:
        tenant = by_tenant[owner[request.custom_id]]
        body = json.dumps(request.body, ensure_ascii=False)
        assert f"Our price list {tenant['token']}" in body  # its own knowledge base is there
        for other in drawn:
            if other is not tenant:
                assert other["token"] not in body, (tenant["tenant_id"], other["tenant_id"])
