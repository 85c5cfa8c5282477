"""ledger_reader role and row-level security on the money tables

A session that does ``SET ROLE ledger_reader`` and ``SET batch_pipelines.tenant_id = '<tenant>'``
sees only that tenant's rows of cost_ledger, llm_usage and tenant_cost_reports; with no tenant set
(``current_setting(..., true)`` is NULL or '') it sees nothing. A login role that should only ever
read one tenant's ledger (a tenant portal) is made a member: ``GRANT ledger_reader TO portal``.

Only ledger_reader (and its members) is restricted. The tables' owner bypasses RLS (no FORCE), and
every other role keeps seeing all rows through the `unrestricted` policy, so enabling RLS changes
nothing for the engine, whichever role it runs as.

Roles are cluster-wide: the role is created only if missing (other databases on the server may
share it) and is never dropped; downgrade removes its grants and this database's policies.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ROLE = "ledger_reader"
TABLES = ("cost_ledger", "llm_usage", "tenant_cost_reports")
TENANT_SETTING = "batch_pipelines.tenant_id"


def upgrade() -> None:
    # IF NOT EXISTS and a concurrent CREATE ROLE by another database's migration both end well.
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN
                CREATE ROLE {ROLE} NOLOGIN;
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END
        $$
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {ROLE}")
    for table in TABLES:
        op.execute(f"GRANT SELECT ON {table} TO {ROLE}")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} FOR SELECT TO {ROLE} "
            f"USING (tenant_id = current_setting('{TENANT_SETTING}', true))"
        )
        op.execute(
            f"CREATE POLICY unrestricted ON {table} TO PUBLIC "
            f"USING (NOT pg_has_role('{ROLE}', 'MEMBER')) "
            f"WITH CHECK (NOT pg_has_role('{ROLE}', 'MEMBER'))"
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP POLICY IF EXISTS unrestricted ON {table}")
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        op.execute(f"REVOKE ALL ON {table} FROM {ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {ROLE}")
