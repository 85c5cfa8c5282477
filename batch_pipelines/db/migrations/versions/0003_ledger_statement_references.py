"""cost_ledger's references to llm_usage and tenants checked per statement, not per row

A foreign key checks every inserted row on its own (an after-row trigger running a query and
locking the referenced row): when `price_partition` inserts a partition's 10,000 ledger rows, that
was two queries and two row locks per row, over half the pricing time, and the locks dirtied every
llm_usage page the partition's rows lie on. The same rules now hold through statement-level
triggers over each statement's transition tables, one set-based query each:

- a ledger row's usage_id must be in llm_usage and its tenant_id in tenants (after INSERT, after
  UPDATE; same SQLSTATE 23503, constraint name and message as the foreign keys gave);
- deleting llm_usage rows deletes their ledger rows (ON DELETE CASCADE); truncating llm_usage
  deletes the whole ledger (the foreign key refused a TRUNCATE without the ledger, or cascaded);
- changing a referenced llm_usage.usage_id, or deleting / renaming a referenced tenant, fails.

Concurrency: the foreign key's row lock kept a usage row from being deleted while a ledger row for
it was being written. Pricing takes the partition's advisory lock instead (price_partition, as
before), and the cascade takes the advisory lock of every partition whose usage rows it deletes
before deleting their ledger rows, so it waits for an open pricing of them and then sees (and
deletes) what it wrote; a pricing that starts later no longer sees the deleted rows. This holds in
READ COMMITTED, the engine's isolation level.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_FK_USAGE = "fk_cost_ledger_usage_id_llm_usage"
_FK_TENANT = "fk_cost_ledger_tenant_id_tenants"


def _violation(constraint: str, column: str, table: str) -> str:
    return f"""
        RAISE EXCEPTION 'insert or update on table "cost_ledger" violates foreign key constraint "{constraint}"'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'cost_ledger',
                  CONSTRAINT = '{constraint}',
                  DETAIL = format('Key ({column})=(%s) is not present in table "{table}".', missing);"""


def _referenced(constraint: str, table: str, column: str) -> str:
    return f"""
        RAISE EXCEPTION 'update or delete on table "{table}" violates foreign key constraint "{constraint}" on table "cost_ledger"'
            USING ERRCODE = 'foreign_key_violation', TABLE = '{table}',
                  CONSTRAINT = '{constraint}',
                  DETAIL = format('Key ({column})=(%s) is still referenced from table "cost_ledger".', missing);"""


# SECURITY DEFINER like the foreign keys' own checks and cascades, which run as the table owner
# (row-level security and the caller's grants do not apply to them).
_FUNCTIONS = [
    f"""
    CREATE FUNCTION cost_ledger_check_references() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    DECLARE
        missing text;
    BEGIN
        -- One primary-key probe per row, whatever the planner thinks of the transition table
        -- (an anti-join could choose to read all of llm_usage).
        SELECT n.usage_id::text INTO missing FROM new_rows AS n
        LEFT JOIN LATERAL (
            SELECT true AS found FROM llm_usage AS u WHERE u.usage_id = n.usage_id LIMIT 1
        ) AS u ON true
        WHERE u.found IS NULL LIMIT 1;
        IF FOUND THEN {_violation(_FK_USAGE, "usage_id", "llm_usage")}
        END IF;
        SELECT n.tenant_id INTO missing FROM (SELECT DISTINCT tenant_id FROM new_rows) AS n
        WHERE NOT EXISTS (SELECT 1 FROM tenants AS t WHERE t.tenant_id = n.tenant_id) LIMIT 1;
        IF FOUND THEN {_violation(_FK_TENANT, "tenant_id", "tenants")}
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION llm_usage_delete_ledger_rows() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    BEGIN
        -- The partitions' pricing lock (price_partition's): wait for an open pricing of them.
        PERFORM pg_advisory_xact_lock(
            hashtext('cost_ledger'), hashtext(to_char(p.ledger_date, 'YYYY-MM-DD') || '|' || p.tenant_id)
        )
        FROM (SELECT DISTINCT ledger_date, tenant_id FROM old_rows ORDER BY 1, 2) AS p;
        DELETE FROM cost_ledger AS c USING old_rows AS o WHERE c.usage_id = o.usage_id;
        RETURN NULL;
    END
    $$
    """,
    f"""
    CREATE FUNCTION llm_usage_check_ledger_references() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    DECLARE
        missing text;
    BEGIN
        SELECT o.usage_id::text INTO missing FROM old_rows AS o
        WHERE NOT EXISTS (SELECT 1 FROM llm_usage AS u WHERE u.usage_id = o.usage_id)
            AND EXISTS (SELECT 1 FROM cost_ledger AS c WHERE c.usage_id = o.usage_id)
        LIMIT 1;
        IF FOUND THEN {_referenced(_FK_USAGE, "llm_usage", "usage_id")}
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION llm_usage_truncate_ledger() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    BEGIN
        DELETE FROM cost_ledger;
        RETURN NULL;
    END
    $$
    """,
    f"""
    CREATE FUNCTION tenants_check_ledger_references() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    DECLARE
        missing text;
    BEGIN
        SELECT o.tenant_id INTO missing FROM old_rows AS o
        WHERE NOT EXISTS (SELECT 1 FROM tenants AS t WHERE t.tenant_id = o.tenant_id)
            AND EXISTS (SELECT 1 FROM cost_ledger AS c WHERE c.tenant_id = o.tenant_id)
        LIMIT 1;
        IF FOUND THEN {_referenced(_FK_TENANT, "tenants", "tenant_id")}
        END IF;
        RETURN NULL;
    END
    $$
    """,
]

# (trigger, table, event, transition tables, function). A trigger with transition tables has one
# event, so INSERT and UPDATE get a trigger each.
_TRIGGERS = [
    ("cost_ledger_references_insert", "cost_ledger", "INSERT", "NEW TABLE AS new_rows",
     "cost_ledger_check_references"),
    ("cost_ledger_references_update", "cost_ledger", "UPDATE", "NEW TABLE AS new_rows",
     "cost_ledger_check_references"),
    ("llm_usage_delete_ledger_rows", "llm_usage", "DELETE", "OLD TABLE AS old_rows",
     "llm_usage_delete_ledger_rows"),
    ("llm_usage_ledger_references", "llm_usage", "UPDATE", "OLD TABLE AS old_rows",
     "llm_usage_check_ledger_references"),
    ("llm_usage_truncate_ledger", "llm_usage", "TRUNCATE", None, "llm_usage_truncate_ledger"),
    ("tenants_ledger_references_delete", "tenants", "DELETE", "OLD TABLE AS old_rows",
     "tenants_check_ledger_references"),
    ("tenants_ledger_references_update", "tenants", "UPDATE", "OLD TABLE AS old_rows",
     "tenants_check_ledger_references"),
]  # fmt: skip


def upgrade() -> None:
    op.drop_constraint(_FK_USAGE, "cost_ledger", type_="foreignkey")
    op.drop_constraint(_FK_TENANT, "cost_ledger", type_="foreignkey")
    for function in _FUNCTIONS:
        op.execute(function)
    for name, table, event, transition, function in _TRIGGERS:
        referencing = f"REFERENCING {transition} " if transition else ""
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} {referencing}"
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )


def downgrade() -> None:
    for name, table, *_ in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    for function in dict.fromkeys(t[-1] for t in _TRIGGERS):
        op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    op.create_foreign_key(
        _FK_USAGE, "cost_ledger", "llm_usage", ["usage_id"], ["usage_id"], ondelete="CASCADE"
    )
    op.create_foreign_key(_FK_TENANT, "cost_ledger", "tenants", ["tenant_id"], ["tenant_id"])
