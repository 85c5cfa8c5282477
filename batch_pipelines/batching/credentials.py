"""Which adapter a job goes through, and what happens when its configuration is wrong.

A configuration error (a missing key variable, a 401 or 403) is one job's problem: that job is
parked as `needs_attention` with a reason naming the tenant and the variable, and every other job
carries on in the same tick. A parked job resumes by itself once its credentials resolve: a
missing variable is checked again every tick (an environment lookup, no call), a refused key every
`REFUSED_KEY_RECHECK` (the next call tells).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import Connection, Engine

from batch_pipelines.batching import manifest, transitions
from batch_pipelines.batching.jobs import JobRecord, due, select_jobs
from batch_pipelines.db.statuses import Attention, JobStatus
from batch_pipelines.db.tables import batch_jobs
from batch_pipelines.providers.base import BatchProvider, ProviderAuthError, ProviderConfigError
from batch_pipelines.providers.registry import ProviderRegistry, credential_variable


def tenant_policy(conn: Connection, job: JobRecord) -> Mapping | None:
    if job.tenant_id is None:
        return None
    return manifest.tenant_policies(conn, [job.tenant_id]).get(job.tenant_id)


def provider_for_job(
    conn: Connection, providers: ProviderRegistry, job: JobRecord, policy: Mapping | None = None
) -> BatchProvider:
    """The adapter with the job's credentials (raises `ProviderConfigError`)."""
    if policy is None:
        policy = tenant_policy(conn, job)
    return providers.get(job.provider, job.credentials_ref, policy)


def configuration_reason(job: JobRecord, policy: Mapping | None, error: ProviderConfigError) -> str:
    """What a person reads on the parked job: whose credentials, which variable, what to do."""
    variable = credential_variable(job.provider, job.credentials_ref, policy)
    if isinstance(error, ProviderAuthError):
        return (
            f"configuration: {job.provider} refused {job.credentials} (HTTP "
            f"{error.status_code}; the key is read from {variable}): fix the key in {variable}; "
            f"the job is tried again every "
            f"{transitions.REFUSED_KEY_RECHECK.total_seconds() / 60:.0f} minutes ({error})"
        )
    return f"configuration: {error} (the job resumes once {variable} is set)"


def park_for_configuration(
    conn: Connection,
    job: JobRecord,
    policy: Mapping | None,
    error: ProviderConfigError,
    now: dt.datetime,
) -> bool:
    """Park `job` (in the caller's transaction) for its configuration; whether it moved."""
    check_again = (
        now + transitions.REFUSED_KEY_RECHECK if isinstance(error, ProviderAuthError) else None
    )
    return transitions.park_needs_attention(
        conn,
        job,
        Attention.CONFIGURATION,
        configuration_reason(job, policy, error),
        check_again_at=check_again,
    )


def adapter_or_park(
    conn: Connection, providers: ProviderRegistry, job: JobRecord, now: dt.datetime
) -> tuple[BatchProvider | None, Mapping | None, str | None]:
    """The job's adapter and its tenant's policy; or, when its configuration is wrong, None and
    why, the job parked (in the caller's transaction)."""
    policy = tenant_policy(conn, job)
    try:
        return provider_for_job(conn, providers, job, policy), policy, None
    except ProviderConfigError as exc:
        park_for_configuration(conn, job, policy, exc, now)
        return None, policy, configuration_reason(job, policy, exc)


def resume_configured(engine: Engine, providers: ProviderRegistry, now: dt.datetime) -> list[str]:
    """Jobs parked for their configuration whose credentials now resolve go back to where they
    were; returns them."""
    resumed = []
    with engine.begin() as conn:
        parked = select_jobs(
            conn,
            batch_jobs.c.status == JobStatus.NEEDS_ATTENTION,
            batch_jobs.c.attention == Attention.CONFIGURATION,
            due(now),
        )
        for job in parked:
            try:
                provider_for_job(conn, providers, job)
            except ProviderConfigError:
                continue
            if transitions.resume_parked(conn, job):
                resumed.append(job.batch_job_id)
    return resumed
