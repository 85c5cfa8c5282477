"""Knowledge-base indexing: incremental batch embeddings of tenants' documents into pgvector.

Workflow `kb_index` (`KnowledgeBaseIndex`). Each live document (``deleted_at IS NULL``) is cut into
chunks by `chunking.chunk_document` (sentence-aware, edit-stable, hashed). A chunk is embedded only
when no stored row holds its content hash under the current model, so re-uploading an unchanged
document embeds and bills nothing, and a one-paragraph edit re-embeds only the chunks around it.

Work items. The engine's item is one embeddings *request*: up to `max_inputs_per_request` (64)
changed chunks of ONE document (the endpoint takes an array of inputs; OpenAI allows 2,048 inputs
and 300,000 tokens per request, and 50,000 inputs per batch, which the engine shards on). The item
id is ``{doc_id}:{doc_sha256[:16]}:{chunk indices}:{digest}``; the digest covers the chunks' hashes,
the model and dimensions, and the upload time, so:

- the same work planned twice has the same id (the engine refuses a second live request);
- a chunk already in a live request (even of an earlier upload) is not planned again;
- a document reverted to an earlier text is embedded again (a new upload time, a new id), although
  an identical set of chunks succeeded before.

`sync_documents` (run at the start of `due_items`) makes `kb_chunks` match the documents: it removes
the chunks of deleted documents and of replaced text, and moves still-valid vectors to their new
chunk index when an edit shifted the indices (no re-embedding for a mere shift).

`store` re-reads the document and re-chunks it: a vector is stored only for a chunk whose hash is
in the current chunking (the notes carry hashes, never text), so an answer for a document that
changed since rendering cannot store a vector under the wrong text.

`search` embeds the query with a caller-supplied function (the provider layer supplies a synchronous
embeddings call with the same model and dimensions) and returns the tenant's nearest chunks; every
query is filtered by tenant, whatever the text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, Row, delete, func, or_, select, true
from sqlalchemy.dialects.postgresql import insert as pg_insert

from batch_pipelines.batching.workflow import (
    InvalidAnswer,
    ManifestRow,
    Rejected,
    Rendered,
    RenderOutcome,
    Skipped,
    WorkItem,
)
from batch_pipelines.core.prompts import EmbeddingInput, ModelAnswer
from batch_pipelines.core.tenants import TenantContext
from batch_pipelines.core.workflows import KB_INDEX
from batch_pipelines.db import get_engine
from batch_pipelines.db.tables import (
    EMBEDDING_DIMENSIONS,
    LIVE_REQUEST_STATUSES,
    batch_requests,
    kb_chunks,
    kb_documents,
)
from batch_pipelines.providers.registry import ProviderRegistry
from batch_pipelines.workflows.chunking import (
    DEFAULT_OVERLAP_TOKENS,
    DEFAULT_TARGET_TOKENS,
    Chunk,
    chunk_document,
)

__all__ = [
    "MAX_INPUTS_PER_REQUEST",
    "WORKFLOW_NAME",
    "KnowledgeBaseIndex",
    "SearchHit",
    "chunk_id_for",
    "search",
    "sync_documents",
]

WORKFLOW_NAME = KB_INDEX.name
# OpenAI's embeddings endpoint takes at most 2,048 inputs per request; 64 chunks of <= 400 estimated
# tokens keep a request near 25k tokens (limit 300k) and a retried line cheap.
MAX_INPUTS_PER_REQUEST = 64
_OPENAI_MAX_INPUTS = 2048
_DOCS_PER_SCAN_BATCH = 200
# Tenant lists longer than this take the one global lock instead of a lock per tenant, so that a run
# over thousands of tenants cannot exhaust Postgres' shared lock table.
_MAX_TENANT_LOCKS = 64
_MAX_K = 1000


def chunk_id_for(doc_id: str, chunk_index: int) -> str:
    """The `kb_chunks.chunk_id` of a document's chunk (the index is last and all digits, so ids of
    different documents cannot collide even when a doc_id contains ``:``)."""
    return f"{doc_id}:{chunk_index}"


@dataclass(frozen=True)
class SearchHit:
    """One search result: a chunk of one of the tenant's live documents."""

    chunk_id: str
    doc_id: str
    title: str
    content: str
    distance: float  # cosine distance, 0 = same direction, 2 = opposite


# --- item ids -----------------------------------------------------------------------------------


def _format_indices(indices: Sequence[int]) -> str:
    """``[0, 1, 2, 5, 7, 8]`` -> ``"0-2.5.7-8"`` (characters that need no escaping anywhere)."""
    parts: list[str] = []
    i = 0
    while i < len(indices):
        j = i
        while j + 1 < len(indices) and indices[j + 1] == indices[j] + 1:
            j += 1
        parts.append(str(indices[i]) if i == j else f"{indices[i]}-{indices[j]}")
        i = j + 1
    return ".".join(parts)


def _parse_indices(value: str) -> list[int]:
    out: list[int] = []
    for part in value.split("."):
        first, _, last = part.partition("-")
        start = int(first)
        stop = int(last) if last else start
        if not 0 <= start <= stop or stop - start >= _OPENAI_MAX_INPUTS:
            raise ValueError(f"bad index range {part!r}")
        out.extend(range(start, stop + 1))
    return out


@dataclass(frozen=True)
class _ItemKey:
    doc_id: str
    doc_sha16: str
    indices: tuple[int, ...]
    digest: str

    @classmethod
    def parse(cls, item_id: str) -> _ItemKey:
        doc_id, doc_sha16, indices, digest = item_id.rsplit(":", 3)
        return cls(doc_id, doc_sha16, tuple(_parse_indices(indices)), digest)


@dataclass
class _InFlight:
    hashes: set[tuple[str, str]] = field(default_factory=set)  # (doc_id, chunk sha256)
    indices: dict[tuple[str, str], set[int]] = field(default_factory=dict)  # (doc_id, sha16)


# --- the documents scan shared by sync_documents and due_items ----------------------------------


@dataclass
class _DocState:
    doc_id: str
    tenant_id: str
    content_sha256: str
    uploaded_at: dt.datetime
    chunks: list[Chunk]
    stored: dict[int, tuple[str, str | None]]  # chunk_index -> (content_sha256, model), after sync


def _lock_tenants(conn: Connection, tenant_ids: Sequence[str] | None) -> None:
    """Serialise concurrent syncs of the same tenant until the caller's transaction ends."""
    global_key = func.hashtextextended(WORKFLOW_NAME, 0)
    if tenant_ids is None or len(tenant_ids) > _MAX_TENANT_LOCKS:
        conn.execute(select(func.pg_advisory_xact_lock(global_key)))
        return
    conn.execute(select(func.pg_advisory_xact_lock_shared(global_key)))
    for tenant_id in sorted(set(tenant_ids)):  # one order everywhere: no deadlock between runs
        key = func.hashtextextended(f"{WORKFLOW_NAME}:{tenant_id}", 0)
        conn.execute(select(func.pg_advisory_xact_lock(key)))


def _tenant_filter(column: Any, tenant_ids: Sequence[str] | None) -> Any:
    return true() if tenant_ids is None else column.in_(list(tenant_ids))


def _delete_orphans(conn: Connection, tenant_ids: Sequence[str] | None) -> int:
    """Chunks of deleted documents, and (defensively) chunks filed under another tenant than their
    document's: neither may ever be returned by a search."""
    docs = kb_documents
    stmt = (
        delete(kb_chunks)
        .where(
            kb_chunks.c.doc_id == docs.c.doc_id,
            or_(docs.c.deleted_at.is_not(None), kb_chunks.c.tenant_id != docs.c.tenant_id),
            or_(
                _tenant_filter(docs.c.tenant_id, tenant_ids),
                _tenant_filter(kb_chunks.c.tenant_id, tenant_ids),
            ),
        )
        .returning(kb_chunks.c.chunk_id)
    )
    return len(conn.execute(stmt).all())


def _sync_doc(
    conn: Connection, doc: Row[Any], chunks: list[Chunk], rows: list[Row[Any]], model: str
) -> tuple[dict[int, tuple[str, str | None]], int, int]:
    """Make the doc's stored rows match `chunks`: keep rows whose hash matches their index, copy a
    still-valid vector to each index an edit shifted it to, delete the rest. Returns the stored
    state (index -> (sha, model)), the number of rows deleted and the number of vectors moved."""
    by_index = {r.chunk_index: r for r in rows}
    keep = {
        c.index
        for c in chunks
        if c.index in by_index and by_index[c.index].content_sha256 == c.sha256
    }
    stored = {i: (by_index[i].content_sha256, by_index[i].model) for i in keep}
    # Which row can lend its vector to each unmatched index (prefer the current model's).
    lenders: dict[str, int] = {}
    for r in sorted(rows, key=lambda r: (r.model != model, r.chunk_index)):
        lenders.setdefault(r.content_sha256, r.chunk_index)
    moves = {
        c.index: lenders[c.sha256] for c in chunks if c.index not in keep and c.sha256 in lenders
    }
    doomed = sorted(set(by_index) - keep)
    if not doomed and not moves:
        return stored, 0, 0
    vector_cols = (kb_chunks.c.embedding, kb_chunks.c.model, kb_chunks.c.custom_id)
    sources: dict[int, Row[Any]] = {}
    kept_lenders = sorted({old for old in moves.values() if old in keep})
    if kept_lenders:
        for r in conn.execute(
            select(kb_chunks.c.chunk_index, *vector_cols).where(
                kb_chunks.c.doc_id == doc.doc_id, kb_chunks.c.chunk_index.in_(kept_lenders)
            )
        ):
            sources[r.chunk_index] = r
    removed = 0
    if doomed:
        gone = conn.execute(
            delete(kb_chunks)
            .where(kb_chunks.c.doc_id == doc.doc_id, kb_chunks.c.chunk_index.in_(doomed))
            .returning(kb_chunks.c.chunk_index, *vector_cols)
        ).all()
        removed = len(gone)
        sources.update({r.chunk_index: r for r in gone})
    chunk_by_index = {c.index: c for c in chunks}
    moved_rows = []
    for new_index, old_index in sorted(moves.items()):
        src = sources.get(old_index)
        if src is None or src.embedding is None:
            continue  # a concurrent sync removed it first: the chunk is simply due
        chunk = chunk_by_index[new_index]
        moved_rows.append(
            {
                "chunk_id": chunk_id_for(doc.doc_id, new_index),
                "doc_id": doc.doc_id,
                "tenant_id": doc.tenant_id,
                "chunk_index": new_index,
                "content": chunk.content,
                "content_sha256": chunk.sha256,
                "embedding": src.embedding,
                "model": src.model,
                "custom_id": src.custom_id,
            }
        )
        stored[new_index] = (chunk.sha256, src.model)
    if moved_rows:
        conn.execute(
            pg_insert(kb_chunks).on_conflict_do_nothing(
                index_elements=[kb_chunks.c.doc_id, kb_chunks.c.chunk_index]
            ),
            moved_rows,
        )
    return stored, removed, len(moved_rows)


def _scan(
    conn: Connection,
    tenant_ids: Sequence[str] | None,
    *,
    model: str,
    target_tokens: int,
    overlap_tokens: int,
    counts: dict[str, int],
) -> Iterator[_DocState]:
    """Sync `kb_chunks` with the live documents of these tenants, yielding each document's state."""
    _lock_tenants(conn, tenant_ids)
    counts["deleted_document_chunks"] += _delete_orphans(conn, tenant_ids)
    docs = kb_documents
    heads = conn.execute(
        select(docs.c.doc_id)
        .where(docs.c.deleted_at.is_(None), _tenant_filter(docs.c.tenant_id, tenant_ids))
        .order_by(docs.c.tenant_id, docs.c.uploaded_at, docs.c.doc_id)
    ).scalars()
    doc_ids = list(heads)
    # Batches keep memory bounded: a tenant's whole KB is never loaded at once.
    for at in range(0, len(doc_ids), _DOCS_PER_SCAN_BATCH):
        batch = doc_ids[at : at + _DOCS_PER_SCAN_BATCH]
        doc_rows = conn.execute(
            select(
                docs.c.doc_id,
                docs.c.tenant_id,
                docs.c.content,
                docs.c.content_sha256,
                docs.c.uploaded_at,
            )
            .where(docs.c.doc_id.in_(batch), docs.c.deleted_at.is_(None))
            .order_by(docs.c.tenant_id, docs.c.uploaded_at, docs.c.doc_id)
        ).all()
        stored_rows: dict[str, list[Row[Any]]] = {}
        for r in conn.execute(
            select(
                kb_chunks.c.doc_id,
                kb_chunks.c.chunk_index,
                kb_chunks.c.content_sha256,
                kb_chunks.c.model,
            ).where(kb_chunks.c.doc_id.in_(batch))
        ):
            stored_rows.setdefault(r.doc_id, []).append(r)
        for doc in doc_rows:
            counts["documents"] += 1
            chunks = chunk_document(doc.content, target_tokens, overlap_tokens)
            counts["chunks"] += len(chunks)
            stored, removed, moved = _sync_doc(
                conn, doc, chunks, stored_rows.get(doc.doc_id, []), model
            )
            counts["stale_chunks"] += removed
            counts["moved_chunks"] += moved
            yield _DocState(
                doc.doc_id, doc.tenant_id, doc.content_sha256, doc.uploaded_at, chunks, stored
            )


def _new_counts() -> dict[str, int]:
    return dict.fromkeys(
        ("documents", "chunks", "deleted_document_chunks", "stale_chunks", "moved_chunks"), 0
    )


def sync_documents(
    conn: Connection,
    tenant_ids: Sequence[str] | None,
    *,
    model: str = KB_INDEX.model,
    target_tokens: int = DEFAULT_TARGET_TOKENS,
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
) -> dict[str, int]:
    """Make `kb_chunks` match the documents of these tenants (all when None), in the caller's
    transaction: remove the chunks of deleted documents (``deleted_document_chunks``) and of
    replaced text (``stale_chunks``), move still-valid vectors whose index shifted
    (``moved_chunks``). Returns those counts plus ``documents`` and ``chunks`` seen. The chunking
    parameters must be the workflow's (`KnowledgeBaseIndex.sync_documents` passes them)."""
    counts = _new_counts()
    for _ in _scan(
        conn,
        tenant_ids,
        model=model,
        target_tokens=target_tokens,
        overlap_tokens=overlap_tokens,
        counts=counts,
    ):
        pass
    return counts


# --- search -------------------------------------------------------------------------------------


def _check_vector(vector: Any, dimensions: int, what: str) -> list[float]:
    """A list of `dimensions` finite floats with a non-zero norm, or ValueError saying why.
    (numpy does the checking: a 50,000-input batch is 77 million numbers.)"""
    if vector is None or isinstance(vector, str | bytes | Mapping):
        raise ValueError(f"{what} is not a list of numbers")
    try:
        arr = np.asarray(vector)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} is not a list of numbers") from exc
    if arr.ndim != 1:
        raise ValueError(f"{what} is not a flat list of numbers")
    if arr.shape[0] != dimensions:
        raise ValueError(f"{what} has {arr.shape[0]} dimensions, expected {dimensions}")
    if arr.dtype.kind not in "fiu":  # bools, strings, None (object) are not numbers
        raise ValueError(f"{what} holds a non-number ({arr.dtype})")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} holds a non-finite number")
    # A zero vector has no direction: its cosine distance is NaN and would poison every search.
    if not arr.any():
        raise ValueError(f"{what} is all zeros")
    return arr.tolist()


def search_chunks(
    conn_or_engine: Connection | Engine,
    tenant_id: str,
    query: str,
    k: int = 5,
    *,
    embed_query: Callable[[str], Sequence[float]],
    model: str | None = None,
    dimensions: int = EMBEDDING_DIMENSIONS,
) -> list[SearchHit]:
    """The `k` chunks of `tenant_id`'s live documents nearest to `query` (cosine distance), nearest
    first. Only that tenant's rows are ever read, whatever the query says.

    `embed_query` must embed with the model and dimensions the index was built with (the provider
    layer supplies a synchronous embeddings call). With `model`, only vectors of that model are
    compared (vectors of different models are not comparable, e.g. during a model change).

    Postgres applies the tenant filter after the HNSW index scan, which looks at a bounded number
    of candidates (``hnsw.ef_search``); a small tenant in a big table could then get fewer than
    `k` hits. When that happens the query is re-run as an exact scan of that tenant's rows (through
    the tenant index), which is cheap precisely because the tenant is small.
    """
    if not isinstance(tenant_id, str) or not tenant_id:
        raise ValueError("tenant_id is required")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= _MAX_K:
        raise ValueError(f"k must be an integer in [1, {_MAX_K}]")
    if not query or not query.strip():
        return []
    # Embed before touching the database: no connection is held across a network call.
    vector = _check_vector(embed_query(query), dimensions, "the query embedding")
    if isinstance(conn_or_engine, Engine):
        with conn_or_engine.connect() as conn:
            return _search(conn, tenant_id, vector, k, model)
    return _search(conn_or_engine, tenant_id, vector, k, model)


def _search(
    conn: Connection, tenant_id: str, vector: list[float], k: int, model: str | None
) -> list[SearchHit]:
    distance = kb_chunks.c.embedding.cosine_distance(vector)
    conditions = [
        kb_chunks.c.tenant_id == tenant_id,
        kb_documents.c.tenant_id == tenant_id,
        kb_documents.c.deleted_at.is_(None),
        kb_chunks.c.embedding.is_not(None),
    ]
    if model is not None:
        conditions.append(kb_chunks.c.model == model)
    base = (
        select(
            kb_chunks.c.chunk_id,
            kb_chunks.c.doc_id,
            kb_documents.c.title,
            kb_chunks.c.content,
            distance.label("distance"),
        )
        .join(kb_documents, kb_documents.c.doc_id == kb_chunks.c.doc_id)
        .where(*conditions)
        .limit(k)
    )
    rows = conn.execute(base.order_by(distance)).all()
    if len(rows) < k:
        # `distance + 0` is not an indexable ORDER BY: an exact scan of the tenant's rows.
        rows = conn.execute(base.order_by(distance + 0, kb_chunks.c.chunk_id)).all()
    return [SearchHit(r.chunk_id, r.doc_id, r.title, r.content, float(r.distance)) for r in rows]


# --- the workflow -------------------------------------------------------------------------------


class KnowledgeBaseIndex:
    """The `kb_index` workflow (implements `batch_pipelines.batching.workflow.Workflow`)."""

    name = WORKFLOW_NAME

    def __init__(
        self,
        *,
        provider: str = KB_INDEX.provider,
        model: str = KB_INDEX.model,
        dimensions: int = EMBEDDING_DIMENSIONS,
        endpoint: str = KB_INDEX.endpoint,
        max_attempts: int = 3,
        deadline: dt.timedelta | None = None,
        target_tokens: int = DEFAULT_TARGET_TOKENS,
        overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
        max_inputs_per_request: int = MAX_INPUTS_PER_REQUEST,
    ) -> None:
        if dimensions != EMBEDDING_DIMENSIONS:
            # The column is vector(1536): another size needs a migration, not a setting.
            raise ValueError(
                f"kb_chunks.embedding holds {EMBEDDING_DIMENSIONS} dimensions, not {dimensions}"
            )
        if not 1 <= max_inputs_per_request <= _OPENAI_MAX_INPUTS:
            raise ValueError(f"max_inputs_per_request must be in [1, {_OPENAI_MAX_INPUTS}]")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        chunk_document("", target_tokens, overlap_tokens)  # validates the chunking parameters
        self.provider = provider
        self.model = model
        self.dimensions = dimensions
        self.endpoint = endpoint
        self.max_attempts = max_attempts
        self.deadline = deadline
        self.target_tokens = target_tokens
        self.overlap_tokens = overlap_tokens
        self.max_inputs_per_request = max_inputs_per_request

    def __repr__(self) -> str:
        return f"KnowledgeBaseIndex(provider={self.provider!r}, model={self.model!r})"

    def chunk(self, text: str) -> list[Chunk]:
        """The chunks of a document's text, with this workflow's chunking parameters."""
        return chunk_document(text, self.target_tokens, self.overlap_tokens)

    def _digest(self, uploaded_at: dt.datetime, chunks: Sequence[Chunk]) -> str:
        h = hashlib.sha256()
        h.update(f"{self.model}|{self.dimensions}|{uploaded_at.isoformat()}|".encode())
        for c in chunks:
            h.update(f"{c.index}:{c.sha256},".encode())
        return h.hexdigest()[:16]

    def _item_id(
        self, doc_id: str, doc_sha256: str, uploaded_at: dt.datetime, part: Sequence[Chunk]
    ) -> str:
        indices = _format_indices([c.index for c in part])
        return f"{doc_id}:{doc_sha256[:16]}:{indices}:{self._digest(uploaded_at, part)}"

    def sync_documents(self, conn: Connection, tenant_ids: Sequence[str] | None) -> dict[str, int]:
        """`sync_documents` with this workflow's model and chunking parameters."""
        return sync_documents(
            conn,
            tenant_ids,
            model=self.model,
            target_tokens=self.target_tokens,
            overlap_tokens=self.overlap_tokens,
        )

    def _in_flight(self, conn: Connection, tenant_ids: Sequence[str] | None) -> _InFlight:
        """What the live kb_index requests already carry. Rendered requests name their chunks'
        hashes in their notes; a queued retry has no notes until it is rendered again, but its
        item id names the document version and chunk indices."""
        rows = conn.execute(
            select(batch_requests.c.item_id, batch_requests.c.notes).where(
                batch_requests.c.workflow == self.name,
                batch_requests.c.status.in_(LIVE_REQUEST_STATUSES),
                _tenant_filter(batch_requests.c.tenant_id, tenant_ids),
            )
        ).all()
        flight = _InFlight()
        for item_id, notes in rows:
            notes = notes if isinstance(notes, Mapping) else {}
            doc_id = notes.get("doc_id")
            for c in notes.get("chunks") or ():
                if isinstance(doc_id, str) and isinstance(c, Mapping) and "sha256" in c:
                    flight.hashes.add((doc_id, str(c["sha256"])))
            try:
                key = _ItemKey.parse(item_id)
            except ValueError:
                continue
            flight.indices.setdefault((key.doc_id, key.doc_sha16), set()).update(key.indices)
        return flight

    def due_items(
        self, conn: Connection, partition_dates: Sequence[dt.date], tenant_ids: Sequence[str] | None
    ) -> Iterator[WorkItem]:
        """One item per embeddings request: the chunks of a live document that no stored row holds
        (by hash, under this model) and no live request carries, in groups of at most
        `max_inputs_per_request`. Syncs `kb_chunks` first (see `sync_documents`), in the
        caller's transaction.

        Documents are selected by tenant only: an index has no history, so `partition_dates` does
        not select anything. Each item carries its document's upload date (UTC) as its partition
        date: its usage is booked to the day of the upload it serves, so a day's cost report
        holds the embedding of that day's uploads, whenever the index ran.
        """
        if tenant_ids is not None and not tenant_ids:
            return
        flight = self._in_flight(conn, tenant_ids)
        states = _scan(
            conn,
            tenant_ids,
            model=self.model,
            target_tokens=self.target_tokens,
            overlap_tokens=self.overlap_tokens,
            counts=_new_counts(),
        )
        for state in states:
            taken = {
                state.chunks[i].sha256
                for i in flight.indices.get((state.doc_id, state.content_sha256[:16]), ())
                if i < len(state.chunks)
            }
            due: list[Chunk] = []
            for c in state.chunks:
                if state.stored.get(c.index) == (c.sha256, self.model):
                    continue
                if c.sha256 in taken or (state.doc_id, c.sha256) in flight.hashes:
                    continue  # already requested; `store` fills every index with this text
                taken.add(c.sha256)
                due.append(c)
            date = state.uploaded_at.astimezone(dt.UTC).date()
            for at in range(0, len(due), self.max_inputs_per_request):
                part = due[at : at + self.max_inputs_per_request]
                yield WorkItem(
                    item_id=self._item_id(
                        state.doc_id, state.content_sha256, state.uploaded_at, part
                    ),
                    tenant_id=state.tenant_id,
                    partition_date=date,
                )

    def render(
        self,
        conn: Connection,
        items: Sequence[WorkItem],
        tenants: Mapping[str, TenantContext],
    ) -> Iterator[RenderOutcome]:
        """One `EmbeddingInput` per item: the texts of its chunks, read from the item's tenant's own
        document. An item whose document was deleted or changed since planning is skipped (the
        next plan covers the new version)."""
        keys: dict[str, _ItemKey] = {}
        bad: dict[str, str] = {}
        for item in items:
            try:
                keys[item.item_id] = _ItemKey.parse(item.item_id)
            except ValueError as exc:
                bad[item.item_id] = f"malformed kb_index item id: {exc}"
        doc_ids = sorted({k.doc_id for k in keys.values()})
        docs = (
            {
                r.doc_id: r
                for r in conn.execute(
                    select(
                        kb_documents.c.doc_id,
                        kb_documents.c.tenant_id,
                        kb_documents.c.content,
                        kb_documents.c.content_sha256,
                        kb_documents.c.uploaded_at,
                        kb_documents.c.deleted_at,
                    ).where(kb_documents.c.doc_id.in_(doc_ids))
                )
            }
            if doc_ids
            else {}
        )
        chunked: dict[str, list[Chunk]] = {}
        for item in items:
            if item.item_id in bad:
                yield Rejected(item, bad[item.item_id])
                continue
            key = keys[item.item_id]
            doc = docs.get(key.doc_id)
            if doc is not None and doc.tenant_id != item.tenant_id:
                # Never render one tenant's document into another tenant's request.
                yield Rejected(item, f"document {key.doc_id} does not belong to {item.tenant_id}")
                continue
            if doc is None or doc.deleted_at is not None:
                yield Skipped(item, "document deleted since planning")
                continue
            if key.doc_sha16 != doc.content_sha256[:16]:
                yield Skipped(
                    item, "document changed since planning; its new version is planned anew"
                )
                continue
            if key.doc_id not in chunked:
                chunked[key.doc_id] = self.chunk(doc.content)
            chunks = chunked[key.doc_id]
            if any(i >= len(chunks) for i in key.indices):
                yield Skipped(item, "document chunking changed since planning")
                continue
            part = [chunks[i] for i in key.indices]
            if self._digest(doc.uploaded_at, part) != key.digest:
                yield Skipped(
                    item, "document changed since planning; its new version is planned anew"
                )
                continue
            yield Rendered(
                item=item,
                prompt=EmbeddingInput(
                    texts=tuple(c.content for c in part), dimensions=self.dimensions
                ),
                notes={
                    "doc_id": key.doc_id,
                    "doc_sha256": doc.content_sha256,
                    "chunks": [{"index": c.index, "sha256": c.sha256} for c in part],
                },
            )

    def store(
        self, conn: Connection, request: ManifestRow, answer: ModelAnswer, batch_model: str
    ) -> None:
        """Validate the vectors (one per chunk of the request, `dimensions` finite numbers, not all
        zero) and upsert a `kb_chunks` row for every chunk whose hash is still in the document's
        current chunking. Vectors of chunks that changed since rendering are dropped: those
        chunks are due again and will be embedded from their new text. Rows record `self.model`
        (what was requested), not `batch_model` (what the line reports, possibly a dated
        snapshot name), because `due_items` compares the stored model with `self.model`."""
        notes = request.notes or {}
        meta = notes.get("chunks")
        doc_id = notes.get("doc_id")
        if not isinstance(doc_id, str) or not isinstance(meta, list) or not meta:
            raise InvalidAnswer("kb_index request notes lack doc_id/chunks")
        if not request.item_id.startswith(f"{doc_id}:"):
            raise InvalidAnswer(f"request notes name doc {doc_id!r}, item is {request.item_id!r}")
        hashes: list[str] = []
        for m in meta:
            if not isinstance(m, Mapping) or not isinstance(m.get("sha256"), str):
                raise InvalidAnswer("kb_index request notes hold a malformed chunk entry")
            hashes.append(m["sha256"])
        embeddings = answer.embeddings
        if embeddings is None:
            raise InvalidAnswer("the answer carries no embeddings")
        if isinstance(embeddings, str | bytes) or len(embeddings) != len(hashes):
            got = "a string" if isinstance(embeddings, str | bytes) else str(len(embeddings))
            raise InvalidAnswer(f"expected {len(hashes)} embeddings, got {got}")
        vectors: dict[str, list[float]] = {}
        for n, (sha, vector) in enumerate(zip(hashes, embeddings, strict=True)):
            try:
                vectors[sha] = _check_vector(vector, self.dimensions, f"embedding {n}")
            except ValueError as exc:
                raise InvalidAnswer(str(exc)) from exc

        doc = conn.execute(
            select(kb_documents.c.content, kb_documents.c.deleted_at).where(
                kb_documents.c.doc_id == doc_id, kb_documents.c.tenant_id == request.tenant_id
            )
        ).one_or_none()
        if doc is None or doc.deleted_at is not None:
            return  # deleted meanwhile: nothing to index (sync removes any leftovers)
        rows = [
            {
                "chunk_id": chunk_id_for(doc_id, c.index),
                "doc_id": doc_id,
                "tenant_id": request.tenant_id,
                "chunk_index": c.index,
                "content": c.content,
                "content_sha256": c.sha256,
                "embedding": vectors[c.sha256],
                # The model requested, not the one the line reports (which may be a dated
                # snapshot name): `due_items` compares it with `self.model`.
                "model": self.model,
                "custom_id": request.custom_id,
            }
            for c in self.chunk(doc.content)
            if c.sha256 in vectors
        ]
        if not rows:
            return
        stmt = pg_insert(kb_chunks)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[kb_chunks.c.doc_id, kb_chunks.c.chunk_index],
                set_={
                    "chunk_id": stmt.excluded.chunk_id,
                    "tenant_id": stmt.excluded.tenant_id,
                    "content": stmt.excluded.content,
                    "content_sha256": stmt.excluded.content_sha256,
                    "embedding": stmt.excluded.embedding,
                    "model": stmt.excluded.model,
                    "custom_id": stmt.excluded.custom_id,
                    "created_at": func.now(),
                },
            ),
            rows,
        )

    def search(
        self,
        conn_or_engine: Connection | Engine,
        tenant_id: str,
        query: str,
        k: int = 5,
        *,
        embed_query: Callable[[str], Sequence[float]],
    ) -> list[SearchHit]:
        """`search_chunks` restricted to vectors of this workflow's model."""
        return search_chunks(
            conn_or_engine,
            tenant_id,
            query,
            k,
            embed_query=embed_query,
            model=self.model,
            dimensions=self.dimensions,
        )


def embed_query_sync(
    model: str = KB_INDEX.model,
    dimensions: int = EMBEDDING_DIMENSIONS,
    providers: ProviderRegistry | None = None,
) -> Callable[[str], Sequence[float]]:
    """A synchronous embeddings call through the OpenAI provider (the emulator when no key is set),
    with the model and dimensions the index was built with."""
    provider = (providers or ProviderRegistry()).get("openai")

    def embed(text: str) -> Sequence[float]:
        line = provider.complete_sync(
            "query", model, "/v1/embeddings", EmbeddingInput(texts=(text,), dimensions=dimensions)
        )
        if line.answer is None or not line.answer.embeddings:
            raise RuntimeError(f"the query could not be embedded: {line.error}")
        return line.answer.embeddings[0]

    return embed


def search(
    tenant_id: str,
    query: str,
    k: int = 5,
    *,
    engine: Engine | None = None,
    workflow: KnowledgeBaseIndex | None = None,
    providers: ProviderRegistry | None = None,
) -> list[SearchHit]:
    """`tenant_id`'s `k` knowledge-base chunks nearest to `query`, nearest first: the query is
    embedded synchronously with the index's model, and only that tenant's rows are ever read."""
    workflow = workflow or KnowledgeBaseIndex()
    return workflow.search(
        engine or get_engine(),
        tenant_id,
        query,
        k,
        embed_query=embed_query_sync(workflow.model, workflow.dimensions, providers),
    )
