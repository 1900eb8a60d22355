"""PostgreSQL triggers that keep the books honest even when the ORM is bypassed (docs/security.md).

Plain SQL run by migrations rather than django-pgtrigger: one generic append-only function whose
trigger arguments name the columns that may still change, two deferred constraint triggers, and no
new dependency or changes to the models' Meta (which other apps' code shares). SQLite has no
triggers of this kind; there the ORM guards (protected state field, append-only querysets) remain.

The SQL here is used by migrations, so change it only together with a new migration.
Every refusal raises SQLSTATE 23000 (Django: ``IntegrityError``) with a message that starts with the
rule's name, e.g. ``append_only.refunds_payout``.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION januscaler_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    mutable text[] := coalesce(TG_ARGV, '{}'::text[]);
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'append_only.%: rows cannot be deleted', TG_TABLE_NAME
            USING ERRCODE = '23000';
    END IF;
    -- Every column except the named operational ones must stay as it was.
    IF (to_jsonb(OLD) - mutable) IS DISTINCT FROM (to_jsonb(NEW) - mutable) THEN
        RAISE EXCEPTION 'append_only.%: rows cannot be changed (may change only: %)',
            TG_TABLE_NAME, coalesce(nullif(array_to_string(mutable, ', '), ''), 'nothing')
            USING ERRCODE = '23000';
    END IF;
    RETURN NEW;
END
$$;
"""


def append_only_sql(table: str, mutable: tuple[str, ...] = ()) -> str:
    """UPDATE (except of ``mutable`` columns) and DELETE on ``table`` are refused."""
    args = ", ".join(f"'{column}'" for column in mutable)
    return (
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};\n"
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION januscaler_append_only({args});"
    )


def drop_append_only_sql(table: str) -> str:
    return f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};"


def _run_on_postgres(sql: str) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)  # None: the SQL holds literal % signs

    return run


def postgres_sql(sql: str, reverse_sql: str) -> migrations.RunPython:
    """A migration step that runs ``sql`` on PostgreSQL and does nothing elsewhere (SQLite)."""
    return migrations.RunPython(_run_on_postgres(sql), _run_on_postgres(reverse_sql), elidable=False)
