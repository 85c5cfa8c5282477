"""kb_documents: an index on (greatest(uploaded_at, deleted_at), doc_id)

kb_upload_sensor reads the documents changed after its watermark, ordered by the time of the change
(an upload, a re-upload or a deletion) and doc id, every tick; without this index that was a scan
of the whole table.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

INDEX = "ix_kb_documents_changed_at_doc_id"


def upgrade() -> None:
    op.execute(f"CREATE INDEX {INDEX} ON kb_documents (greatest(uploaded_at, deleted_at), doc_id)")


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {INDEX}")
