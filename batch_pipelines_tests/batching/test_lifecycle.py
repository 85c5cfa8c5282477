"""End to end through the emulator, the official SDKs and Postgres: pooling, isolation, exactly-once,
retries, dead letters, whole-batch failures, deadlines and crash recovery."""

from __future__ import annotations

import datetime as dt

import anthropic
import openai
import pytest
from sqlalchemy import func, select, text

from batch_pipelines.batching import custom_ids
from batch_pipelines.batching.ingest import IngestResult, ingest_job
from batch_pipelines.batching.lifecycle import run_to_completion
from batch_pipelines.batching.planning import plan
from batch_pipelines.batching.polling import ended_jobs_awaiting_ingest, poll
from batch_pipelines.batching.submission import submit_planned
from batch_pipelines.db.tables import batch_jobs, batch_requests, call_analytics, llm_usage

from .conftest import DAY, CallSummaries, add_calls, add_tenant

PROVIDERS = ["openai", "anthropic"]


def provider_batch_ids(emulator, provider: str) -> list[str]:
    if provider == "openai":
        client = openai.OpenAI(base_url=emulator.openai_base_url, api_key="x", max_retries=0)
        return [b.id for b in client.batches.list(limit=100)]
    client = anthropic.Anthropic(base_url=emulator.anthropic_base_url, api_key="x", max_retries=0)
    return [b.id for b in client.messages.batches.list(limit=100)]


def assert_exactly_once(engine, emulator, provider: str) -> None:
    """Every item succeeded or dead-lettered; one result and one usage row per succeeded line; one
    provider batch per batch job that reached the provider."""
    with engine.connect() as conn:
        jobs = (
            conn.execute(
                select(batch_jobs.c.provider_batch_id).where(
                    batch_jobs.c.mode == "batch", batch_jobs.c.provider_batch_id.is_not(None)
                )
            )
            .scalars()
            .all()
        )
        statuses = dict(
            conn.execute(
                text(
                    "SELECT DISTINCT ON (item_id) item_id, status FROM batch_requests"
                    " ORDER BY item_id, created_at DESC, attempt DESC"
                )
            ).all()
        )
        succeeded = conn.execute(
            select(func.count())
            .select_from(batch_requests)
            .where(batch_requests.c.status == "succeeded")
        ).scalar_one()
        results = conn.execute(select(func.count()).select_from(call_analytics)).scalar_one()
        usage_for_succeeded = conn.execute(
            text(
                "SELECT count(*) FROM llm_usage u JOIN batch_requests r USING (custom_id)"
                " WHERE r.status = 'succeeded'"
            )
        ).scalar_one()
        dead_without_reason = conn.execute(
            text("SELECT count(*) FROM batch_requests WHERE status='dead_letter' AND error IS NULL")
        ).scalar_one()
    assert sorted(jobs) == sorted(set(jobs))
    assert sorted(provider_batch_ids(emulator, provider)) == sorted(jobs)
    assert set(statuses.values()) <= {"succeeded", "dead_letter"}, statuses
    assert results == succeeded == usage_for_succeeded
    assert dead_without_reason == 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_day_of_three_tenants_is_pooled_into_one_batch_and_fully_ingested(
    engine, emulator, providers, provider
) -> None:
    for tenant in ("acme", "brightsmile", "zeta"):
        add_tenant(engine, tenant)
        add_calls(engine, tenant, 4)
    outcome = run_to_completion(engine, CallSummaries(provider), providers, [DAY])
    assert outcome.open_requests == 0
    assert len(outcome.jobs) == 1  # every tenant in one pooled provider batch
    assert outcome.ingested.succeeded == 12
    assert_exactly_once(engine, emulator, provider)
    with engine.connect() as conn:
        usage_tenants = conn.execute(
            select(llm_usage.c.tenant_id, func.count()).group_by(llm_usage.c.tenant_id)
        ).all()
    assert dict(usage_tenants) == {"acme": 4, "brightsmile": 4, "zeta": 4}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_each_request_carries_only_its_own_tenants_data(
    engine, emulator, providers, provider
) -> None:
    for tenant in ("acme", "zeta"):
        add_tenant(engine, tenant)
        add_calls(engine, tenant, 3)
    run_to_completion(engine, CallSummaries(provider), providers, [DAY])
    with engine.connect() as conn:
        owner = dict(
            conn.execute(select(batch_requests.c.custom_id, batch_requests.c.tenant_id)).all()
        )
    received = [r for r in emulator.received_requests(provider) if r.custom_id]
    assert len(received) == 6
    for request in received:
        body = str(request.body)
        tenant = owner[request.custom_id]
        other = "zeta" if tenant == "acme" else "acme"
        assert tenant in body and other not in body


def test_a_self_hosted_server_is_driven_concurrently_and_billed_as_self_hosted(
    engine, emulator, providers
) -> None:
    for tenant in ("acme", "zeta"):
        add_tenant(engine, tenant)
        add_calls(engine, tenant, 5)
    outcome = run_to_completion(engine, CallSummaries("self_hosted"), providers, [DAY])
    with engine.connect() as conn:
        modes = dict(
            conn.execute(select(llm_usage.c.mode, func.count()).group_by(llm_usage.c.mode)).all()
        )
        results = conn.execute(select(func.count()).select_from(call_analytics)).scalar_one()
    assert outcome.open_requests == 0
    assert modes == {"self_hosted": 10} and results == 10
    synchronous_calls = [r for r in emulator.received_requests("openai") if r.source == "sync"]
    assert len(synchronous_calls) == 10


def test_isolated_tenants_get_batches_of_their_own(engine, emulator, providers) -> None:
    add_tenant(engine, "acme")
    add_tenant(engine, "zeta")
    add_tenant(engine, "vault-clinic", isolated=True)
    for tenant in ("acme", "zeta", "vault-clinic"):
        add_calls(engine, tenant, 2)
    outcome = run_to_completion(engine, CallSummaries("openai"), providers, [DAY])
    with engine.connect() as conn:
        jobs = conn.execute(select(batch_jobs.c.batch_job_id, batch_jobs.c.credentials_ref)).all()
        tenants_per_job = dict(
            conn.execute(
                text(
                    "SELECT batch_job_id, array_agg(DISTINCT tenant_id ORDER BY tenant_id)"
                    " FROM batch_requests GROUP BY batch_job_id"
                )
            ).all()
        )
    assert outcome.open_requests == 0
    refs = {ref: tenants_per_job[job] for job, ref in jobs}
    assert refs == {"default": ["acme", "zeta"], "tenant:vault-clinic": ["vault-clinic"]}


def test_running_the_same_day_again_submits_and_bills_nothing(engine, emulator, providers) -> None:
    add_tenant(engine, "acme")
    add_calls(engine, "acme", 3)
    run_to_completion(engine, CallSummaries(), providers, [DAY])
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(llm_usage)).scalar_one()
    again = run_to_completion(engine, CallSummaries(), providers, [DAY])
    with engine.connect() as conn:
        after = conn.execute(select(func.count()).select_from(llm_usage)).scalar_one()
    assert again.jobs == [] and before == after == 3
    assert len(provider_batch_ids(emulator, "openai")) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    "fault",
    [
        {"line_error_rate": 0.3},
        {"malformed_rate": 0.3},
        {"expire_rate": 1.0},
        {"server_errors_rate": 0.4},
    ],
    ids=["line-errors", "malformed-answers", "expiry", "5xx-on-retrieve"],
)
def test_provider_faults_end_with_every_item_succeeded_or_dead_lettered(
    engine, emulator, providers, provider, fault
) -> None:
    add_tenant(engine, "acme")
    add_tenant(engine, "zeta")
    add_calls(engine, "acme", 6)
    add_calls(engine, "zeta", 6)
    emulator.set_config(**fault)
    outcome = run_to_completion(engine, CallSummaries(provider), providers, [DAY], max_rounds=40)
    emulator.set_config(line_error_rate=0, malformed_rate=0, expire_rate=0, server_errors_rate=0)
    outcome = run_to_completion(engine, CallSummaries(provider), providers, [DAY], max_rounds=40)
    assert outcome.open_requests == 0
    assert_exactly_once(engine, emulator, provider)


def test_retried_lines_go_into_a_later_batch_alone(engine, emulator, providers) -> None:
    add_tenant(engine, "acme")
    add_calls(engine, "acme", 10)
    # Faults roll on the (random) custom ids: at 0.6, no failed line out of 10 is a 0.01% chance.
    emulator.set_config(line_error_rate=0.6)
    run_to_completion(engine, CallSummaries(), providers, [DAY], max_rounds=1)
    with engine.connect() as conn:
        first_job = conn.execute(select(batch_jobs.c.batch_job_id)).scalar_one()
        failed = conn.execute(
            select(func.count())
            .select_from(batch_requests)
            .where(batch_requests.c.status == "failed")
        ).scalar_one()
    emulator.set_config(line_error_rate=0)
    run_to_completion(engine, CallSummaries(), providers, [DAY])
    with engine.connect() as conn:
        later = (
            conn.execute(
                select(batch_jobs.c.request_count).where(batch_jobs.c.batch_job_id != first_job)
            )
            .scalars()
            .all()
        )
    assert failed > 0
    assert sum(later) == failed  # only the failed lines were sent again


@pytest.mark.parametrize("provider", PROVIDERS)
def test_answers_that_keep_failing_are_dead_lettered_with_the_reason(
    engine, emulator, providers, provider
) -> None:
    add_tenant(engine, "acme")
    add_calls(engine, "acme", 3)
    emulator.set_config(malformed_rate=1.0)
    outcome = run_to_completion(engine, CallSummaries(provider), providers, [DAY])
    with engine.connect() as conn:
        dead = conn.execute(
            select(batch_requests.c.error, batch_requests.c.attempt).where(
                batch_requests.c.status == "dead_letter"
            )
        ).all()
    assert outcome.open_requests == 0
    assert len(dead) == 3
    assert all(attempt == 3 and "invalid answer" in error for error, attempt in dead)


def test_a_batch_failing_on_the_token_limit_goes_back_to_planned_unchanged(
    engine, emulator, providers
) -> None:
    """Item 2: a batch that failed on the enqueued-token limit ran nothing. Its requests go back
    to `planned`, unchanged (the same ids and attempt, one batch of the same size: halving it
    cannot help, the limit counts every live batch of the model), and the batch that failed
    stays on record."""
    add_tenant(engine, "acme")
    add_calls(engine, "acme", 8)
    emulator.set_config(fail_validation_rate=1.0)  # the emulator fails it with token_limit_exceeded
    workflow = CallSummaries()
    (first,) = plan(engine, workflow, providers, [DAY]).batch_job_ids
    submit_planned(engine, workflow, providers)
    result = poll(engine, providers)
    assert list(result.failed) == [first] and "token_limit_exceeded" in result.failed[first]
    with engine.connect() as conn:
        jobs = dict(conn.execute(select(batch_jobs.c.batch_job_id, batch_jobs.c.status)).all())
        requests = conn.execute(
            select(
                batch_requests.c.custom_id,
                batch_requests.c.batch_job_id,
                batch_requests.c.status,
                batch_requests.c.attempt,
                batch_requests.c.batch_failures,
            )
        ).all()
    (replacement,) = set(jobs) - {first}
    assert jobs == {first: "failed", replacement: "planned"}
    assert {(r.batch_job_id, r.status, r.attempt, r.batch_failures) for r in requests} == {
        (replacement, "planned", 1, 1)
    }
    assert len(requests) == 8  # no new rows: the same ids go again
    emulator.set_config(fail_validation_rate=0)
    outcome = run_to_completion(engine, workflow, providers, [DAY])
    with engine.connect() as conn:
        sizes = (
            conn.execute(
                select(batch_jobs.c.request_count).where(batch_jobs.c.status == "ingested")
            )
            .scalars()
            .all()
        )
    assert outcome.open_requests == 0 and sizes == [8]
    assert_exactly_once(engine, emulator, "openai")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_rate_limited_creates_are_retried_without_a_duplicate_batch(
    engine, emulator, providers, provider
) -> None:
    add_tenant(engine, "acme")
    add_calls(engine, "acme", 3)
    emulator.set_config(rate_limit_create=2)
    outcome = run_to_completion(engine, CallSummaries(provider), providers, [DAY])
    assert outcome.open_requests == 0
    assert_exactly_once(engine, emulator, provider)
    assert len(provider_batch_ids(emulator, provider)) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_batch_past_its_deadline_is_cancelled_and_the_rest_sent_synchronously(
    engine, emulator, providers, provider
) -> None:
    add_tenant(engine, "acme")
    add_calls(engine, "acme", 4)
    emulator.set_config(complete_after=3600)
    workflow = CallSummaries(provider, deadline=dt.timedelta(minutes=30))
    plan(engine, workflow, providers, [DAY])
    submit_planned(engine, workflow, providers)
    late = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    result = poll(engine, providers, now=late)
    assert len(result.cancelled_for_deadline) == 1
    emulator.advance(600)  # OpenAI takes a while in `cancelling`
    for _ in range(20):
        poll(engine, providers, now=late)
        jobs = ended_jobs_awaiting_ingest(engine)
        if jobs:
            break
    ingested = ingest_job(engine, workflow, providers, jobs[0].batch_job_id, now=late)
    assert ingested.sent_sync == 4
    totals = IngestResult("*")  # what an ingest run reports over its jobs (item 10 of issue 16)
    totals.add(ingested)
    assert totals.sent_sync == 4
    with engine.connect() as conn:
        modes = conn.execute(
            select(llm_usage.c.mode, func.count()).group_by(llm_usage.c.mode)
        ).all()
        results = conn.execute(select(func.count()).select_from(call_analytics)).scalar_one()
    assert dict(modes) == {"sync": 4} and results == 4


def test_two_ingesters_at_once_reach_the_same_state_as_one(engine, emulator, providers) -> None:
    from concurrent.futures import ThreadPoolExecutor

    add_tenant(engine, "acme")
    add_calls(engine, "acme", 20)
    workflow = CallSummaries()
    plan(engine, workflow, providers, [DAY])
    submit_planned(engine, workflow, providers)
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: poll(engine, providers), range(2)))
    (job,) = ended_jobs_awaiting_ingest(engine)
    with ThreadPoolExecutor(2) as pool:
        results = list(
            pool.map(lambda _: ingest_job(engine, workflow, providers, job.batch_job_id), range(2))
        )
    assert sorted(r.already_ingested for r in results) == [False, True]
    with engine.connect() as conn:
        usage = conn.execute(select(func.count()).select_from(llm_usage)).scalar_one()
    assert usage == 20


class Crash(Exception):
    pass


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    "point", ["after_plan_commit", "after_upload", "after_create", "after_record", "mid_ingest"]
)
def test_a_crash_at_any_step_boundary_recovers_to_exactly_once(
    engine, emulator, providers, provider, point
) -> None:
    add_tenant(engine, "acme")
    add_tenant(engine, "zeta")
    add_calls(engine, "acme", 5)
    add_calls(engine, "zeta", 5)
    fired = []

    def checkpoint(name: str) -> None:
        if name == point and not fired:
            fired.append(name)
            raise Crash(name)

    workflow = CallSummaries(provider)
    with pytest.raises(Crash):
        run_to_completion(engine, workflow, providers, [DAY], checkpoint=checkpoint)
    # The next run (a new process would do the same) heals and finishes.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    outcome = run_to_completion(engine, workflow, providers, [DAY], clock=lambda: later)
    assert outcome.open_requests == 0
    assert_exactly_once(engine, emulator, provider)
    with engine.connect() as conn:
        succeeded = conn.execute(
            select(func.count())
            .select_from(batch_requests)
            .where(batch_requests.c.status == "succeeded")
        ).scalar_one()
    assert succeeded == 10


def test_custom_ids_are_valid_for_both_providers_and_bound_to_their_row() -> None:
    cid = custom_ids.new_custom_id("acme", "post_call", "call-1", 1)
    assert custom_ids.PATTERN.fullmatch(cid) and len(cid) <= 64
    assert custom_ids.signature_matches(cid, "acme", "post_call", "call-1", 1)
    assert not custom_ids.signature_matches(cid, "zeta", "post_call", "call-1", 1)
    assert not custom_ids.signature_matches(cid, "acme", "post_call", "call-1", 2)
    forged = cid[:-1] + ("A" if cid[-1] != "A" else "B")
    assert not custom_ids.signature_matches(forged, "acme", "post_call", "call-1", 1)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_submit_run_on_another_machine_sends_the_lines_queued_in_postgres(
    engine, emulator, providers, provider, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The queue step keeps each rendered line in Postgres (`request_lines`): a submit run on a
    machine that has no spool (another home) sends exactly those bytes, rendering nothing again,
    and leaves the job's file there only as a cache; once the job is ingested its lines are
    dropped (they hold tenant data)."""
    from batch_pipelines.batching.planning import spool_dir

    for tenant in ("acme", "zeta"):
        add_tenant(engine, tenant)
        add_calls(engine, tenant, 3)
    workflow = CallSummaries(provider)
    (job_id,) = plan(engine, workflow, providers, [DAY]).batch_job_ids
    with engine.connect() as conn:
        queued = dict(conn.execute(text("SELECT custom_id, line FROM request_lines")).all())
    assert len(queued) == 6

    def no_rendering(*_args, **_kwargs):
        raise AssertionError("the submit run rendered the items again")

    with monkeypatch.context() as another_machine:
        another_machine.setenv("BATCH_PIPELINES_HOME", str(tmp_path / "another-machine"))
        another_machine.setattr(workflow, "render", no_rendering)
        assert not any(spool_dir().iterdir())
        assert submit_planned(engine, workflow, providers).submitted == [job_id]
        sent = (spool_dir() / f"{job_id}.jsonl").read_bytes()
    assert sorted(sent.splitlines(keepends=True)) == sorted(bytes(b) for b in queued.values())
    run_to_completion(engine, workflow, providers, [DAY])
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM request_lines")).scalar_one() == 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_job_whose_lines_are_gone_is_rendered_again_from_a_scratch_file(
    engine, emulator, providers, provider
) -> None:
    """Lines neither in the spool nor in Postgres (a job planned before they were kept) are
    rendered again with the same ids into a scratch file that is removed afterwards."""
    from batch_pipelines.batching.planning import spool_dir

    for tenant in ("acme", "zeta"):
        add_tenant(engine, tenant)
        add_calls(engine, tenant, 3)
    workflow = CallSummaries(provider)
    (job_id,) = plan(engine, workflow, providers, [DAY]).batch_job_ids
    with engine.begin() as conn:
        queued = set(conn.execute(text("SELECT custom_id FROM request_lines")).scalars())
        conn.execute(text("DELETE FROM request_lines"))
    assert submit_planned(engine, workflow, providers).submitted == [job_id]
    assert list(spool_dir().glob(f"{job_id}*")) == []  # no scratch file left behind
    sent = {r.custom_id for r in emulator.received_requests(provider) if r.custom_id}
    assert sent == queued and len(sent) == 6


def test_old_spool_files_no_job_will_read_are_removed_by_the_next_plan(
    engine, emulator, providers
) -> None:
    """A spool file (rendered prompts, tenant data) of a job that does not exist, or of a failed
    job, is never read again. The next plan removes such files once they are an hour old, and
    keeps the spool of every job still to be sent and every file young enough to belong to a
    submission under way."""
    import os
    import time

    from batch_pipelines.batching.planning import spool_dir

    add_tenant(engine, "acme")
    add_calls(engine, "acme", 2)
    add_calls(engine, "acme", 2, day=DAY + dt.timedelta(days=1))
    workflow = CallSummaries("openai")
    (live_job,) = plan(engine, workflow, providers, [DAY]).batch_job_ids
    (failed_job,) = plan(engine, workflow, providers, [DAY + dt.timedelta(days=1)]).batch_job_ids
    with engine.begin() as conn:
        conn.execute(
            batch_jobs.update()
            .where(batch_jobs.c.batch_job_id == failed_job)
            .values(status="failed", error="test: whole batch failed")
        )
    spool = spool_dir()
    # What a submission writes (its cache of the job's lines), an hour ago.
    (spool / f"{live_job}.jsonl").write_bytes(b'{"custom_id": "live"}\n')
    (spool / f"{failed_job}.jsonl").write_bytes(b'{"custom_id": "failed"}\n')
    (spool / "bj_crashed.jsonl").write_bytes(b'{"custom_id": "x"}\n')
    (spool / f"{live_job}.partial").write_bytes(b"half")
    (spool / "bj_young_crash.jsonl").write_bytes(b'{"custom_id": "y"}\n')
    hour_ago = time.time() - 3700
    for name in (f"{live_job}.jsonl", f"{failed_job}.jsonl", "bj_crashed.jsonl",
                 f"{live_job}.partial"):  # fmt: skip
        os.utime(spool / name, (hour_ago, hour_ago))

    assert plan(engine, workflow, providers, [DAY]).batch_job_ids == []  # nothing new is due

    left = {p.name for p in spool.iterdir()}
    assert f"{live_job}.jsonl" in left  # still to be submitted
    assert "bj_young_crash.jsonl" in left  # may belong to a submission under way
    assert f"{failed_job}.jsonl" not in left
    assert "bj_crashed.jsonl" not in left
    assert f"{live_job}.partial" not in left
    # The live job's spool is still what submission sends.
    assert submit_planned(engine, workflow, providers).submitted[0] == live_job
