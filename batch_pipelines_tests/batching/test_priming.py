"""Prime, then fan out, through the real engine, the Anthropic and OpenAI SDKs and the emulator:
a new cache prefix shared by many requests goes first as one line of a priming batch, the rest
wait for it to end and read what it wrote; a warm prefix is not primed again, one being primed is
waited for; nested prefixes are primed from the shortest; priming is off where the price list
makes a cache read no cheaper than a write."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from sqlalchemy import Engine, delete, select, text, update

from batch_pipelines.batching import manifest, transitions
from batch_pipelines.batching.admission import admit
from batch_pipelines.batching.jobs import load_job
from batch_pipelines.batching.lifecycle import run_to_completion
from batch_pipelines.batching.planning import plan, spool_dir
from batch_pipelines.batching.priming import priming_pays
from batch_pipelines.core.caching import Priming, PrimingMode
from batch_pipelines.db.seed import seed_demo
from batch_pipelines.db.statuses import JobStatus
from batch_pipelines.db.tables import (
    batch_jobs,
    batch_requests,
    llm_usage,
    prompt_prefixes,
    request_lines,
)
from batch_pipelines.ledger.ledger import price_partition
from batch_pipelines.ledger.reports import build_tenant_cost_report, cache_lines, render_terminal
from batch_pipelines.providers.base import BatchState, BatchStatus
from batch_pipelines.providers.registry import ProviderRegistry
from batch_pipelines.workflows.lead_scoring import LeadScoring
from batch_pipelines.workflows.post_call import PostCallAnalytics

DAY = dt.date(2026, 11, 25)


def _seed(engine: Engine, tenants: int = 3, leads: int = 3) -> None:
    # The demo's knowledge bases: each tenant's prompt prefix is past Haiku 4.5's 4,096 tokens.
    seed_demo(
        engine, tenants=tenants, date=DAY, calls_per_tenant=0, leads_per_tenant=leads,
        docs_per_tenant=3,
    )  # fmt: skip
    with engine.begin() as conn:
        # Leads reachable both ways: one answer schema, so one prefix per tenant (the schema, as
        # Anthropic's tools, comes first in the cached prefix).
        conn.execute(
            text(
                "UPDATE leads SET email = coalesce(email, 'lead@example.com'),"
                " phone = coalesce(phone, '07700 900000')"
            )
        )
        # One pool (an isolated tenant's batches are its own).
        conn.execute(
            text(
                "UPDATE tenants SET policy = policy"
                ' || \'{"monthly_budget_usd": null, "isolated": false}\''
            )
        )


def _usage_by_job(engine: Engine) -> dict[str, list]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                llm_usage.c.batch_job_id,
                llm_usage.c.input_tokens,
                llm_usage.c.cached_input_tokens,
                llm_usage.c.cache_write_tokens,
            )
        ).all()
    out: dict[str, list] = {}
    for row in rows:
        out.setdefault(row.batch_job_id, []).append(row)
    return out


def _jobs(engine: Engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(batch_jobs).order_by(batch_jobs.c.created_at)).all()


def test_a_new_prefix_is_primed_by_one_line_and_the_rest_read_what_it_wrote(
    engine: Engine, emulator
) -> None:
    _seed(engine)
    workflow = LeadScoring()
    providers = ProviderRegistry(max_retries=0, timeout=30)
    planned = plan(engine, workflow, providers, [DAY])

    (priming_id,) = planned.priming_job_ids
    jobs = {job.batch_job_id: job for job in _jobs(engine)}
    assert jobs[priming_id].priming and jobs[priming_id].request_count == 3  # one per tenant
    fan_out = [job for job in jobs.values() if not job.priming]
    assert fan_out and all(job.primed_by == priming_id for job in fan_out)
    assert sum(job.request_count for job in fan_out) == 6
    with engine.connect() as conn:
        tokens = conn.execute(select(prompt_prefixes.c.tokens)).scalars().all()
    assert len(tokens) == 3 and min(t[-1] for t in tokens) >= 4096  # the test is not vacuous

    outcome = run_to_completion(engine, workflow, providers, [DAY], poll_interval=0.01)
    assert outcome.open_requests == 0
    jobs = {job.batch_job_id: job for job in _jobs(engine)}
    usage = _usage_by_job(engine)
    # The priming lines wrote their tenant's prefix; every other line read it and wrote nothing.
    assert all(
        u.cache_write_tokens >= 4096 and u.cached_input_tokens == 0 for u in usage[priming_id]
    )
    for job in fan_out:
        assert jobs[job.batch_job_id].submitted_at >= jobs[priming_id].finished_at
        for line in usage[job.batch_job_id]:
            assert line.cached_input_tokens >= 4096 and line.cache_write_tokens == 0


def test_without_priming_every_line_of_the_one_batch_writes_the_prefix(
    engine: Engine, emulator
) -> None:
    _seed(engine)
    workflow = LeadScoring(priming=Priming(PrimingMode.OFF))
    outcome = run_to_completion(
        engine, workflow, ProviderRegistry(max_retries=0, timeout=30), [DAY], poll_interval=0.01
    )
    assert outcome.open_requests == 0
    (job,) = _jobs(engine)
    lines = _usage_by_job(engine)[job.batch_job_id]
    assert len(lines) == 9 and all(u.cache_write_tokens >= 4096 for u in lines)
    assert not any(u.cached_input_tokens for u in lines)


def test_a_prefix_too_few_requests_read_is_not_written_even_when_its_shard_is_rendered_again(
    engine: Engine, emulator
) -> None:
    """Two leads of a tenant share a prefix: a 1-hour write and a read cost more than two
    uncached prompts at Haiku's batch prices, so neither line carries a cache breakpoint (and a
    shard rendered again from the manifest, its spool gone, carries none either)."""
    _seed(engine, tenants=2, leads=2)
    workflow = LeadScoring()
    providers = ProviderRegistry(max_retries=0, timeout=30)
    planned = plan(engine, workflow, providers, [DAY])
    assert planned.priming_job_ids == []
    with engine.connect() as conn:
        kept = conn.execute(select(batch_requests.c.cache_breakpoints)).scalars().all()
    assert kept == [0, 0, 0, 0]
    for job_id in planned.batch_job_ids[:1]:  # one shard re-rendered from the manifest
        (spool_dir() / f"{job_id}.jsonl").unlink(missing_ok=True)
        with engine.begin() as conn:  # its queued lines lost too: the last resort
            conn.execute(
                delete(request_lines).where(
                    request_lines.c.custom_id.in_(
                        select(batch_requests.c.custom_id).where(
                            batch_requests.c.batch_job_id == job_id
                        )
                    )
                )
            )
    run_to_completion(engine, workflow, providers, [DAY], poll_interval=0.01)
    bodies = [r.body for r in emulator.received_requests("anthropic")]
    assert len(bodies) == 4
    assert not any("cache_control" in block for body in bodies for block in body["system"])
    assert not any(u.cache_write_tokens for lines in _usage_by_job(engine).values() for u in lines)


def test_a_warm_prefix_is_not_primed_again_and_one_being_primed_is_waited_for(
    engine: Engine, emulator
) -> None:
    _seed(engine, tenants=2, leads=3)
    workflow = LeadScoring()
    providers = ProviderRegistry(max_retries=0, timeout=30)
    first = plan(engine, workflow, providers, [DAY])
    (priming_id,) = first.priming_job_ids

    # More leads of the same tenants while the priming batch is live: they wait for it.
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM lead_scores"))
        conn.execute(
            text(
                "INSERT INTO leads (lead_id, tenant_id, agent_id, created_at, name, email, phone, notes)"
                " SELECT lead_id || '-b', tenant_id, agent_id, created_at, name, email, phone, notes"
                " FROM leads"
            )
        )
    second = plan(engine, workflow, providers, [DAY])
    assert second.priming_job_ids == []
    second_jobs = [j for j in _jobs(engine) if j.batch_job_id in second.batch_job_ids]
    assert second_jobs and all(j.primed_by == priming_id for j in second_jobs)

    run_to_completion(engine, workflow, providers, [DAY], poll_interval=0.01)
    # Later leads of a warm prefix (its batch ended within the TTL): planned plainly, and read it.
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO leads (lead_id, tenant_id, agent_id, created_at, name, email, phone, notes)"
                " SELECT lead_id || '-c', tenant_id, agent_id, created_at, name, email, phone, notes"
                " FROM leads WHERE lead_id NOT LIKE '%-b'"
            )
        )
    third = plan(engine, workflow, providers, [DAY])
    assert third.priming_job_ids == [] and third.batch_job_ids
    assert all(j.primed_by is None for j in _jobs(engine) if j.batch_job_id in third.batch_job_ids)
    run_to_completion(engine, workflow, providers, [DAY], poll_interval=0.01)
    usage = _usage_by_job(engine)
    assert all(u.cached_input_tokens >= 4096 for job in third.batch_job_ids for u in usage[job])


def test_nested_prefixes_are_primed_from_the_shortest_one_write_each(
    engine: Engine, emulator
) -> None:
    # Sonnet 4.5 caches from 1,024 tokens: the instructions alone (shared by every tenant) are a
    # prefix of their own, under each tenant's.
    _seed(engine, tenants=3, leads=3)
    workflow = LeadScoring(model="claude-sonnet-4-5")
    providers = ProviderRegistry(max_retries=0, timeout=30)
    planned = plan(engine, workflow, providers, [DAY])
    jobs = {job.batch_job_id: job for job in _jobs(engine)}
    first, second = sorted(planned.priming_job_ids, key=lambda j: jobs[j].primed_by is not None)
    assert jobs[first].request_count == 1 and jobs[first].primed_by is None
    assert jobs[second].request_count == 2 and jobs[second].primed_by == first
    waiting = {j.primed_by for j in jobs.values() if not j.priming}
    assert waiting <= {first, second} and second in waiting

    run_to_completion(engine, workflow, providers, [DAY], poll_interval=0.01)
    usage = _usage_by_job(engine)
    (opener,) = usage[first]
    shared = opener.cache_write_tokens  # it wrote both: the instructions, then its tenant's
    for line in usage[second]:  # read the instructions, wrote only their tenant's part
        assert 1024 <= line.cached_input_tokens < shared and line.cache_write_tokens > 0
    rest = [u for job, lines in usage.items() if job not in (first, second) for u in lines]
    assert len(rest) == 6 and all(u.cache_write_tokens == 0 for u in rest)


def test_priming_is_off_where_a_cache_read_costs_what_a_write_does() -> None:
    now = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    auto = Priming()
    # gpt-4o-mini's batch price has no cached-input discount; Haiku 4.5's reads cost a tenth.
    assert not priming_pays("openai", "gpt-4o-mini", auto, now)
    assert priming_pays("anthropic", "claude-haiku-4-5", auto, now)
    assert priming_pays("openai", "gpt-4o-mini", Priming(PrimingMode.ON), now)
    assert not priming_pays("anthropic", "claude-haiku-4-5", Priming(PrimingMode.OFF), now)
    assert not priming_pays("openai", "text-embedding-3-large", auto, now)  # no prompt cache
    assert not priming_pays("self_hosted", "llama-3-70b", Priming(PrimingMode.ON), now)
    with pytest.raises(ValueError, match="at least 2"):
        Priming(min_requests=1)


def test_a_post_call_day_on_gpt_4o_mini_plans_no_priming_batch(engine: Engine) -> None:
    seed_demo(
        engine, tenants=2, date=DAY, calls_per_tenant=3, leads_per_tenant=0, docs_per_tenant=0
    )
    planned = plan(engine, PostCallAnalytics(), ProviderRegistry(), [DAY])
    assert planned.planned >= 4 and planned.priming_job_ids == []
    with engine.connect() as conn:
        prefixes = conn.execute(select(batch_requests.c.cache_prefix)).scalars().all()
        job_prefixes = conn.execute(select(batch_jobs.c.cache_prefixes)).scalars().all()
    # The structure is recorded all the same (the report and the cost bound read it).
    assert len(set(prefixes)) == 2 and None not in prefixes
    assert all(job_prefixes)


def test_admission_holds_a_job_until_its_priming_job_has_ended(engine: Engine) -> None:
    seed_demo(
        engine, tenants=1, date=DAY, calls_per_tenant=0, leads_per_tenant=0, docs_per_tenant=0
    )
    common = dict(
        workflow="lead_scoring", provider="anthropic", mode="batch", model="claude-haiku-4-5",
        endpoint="/v1/messages", credentials_ref="default", request_count=1,
        estimated_input_tokens=10, partitions=[],
    )  # fmt: skip
    with engine.begin() as conn:
        transitions.insert_planned_job(
            conn, transitions.NewJob(batch_job_id="bj_prime", priming=True, **common)
        )
        transitions.insert_planned_job(
            conn, transitions.NewJob(batch_job_id="bj_rest", primed_by="bj_prime", **common)
        )

    def admitted() -> tuple[bool, str]:
        with engine.connect() as conn:
            decision = admit(conn, load_job(conn, "bj_rest"), None)
        return decision.admitted, decision.reason

    assert admitted() == (
        False,
        "waiting for its priming batch bj_prime to end: it writes the prompt cache this batch "
        "reads",
    )
    now = manifest.utcnow()
    status = BatchStatus("msgbatch_1", BatchState.IN_PROGRESS, "in_progress", now, {})
    with engine.begin() as conn:
        transitions.mark_submitting(conn, "bj_prime", now)
        transitions.mark_submitted(conn, "bj_prime", status)
    assert not admitted()[0]
    with engine.begin() as conn:
        job = load_job(conn, "bj_prime")
        transitions.mark_ended(conn, job, status, now)
    assert admitted()[0]
    # A priming job that failed as a whole wrote nothing: its waiters go, and write themselves.
    with engine.begin() as conn:
        conn.execute(
            update(batch_jobs)
            .where(batch_jobs.c.batch_job_id == "bj_prime")
            .values(status=JobStatus.FAILED)
        )
    assert admitted()[0]


def test_a_primed_day_costs_its_bound_and_the_report_says_why_each_cache_engages(
    engine: Engine, emulator
) -> None:
    """Post-call on gpt-4o-mini and lead scoring on Haiku 4.5 (priming on) for three tenants,
    priced: lead scoring costs within 2 % of its bound (its two-lead prefixes are not written:
    nobody would read them), and the report says why each workflow's cache does or does not
    engage."""
    seed_demo(
        engine, tenants=3, date=DAY, calls_per_tenant=2, leads_per_tenant=4, docs_per_tenant=3
    )
    with engine.begin() as conn:
        conn.execute(text("UPDATE tenants SET policy = policy || '{\"monthly_budget_usd\": null}'"))
    providers = ProviderRegistry(max_retries=0, timeout=30)
    for workflow in (PostCallAnalytics(), LeadScoring()):
        outcome = run_to_completion(engine, workflow, providers, [DAY], poll_interval=0.01)
        assert outcome.open_requests == 0
    with engine.begin() as conn:
        for (tenant_id,) in conn.execute(text("SELECT DISTINCT tenant_id FROM llm_usage")):
            price_partition(conn, DAY, tenant_id)
        report = build_tenant_cost_report(conn, DAY)
    by_workflow = report.by_workflow.set_index("workflow")
    leads = by_workflow.loc["lead_scoring"]
    assert leads["mtd_cache_read_savings_micro_usd"] > 0
    assert leads["mtd_bound_cost_micro_usd"] <= leads["mtd_cost_micro_usd"]
    assert leads["mtd_cost_micro_usd"] <= leads["mtd_bound_cost_micro_usd"] * Decimal("1.02")
    calls = by_workflow.loc["post_call"]
    assert calls["mtd_bound_cost_micro_usd"] == calls["mtd_cost_micro_usd"]  # nothing to gain
    notes = "\n".join(cache_lines(report))
    assert re.search(r"lead scoring: prefix [\d,–]+ ≥ 4,096 for claude-haiku-4-5: cached", notes)
    assert "post-call analytics: prefix" in notes and "no cached-input discount" in notes
    assert "Bound %" in render_terminal(report) and "Prompt cache per workflow" in notes + "\n" + (
        render_terminal(report)
    )
