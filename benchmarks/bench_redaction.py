"""`redaction`: PII redaction of call transcripts, in transcripts per second on one core.

Measured: `redaction.Redactor(identities).redact(transcript)` for every call of the demo seed's
tenants (their transcripts, 1.2 KB median, as planning gets them after cleaning), each with the
identities planning gives it (the tenant's name, brand and agents' personas, the names, e-mails and
phones of the call's leads), in this one process: that is the rate of one core. The median of the
runs; no database, no network. `plan` measures the same detectors inside planning.
"""

from __future__ import annotations

import statistics
import time

from batch_pipelines.core.tenants import TenantContext
from batch_pipelines.db.seed import demo_rows
from batch_pipelines.workflows.redaction import Identities, Redactor, tenant_identities
from benchmarks.harness import BenchServer, Figure, log

TENANTS = 12
CALLS_PER_TENANT = 200
TARGET_PER_SECOND = 1_000  # a day of 200,000 calls redacted in under 4 minutes on one core


def _workload(scale: float) -> list[tuple[str, Identities]]:
    calls_per_tenant = max(10, round(CALLS_PER_TENANT * scale))
    rows = demo_rows(
        tenants=TENANTS,
        date="2026-11-25",
        calls_per_tenant=calls_per_tenant,
        leads_per_tenant=calls_per_tenant // 2,
        docs_per_tenant=0,
    )
    tenants = {
        t["tenant_id"]: TenantContext(
            t["tenant_id"], t["name"], t["vertical"], t["tier"], t["policy"], t["brand"]
        )
        for t in rows["tenants"]
    }
    agent_names = {a["agent_id"]: a["name"] for a in rows["agents"]}
    leads_of: dict[str, list[dict]] = {}
    for lead in rows["leads"]:
        if lead["call_id"]:
            leads_of.setdefault(lead["call_id"], []).append(lead)
    work = []
    for call in rows["calls"]:
        leads = leads_of.get(call["call_id"], [])
        identities = tenant_identities(
            tenants[call["tenant_id"]],
            agent_names=[agent_names[call["agent_id"]]],
            names=[lead["name"] for lead in leads],
            emails=[lead["email"] for lead in leads],
            phones=[lead["phone"] for lead in leads],
        )
        work.append((call["transcript"], identities))
    return work


def run(server: BenchServer, scale: float, repeats: int) -> list[Figure]:
    work = _workload(scale)
    Redactor().redact("warm up: the lexicon and the patterns are loaded once, Luis Chen")
    runs: list[float] = []
    replaced = 0
    for attempt in range(repeats):
        start = time.perf_counter()
        replaced = 0
        for transcript, identities in work:
            redactor = Redactor(identities)
            redactor.redact(transcript)
            replaced += sum(redactor.counts.values())
        seconds = time.perf_counter() - start
        runs.append(seconds)
        log(f"redaction run {attempt + 1}: {len(work)} transcripts in {seconds:.2f} s")
    rate = len(work) / statistics.median(runs)
    chars = sum(len(t) for t, _i in work) / len(work)
    return [
        Figure(
            name="redaction",
            value=round(rate, 1),
            unit="transcripts/s/core",
            target=f">= {TARGET_PER_SECOND:,}",
            ok=rate >= TARGET_PER_SECOND,
            note=(
                f"{len(work):,} demo transcripts ({chars:,.0f} characters on average), "
                f"{replaced:,} replacements; {1000 / rate:.2f} ms each"
            ),
        )
    ]
