"""Two workers on the same jobs at once (threads, each with its own provider clients, on the real
Postgres) reach the state one worker reaches: each item planned once, each provider batch created
once, each line ingested and billed once, and the same priced ledger as a clean run.

`batching/test_lifecycle.py` has two ingesters on one job; here every step is raced, on days with
two provider batches, and the result is compared with a clean single-worker day. Checkpoints that
sleep hold a worker inside the critical step so that the other one arrives while it is there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import text

from batch_pipelines.batching.ingest import ingest_job
from batch_pipelines.batching.lifecycle import live_job_count, run_to_completion
from batch_pipelines.batching.planning import plan
from batch_pipelines.batching.polling import ended_jobs_awaiting_ingest, poll
from batch_pipelines.batching.submission import submit_planned
from batch_pipelines.providers.registry import ProviderRegistry

from .conftest import DAY, PROVIDERS, later, post_call, snapshot
from .test_faults import assert_same_as_clean

pytestmark = pytest.mark.reliability


def race(worker: Callable[[int], Any], n: int = 2) -> list[Any]:
    """Run `worker(i)` in n threads released at the same instant; re-raise any failure."""
    gate = threading.Barrier(n)

    def run(i: int) -> Any:
        gate.wait()
        return worker(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def hold_at(point: str, seconds: float = 0.3) -> Callable[[str], None]:
    def checkpoint(name: str) -> None:
        if name == point:
            time.sleep(seconds)

    return checkpoint


def registry() -> ProviderRegistry:
    """A worker's own provider clients, as a separate process would have."""
    return ProviderRegistry(max_retries=0, timeout=30)


def test_two_planners_at_once_plan_each_item_once(fault_day, emulator) -> None:
    workflow = post_call("openai")
    results = race(
        lambda _: plan(
            fault_day, workflow, registry(), [DAY], checkpoint=hold_at("after_plan_written")
        )
    )
    assert sorted(r.planned for r in results) == [0, 13]  # one planned everything, one nothing
    with fault_day.connect() as conn:
        per_item = conn.execute(
            text("SELECT count(*), count(DISTINCT item_id) FROM batch_requests")
        ).one()
        jobs = conn.execute(text("SELECT count(*), sum(request_count) FROM batch_jobs")).one()
    assert tuple(per_item) == (13, 13)
    assert tuple(jobs) == (2, 13)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_two_submitters_at_once_never_create_a_provider_batch_twice(
    fault_day, emulator, provider
) -> None:
    workflow = post_call(provider)
    plan(fault_day, workflow, registry(), [DAY])
    results = race(
        lambda _: submit_planned(
            fault_day, workflow, registry(), checkpoint=hold_at("after_upload")
        )
    )
    submitted = [job for r in results for job in r.submitted + r.adopted]
    assert len(submitted) == len(set(submitted)) == 2
    assert not any(r.deferred or r.needs_attention for r in results)
    state = snapshot(fault_day, emulator, provider)
    assert state.provider_batches == state.jobs_with_provider_ids == 2
    assert state.max_sends_per_custom_id == 1


def _poll_and_ingest(engine, workflow) -> Callable[[int], int]:
    """A worker doing what the poll sensor and the ingest runs do, until nothing is live."""

    def work(_: int) -> int:
        providers = registry()
        ingested = 0
        for _round in range(100):
            poll(engine, providers)
            for job in ended_jobs_awaiting_ingest(engine):
                result = ingest_job(
                    engine,
                    workflow,
                    providers,
                    job.batch_job_id,
                    checkpoint=hold_at("mid_ingest", 0.1),
                )
                ingested += not result.already_ingested
            plan(engine, workflow, providers, None)  # retries, if any
            submit_planned(engine, workflow, providers)
            if not live_job_count(engine, workflow.name):
                return ingested
            time.sleep(0.02)
        raise AssertionError("the day did not finish")

    return work


@pytest.mark.parametrize("provider", PROVIDERS)
def test_two_pollers_and_two_ingesters_at_once_reach_the_same_state_as_one(
    fault_day, emulator, clean_day, provider
) -> None:
    workflow = post_call(provider)
    plan(fault_day, workflow, registry(), [DAY])
    submit_planned(fault_day, workflow, registry())
    ingested = race(_poll_and_ingest(fault_day, workflow))
    assert sum(ingested) == 2  # each batch ingested by exactly one of them
    assert_same_as_clean(fault_day, emulator, provider, clean_day(provider))


def test_two_whole_workers_on_the_same_day_equal_one_clean_worker(
    fault_day, emulator, clean_day
) -> None:
    """Two complete lifecycle loops (plan, submit, poll, ingest, retry) racing on one day."""
    workflow = post_call("anthropic")
    outcomes = race(
        lambda _: run_to_completion(fault_day, workflow, registry(), [DAY], clock=later(0))
    )
    assert [o.open_requests for o in outcomes] == [0, 0]
    assert_same_as_clean(fault_day, emulator, "anthropic", clean_day("anthropic"))
