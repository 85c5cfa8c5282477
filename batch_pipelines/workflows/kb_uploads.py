"""What changed in `kb_documents` since a watermark: the trigger of knowledge-base re-indexing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, func, select, tuple_

from batch_pipelines.db.tables import kb_documents


@dataclass(frozen=True)
class Watermark:
    """The last change seen: (changed_at, doc_id), ordered, so ties in time are not lost."""

    changed_at: dt.datetime
    doc_id: str

    def to_cursor(self) -> str:
        return f"{self.changed_at.isoformat()}|{self.doc_id}"

    @classmethod
    def from_cursor(cls, cursor: str | None) -> Watermark | None:
        if not cursor:
            return None
        changed_at, _, doc_id = cursor.partition("|")
        return cls(dt.datetime.fromisoformat(changed_at), doc_id)


@dataclass(frozen=True)
class DocumentChanges:
    tenant_ids: list[str]
    documents: int
    watermark: Watermark | None


def documents_changed_since(
    conn: Connection, watermark: Watermark | None, *, limit: int = 10_000
) -> DocumentChanges:
    """Documents uploaded, replaced or deleted after `watermark` (at most `limit`, oldest first)."""
    changed_at = func.greatest(kb_documents.c.uploaded_at, kb_documents.c.deleted_at)
    query = select(kb_documents.c.tenant_id, kb_documents.c.doc_id, changed_at.label("changed_at"))
    if watermark is not None:
        query = query.where(
            tuple_(changed_at, kb_documents.c.doc_id)
            > tuple_(watermark.changed_at, watermark.doc_id)
        )
    rows = conn.execute(query.order_by(changed_at, kb_documents.c.doc_id).limit(limit)).all()
    if not rows:
        return DocumentChanges([], 0, watermark)
    last = rows[-1]
    return DocumentChanges(
        tenant_ids=sorted({r.tenant_id for r in rows}),
        documents=len(rows),
        watermark=Watermark(last.changed_at, last.doc_id),
    )
