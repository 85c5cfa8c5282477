"""What changed in `kb_documents` since a watermark: the trigger of knowledge-base re-indexing.

A change is an upload, a re-upload or a deletion: its time is ``greatest(uploaded_at, deleted_at)``.
The watermark is the last change seen, (time, doc_id), so ties in time are not lost.

Late commits. `uploaded_at` defaults to the writing transaction's start (``now()``), so a slow upload
can commit after a quicker, later one has already moved the watermark past it. To catch it, the
watermark also carries a digest of the changes in the `LOOKBACK` before it; when that digest
differs on the next look, something committed late (or moved out: a re-upload or a deletion of a
document in the window), and the tenants of the whole window are reported again. That costs at
worst a re-indexing run with nothing to embed (re-indexing is idempotent); a transaction that
commits more than `LOOKBACK` after its start is not caught until its tenant's next change.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import Connection, Text, extract, func, literal, select, tuple_
from sqlalchemy.dialects.postgresql import aggregate_order_by

from batch_pipelines.db.tables import kb_documents

LOOKBACK = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Watermark:
    """The last change seen: (changed_at, doc_id), and a digest of the changes in the `LOOKBACK`
    up to it (``""`` when unknown)."""

    changed_at: dt.datetime
    doc_id: str
    window: str = ""

    def to_cursor(self) -> str:
        return json.dumps(
            {
                "changed_at": self.changed_at.isoformat(),
                "doc_id": self.doc_id,
                "window": self.window,
            }
        )

    @classmethod
    def from_cursor(cls, cursor: str | None) -> Watermark | None:
        if not cursor:
            return None
        if cursor.startswith("{"):
            data = json.loads(cursor)
            return cls(
                dt.datetime.fromisoformat(data["changed_at"]),
                data["doc_id"],
                data.get("window", ""),
            )
        changed_at, _, doc_id = cursor.partition("|")  # the format before the window digest
        return cls(dt.datetime.fromisoformat(changed_at), doc_id)


@dataclass(frozen=True)
class DocumentChanges:
    tenant_ids: list[str]
    documents: int
    watermark: Watermark | None


_CHANGED_AT = func.greatest(kb_documents.c.uploaded_at, kb_documents.c.deleted_at)


def _window(
    conn: Connection, changed_at: dt.datetime, doc_id: str, lookback: dt.timedelta
) -> tuple[str, list[str]]:
    """The digest and the tenants of the changes in ``(changed_at - lookback, (changed_at, doc_id)]``."""
    key = kb_documents.c.doc_id.concat(" ").concat(extract("epoch", _CHANGED_AT).cast(Text))
    ordered = aggregate_order_by(literal(","), _CHANGED_AT, kb_documents.c.doc_id)
    row = conn.execute(
        select(
            func.md5(func.coalesce(func.string_agg(key, ordered), "")).label("digest"),
            func.array_agg(kb_documents.c.tenant_id.distinct()).label("tenants"),
        ).where(
            changed_at - lookback < _CHANGED_AT,
            tuple_(_CHANGED_AT, kb_documents.c.doc_id) <= tuple_(changed_at, doc_id),
        )
    ).one()
    return row.digest, sorted(row.tenants or [])


def documents_changed_since(
    conn: Connection,
    watermark: Watermark | None,
    *,
    limit: int = 10_000,
    lookback: dt.timedelta = LOOKBACK,
) -> DocumentChanges:
    """Documents uploaded, replaced or deleted after `watermark` (at most `limit`, oldest first),
    plus the tenants of `watermark`'s look-back window when a change committed late into it."""
    query = select(kb_documents.c.tenant_id, kb_documents.c.doc_id, _CHANGED_AT.label("changed_at"))
    late: list[str] = []
    if watermark is not None:
        query = query.where(
            tuple_(_CHANGED_AT, kb_documents.c.doc_id)
            > tuple_(watermark.changed_at, watermark.doc_id)
        )
        digest, tenants = _window(conn, watermark.changed_at, watermark.doc_id, lookback)
        if digest != watermark.window:
            late = tenants
            watermark = Watermark(watermark.changed_at, watermark.doc_id, digest)
    rows = conn.execute(query.order_by(_CHANGED_AT, kb_documents.c.doc_id).limit(limit)).all()
    if not rows:
        return DocumentChanges(late, 0, watermark)
    last = rows[-1]
    digest, _ = _window(conn, last.changed_at, last.doc_id, lookback)
    return DocumentChanges(
        tenant_ids=sorted({r.tenant_id for r in rows} | set(late)),
        documents=len(rows),
        watermark=Watermark(last.changed_at, last.doc_id, digest),
    )
