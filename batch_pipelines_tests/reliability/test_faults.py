"""The fault matrix: a crash at every step boundary of plan, submit, ingest and price, on each
provider, and the provider going away mid-flight. After recovery the day must equal a clean run of
the same day on a fresh database: the same statuses and results, no provider batch created twice,
no request line sent twice, and identical priced ledger totals (tokens and micro-dollars).

The emulator answers deterministically from the request body (custom ids are not part of it), so a
recovered day and a clean day are billed for exactly the same tokens.
`batching/test_lifecycle.py` checks exactly-once for five of these crash points; this adds
the queue step's two, `after_plan_written`, `mid_price`, a hard kill mid-ingest, the outage cases, two provider batches of
different shapes per day, and the comparison with a clean run's ledger. Poll has no checkpoint:
its only write per job is one transaction after the provider call, so a crash inside it is a poll
that did not happen; the outage cases cover a poll that cannot reach the provider.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from batch_pipelines.batching import ingest
from batch_pipelines.batching.ingest import IngestResult, ingest_job
from batch_pipelines.batching.lifecycle import run_to_completion
from batch_pipelines.batching.planning import plan
from batch_pipelines.batching.polling import ended_jobs_awaiting_ingest, poll
from batch_pipelines.batching.submission import submit_planned
from batch_pipelines.emulator.server import EmulatorServer
from batch_pipelines.ledger.ledger import price_partition
from batch_pipelines.providers.registry import ProviderRegistry

from .conftest import DAY, PROVIDERS, later, post_call, snapshot

pytestmark = pytest.mark.reliability

# Where `checkpoint(...)` is called in batching/*.py, in lifecycle order.
CRASH_POINTS = (
    "after_queue_written",  # planning.py: queued rows and lines written, not committed
    "after_queue_commit",  # planning.py: the work queued, no job planned
    "after_plan_written",  # planning.py: jobs written, transaction not committed
    "after_plan_commit",  # planning.py: plan committed, nothing sent
    "after_upload",  # submission.py: OpenAI file uploaded, batch not created
    "after_create",  # submission.py: provider batch created, its id not recorded
    "after_record",  # submission.py: provider id recorded
    "mid_ingest",  # ingest.py: a chunk of results committed, the rest not
)


@pytest.fixture(autouse=True)
def small_ingest_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ingest commits 4 lines at a time (500 in production), so `mid_ingest` lands inside a file
    of 10 lines: 4 committed, 6 not."""
    monkeypatch.setattr(ingest, "CHUNK_LINES", 4)


class Crash(Exception):
    """The process dies here."""


def crash_at(point: str):
    fired: list[str] = []

    def checkpoint(name: str) -> None:
        if name == point and not fired:
            fired.append(name)
            raise Crash(name)

    return checkpoint, fired


def assert_same_as_clean(engine, emulator, provider, clean) -> None:
    assert set(clean.ledger) == set(clean.results.values())  # the baseline is a priced day
    assert all(totals[0] > 0 and totals[-2] > 0 for totals in clean.ledger.values())
    recovered = snapshot(engine, emulator, provider)
    assert recovered.item_status == clean.item_status
    assert set(recovered.item_status.values()) == {"succeeded"}
    assert recovered.results == clean.results  # no result missing, none doubled (PK), same owner
    assert recovered.usage_rows_per_item == clean.usage_rows_per_item
    assert set(recovered.usage_rows_per_item.values()) == {1}  # billed once per item
    # no provider batch created twice, and every one of them is ours
    assert recovered.provider_batches == recovered.jobs_with_provider_ids == clean.provider_batches
    assert recovered.max_sends_per_custom_id == 1  # no request line sent twice
    assert recovered.ledger == clean.ledger  # identical tokens and micro-dollars per tenant


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_crash_at_a_step_boundary_recovers_to_the_clean_days_ledger(
    fault_day, emulator, providers, clean_day, provider, point
) -> None:
    workflow = post_call(provider)
    checkpoint, fired = crash_at(point)
    with pytest.raises(Crash):
        run_to_completion(fault_day, workflow, providers, [DAY], checkpoint=checkpoint)
    assert fired == [point]
    # The next run (a new process would do the same) heals and finishes.
    outcome = run_to_completion(fault_day, workflow, providers, [DAY], clock=later())
    assert outcome.open_requests == 0
    assert_same_as_clean(fault_day, emulator, provider, clean_day(provider))


def test_a_crash_while_pricing_leaves_no_partial_ledger_and_repricing_matches(
    fault_day, emulator, providers, clean_day
) -> None:
    provider = "openai"  # pricing does not depend on the provider
    outcome = run_to_completion(fault_day, post_call(provider), providers, [DAY])
    assert outcome.open_requests == 0
    with pytest.raises(Crash), fault_day.begin() as conn:
        price_partition(conn, DAY, "acme")
        price_partition(conn, DAY, "zeta")
        raise Crash("mid_price")  # before the pricing transaction commits
    with fault_day.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM cost_ledger")).scalar_one() == 0
    assert_same_as_clean(fault_day, emulator, provider, clean_day(provider))
    # pricing again (a retried or duplicated ledger run) changes nothing
    assert snapshot(fault_day, emulator, provider).ledger == clean_day(provider).ledger


def test_a_hard_killed_ingest_is_left_alone_while_fresh_and_resumed_once_stale(
    fault_day, emulator, providers, clean_day
) -> None:
    """A process killed mid-ingest never runs its cleanup: `ingest_started_at` stays set. Another
    worker must not take the job over at once (the first may be alive and slow), but must once the
    start is stale (15 minutes), and then finish exactly once."""
    workflow = post_call("openai")
    checkpoint, _ = crash_at("mid_ingest")
    with pytest.raises(Crash):
        run_to_completion(fault_day, workflow, providers, [DAY], checkpoint=checkpoint)
    with fault_day.begin() as conn:  # undo the cleanup a killed process would not have run
        killed = conn.execute(
            text(
                "UPDATE batch_jobs SET ingest_started_at = now(), error = NULL"
                " WHERE error = 'ingest failed: mid_ingest' RETURNING batch_job_id"
            )
        ).all()
    assert len(killed) == 1
    stuck = run_to_completion(fault_day, workflow, providers, [DAY], max_rounds=2)
    assert stuck.open_requests > 0  # the fresh claim is respected
    with fault_day.begin() as conn:
        conn.execute(
            text(
                "UPDATE batch_jobs SET ingest_started_at = now() - interval '16 minutes'"
                " WHERE batch_job_id = :job"
            ),
            {"job": killed[0].batch_job_id},
        )
    outcome = run_to_completion(fault_day, workflow, providers, [DAY])
    assert outcome.open_requests == 0
    assert_same_as_clean(fault_day, emulator, "openai", clean_day("openai"))


def _restart(emulator: EmulatorServer) -> EmulatorServer:
    """A new emulator process on the same home and port: the provider coming back."""
    return EmulatorServer(home=emulator.home, port=emulator.port, config=emulator.config).start()


@pytest.mark.parametrize(
    ("down_during", "provider"),
    # Anthropic's create is the harder submit case: no upload, no metadata to reconcile with.
    [("poll", "openai"), ("poll", "anthropic"), ("submit", "anthropic")],
)
def test_the_provider_going_away_mid_flight_and_coming_back_on_the_same_state(
    fault_day, emulator, providers, clean_day, provider, down_during
) -> None:
    """`poll`: the emulator stops after the batches were created and before they are polled.
    `submit`: it stops after planning, so uploads and creates fail without an answer. Either way
    the calls made while it is down fail and are recorded, and the run after it comes back (a new
    process on the same home and port) finishes the day as if nothing happened."""
    workflow = post_call(provider)
    emulator.set_config(complete_after=60)
    plan(fault_day, workflow, providers, [DAY])
    if down_during == "poll":
        assert len(submit_planned(fault_day, workflow, providers).submitted) == 2
    emulator.stop()
    try:
        if down_during == "submit":
            attempt = submit_planned(fault_day, workflow, providers)
            assert attempt.submitted == [] and len(attempt.deferred) == 2
        else:
            result = poll(fault_day, providers)
            assert not result.ended and len(result.errors) == 2
    finally:
        restarted = _restart(emulator)
    try:
        restarted.set_config(complete_after=0)  # for batches created from now on
        restarted.advance(120)  # those created before the outage finish while nobody looks
        outcome = run_to_completion(fault_day, workflow, providers, [DAY], clock=later())
        assert outcome.open_requests == 0
        assert_same_as_clean(fault_day, restarted, provider, clean_day(provider))
    finally:
        restarted.stop()


def test_a_poll_during_an_outage_records_a_job_it_cannot_reconcile(
    fault_day, emulator, providers
) -> None:
    # Anthropic has no upload: the create itself fails without an answer, so the batches may
    # exist, and the reconciliation after it cannot reach the provider either: both jobs are left
    # `submitting`, for a later submit or poll to reconcile.
    workflow = post_call("anthropic")
    plan(fault_day, workflow, providers, [DAY])
    emulator.stop()
    attempt = submit_planned(fault_day, workflow, providers)
    assert len(attempt.deferred) == 2
    assert all("reconciliation deferred" in reason for reason in attempt.deferred.values())
    result = poll(fault_day, providers, now=later(1)())
    assert len(result.errors) == 2 and not result.reconciled


def test_a_submit_during_an_outage_defers_a_job_it_cannot_reconcile(
    fault_day, emulator, providers
) -> None:
    workflow = post_call("openai")
    plan(fault_day, workflow, providers, [DAY])
    emulator.stop()
    assert len(submit_planned(fault_day, workflow, providers).deferred) == 2
    again = submit_planned(fault_day, workflow, providers)  # the next run, still down
    assert again.submitted == [] and len(again.deferred) == 2


# Where the deadline fallback can be killed (batching/ingest.py, batching/deadline.py).
DEADLINE_CRASH_POINTS = (
    "after_late_lines_marked",  # the batch's unfinished lines failed, planned into the sync job
    "before_sync_calls",  # the sync job is written and claimed, no call made yet
    "mid_sync",  # one synchronous call answered and applied, the others not made
)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("point", DEADLINE_CRASH_POINTS)
def test_a_crash_in_the_deadline_fallback_finishes_every_item_once_and_bills_each_call_once(
    fault_day, emulator, providers, provider, point
) -> None:
    """Item 9 of issue 16: both batches miss their deadline and are cancelled before any line
    ran, so every line goes through the synchronous API. Killed at any point of that, the next
    run finishes every item exactly once, and each synchronous call was made (billed) once."""
    emulator.set_config(complete_after=3600)
    workflow = post_call(provider, deadline=dt.timedelta(minutes=30))
    plan(fault_day, workflow, providers, [DAY])
    assert len(submit_planned(fault_day, workflow, providers).submitted) == 2
    late = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    assert len(poll(fault_day, providers, now=late).cancelled_for_deadline) == 2
    emulator.advance(600)  # OpenAI takes a while in `cancelling`
    for _ in range(10):
        poll(fault_day, providers, now=late)
        if len(ended_jobs_awaiting_ingest(fault_day)) == 2:
            break
    first, second = ended_jobs_awaiting_ingest(fault_day)
    checkpoint, fired = crash_at(point)
    with pytest.raises(Crash):
        ingest_job(
            fault_day, workflow, providers, first.batch_job_id, checkpoint=checkpoint, now=late
        )
    assert fired == [point]
    # The next run: the interrupted ingest again, then the other batch.
    sent = IngestResult("*")
    for job in (first, second):
        sent.add(ingest_job(fault_day, workflow, providers, job.batch_job_id, now=late))
    with fault_day.connect() as conn:
        latest = dict(
            conn.execute(
                text(
                    "SELECT DISTINCT ON (item_id) item_id, status FROM batch_requests"
                    " ORDER BY item_id, created_at DESC"
                )
            ).all()
        )
        usage = conn.execute(
            text(
                "SELECT r.item_id, count(*), array_agg(DISTINCT u.mode) FROM llm_usage u"
                " JOIN batch_requests r USING (custom_id) GROUP BY r.item_id"
            )
        ).all()
        jobs = dict(conn.execute(text("SELECT batch_job_id, status FROM batch_jobs")).all())
    assert len(latest) == 13 and set(latest.values()) == {"succeeded"}
    assert len(usage) == 13 and {(n, tuple(m)) for _item, n, m in usage} == {(1, ("sync",))}
    assert set(jobs.values()) == {"ingested"} and len(jobs) == 4  # two batches, two sync jobs
    sync_calls = [r for r in emulator.received_requests(provider) if r.source == "sync"]
    assert len(sync_calls) == 13  # each call made once: none repeated after the crash
    assert sent.sent_sync == 13 - (1 if point == "mid_sync" else 0)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_create_whose_answer_was_lost_is_reconciled_and_never_sent_again(
    fault_day, emulator, clean_day, provider
) -> None:
    """Every create's answer is lost (the batch is created, the client gets a 502): with the SDK's
    production retries on, each create is still sent once, and reconciliation adopts the batch it
    made (OpenAI by metadata, Anthropic by time and request count). The day then equals a clean
    one: no batch created twice, none billed and never ingested."""
    providers = ProviderRegistry(max_retries=2, timeout=30)
    workflow = post_call(provider)
    plan(fault_day, workflow, providers, [DAY])
    emulator.set_config(lose_create_response_rate=1.0)
    submitted = submit_planned(fault_day, workflow, providers)
    assert len(submitted.adopted) == 2 and not submitted.deferred and not submitted.needs_attention
    emulator.set_config(lose_create_response_rate=0)
    outcome = run_to_completion(fault_day, workflow, providers, [DAY], clock=later())
    assert outcome.open_requests == 0
    assert_same_as_clean(fault_day, emulator, provider, clean_day(provider))
