"""The dashboard's day figures: a small table PostgreSQL keeps exact in the same transaction as every
change (reports/aggregates.py explains the design; docs/scale.md "Dashboard and cards").

PostgreSQL only: on SQLite the dashboard computes every figure from the requests (the slow path).
The backfill is one set-based INSERT … SELECT over every request (about a minute at 1M requests).
"""

from django.db import migrations

from januscaler_refunds.reports import aggregates


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for statement in aggregates.INSTALL_SQL:
            cursor.execute(statement)
        cursor.execute(aggregates.REBUILD_SQL)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for statement in aggregates.UNINSTALL_SQL:
            cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0003_merge_export_source_and_checks"),
        ("refunds", "0006_merge_snapshot_and_indexes"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
