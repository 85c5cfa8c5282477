"""kb_index against real Postgres + pgvector: incremental embedding, sync, store checks, tenant-scoped
search. The engine's part (manifest rows, the provider call) is played by small helpers here; the
embeddings come from a deterministic hashed bag-of-words, so nearest neighbours are meaningful."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
import re
import uuid
from collections.abc import Sequence

import pytest
from sqlalchemy import Connection, Engine, func, insert, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from batch_pipelines.batching.workflow import (
    InvalidAnswer,
    ManifestRow,
    Rejected,
    Rendered,
    Skipped,
    WorkItem,
)
from batch_pipelines.core.prompts import EmbeddingInput, ModelAnswer
from batch_pipelines.db.seed import add_tenant
from batch_pipelines.db.tables import EMBEDDING_DIMENSIONS, batch_requests, kb_chunks, kb_documents
from batch_pipelines.workflows.kb_index import KnowledgeBaseIndex, search_chunks, sync_documents

DAY = dt.date(2026, 11, 25)
WORDS = (
    "appointment", "booking", "clinic", "evening", "weekend", "patients", "deposit", "refund",
    "reception", "weekday", "morning", "arrival", "payment", "voucher", "review", "annual",
    "manager", "invoice", "insurance", "allergy",
)  # fmt: skip


def fake_embed(value: str) -> list[float]:
    """A unit vector from hashed words (signed feature hashing): texts sharing words are near."""
    vector = [0.0] * EMBEDDING_DIMENSIONS
    for word in re.findall(r"[a-z0-9]+", value.lower()):
        digest = hashlib.sha256(word.encode()).digest()
        vector[int.from_bytes(digest[:4], "big") % EMBEDDING_DIMENSIONS] += (
            1.0 if digest[4] & 1 else -1.0
        )
    norm = math.sqrt(sum(x * x for x in vector))
    if norm == 0:
        vector[0], norm = 1.0, 1.0
    return [x / norm for x in vector]


def kb_text(topic: str, paragraphs: int = 14, seed: int = 0) -> str:
    """A document of `paragraphs` paragraphs (~80-120 tokens each) that keep mentioning `topic`."""
    rng = random.Random(f"{topic}-{seed}")
    out = []
    for p in range(paragraphs):
        sentences = []
        for s in range(rng.randint(4, 6)):
            words = [rng.choice(WORDS) for _ in range(rng.randint(6, 12))]
            sentences.append(f"Section {p} note {s} about {topic}: " + " ".join(words) + ".")
        out.append(" ".join(sentences))
    return "\n\n".join(out)


# --- the engine's part, played by hand ----------------------------------------------------------


def add_doc(
    conn: Connection, doc_id: str, tenant_id: str, content: str, title: str | None = None
) -> None:
    """Upload (or re-upload) a document: a new upload time, whether or not the text changed."""
    values = {
        "doc_id": doc_id,
        "tenant_id": tenant_id,
        "title": title or doc_id.replace("-", " ").title(),
        "content": content,
        "content_sha256": hashlib.sha256(content.encode()).hexdigest(),
        "uploaded_at": func.clock_timestamp(),
        "deleted_at": None,
    }
    stmt = pg_insert(kb_documents).values(values)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[kb_documents.c.doc_id],
            set_={k: stmt.excluded[k] for k in values if k != "doc_id"},
        )
    )


def delete_doc(conn: Connection, doc_id: str) -> None:
    conn.execute(
        update(kb_documents).where(kb_documents.c.doc_id == doc_id).values(deleted_at=func.now())
    )


def plan(
    engine: Engine, wf: KnowledgeBaseIndex, tenant_ids: Sequence[str] | None
) -> list[tuple[ManifestRow, EmbeddingInput]]:
    """due_items -> live manifest rows -> render, as the engine's planning does (including
    dropping items that already have a request, live or finished)."""
    out = []
    with engine.begin() as conn:
        taken = set(
            conn.execute(
                select(batch_requests.c.item_id).where(
                    batch_requests.c.status.in_(("pending", "succeeded", "skipped", "dead_letter"))
                )
            ).scalars()
        )
        items = [i for i in wf.due_items(conn, [DAY], tenant_ids) if i.item_id not in taken]
        rows = []
        for item in items:
            custom_id = f"kb{uuid.uuid4().hex}"
            conn.execute(
                insert(batch_requests).values(
                    custom_id=custom_id,
                    tenant_id=item.tenant_id,
                    vertical="healthcare",
                    workflow=wf.name,
                    item_id=item.item_id,
                    partition_date=item.partition_date,
                    status="pending",
                )
            )
            rows.append(custom_id)
        for custom_id, outcome in zip(
            rows, wf.render(conn, items, {}), strict=True
        ):  # render keeps the order
            assert isinstance(outcome, Rendered), outcome
            conn.execute(
                update(batch_requests)
                .where(batch_requests.c.custom_id == custom_id)
                .values(notes=dict(outcome.notes))
            )
            assert isinstance(outcome.prompt, EmbeddingInput)
            out.append((manifest_row(conn, custom_id), outcome.prompt))
    return out


def manifest_row(conn: Connection, custom_id: str) -> ManifestRow:
    r = conn.execute(select(batch_requests).where(batch_requests.c.custom_id == custom_id)).one()
    return ManifestRow(
        custom_id=r.custom_id,
        batch_job_id=r.batch_job_id,
        tenant_id=r.tenant_id,
        vertical=r.vertical,
        agent_id=r.agent_id,
        workflow=r.workflow,
        item_id=r.item_id,
        partition_date=r.partition_date,
        attempt=r.attempt,
        notes=r.notes,
    )


def complete(
    engine: Engine, wf: KnowledgeBaseIndex, planned: list[tuple[ManifestRow, EmbeddingInput]]
) -> None:
    """The provider answers every request; ingest stores them."""
    with engine.begin() as conn:
        for row, prompt in planned:
            answer = ModelAnswer(model=wf.model, embeddings=[fake_embed(t) for t in prompt.texts])
            wf.store(conn, row, answer, wf.model)
            conn.execute(
                update(batch_requests)
                .where(batch_requests.c.custom_id == row.custom_id)
                .values(status="succeeded")
            )


def index(engine: Engine, wf: KnowledgeBaseIndex, tenant_ids: Sequence[str] | None) -> int:
    planned = plan(engine, wf, tenant_ids)
    complete(engine, wf, planned)
    return sum(len(p.texts) for _, p in planned)


def stored(engine: Engine, doc_id: str) -> dict[int, tuple[str, str]]:
    """chunk_index -> (content_sha256, custom_id) of a document's stored rows."""
    with engine.connect() as conn:
        return {
            r.chunk_index: (r.content_sha256, r.custom_id)
            for r in conn.execute(
                select(
                    kb_chunks.c.chunk_index, kb_chunks.c.content_sha256, kb_chunks.c.custom_id
                ).where(kb_chunks.c.doc_id == doc_id)
            )
        }


def due(engine: Engine, wf: KnowledgeBaseIndex, tenant_ids: Sequence[str] | None) -> list[WorkItem]:
    with engine.begin() as conn:
        return list(wf.due_items(conn, [DAY], tenant_ids))


@pytest.fixture
def wf() -> KnowledgeBaseIndex:
    return KnowledgeBaseIndex()


@pytest.fixture
def kb(engine: Engine) -> Engine:
    """Two tenants, a few documents each, nothing indexed yet."""
    with engine.begin() as conn:
        add_tenant(conn, "clinic-a", "Clinic A", "healthcare", "growth")
        add_tenant(conn, "plumber-b", "Plumber B", "home_services", "starter")
        add_tenant(conn, "empty-c", "Empty C", "salon", "starter")
        add_doc(conn, "a-whitening", "clinic-a", kb_text("teeth whitening price"))
        add_doc(conn, "a-parking", "clinic-a", kb_text("car parking permit", paragraphs=3))
        add_doc(conn, "b-boiler", "plumber-b", kb_text("boiler service radiator", paragraphs=6))
    return engine


# --- tests --------------------------------------------------------------------------------------


def test_workflow_defaults_and_configuration() -> None:
    wf = KnowledgeBaseIndex()
    assert (wf.name, wf.provider, wf.model, wf.endpoint, wf.max_attempts) == (
        "kb_index",
        "openai",
        "text-embedding-3-large",
        "/v1/embeddings",
        3,
    )
    assert wf.dimensions == 1536 and wf.deadline is None
    custom = KnowledgeBaseIndex(provider="self_hosted", model="bge-large", max_attempts=5)
    assert (custom.provider, custom.model, custom.max_attempts) == ("self_hosted", "bge-large", 5)
    with pytest.raises(ValueError, match="1536"):
        KnowledgeBaseIndex(dimensions=1024)  # the column is vector(1536)
    with pytest.raises(ValueError):
        KnowledgeBaseIndex(max_inputs_per_request=4096)  # over OpenAI's 2,048 inputs a request


def test_first_index_embeds_every_chunk_in_requests_of_one_document_each(
    kb: Engine, wf: KnowledgeBaseIndex
) -> None:
    small = KnowledgeBaseIndex(max_inputs_per_request=2)
    planned = plan(kb, small, ["clinic-a"])
    with kb.connect() as conn:
        docs = {r.doc_id: r.content for r in conn.execute(select(kb_documents))}
    expected = {d: small.chunk(docs[d]) for d in ("a-whitening", "a-parking")}
    assert len(expected["a-whitening"]) > 2  # several requests for one document
    assert sum(len(p.texts) for _, p in planned) == sum(len(c) for c in expected.values())
    for row, prompt in planned:
        assert row.tenant_id == "clinic-a"
        assert 1 <= len(prompt.texts) <= 2 and prompt.dimensions == 1536
        chunks = expected[row.notes["doc_id"]]
        assert (
            row.notes["doc_sha256"]
            == hashlib.sha256(docs[row.notes["doc_id"]].encode()).hexdigest()
        )
        assert list(prompt.texts) == [chunks[c["index"]].content for c in row.notes["chunks"]]
        assert all("text" not in c and "content" not in c for c in row.notes["chunks"])
    complete(kb, small, planned)
    assert {i: sha for i, (sha, _) in stored(kb, "a-whitening").items()} == {
        c.index: c.sha256 for c in expected["a-whitening"]
    }
    assert due(kb, small, ["clinic-a"]) == []


def test_kb_work_is_booked_to_the_upload_date_whatever_day_the_index_runs(
    kb: Engine, wf: KnowledgeBaseIndex
) -> None:
    """The usage of embedding a document is booked to the day it was uploaded (a day's report
    then holds all three workflows), not to the day the index happened to run."""
    uploaded = dt.datetime.combine(DAY, dt.time(9, 30), tzinfo=dt.UTC)
    with kb.begin() as conn:
        conn.execute(update(kb_documents).values(uploaded_at=uploaded))
        items = list(wf.due_items(conn, [DAY + dt.timedelta(days=3)], None))
    assert items and {item.partition_date for item in items} == {DAY}


def test_the_same_work_is_never_queued_twice(kb: Engine, wf: KnowledgeBaseIndex) -> None:
    first = [i.item_id for i in due(kb, wf, ["clinic-a"])]
    assert first == [i.item_id for i in due(kb, wf, ["clinic-a"])]  # same ids: the engine dedupes
    planned = plan(kb, wf, ["clinic-a"])
    assert planned
    # In flight: nothing more is due, not even after an unchanged re-upload (a new upload time).
    assert due(kb, wf, ["clinic-a"]) == []
    with kb.begin() as conn:
        content = conn.execute(
            select(kb_documents.c.content).where(kb_documents.c.doc_id == "a-whitening")
        ).scalar_one()
        add_doc(conn, "a-whitening", "clinic-a", content)
    assert due(kb, wf, ["clinic-a"]) == []
    # A queued retry has no notes until it is rendered again: its item id still covers it.
    with kb.begin() as conn:
        conn.execute(update(batch_requests).values(notes={}))
        add_doc(conn, "a-whitening", "clinic-a", content)
    assert due(kb, wf, ["clinic-a"]) == []


def test_an_unchanged_re_upload_embeds_nothing(kb: Engine, wf: KnowledgeBaseIndex) -> None:
    index(kb, wf, None)
    before = stored(kb, "a-whitening")
    with kb.begin() as conn:
        for doc_id, tenant_id in (("a-whitening", "clinic-a"), ("b-boiler", "plumber-b")):
            content = conn.execute(
                select(kb_documents.c.content).where(kb_documents.c.doc_id == doc_id)
            ).scalar_one()
            add_doc(conn, doc_id, tenant_id, content)
    assert due(kb, wf, None) == []
    assert stored(kb, "a-whitening") == before  # same vectors, same provenance


def test_a_one_paragraph_edit_re_embeds_only_the_chunks_it_touched(
    kb: Engine, wf: KnowledgeBaseIndex
) -> None:
    index(kb, wf, ["clinic-a"])
    original = kb_text("teeth whitening price")
    old_chunks = wf.chunk(original)
    before = stored(kb, "a-whitening")
    paragraphs = original.split("\n\n")
    paragraphs[7] = paragraphs[7].replace("note 2", "note 2 (now with a gentle fluoride rinse)")
    edited = "\n\n".join(paragraphs)
    with kb.begin() as conn:
        add_doc(conn, "a-whitening", "clinic-a", edited)
    new_chunks = wf.chunk(edited)
    touched = {c.sha256 for c in new_chunks} - {c.sha256 for c in old_chunks}
    assert 1 <= len(touched) <= 2 < len(new_chunks)

    planned = plan(kb, wf, ["clinic-a"])
    assert [r.notes["doc_id"] for r, _ in planned] == ["a-whitening"]
    [(row, prompt)] = planned
    assert {c["sha256"] for c in row.notes["chunks"]} == touched
    assert any("gentle fluoride rinse" in t for t in prompt.texts)
    complete(kb, wf, planned)

    after = stored(kb, "a-whitening")
    assert {i: sha for i, (sha, _) in after.items()} == {c.index: c.sha256 for c in new_chunks}
    for c in new_chunks:  # untouched chunks kept their vectors from the first run
        if c.sha256 not in touched:
            assert after[c.index][1] == before[c.index][1]
        else:
            assert after[c.index][1] == row.custom_id
    assert due(kb, wf, ["clinic-a"]) == []


def test_an_edit_that_shifts_chunk_indices_moves_vectors_instead_of_re_embedding(
    kb: Engine, wf: KnowledgeBaseIndex
) -> None:
    index(kb, wf, ["clinic-a"])
    original = kb_text("teeth whitening price")
    inserted = kb_text("new opening hours", paragraphs=4, seed=1)
    paragraphs = original.split("\n\n")
    edited = "\n\n".join([*paragraphs[:3], inserted, *paragraphs[3:]])
    with kb.begin() as conn:
        add_doc(conn, "a-whitening", "clinic-a", edited)
        counts = sync_documents(conn, ["clinic-a"])
    old = {c.sha256 for c in wf.chunk(original)}
    new_chunks = wf.chunk(edited)
    assert len(new_chunks) > len(old)
    assert counts["moved_chunks"] >= 1
    due_texts = [t for _, p in plan(kb, wf, ["clinic-a"]) for t in p.texts]
    assert len(due_texts) == sum(c.sha256 not in old for c in new_chunks) < len(new_chunks)


def test_a_document_reverted_to_an_earlier_text_is_embedded_again(
    kb: Engine, wf: KnowledgeBaseIndex
) -> None:
    """The reverted chunks were embedded once (that request succeeded): a new upload must still
    get new item ids, or the engine would drop them as done and the index would lack them."""
    original = kb_text("car parking permit", paragraphs=3)
    edited = original.replace("note 0", "note zero")
    for content in (original, edited, original):
        with kb.begin() as conn:
            add_doc(conn, "a-parking", "clinic-a", content)
        index(kb, wf, ["clinic-a"])
        assert {sha for sha, _ in stored(kb, "a-parking").values()} == {
            c.sha256 for c in wf.chunk(content)
        }
    with kb.connect() as conn:
        item_ids = (
            conn.execute(
                select(batch_requests.c.item_id).where(batch_requests.c.item_id.like("a-parking:%"))
            )
            .scalars()
            .all()
        )
    assert len(item_ids) == len(set(item_ids))


def test_deleting_a_document_removes_its_chunks(kb: Engine, wf: KnowledgeBaseIndex) -> None:
    index(kb, wf, None)
    query = kb_text("car parking permit", paragraphs=1)
    hits = search_chunks(kb, "clinic-a", query, k=3, embed_query=fake_embed)
    assert hits[0].doc_id == "a-parking"
    n_chunks = len(stored(kb, "a-parking"))
    with kb.begin() as conn:
        delete_doc(conn, "a-parking")
    # Not searchable even before the next sync...
    assert "a-parking" not in {
        h.doc_id for h in search_chunks(kb, "clinic-a", query, embed_query=fake_embed)
    }
    # ...and gone after it.
    with kb.begin() as conn:
        counts = sync_documents(conn, ["clinic-a"])
    assert counts["deleted_document_chunks"] == n_chunks >= 1
    assert stored(kb, "a-parking") == {}
    assert stored(kb, "a-whitening") != {}
    assert due(kb, wf, None) == []


def test_shrinking_a_document_removes_the_chunks_beyond_its_end(
    kb: Engine, wf: KnowledgeBaseIndex
) -> None:
    index(kb, wf, ["clinic-a"])
    short = "\n\n".join(kb_text("teeth whitening price").split("\n\n")[:2])
    with kb.begin() as conn:
        add_doc(conn, "a-whitening", "clinic-a", short)
    index(kb, wf, ["clinic-a"])
    assert {sha for sha, _ in stored(kb, "a-whitening").values()} == {
        c.sha256 for c in wf.chunk(short)
    }


def test_search_finds_the_right_document_of_the_tenant(kb: Engine, wf: KnowledgeBaseIndex) -> None:
    index(kb, wf, None)
    hits = search_chunks(kb, "clinic-a", "teeth whitening price", k=5, embed_query=fake_embed)
    assert len(hits) == 5
    assert hits[0].doc_id == "a-whitening" and hits[0].title == "A Whitening"
    assert [h.distance for h in hits] == sorted(h.distance for h in hits)
    assert "whitening" in hits[0].content
    parking = wf.search(kb, "clinic-a", "car parking permit", k=1, embed_query=fake_embed)
    assert [h.doc_id for h in parking] == ["a-parking"]
    with kb.connect() as conn:  # a Connection works as well as an Engine
        assert search_chunks(conn, "clinic-a", "teeth whitening", k=1, embed_query=fake_embed)[
            0
        ].doc_id == ("a-whitening")


def test_a_query_with_another_tenants_exact_text_returns_nothing_of_that_tenant(
    kb: Engine, wf: KnowledgeBaseIndex
) -> None:
    index(kb, wf, None)
    with kb.connect() as conn:
        boiler_text = conn.execute(
            select(kb_chunks.c.content).where(kb_chunks.c.doc_id == "b-boiler").limit(1)
        ).scalar_one()
    hits = search_chunks(kb, "clinic-a", boiler_text, k=50, embed_query=fake_embed)
    assert hits and {h.doc_id for h in hits} <= {"a-whitening", "a-parking"}
    assert all(boiler_text != h.content for h in hits)
    assert search_chunks(kb, "empty-c", boiler_text, k=5, embed_query=fake_embed) == []
    assert search_chunks(kb, "no-such-tenant", boiler_text, embed_query=fake_embed) == []
    # The owner does find it, at distance ~0.
    own = search_chunks(kb, "plumber-b", boiler_text, k=1, embed_query=fake_embed)
    assert own[0].content == boiler_text and own[0].distance == pytest.approx(0, abs=1e-6)


def test_search_of_a_small_tenant_is_complete_even_when_the_hnsw_index_is_used(
    engine: Engine,
) -> None:
    """Postgres filters by tenant after the HNSW scan, which only looks at ef_search candidates."""
    rng = random.Random(3)
    with engine.begin() as conn:
        add_tenant(conn, "big", "Big", "sales", "scale")
        add_tenant(conn, "small", "Small", "salon", "starter")
        add_doc(conn, "big-doc", "big", "x")
        add_doc(conn, "small-doc", "small", "y")
        rows = []
        for i in range(150):
            words = " ".join(rng.choice(WORDS) for _ in range(8))
            rows.append(("big", "big-doc", i, words))
        rows += [("small", "small-doc", 0, "haircut colour"), ("small", "small-doc", 1, "balayage")]
        conn.execute(
            insert(kb_chunks),
            [
                {
                    "chunk_id": f"{doc}:{i}",
                    "doc_id": doc,
                    "tenant_id": tenant,
                    "chunk_index": i,
                    "content": content,
                    "content_sha256": hashlib.sha256(content.encode()).hexdigest(),
                    "embedding": fake_embed(content),
                    "model": "text-embedding-3-large",
                }
                for tenant, doc, i, content in rows
            ],
        )
    with engine.begin() as conn:
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            conn.execute(text(f"SET LOCAL {setting} = off"))
        conn.execute(text("SET LOCAL hnsw.ef_search = 10"))
        plan_text = "\n".join(
            conn.execute(
                text(
                    "EXPLAIN SELECT chunk_id FROM kb_chunks WHERE tenant_id = 'small' "
                    "ORDER BY embedding <=> CAST(:q AS vector) LIMIT 5"
                ),
                {"q": str(fake_embed("appointment booking"))},
            ).scalars()
        )
        assert "ix_kb_chunks_embedding_hnsw" in plan_text  # the index path is really exercised
        hits = search_chunks(conn, "small", "appointment booking", k=5, embed_query=fake_embed)
        assert {h.chunk_id for h in hits} == {"small-doc:0", "small-doc:1"}
        best = search_chunks(conn, "small", "balayage", k=1, embed_query=fake_embed)
        assert [h.chunk_id for h in best] == ["small-doc:1"]


def test_search_rejects_bad_arguments_and_skips_blank_queries(kb: Engine) -> None:
    calls: list[str] = []

    def embed(q: str) -> list[float]:
        calls.append(q)
        return fake_embed(q)

    assert search_chunks(kb, "clinic-a", "   ", embed_query=embed) == []
    assert calls == []  # nothing embedded (nor billed) for a blank query
    with pytest.raises(ValueError):
        search_chunks(kb, "clinic-a", "parking", k=0, embed_query=embed)
    with pytest.raises(ValueError):
        search_chunks(kb, "", "parking", embed_query=embed)
    with pytest.raises(ValueError, match="dimensions"):
        search_chunks(kb, "clinic-a", "parking", embed_query=lambda q: [1.0, 0.0])


def test_store_rejects_wrong_count_dimension_or_non_finite_vectors(
    kb: Engine, wf: KnowledgeBaseIndex
) -> None:
    [(row, prompt), *_] = plan(kb, wf, ["plumber-b"])
    good = [fake_embed(t) for t in prompt.texts]
    assert len(good) >= 2
    bad_answers = {
        "expected": [good[:-1], [*good, good[0]], "not a list"],
        "dimensions": [[good[0][:100], *good[1:]]],
        "non-finite": [
            [[math.nan, *good[0][1:]], *good[1:]],
            [[math.inf, *good[0][1:]], *good[1:]],
        ],
        "zeros": [[[0.0] * 1536, *good[1:]]],
        "non-number": [[["0.1"] * 1536, *good[1:]], [[None] * 1536, *good[1:]]],
        "no embeddings": [None],
    }
    for message, answers in bad_answers.items():
        for embeddings in answers:
            with kb.begin() as conn, pytest.raises(InvalidAnswer, match=message):
                wf.store(conn, row, ModelAnswer(model=wf.model, embeddings=embeddings), wf.model)
    assert stored(kb, "b-boiler") == {}
    with kb.begin() as conn:  # the good answer is accepted, twice (idempotent)
        for _ in range(2):
            wf.store(conn, row, ModelAnswer(model=wf.model, embeddings=good), wf.model)
    assert len(stored(kb, "b-boiler")) == len(good)


def test_store_drops_vectors_of_chunks_that_changed_since_rendering(
    kb: Engine, wf: KnowledgeBaseIndex
) -> None:
    planned = plan(kb, wf, ["clinic-a"])
    original = kb_text("teeth whitening price")
    paragraphs = original.split("\n\n")
    paragraphs[-1] = "The last section was rewritten entirely after the batch was sent."
    edited = "\n\n".join(paragraphs)
    with kb.begin() as conn:
        add_doc(conn, "a-whitening", "clinic-a", edited)
    complete(kb, wf, planned)  # answers computed from the old text
    current = {c.index: c for c in wf.chunk(edited)}
    rows = stored(kb, "a-whitening")
    assert rows and len(rows) < len(current)
    with kb.connect() as conn:
        for r in conn.execute(select(kb_chunks).where(kb_chunks.c.doc_id == "a-whitening")):
            assert r.content_sha256 == current[r.chunk_index].sha256
            assert r.content == current[r.chunk_index].content
            assert r.embedding is not None and len(r.embedding) == 1536
    # The rewritten tail is due again, and only it.
    again = plan(kb, wf, ["clinic-a"])
    assert {c["sha256"] for r, _ in again for c in r.notes["chunks"]} == {
        c.sha256 for i, c in current.items() if i not in rows
    }


def test_render_never_reads_another_tenants_document_and_skips_stale_items(
    kb: Engine, wf: KnowledgeBaseIndex
) -> None:
    [item, *_] = due(kb, wf, ["plumber-b"])
    forged = WorkItem(item.item_id, "clinic-a", item.partition_date)
    with kb.begin() as conn:
        [outcome] = wf.render(conn, [forged], {})
        assert isinstance(outcome, Rejected)
        add_doc(conn, "b-boiler", "plumber-b", "A completely new boiler guide.")
        [stale] = wf.render(conn, [item], {})
        assert isinstance(stale, Skipped)
        delete_doc(conn, "b-boiler")
        [gone] = wf.render(conn, [item], {})
        assert isinstance(gone, Skipped)
        [bad] = wf.render(conn, [WorkItem("nonsense", "plumber-b", DAY)], {})
        assert isinstance(bad, Rejected)


def test_a_model_change_re_embeds_everything_and_search_can_filter_by_model(
    kb: Engine, wf: KnowledgeBaseIndex
) -> None:
    index(kb, wf, ["plumber-b"])
    other = KnowledgeBaseIndex(model="text-embedding-3-small")
    n_chunks = len(stored(kb, "b-boiler"))
    assert sum(len(p.texts) for _, p in plan(kb, other, ["plumber-b"])) == n_chunks
    assert other.search(kb, "plumber-b", "boiler service", embed_query=fake_embed) == []
    assert wf.search(kb, "plumber-b", "boiler service", embed_query=fake_embed)


def test_the_upload_sensors_scan_after_its_watermark_reads_the_changed_at_index(kb: Engine) -> None:
    """kb_upload_sensor runs `documents_changed_since` every tick: its scan past the watermark must
    be an index range scan on (greatest(uploaded_at, deleted_at), doc_id), not a read of every
    document (seq scans are disabled so the tiny table cannot hide a plan that cannot use it)."""
    from batch_pipelines.workflows.kb_uploads import _CHANGED_AT

    since = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    query = (
        select(kb_documents.c.doc_id)
        .where(tuple_(_CHANGED_AT, kb_documents.c.doc_id) > tuple_(since, "a-parking"))
        .order_by(_CHANGED_AT, kb_documents.c.doc_id)
        .limit(100)
    )
    with kb.begin() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
        plan = "\n".join(conn.execute(text(f"EXPLAIN {compiled}")).scalars())
    assert "ix_kb_documents_changed_at_doc_id" in plan, plan
