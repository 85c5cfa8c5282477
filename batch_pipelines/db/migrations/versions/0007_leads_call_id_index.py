"""leads: an index on call_id

Redacting a call's transcript looks up the leads made from that call (their names, e-mails and
phones are the caller's: redacted wherever they occur), for every call of a redacting tenant at
planning; without this index each chunk of 1,000 calls was a scan of the whole table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEX = "ix_leads_call_id"


def upgrade() -> None:
    op.create_index(INDEX, "leads", ["call_id"], unique=False)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="leads")
