"""Knowledge-base indexing through Dagster as the daemon runs it: `kb_upload_sensor` pools the
uploads of several tenants into one embedding batch, `batch_poll_sensor` launches the ingest,
`kb_ledger_sensor` prices the (date, tenant) partitions, and `search` finds the documents — only
the searching tenant's. Re-uploads, edits and deletions re-embed exactly what changed.

The emulator's embeddings are a deterministic function of (model, dimensions, text), the same for
batch lines and synchronous calls, so a chunk's exact text as a query finds that chunk at distance
~0 and any other text at a distance near 1."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections import defaultdict

import dagster as dg
import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from batch_pipelines.batching.ingest import ingest_job
from batch_pipelines.batching.polling import ended_jobs_awaiting_ingest, poll
from batch_pipelines.db.seed import add_tenant
from batch_pipelines.db.tables import (
    batch_jobs,
    cost_ledger,
    kb_chunks,
    kb_documents,
    llm_usage,
)
from batch_pipelines.defs.tenants.partitions import RANGE_END, RANGE_START, date_tenant_partitions
from batch_pipelines.providers.registry import ProviderRegistry
from batch_pipelines.workflows.chunking import Chunk
from batch_pipelines.workflows.kb_index import KnowledgeBaseIndex, chunk_id_for, search

WF = KnowledgeBaseIndex()
TENANTS = {
    "clinic-a": ("Clinic A", "healthcare", "growth"),
    "plumber-b": ("Plumber B", "home_services", "starter"),
    "salon-c": ("Salon C", "salon", "starter"),
}
WORDS = (
    "appointment", "booking", "evening", "weekend", "deposit", "refund", "reception", "morning",
    "arrival", "payment", "voucher", "review", "manager", "invoice", "insurance", "parking",
)  # fmt: skip
EXACT = 1e-4  # cosine distance of a query that is a stored chunk's exact text


def kb_text(topic: str, paragraphs: int, seed: int = 0) -> str:
    """A document of `paragraphs` paragraphs of ~100 estimated tokens each."""
    rng = random.Random(f"{topic}-{seed}")
    out = []
    for p in range(paragraphs):
        sentences = []
        for s in range(rng.randint(4, 6)):
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12)))
            sentences.append(f"Section {p} note {s} about {topic}: {words}.")
        out.append(" ".join(sentences))
    return "\n\n".join(out)


DOCS = {  # doc_id -> (tenant, title, content)
    "a-whitening": ("clinic-a", "Teeth whitening", kb_text("teeth whitening", 14)),
    "a-parking": ("clinic-a", "Parking", kb_text("car parking permit", 3)),
    "b-boiler": ("plumber-b", "Boiler service", kb_text("boiler service radiator", 8)),
    "c-colour": ("salon-c", "Hair colour", kb_text("hair colour patch test", 6)),
}


def upload(engine: Engine, doc_id: str, tenant_id: str, title: str, content: str) -> None:
    """Upload or re-upload a document: a new upload time, whether or not the text changed."""
    values = {
        "doc_id": doc_id,
        "tenant_id": tenant_id,
        "title": title,
        "content": content,
        "content_sha256": hashlib.sha256(content.encode()).hexdigest(),
        "uploaded_at": func.clock_timestamp(),
        "deleted_at": None,
    }
    stmt = pg_insert(kb_documents).values(values)
    with engine.begin() as conn:
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[kb_documents.c.doc_id],
                set_={k: stmt.excluded[k] for k in values if k != "doc_id"},
            )
        )


def settle(daemon, rounds: int = 10) -> list:
    """Submit what is queued and poll until no batch is left to ingest; the runs launched."""
    return daemon.settle(rounds=rounds)


def index_uploads(daemon) -> tuple[list, list]:
    """One upload-sensor tick and everything it leads to: (submit runs, ingest runs)."""
    submitted = daemon.tick_sensor("kb_upload_sensor")
    settled = settle(daemon)
    assert all(r.success for r in submitted + settled)
    return submitted, [r for r in settled if r.dagster_run.job_name == "kb_index_ingest_job"]


def embedding_lines(emulator) -> dict[str, list]:
    """The /v1/embeddings batch lines the emulator received, by input file."""
    lines: dict[str, list] = defaultdict(list)
    for r in emulator.received_requests("openai"):
        if r.source == "openai_file":
            assert r.endpoint == "/v1/embeddings"
            lines[r.file_id].append(r)
    return lines


def counts(engine: Engine) -> tuple[int, int]:
    """(batch_jobs, llm_usage) row counts."""
    with engine.connect() as conn:
        jobs = conn.execute(select(func.count()).select_from(batch_jobs)).scalar_one()
        usage = conn.execute(select(func.count()).select_from(llm_usage)).scalar_one()
    return jobs, usage


def stored(engine: Engine, doc_id: str) -> dict[int, tuple[str, str]]:
    """chunk_index -> (content_sha256, custom_id) of the document's rows in kb_chunks."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(kb_chunks.c.chunk_index, kb_chunks.c.content_sha256, kb_chunks.c.custom_id)
            .where(kb_chunks.c.doc_id == doc_id)
            .where(kb_chunks.c.embedding.is_not(None))
        )
        return {r.chunk_index: (r.content_sha256, r.custom_id) for r in rows}


def hashes(chunks: list[Chunk]) -> dict[int, str]:
    return {c.index: c.sha256 for c in chunks}


@pytest.fixture
def kb(engine: Engine) -> Engine:
    """Three (non-isolated) tenants, their documents uploaded, nothing indexed yet, and no tenant
    partitions (the upload sensor must add them)."""
    with engine.begin() as conn:
        for tenant_id, (name, vertical, tier) in TENANTS.items():
            add_tenant(conn, tenant_id, name, vertical, tier)
    for doc_id, (tenant_id, title, content) in DOCS.items():
        upload(engine, doc_id, tenant_id, title, content)
    return engine


@pytest.fixture
def indexed(kb: Engine, daemon, emulator) -> Engine:
    index_uploads(daemon)
    assert counts(kb)[0] == 1 and len(embedding_lines(emulator)) == 1
    return kb


def test_uploads_of_three_tenants_pool_into_one_batch_priced_and_searchable_by_owner_only(
    kb: Engine, daemon, dagster_instance, emulator
) -> None:
    assert dagster_instance.get_dynamic_partitions("tenants") == []
    submitted, ingested = index_uploads(daemon)

    # One run for all three tenants (their unknown partitions added on the way), one batch.
    assert len(submitted) == 1 and submitted[0].dagster_run.job_name == "kb_index_job"
    assert set(dagster_instance.get_dynamic_partitions("tenants")) == set(TENANTS)
    assert daemon.tick_sensor("kb_upload_sensor") == []  # nothing uploaded since
    assert [r.dagster_run.job_name for r in ingested] == ["kb_index_ingest_job"]
    with kb.connect() as conn:
        job = conn.execute(select(batch_jobs)).one()
    assert (job.workflow, job.status, job.mode) == ("kb_index", "ingested", "batch")
    assert (job.model, job.endpoint) == ("text-embedding-3-large", "/v1/embeddings")
    assert {p["tenant"] for p in job.partitions} == set(TENANTS)

    # What left the pipeline: one provider batch of requests carrying every chunk of a document.
    chunks = {doc_id: WF.chunk(content) for doc_id, (_, _, content) in DOCS.items()}
    files = embedding_lines(emulator)
    assert list(files) == [job.input_file_id]
    lines = files[job.input_file_id]
    assert len(lines) == len(DOCS) == job.request_count
    by_doc = {}
    for line in lines:
        body = line.body
        assert body["model"] == "text-embedding-3-large" and body["dimensions"] == 1536
        assert isinstance(body["input"], list)
        doc_id = next(d for d, c in chunks.items() if c[0].content == body["input"][0])
        by_doc[doc_id] = body["input"]
    assert by_doc == {d: [c.content for c in cs] for d, cs in chunks.items()}
    assert max(len(i) for i in by_doc.values()) >= 5  # many chunks per request, not one each

    # Stored: every chunk of every document, under its own tenant.
    for doc_id in DOCS:
        assert {i: sha for i, (sha, _) in stored(kb, doc_id).items()} == hashes(chunks[doc_id])
    with kb.connect() as conn:
        owners = conn.execute(select(kb_chunks.c.doc_id, kb_chunks.c.tenant_id).distinct()).all()
    assert sorted(owners) == sorted((d, t) for d, (t, _, _) in DOCS.items())

    # The ledger: the (today, tenant) partitions kb_index billed, priced by kb_ledger_sensor.
    ledger_runs = daemon.tick_sensor("kb_ledger_sensor")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    # One run, pooled over the range of the tenants billed.
    assert len(ledger_runs) == 1 and ledger_runs[0].success
    assert covered_partitions(daemon, ledger_runs[0]) >= {f"{today}|{t}" for t in TENANTS}
    assert daemon.tick_sensor("kb_ledger_sensor") == []
    with kb.connect() as conn:
        usage = conn.execute(
            select(llm_usage.c.usage_id, llm_usage.c.tenant_id, llm_usage.c.workflow)
        ).all()
        ledger = conn.execute(
            select(cost_ledger.c.usage_id, cost_ledger.c.tenant_id, cost_ledger.c.workflow)
        ).all()
        ledger_costs = conn.execute(
            select(cost_ledger.c.mode, cost_ledger.c.cost_micro_usd, cost_ledger.c.model)
        ).all()
    assert len(usage) == len(DOCS) and sorted(ledger) == sorted(usage)
    assert {t for _, t, _ in usage} == set(TENANTS) and {w for *_, w in usage} == {"kb_index"}
    assert all(mode == "batch" and cost > 0 for mode, cost, _ in ledger_costs)

    # Search: a chunk's exact text finds that chunk first, with its document's title.
    for doc_id, (tenant_id, title, _) in DOCS.items():
        target = chunks[doc_id][len(chunks[doc_id]) // 2]
        hits = search(tenant_id, target.content, k=3, engine=kb)
        assert hits[0].chunk_id == chunk_id_for(doc_id, target.index)
        assert (hits[0].doc_id, hits[0].title, hits[0].content) == (doc_id, title, target.content)
        assert hits[0].distance < EXACT < hits[1].distance
    # Another tenant's exact chunk text finds nothing of that tenant (only the searcher's own).
    for doc_id, (owner, _, _) in DOCS.items():
        for tenant_id in set(TENANTS) - {owner}:
            hits = search(tenant_id, chunks[doc_id][0].content, k=50, engine=kb)
            own_docs = {d for d, (t, _, _) in DOCS.items() if t == tenant_id}
            assert hits and {h.doc_id for h in hits} <= own_docs
            assert min(h.distance for h in hits) > 0.5
    # The queries went out synchronously with the index's model and dimensions.
    queries = [r for r in emulator.received_requests("openai") if r.source == "sync"]
    assert len(queries) == len(DOCS) * len(TENANTS)
    assert all(
        (q.endpoint, q.body["model"], q.body["dimensions"])
        == ("/v1/embeddings", "text-embedding-3-large", 1536)
        for q in queries
    )


def test_reupload_of_unchanged_documents_embeds_and_bills_nothing(
    indexed: Engine, daemon, emulator
) -> None:
    before_counts, before_lines = counts(indexed), embedding_lines(emulator)
    before_rows = {d: stored(indexed, d) for d in DOCS}
    for doc_id, (tenant_id, title, content) in DOCS.items():
        upload(indexed, doc_id, tenant_id, title, content)

    submitted, ingested = index_uploads(daemon)

    assert len(submitted) == 1 and ingested == []  # the sensor saw the uploads; nothing to send
    assert counts(indexed) == before_counts  # no new batch_jobs, no new llm_usage rows
    assert embedding_lines(emulator) == before_lines  # no new provider batch
    assert {d: stored(indexed, d) for d in DOCS} == before_rows


def test_one_paragraph_edit_reembeds_only_the_chunks_it_touched(
    indexed: Engine, daemon, emulator
) -> None:
    tenant_id, title, old = DOCS["a-whitening"]
    paragraphs = old.split("\n\n")
    paragraphs[7] = "We now offer whitening on Saturday mornings, by appointment only."
    new = "\n\n".join(paragraphs)
    old_chunks, new_chunks = WF.chunk(old), WF.chunk(new)
    old_hashes = {c.sha256 for c in old_chunks}
    touched = [c for c in new_chunks if c.sha256 not in old_hashes]
    assert 0 < len(touched) <= 2 < len(new_chunks)  # the premise: a local change
    assert len(daemon.tick_sensor("kb_ledger_sensor")) == 1  # the first index priced
    others_before = {d: stored(indexed, d) for d in DOCS if d != "a-whitening"}
    jobs_before, usage_before = counts(indexed)
    files_before = set(embedding_lines(emulator))
    with indexed.connect() as conn:
        first_tokens = conn.execute(select(func.sum(llm_usage.c.input_tokens))).scalar_one()

    upload(indexed, "a-whitening", tenant_id, title, new)
    index_uploads(daemon)

    # One new provider batch with one request holding exactly the touched chunks.
    new_files = {f: ls for f, ls in embedding_lines(emulator).items() if f not in files_before}
    assert len(new_files) == 1
    (lines,) = new_files.values()
    assert [line.body["input"] for line in lines] == [[c.content for c in touched]]
    assert counts(indexed) == (jobs_before + 1, usage_before + 1)
    with indexed.connect() as conn:
        new_tokens = conn.execute(
            select(func.sum(llm_usage.c.input_tokens))
            .select_from(llm_usage.join(batch_jobs))
            .where(batch_jobs.c.input_file_id.in_(new_files))
        ).scalar_one()
    assert 0 < new_tokens < first_tokens / 4

    # The new usage is priced: kb_ledger_sensor sees the new kb_index materialization.
    today = dt.datetime.now(dt.UTC).date().isoformat()
    ledger_runs = daemon.tick_sensor("kb_ledger_sensor")
    assert len(ledger_runs) == 1 and ledger_runs[0].success
    assert f"{today}|{tenant_id}" in covered_partitions(daemon, ledger_runs[0])
    with indexed.connect() as conn:
        priced = conn.execute(select(func.count()).select_from(cost_ledger)).scalar_one()
    assert priced == usage_before + 1

    # The document's rows now match its new chunking; the other documents were not touched.
    assert {i: sha for i, (sha, _) in stored(indexed, "a-whitening").items()} == hashes(new_chunks)
    assert {d: stored(indexed, d) for d in DOCS if d != "a-whitening"} == others_before
    hits = search(tenant_id, touched[0].content, k=1, engine=indexed)
    assert hits[0].chunk_id == chunk_id_for("a-whitening", touched[0].index)
    assert hits[0].distance < EXACT
    replaced = next(c for c in old_chunks if c.sha256 not in {n.sha256 for n in new_chunks})
    assert search(tenant_id, replaced.content, k=1, engine=indexed)[0].distance > 0.5


def test_deleted_document_loses_its_chunks_and_is_never_found(
    indexed: Engine, daemon, emulator
) -> None:
    tenant_id, _, content = DOCS["a-parking"]
    kept = stored(indexed, "a-whitening")
    assert stored(indexed, "a-parking")
    before_counts, before_files = counts(indexed), set(embedding_lines(emulator))
    with indexed.begin() as conn:
        conn.execute(
            update(kb_documents)
            .where(kb_documents.c.doc_id == "a-parking")
            .values(deleted_at=func.clock_timestamp())
        )

    submitted, ingested = index_uploads(daemon)

    assert len(submitted) == 1 and ingested == []
    with indexed.connect() as conn:
        left = conn.execute(
            select(func.count()).select_from(kb_chunks).where(kb_chunks.c.doc_id == "a-parking")
        ).scalar_one()
    assert left == 0
    assert stored(indexed, "a-whitening") == kept
    assert counts(indexed) == before_counts and set(embedding_lines(emulator)) == before_files
    for chunk in WF.chunk(content):
        hits = search(tenant_id, chunk.content, k=50, engine=indexed)
        assert hits and all(h.doc_id == "a-whitening" for h in hits)


def test_an_upload_committed_after_a_newer_one_was_seen_is_still_indexed(
    indexed: Engine, daemon
) -> None:
    """`uploaded_at` defaults to the upload transaction's start: a slow upload can commit after the
    sensor has moved its watermark past a quicker, later one. It must not be skipped forever."""
    content = kb_text("emergency call-out fee", 4)
    with indexed.begin() as conn:
        seen = conn.execute(select(func.max(kb_documents.c.uploaded_at))).scalar_one()
        conn.execute(
            pg_insert(kb_documents).values(
                doc_id="b-late",
                tenant_id="plumber-b",
                title="Call-out fee",
                content=content,
                content_sha256=hashlib.sha256(content.encode()).hexdigest(),
                uploaded_at=seen - dt.timedelta(seconds=2),
            )
        )

    submitted, ingested = index_uploads(daemon)

    assert len(submitted) == 1 and len(ingested) == 1
    assert {i: sha for i, (sha, _) in stored(indexed, "b-late").items()} == hashes(
        WF.chunk(content)
    )
    assert daemon.tick_sensor("kb_upload_sensor") == []  # and it is not requested again


class _Stopped(Exception):
    """The ingest process 'dies' after its first chunk committed."""


def test_usage_an_interrupted_ingest_committed_is_priced_after_the_rerun(
    kb: Engine, daemon, emulator
) -> None:
    # The batch is submitted and ends; the first ingest commits its lines' usage rows, then stops
    # before it marks the job ingested. The re-run (the poll sensor's next ingest run) finds every
    # line already there, so its kb_index materialization reports no new usage: the ledger must
    # still price what the first one wrote.
    daemon.tick_sensor("kb_upload_sensor")
    daemon.tick_sensor("batch_submit_sensor")
    providers = ProviderRegistry(max_retries=0, timeout=30)
    poll(kb, providers)
    (job,) = ended_jobs_awaiting_ingest(kb)

    def stop(point: str) -> None:
        if point == "mid_ingest":
            raise _Stopped

    with pytest.raises(_Stopped):
        ingest_job(kb, WF, providers, job.batch_job_id, checkpoint=stop)
    jobs, usage = counts(kb)
    assert (jobs, usage) == (1, len(DOCS))  # committed, not priced, the job still `ended`

    rerun = settle(daemon)
    assert [r.dagster_run.job_name for r in rerun] == ["kb_index_ingest_job"]
    assert rerun[0].success and counts(kb) == (1, len(DOCS))

    ledger_runs = daemon.tick_sensor("kb_ledger_sensor")
    assert len(ledger_runs) == 1 and ledger_runs[0].success
    with kb.connect() as conn:
        priced = conn.execute(select(cost_ledger.c.usage_id)).scalars().all()
        written = conn.execute(select(llm_usage.c.usage_id)).scalars().all()
    assert sorted(priced) == sorted(written)
    assert daemon.tick_sensor("kb_ledger_sensor") == []


def covered_partitions(daemon, run) -> set[str]:
    """The date|tenant keys a ranged run covered."""
    tags = run.dagster_run.tags
    keys = date_tenant_partitions.get_partition_keys_in_range(
        dg.PartitionKeyRange(tags[RANGE_START], tags[RANGE_END]),
        dynamic_partitions_store=daemon.instance,
    )
    return set(keys)
