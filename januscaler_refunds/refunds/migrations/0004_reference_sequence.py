"""Number new references from a database sequence (PostgreSQL) or a counter row (SQLite).

Starts after the highest ``RR-NNNNNN`` already stored, so existing databases carry on where they are.
See ``refunds.references``.
"""

from django.db import migrations

from januscaler_refunds.refunds.references import COUNTER_TABLE, SEQUENCE, highest_generated_number


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    RefundRequest = apps.get_model("refunds", "RefundRequest")
    start = highest_generated_number(
        list(RefundRequest.objects.filter(reference__startswith="RR-").values_list("reference", flat=True))
    )
    with schema_editor.connection.cursor() as cursor:
        if schema_editor.connection.vendor == "postgresql":
            cursor.execute(f"CREATE SEQUENCE IF NOT EXISTS {SEQUENCE} START WITH 1 MINVALUE 1")
            if start:
                cursor.execute("SELECT setval(%s, %s, true)", [SEQUENCE, start])
        else:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {COUNTER_TABLE} (name varchar(32) PRIMARY KEY, value bigint NOT NULL)"
            )
            cursor.execute(f"INSERT INTO {COUNTER_TABLE} (name, value) VALUES ('reference', %s)", [start])


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    with schema_editor.connection.cursor() as cursor:
        if schema_editor.connection.vendor == "postgresql":
            cursor.execute(f"DROP SEQUENCE IF EXISTS {SEQUENCE}")
        else:
            cursor.execute(f"DROP TABLE IF EXISTS {COUNTER_TABLE}")


class Migration(migrations.Migration):
    dependencies = [("refunds", "0003_payout_method_exception")]

    operations = [migrations.RunPython(create, drop)]
