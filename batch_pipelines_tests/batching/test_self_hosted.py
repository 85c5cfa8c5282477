"""Item 8 of issue 16: a self-hosted server's answers live in Postgres, not on the disk of the
process that drove the server: the deployment runs each run in its own pod, so the poll and the
ingest of a job may run on another machine than its submit."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from batch_pipelines.batching.ingest import ingest_job
from batch_pipelines.batching.planning import plan
from batch_pipelines.batching.polling import ended_jobs_awaiting_ingest, poll
from batch_pipelines.batching.submission import submit_planned
from batch_pipelines.db.settings import HOME_ENV
from batch_pipelines.db.tables import call_analytics, self_hosted_results
from batch_pipelines.providers.registry import ProviderRegistry

from .conftest import DAY, CallSummaries, add_calls, add_tenant


def test_a_self_hosted_job_submitted_on_one_machine_is_ingested_on_another(
    engine, emulator, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_tenant(engine, "acme")
    add_calls(engine, "acme", 4)
    workflow = CallSummaries("self_hosted")
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "submitting-pod"))
    plan(engine, workflow, ProviderRegistry(max_retries=0), [DAY])
    assert len(submit_planned(engine, workflow, ProviderRegistry(max_retries=0)).submitted) == 1
    # Another pod: its own (empty) home and its own clients; only the database is shared.
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "ingesting-pod"))
    elsewhere = ProviderRegistry(max_retries=0)
    result = poll(engine, elsewhere)
    assert len(result.ended) == 1
    (job,) = ended_jobs_awaiting_ingest(engine)
    ingested = ingest_job(engine, workflow, elsewhere, job.batch_job_id)
    assert ingested.succeeded == 4
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(call_analytics)).scalar_one() == 4
        kept = conn.execute(select(func.count()).select_from(self_hosted_results)).scalar_one()
        modes = conn.execute(text("SELECT DISTINCT mode FROM llm_usage")).scalars().all()
    assert kept == 4 and modes == ["self_hosted"]
    assert not (tmp_path / "ingesting-pod" / "self_hosted").exists()
