"""`batch-pipelines search --tenant T "query" [-k N]`: with no provider key it starts the bundled
emulator for the query embedding (as `demo` does) and prints the tenant's nearest chunks, each with
its document's title, score and text; a chunk's own text finds it first, and another tenant's
chunks are never printed, whatever the query."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import insert

from batch_pipelines.cli import main
from batch_pipelines.db.seed import add_tenant
from batch_pipelines.db.tables import kb_chunks, kb_documents
from batch_pipelines.workflows.kb_index import KnowledgeBaseIndex, chunk_id_for, embed_query_sync

CHUNKS = {  # (tenant, doc_id, title) -> chunk texts
    ("clinic-a", "a-parking", "Parking at the clinic"): [
        "Patients park free in the multi-storey car park on Mill Lane; bring your ticket to reception.",
        "Blue badge holders may use the two bays right by the entrance on Station Road.",
    ],
    ("plumber-b", "b-boiler", "Boiler service"): [
        "A yearly boiler service takes about an hour and includes a flue gas analysis.",
    ],
}


@pytest.fixture
def indexed(engine, emulator):
    """Two tenants' chunks, embedded by the emulator exactly as kb_index embeds them."""
    workflow = KnowledgeBaseIndex()
    embed = embed_query_sync(workflow.model, workflow.dimensions)
    with engine.begin() as conn:
        add_tenant(conn, "clinic-a", name="Clinic A", vertical="healthcare", tier="growth")
        add_tenant(conn, "plumber-b", name="Plumber B", vertical="home_services", tier="starter")
        for (tenant, doc_id, title), texts in CHUNKS.items():
            content = "\n\n".join(texts)
            conn.execute(
                insert(kb_documents).values(
                    doc_id=doc_id,
                    tenant_id=tenant,
                    title=title,
                    content=content,
                    content_sha256=hashlib.sha256(content.encode()).hexdigest(),
                )
            )
            for index, chunk in enumerate(texts):
                conn.execute(
                    insert(kb_chunks).values(
                        chunk_id=chunk_id_for(doc_id, index),
                        doc_id=doc_id,
                        tenant_id=tenant,
                        chunk_index=index,
                        content=chunk,
                        content_sha256=hashlib.sha256(chunk.encode()).hexdigest(),
                        embedding=embed(chunk),
                        model=workflow.model,
                    )
                )
    return engine


def test_search_finds_a_chunk_by_its_own_text_for_its_tenant_only(
    indexed, monkeypatch, capsys
) -> None:
    # As a user runs it: no key and no emulator URL, so the command starts its own emulator.
    monkeypatch.delenv("BATCH_PIPELINES_EMULATOR_URL")
    target = CHUNKS[("clinic-a", "a-parking", "Parking at the clinic")][1]
    assert main(["search", "--tenant", "clinic-a", target, "-k", "5"]) == 0
    out = capsys.readouterr().out
    first, *rest = out.split("\n2. ")
    assert first.startswith("1. Parking at the clinic  (score 1.000, a-parking:1)")
    assert "Blue badge holders may use the two bays" in first
    assert rest and "a-parking:0" in rest[0]  # the tenant's other chunk, further away
    assert "boiler" not in out.lower()

    # Another tenant's exact text finds nothing of that tenant.
    boiler = CHUNKS[("plumber-b", "b-boiler", "Boiler service")][0]
    assert main(["search", "--tenant", "clinic-a", boiler]) == 0
    out = capsys.readouterr().out
    assert "Boiler service" not in out and "flue gas" not in out and "1. Parking" in out
    assert main(["search", "--tenant", "plumber-b", boiler, "-k", "1"]) == 0
    assert capsys.readouterr().out.startswith("1. Boiler service  (score 1.000")


def test_search_for_an_unknown_tenant_says_so(indexed, capsys) -> None:
    assert main(["search", "--tenant", "nobody", "parking"]) == 2
    assert "no tenant 'nobody'" in capsys.readouterr().err
