"""Item 1 of issue 16: one tenant's configuration error (its key variable unset) parks that
tenant's job, with a reason naming the tenant and the variable, and every other tenant's work is
polled, submitted and ingested in the same ticks; the job resumes once the variable is set."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from batch_pipelines.batching.lifecycle import run_to_completion
from batch_pipelines.batching.planning import plan
from batch_pipelines.batching.polling import poll
from batch_pipelines.batching.submission import submit_planned
from batch_pipelines.db.tables import batch_jobs

from .conftest import DAY, CallSummaries, add_calls, add_tenant

VAULT_KEY = "VAULT_OPENAI_KEY"


@pytest.fixture
def real_key_mode(emulator, monkeypatch: pytest.MonkeyPatch):
    """Providers configured with keys (against the emulator), as in production: an isolated
    tenant's key variable that is not set is then an error, not the emulator's fallback."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-shared")
    monkeypatch.setenv("OPENAI_BASE_URL", emulator.openai_base_url)
    monkeypatch.setenv(VAULT_KEY, "sk-test-vault")
    return monkeypatch


def _two_tenants(engine) -> None:
    add_tenant(engine, "acme")
    add_tenant(engine, "vault", isolated=True)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE tenants SET policy = policy || CAST(:p AS jsonb) WHERE tenant_id = 'vault'"
            ),
            {"p": json.dumps({"credentials": {"openai_api_key_env": VAULT_KEY}})},
        )
    add_calls(engine, "acme", 3)
    add_calls(engine, "vault", 2)


def _statuses(engine) -> dict[str, set[str]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT tenant_id, status FROM batch_requests")).all()
    found: dict[str, set[str]] = {}
    for tenant, status in rows:
        found.setdefault(tenant, set()).add(status)
    return found


def _assert_vault_parked(outcome) -> None:
    (blocked,) = outcome.blocked
    assert blocked.tenants == ("vault",) and blocked.attention == "configuration"
    assert "tenant vault" in blocked.reason and VAULT_KEY in blocked.reason
    assert outcome.open_requests == 0  # parked work waits for a person, not for the loop


def test_a_key_unset_after_submission_parks_that_job_and_the_others_finish(
    engine, providers, real_key_mode
) -> None:
    _two_tenants(engine)
    workflow = CallSummaries()
    plan(engine, workflow, providers, [DAY])
    assert len(submit_planned(engine, workflow, providers).submitted) == 2
    real_key_mode.delenv(VAULT_KEY)
    # The vault job sorts first in the poll (never polled); it must not stop the tick.
    with engine.begin() as conn:
        conn.execute(
            batch_jobs.update()
            .where(batch_jobs.c.credentials_ref == "default")
            .values(last_polled_at=text("now()"))
        )
    result = poll(engine, providers)
    assert len(result.parked) == 1 and len(result.ended) == 1
    outcome = run_to_completion(engine, workflow, providers, [DAY], max_rounds=5)
    assert _statuses(engine) == {"acme": {"succeeded"}, "vault": {"submitted"}}
    _assert_vault_parked(outcome)
    # The variable is set again: the job resumes by itself, from where it was.
    real_key_mode.setenv(VAULT_KEY, "sk-test-vault")
    again = run_to_completion(engine, workflow, providers, [DAY])
    assert again.blocked == [] and again.open_requests == 0
    assert _statuses(engine) == {"acme": {"succeeded"}, "vault": {"succeeded"}}


def test_a_key_unset_before_submission_parks_that_job_and_the_others_are_submitted(
    engine, providers, real_key_mode
) -> None:
    _two_tenants(engine)
    workflow = CallSummaries()
    planned = plan(engine, workflow, providers, [DAY])  # planning needs no key
    assert len(planned.batch_job_ids) == 2
    real_key_mode.delenv(VAULT_KEY)
    submitted = submit_planned(engine, workflow, providers)
    assert len(submitted.submitted) == 1 and len(submitted.needs_attention) == 1
    outcome = run_to_completion(engine, workflow, providers, [DAY], max_rounds=5)
    assert _statuses(engine) == {"acme": {"succeeded"}, "vault": {"planned"}}
    _assert_vault_parked(outcome)
    with engine.connect() as conn:
        parked = conn.execute(
            select(batch_jobs.c.status, batch_jobs.c.resume_status).where(
                batch_jobs.c.credentials_ref == "tenant:vault"
            )
        ).one()
    assert tuple(parked) == ("needs_attention", "planned")
